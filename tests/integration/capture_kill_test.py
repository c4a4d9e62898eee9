#!/usr/bin/env python3
"""A kill -9 of hoplens in the middle of a load leaves a HAR that parses and holds every
exchange that completed before the kill (issue 5 §2, §6). Parallel curl loops fetch
uniquely numbered URLs (and one 10 MiB body stays in flight); hoplens is SIGKILLed; the HAR
on disk must be valid JSON, must hold every exchange curl saw complete before the kill but
for at most the ones still on their way through the capture queue (one per client loop), and
nothing that was not requested. The pcapng must open in tshark and hold those exchanges too,
with the same allowance."""
import os
import re
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import capture_support as cs  # noqa: E402
from lib import env, hoplens, origin as O, procs  # noqa: E402

LOOPS = 4
MIN_DONE = 80          # completed exchanges before the kill
LOAD_DEADLINE = 60.0   # seconds to reach MIN_DONE


def fail(msg):
    print(f"FAIL: {msg}", flush=True)
    sys.exit(1)


class Load:
    """LOOPS threads, each running curl for one URL after another until stopped."""

    def __init__(self, origin, proxy):
        self.origin = origin
        self.args = ["-x", proxy.url_explicit_proxy("explicit"), "--cacert", proxy.ca_pem]
        self.done = []  # (url, finished at) of exchanges curl completed with the right body
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self.loop, args=(i,), daemon=True) for i in range(LOOPS)]

    def loop(self, index):
        for n in range(10_000):
            if self.stop.is_set():
                return
            url = self.origin.url(f"/files/small?loop={index}&n={n}")
            r = subprocess.run(["curl", "-sS", "--max-time", "10", *self.args, url],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=20)
            finished = time.monotonic()
            if r.returncode == 0 and r.stdout == O.SMALL_BODY.encode():
                with self.lock:
                    self.done.append((url, finished))

    def count(self):
        with self.lock:
            return len(self.done)


def pcapng_request_targets(pcapng):
    """The request targets tshark decodes from the pcapng. It is written a batch at a time, so a
    kill leaves it ending on a whole block: tshark must read it without complaint."""
    r = procs.run(["tshark", "-n", "-r", pcapng, "-Y", "http.request", "-T", "fields",
                   "-e", "http.request.uri"], timeout=120.0)
    if r.returncode != 0:
        fail(f"tshark cannot read the pcapng left by kill -9 (status {r.returncode}): "
             f"{r.stderr.decode(errors='replace')}")
    return {line.strip() for line in r.stdout.decode(errors="replace").splitlines() if line.strip()}


def main():
    env.require_tools("curl", "nginx", "tshark")
    cs.require_node_modules("har-validator")
    work = env.temp_dir("capkill")
    origin = proxy = None
    big = None
    try:
        origin = O.Origin()
        har = os.path.join(work, "cap.har")
        pcapng = os.path.join(work, "cap.pcapng")
        proxy = hoplens.Hoplens({"explicit": "explicit"}, name="capkill",
                                args=["--upstream-ca", origin.ca_cert, *origin.maps(), "--har", har,
                                      "--pcapng", pcapng])
        load = Load(origin, proxy)
        # An exchange in the middle of its body at the kill: --limit-rate keeps it there.
        big = subprocess.Popen(["curl", "-sS", "--max-time", "60", "--limit-rate", "200k", *load.args,
                                "-o", os.devnull, origin.url("/files/10m")],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for t in load.threads:
            t.start()
        deadline = time.monotonic() + LOAD_DEADLINE
        while load.count() < MIN_DONE and time.monotonic() < deadline:
            time.sleep(0.05)
        if load.count() < MIN_DONE:
            fail(f"only {load.count()} exchanges completed in {LOAD_DEADLINE} s:\n{proxy.proc.tail()}")
        killed_at = time.monotonic()
        proxy.proc.send_signal(signal.SIGKILL)
        status = proxy.proc.wait(10.0)
        load.stop.set()
        for t in load.threads:
            t.join(30.0)
        if status != -signal.SIGKILL:
            fail(f"hoplens exit status {status} after SIGKILL")

        try:
            entries = cs.har_entries(har)
        except ValueError as e:
            fail(f"the HAR left by kill -9 does not parse: {e}\ntail: {cs.read_file(har)[-300:]!r}")
        ok, out = cs.har_validate(har)
        if not ok:
            fail(f"the HAR left by kill -9 is not valid: {out}")
        before = {url for url, at in load.done if at < killed_at}
        in_har = {e["request"]["url"] for e in entries}
        pattern = re.compile(re.escape(origin.url("/files/small?")) + r"loop=\d+&n=\d+$")
        strangers = {u for u in in_har if not pattern.match(u)}
        if strangers:
            fail(f"HAR entries nobody requested: {sorted(strangers)[:5]}")
        missing = before - in_har
        if len(missing) > LOOPS:
            fail(f"{len(missing)} of {len(before)} exchanges completed before the kill are not in the HAR "
                 f"(at most {LOOPS} may still have been queued): {sorted(missing)[:10]}")
        for e in entries:
            if e["request"]["url"] in before and (e["response"]["status"] != 200 or
                                                   e["response"]["content"]["text"] != O.SMALL_BODY):
                fail(f"entry for a completed exchange is wrong: {e['request']['url']} {e['response']}")
        in_pcapng = pcapng_request_targets(pcapng)
        prefix = origin.url("")
        missing_pcapng = {u for u in before if u[len(prefix):] not in in_pcapng}
        if len(missing_pcapng) > LOOPS:
            fail(f"{len(missing_pcapng)} of {len(before)} exchanges completed before the kill are not in "
                 f"the pcapng (at most {LOOPS} may still have been queued): {sorted(missing_pcapng)[:10]}")
        print(f"PASS: {len(before)} exchanges completed before kill -9, {len(entries)} HAR entries, "
              f"{len(missing)} missing (allowed {LOOPS}); {len(missing_pcapng)} missing from the pcapng",
              flush=True)
    finally:
        if big is not None:
            big.kill()
            big.wait(10)
        if proxy is not None:
            proxy.cleanup()
        if origin is not None:
            origin.stop()
        env.remove_dir(work)


if __name__ == "__main__":
    main()
