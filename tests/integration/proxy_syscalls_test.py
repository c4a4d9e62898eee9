#!/usr/bin/env python3
"""The relay's system-call economy, counted by strace on a real exchange (issue 4 §6; the
benchmarks measure the speed, this pins the mechanisms they rely on so that a change cannot
undo one unnoticed):

- keep-alive: requests in a row on one intercepted connection cost at most ~one epoll_ctl
  each (the client's idle wait). The wait for the upstream's reply after OpenSSL's EAGAIN
  re-arms nothing (proxy/readable_wait.hpp); with a plain async_wait it is two per request.
- bulk: a 10 MiB download through TLS is sent to the client in sends that gather several
  16 KiB records each (proxy/gather_bio.hpp), not one send per record (640 or more).

Counts, not times: strace slows every call alike, so what is counted does not depend on the
machine's speed. Skips (77) where strace cannot attach (no ptrace)."""
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import client, env, procs, scenario  # noqa: E402

S = None
REQUESTS = 150
SEND_CALLS = ("sendto", "sendmsg", "write", "writev")


def setUpModule():
    global S
    S = scenario.Scenario(name="syscalls", sni=False)


def tearDownModule():
    if S is not None:
        S.stop()


def strace_counts(pid, work):
    """Runs work() with strace -c attached to every thread of pid; returns {syscall: calls}."""
    out = os.path.join(env.temp_dir("strace"), "counts.txt")
    tracer = subprocess.Popen(["strace", "-f", "-c", "-o", out, "-p", str(pid)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    time.sleep(1.0)  # strace has attached to every thread by now (it says so on stderr first)
    if tracer.poll() is not None:
        why = tracer.stderr.read().decode(errors="replace")
        tracer.stderr.close()
        raise unittest.SkipTest(f"strace cannot attach: {why}")
    try:
        work()
    finally:
        tracer.send_signal(signal.SIGINT)
        tracer.wait(30)
        tracer.stderr.close()
    counts = {}
    with open(out) as f:
        for line in f:
            # "% time     seconds  usecs/call     calls    errors syscall"; errors may be blank.
            m = re.match(r"\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?(\w+)\s*$", line)
            if m and m.group(2) != "total":
                counts[m.group(2)] = int(m.group(1))
    return counts


class Syscalls(scenario.AliveTestCase):
    def fetch(self, paths):
        urls, args = [], None
        for p in paths:
            url, args = S.via("reverse", p)
            urls.append(url)
        r = client.curl(urls, args, timeout=120)
        self.assertEqual(r.rc, 0, r.describe())
        self.assertEqual([t["http_code"] for t in r.transfers], [200] * len(paths), r.describe())
        return r

    def test_keep_alive_requests_cost_one_epoll_ctl_each_at_most(self):
        # The origin answers after 2 ms, so that every upstream read finds nothing at first
        # and waits; the leaf is minted and the upstream pooled beforehand.
        self.fetch(["/slow?ms=2"])
        paths = [f"/slow?ms=2&n={i}" for i in range(REQUESTS)]
        counts = strace_counts(S.main.proc.proc.pid, lambda: self.fetch(paths))
        per_request = counts.get("epoll_ctl", 0) / REQUESTS
        print(f"{REQUESTS} keep-alive requests: {counts}", flush=True)
        self.assertLessEqual(per_request, 1.25,
                             f"{per_request:.2f} epoll_ctl per keep-alive request (expected ~1: the "
                             f"client's idle wait alone): {counts}")

    def test_bulk_body_goes_out_in_gathered_sends(self):
        self.fetch(["/files/10m"])
        counts = strace_counts(S.main.proc.proc.pid, lambda: self.fetch(["/files/10m?bulk"]))
        sends = sum(counts.get(c, 0) for c in SEND_CALLS)
        records = 10 * 1024 * 1024 // (16 * 1024)
        print(f"10 MiB download: {counts}", flush=True)
        self.assertLessEqual(sends, records // 2,
                             f"{sends} sends for 10 MiB (one per 16 KiB record would be {records}): "
                             f"{counts}")


if __name__ == "__main__":
    if not shutil.which("strace"):
        print("SKIP: strace is not installed", flush=True)
        sys.exit(77)
    unittest.main(verbosity=2)
