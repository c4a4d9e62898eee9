#!/usr/bin/env python3
"""Open N TLS connections (straight, or through CONNECT), one GET each, then hold them idle
until --stop-file appears or --hold seconds pass. Prints "ok=N fail=M" to --ready-file once
all are open. Method from the bench rig's tools/idle_conns.py; stdlib only, loopback only."""
import argparse
import asyncio
import os
import ssl
import time


async def open_one(a, ctx, sem, held, errors):
    async with sem:
        try:
            if a.target:  # explicit proxy: CONNECT, then TLS inside the tunnel
                reader, writer = await asyncio.open_connection(a.host, a.port)
                writer.write(f"CONNECT {a.target} HTTP/1.1\r\nHost: {a.target}\r\n\r\n".encode())
                head = await reader.readuntil(b"\r\n\r\n")
                if b" 200" not in head.split(b"\r\n", 1)[0]:
                    raise RuntimeError(f"CONNECT: {head[:40]!r}")
                await writer.start_tls(ctx, server_hostname=a.sni)
            else:
                reader, writer = await asyncio.open_connection(a.host, a.port, ssl=ctx, server_hostname=a.sni)
            writer.write(f"GET {a.path} HTTP/1.1\r\nHost: {a.sni}\r\n\r\n".encode())
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            await reader.readexactly(length)
            held.append(writer)
        except Exception as e:  # noqa: BLE001 - counted and reported
            errors.append(f"{type(e).__name__}: {e}"[:100])


async def main():
    p = argparse.ArgumentParser()
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--target", help="CONNECT HOST:PORT (explicit proxy)")
    p.add_argument("--sni", default="origin.test")
    p.add_argument("--path", default="/small")
    p.add_argument("-n", type=int, default=1000)
    p.add_argument("--hold", type=float, default=30.0)
    p.add_argument("--timeout", type=float, default=60.0)
    p.add_argument("--ready-file", required=True)
    p.add_argument("--stop-file", required=True)
    a = p.parse_args()
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    held, errors = [], []
    sem = asyncio.Semaphore(50)
    try:
        await asyncio.wait_for(asyncio.gather(*(open_one(a, ctx, sem, held, errors) for _ in range(a.n))),
                               a.timeout)
    except asyncio.TimeoutError:
        errors.append("timeout while opening")
    with open(a.ready_file, "w") as f:
        f.write(f"ok={len(held)} fail={a.n - len(held)}\n" + "".join(f"error {e}\n" for e in errors[:3]))
    deadline = time.monotonic() + a.hold
    while time.monotonic() < deadline and not os.path.exists(a.stop_file):
        await asyncio.sleep(0.1)
    for w in held:
        w.close()


if __name__ == "__main__":
    asyncio.run(main())
