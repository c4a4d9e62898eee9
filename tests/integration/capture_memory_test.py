#!/usr/bin/env python3
"""Memory comes back after a capture burst. Parallel downloads of a 10 MiB body through
hoplens with --har and --pcapng make the capture thread hold large buffers (1 MiB body
captures, their base64 text, queue blocks: hoplens is pinned to one CPU with its capture
thread, so that the capture falls behind the relay and its queue fills, as on a busy jump
host); glibc keeps such buffers in its heaps for reuse
while exchanges keep coming (proxy/run.cpp's mmap threshold), and the capture thread hands
them back to the system once a quiet flush interval ends the burst. Without that, the process
stayed at ~140 MB resident after such a burst; the bound below leaves room for the relay's
own buffers and OpenSSL's state."""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import env, hoplens, origin as O, procs  # noqa: E402

PARALLEL = 16
ROUNDS = 2
SETTLED_BOUND_KIB = 64 * 1024  # resident set after the burst
SETTLE_DEADLINE = 15.0         # seconds for it to come down (the flush interval is 1 s)


def fail(msg):
    print(f"FAIL: {msg}", flush=True)
    sys.exit(1)


def main():
    env.require_tools("curl", "nginx", "taskset")
    if os.cpu_count() < 2:
        print("SKIP: needs two CPUs (hoplens on one, the clients on the other)")
        sys.exit(77)
    linked = subprocess.run(["ldd", os.environ["HOPLENS_BIN"]], stdout=subprocess.PIPE, text=True).stdout
    if "libasan" in linked:
        print("SKIP: a sanitizer build's resident set is the sanitizer's shadow memory")
        sys.exit(77)
    work = env.temp_dir("capmem")
    origin = proxy = None
    try:
        origin = O.Origin()
        proxy = hoplens.Hoplens({"explicit": "explicit"}, name="capmem",
                                args=["--upstream-ca", origin.ca_cert, *origin.maps(),
                                      "--har", os.path.join(work, "cap.har"),
                                      "--pcapng", os.path.join(work, "cap.pcapng")])
        pid = proxy.proc.proc.pid
        subprocess.run(["taskset", "-a", "-p", "-c", "0", str(pid)], check=True, stdout=subprocess.DEVNULL)
        curl = ["taskset", "-c", "1", "curl", "-sS", "--max-time", "60", "-x", proxy.url_explicit_proxy("explicit"),
                "--cacert", proxy.ca_pem, "-o", os.devnull, "-w", "%{http_code} %{size_download}\n"]
        peak = procs.resident_kib(pid)
        for _ in range(ROUNDS):
            downloads = [subprocess.Popen([*curl, origin.url("/files/10m")], stdout=subprocess.PIPE,
                                          stderr=subprocess.DEVNULL) for _ in range(PARALLEL)]
            while any(d.poll() is None for d in downloads):
                peak = max(peak, procs.resident_kib(pid))
                time.sleep(0.05)
            for d in downloads:
                out = d.stdout.read().decode().strip()
                if out != f"200 {10 * 1024 * 1024}":
                    fail(f"a download through the proxy did not complete: {out!r}")
        deadline = time.monotonic() + SETTLE_DEADLINE
        settled = procs.resident_kib(pid)
        while settled > SETTLED_BOUND_KIB and time.monotonic() < deadline:
            time.sleep(0.25)
            settled = procs.resident_kib(pid)
        print(f"resident: peak {peak} KiB during the burst, {settled} KiB after it", flush=True)
        if settled > SETTLED_BOUND_KIB:
            fail(f"{settled} KiB resident {SETTLE_DEADLINE:.0f} s after the burst "
                 f"(bound {SETTLED_BOUND_KIB} KiB, peak {peak} KiB)")
        proxy.stop()
        if proxy.exit_status[0] != 0:
            fail(f"hoplens exited with {proxy.exit_status}")
        print("PASS", flush=True)
    finally:
        if proxy:
            proxy.cleanup()
        if origin:
            origin.stop()
        env.remove_dir(work)


if __name__ == "__main__":
    main()
