#!/usr/bin/env python3
"""Memory per idle WebSocket through hoplens: N WebSockets through a reverse listener to the
test origin (nginx in front of an echo server, tests/integration/lib), one 20 KB message each
way, then idle; prints hoplens's RSS growth per WebSocket. BINS="A B A B" compares binaries,
interleaved (default: $HOPLENS_BIN or the build's). Loopback only, bounded by N (default 300)."""
import asyncio
import os
import socket
import ssl
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "integration"))
from lib import env, hoplens, origin as O, procs  # noqa: E402

websockets = env.import_debian_module("websockets")
N = int(os.environ.get("N", "300"))


async def open_idle(proxy):
    port = proxy.port["r"]
    tls = ssl.create_default_context(cafile=proxy.ca_pem)
    held = []
    for _ in range(N):
        sock = socket.create_connection((proxy.addr, port))
        sock.setblocking(False)
        ws = await websockets.connect(f"wss://{O.ORIGIN_HOST}:{port}/ws", sock=sock, ssl=tls,
                                      server_hostname=O.ORIGIN_HOST, ping_interval=None)
        await ws.send("x" * 20000)
        await ws.recv()
        held.append(ws)
    await asyncio.sleep(1.0)
    return held


def main():
    origin = O.Origin()
    try:
        for binary in os.environ.get("BINS", env.hoplens_bin()).split():
            proxy = hoplens.Hoplens({"r": f"reverse:https://{O.ORIGIN_HOST}:{origin.tls_port}"},
                                    binary=binary, name="wsidle",
                                    args=["--upstream-ca", origin.ca_cert, *origin.maps()])
            try:
                before = procs.resident_kib(proxy.proc.proc.pid)
                loop = asyncio.new_event_loop()
                held = loop.run_until_complete(open_idle(proxy))
                after = procs.resident_kib(proxy.proc.proc.pid)
                print(f"{binary}: {N} idle WebSockets: RSS {before} -> {after} KiB, "
                      f"{(after - before) / N:.1f} KiB each", flush=True)
                for ws in held:
                    loop.run_until_complete(ws.close())
                loop.close()
            finally:
                proxy.cleanup()
    finally:
        origin.stop()


if __name__ == "__main__":
    main()
