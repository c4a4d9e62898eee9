#!/usr/bin/env python3
"""What captures cost the relay (issue 5 §7): keep-alive req/s (91 B body) and bulk MB/s
(10 MiB body) through hoplens with --har + --pcapng on versus off, in one run.

Two hoplens processes (one with captures, one without) run side by side, each a reverse
listener in front of the same nginx origin (lib/origin.py), each with --threads 1 and pinned
with all its threads (the capture thread included) to PROXY_CPU; wrk and nginx share
CLIENT_CPU. The runs interleave (off, on, off, on, ...) REPEAT times per load and the table
shows medians, the proxies' CPU seconds per run, and on/off ratios (target: >= 0.85): of the
medians, and "paired", the median of each round's own on/off (a slow minute hits both runs
of a round).
The capture files go to a temp dir and are emptied between runs (SIGHUP reopens them; but
see KEEP_FILES);
capture_dropped_total is read from /metrics, since a capture that keeps up by dropping
would not be a fair "on".

Env knobs: DURATION (s per run, 5), REPEAT (3), SMALL_CONNS (16), BULK_CONNS (4),
PROXY_CPU (0), CLIENT_CPU (1), HOPLENS_BIN, HOPLENS_BASE_BIN (a third subject, "base-on":
that build with captures on, interleaved with the others, to A/B a change to the capture
path), KEEP_FILES (let the capture files grow across runs, as a user's do, instead of
emptying them after each run; ~2 GB of disk per bulk run), CAPTURE_DIR (where the files go),
JSON (a file for the raw results), ONLY (run only the loads whose name starts with this:
"keep-alive" or "bulk"). Needs nginx, wrk, taskset.
"""
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
from lib import env, hoplens, origin as O, procs  # noqa: E402

DURATION = int(os.environ.get("DURATION", "5"))
REPEAT = int(os.environ.get("REPEAT", "3"))
SMALL_CONNS = int(os.environ.get("SMALL_CONNS", "16"))
BULK_CONNS = int(os.environ.get("BULK_CONNS", "4"))
PROXY_CPU = os.environ.get("PROXY_CPU", "0")
CLIENT_CPU = os.environ.get("CLIENT_CPU", "1")
KEEP_FILES = bool(os.environ.get("KEEP_FILES"))
TARGET = 0.85
CLK_TCK = os.sysconf("SC_CLK_TCK")
LOADS = {"keep-alive 91 B": ("/files/small", SMALL_CONNS, 91),
         "bulk 10 MiB": ("/files/10m", BULK_CONNS, 10 * 1024 * 1024)}
LOADS = {k: v for k, v in LOADS.items() if k.startswith(os.environ.get("ONLY", ""))}


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def pin(pid, cpu):
    """Pins every thread of pid (and of its children: nginx's workers) to cpu."""
    pids = [pid] + [int(c) for c in open(f"/proc/{pid}/task/{pid}/children").read().split()]
    for p in pids:
        subprocess.run(["taskset", "-a", "-p", "-c", cpu, str(p)], check=True, stdout=subprocess.DEVNULL)


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime, all threads


def metrics(port):
    import urllib.request
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        text = r.read().decode()
    return {l.split()[0]: float(l.split()[-1]) for l in text.splitlines() if l and not l.startswith("#")}


class Subject:
    def __init__(self, name, origin, capture_dir, binary=None):
        self.kept = {}  # file sizes after the last run (KEEP_FILES)
        self.name = name
        self.capture_dir = capture_dir
        self.diag_port = procs.free_port()
        args = ["--upstream-ca", origin.ca_cert, *origin.maps(), "--threads", "1"]
        if capture_dir:
            os.makedirs(capture_dir, exist_ok=True)
            args += ["--har", self.path("har"), "--pcapng", self.path("pcapng")]
        self.proxy = hoplens.Hoplens({"r": f"reverse:https://{O.ORIGIN_HOST}:{origin.tls_port}"},
                                     args=args, name=f"bench-{name}", diag=f"127.0.0.1:{self.diag_port}",
                                     binary=binary)
        pin(self.proxy.proc.pid, PROXY_CPU)
        self.port = self.proxy.port["r"]

    def path(self, kind):
        return os.path.join(self.capture_dir, f"bench.{kind}")

    def empty_files(self):
        """Keeps the disk from filling across runs: delete, then SIGHUP makes new files. With
        KEEP_FILES the files grow across runs instead, as a user's capture does (and the page
        cache must take fresh pages all along); returns what each run added."""
        if not self.capture_dir:
            return
        sizes = {k: os.path.getsize(self.path(k)) for k in ("har", "pcapng") if os.path.exists(self.path(k))}
        if KEEP_FILES:
            added = {k: v - self.kept.get(k, 0) for k, v in sizes.items()}
            self.kept = sizes
            return added
        for k in sizes:
            os.unlink(self.path(k))
        self.proxy.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while not all(os.path.exists(self.path(k)) for k in ("har", "pcapng")) and time.monotonic() < deadline:
            time.sleep(0.05)
        return sizes

    def stop(self):
        self.proxy.cleanup()


def wrk(port, path, conns, duration=DURATION):
    """(requests/s, errors) of one wrk run against the reverse listener."""
    argv = ["taskset", "-c", CLIENT_CPU, "wrk", "-t1", f"-c{conns}", f"-d{duration}s", "--timeout", "10s",
            f"https://127.0.0.1:{port}{path}"]
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=duration + 60)
    out = r.stdout.decode(errors="replace")
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if r.returncode != 0 or not rps:
        raise RuntimeError(f"wrk failed: {' '.join(argv)}\n{out}")
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)|Socket errors: (.*)", out)
    return float(rps.group(1)), errors.group(0) if errors else ""


def machine():
    model = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    return f"{os.cpu_count()} x {model}, kernel {os.uname().release}"


def main():
    env.require_tools("nginx", "wrk", "taskset")
    origin = O.Origin()
    capture_dir = os.environ.get("CAPTURE_DIR") or env.temp_dir("bench-capture")
    subjects = {}
    results = []  # dicts: load, subject, round, rps, mbps, cpu_s, error
    try:
        pin(origin.nginx.pid, CLIENT_CPU)
        subjects = {"off": Subject("off", origin, None), "on": Subject("on", origin, capture_dir)}
        if os.environ.get("HOPLENS_BASE_BIN"):
            subjects["base-on"] = Subject("base-on", origin, os.path.join(capture_dir, "base"),
                                          binary=os.environ["HOPLENS_BASE_BIN"])
        log(f"machine: {machine()}; hoplens {env.hoplens_bin()}")
        for load, (path, conns, body) in LOADS.items():
            for s in subjects.values():  # warm: leaves minted, upstreams pooled, files cached
                wrk(s.port, path, conns, duration=1)
                s.empty_files()
            for rnd in range(REPEAT):
                names = list(subjects)
                for name in names[rnd % len(names):] + names[:rnd % len(names)]:
                    s = subjects[name]
                    cpu0 = cpu_seconds(s.proxy.proc.pid)
                    rps, errors = wrk(s.port, path, conns)
                    cpu = cpu_seconds(s.proxy.proc.pid) - cpu0
                    written = s.empty_files()
                    results.append({"load": load, "subject": name, "round": rnd, "rps": rps,
                                    "mbps": rps * body / 1e6, "cpu_s": cpu, "errors": errors,
                                    "written": written})
                    log(f"{load:16} {name:7} round {rnd}: {rps:10.1f} req/s {rps * body / 1e6:9.1f} MB/s "
                        f"cpu {cpu:5.2f} s {errors} {written or ''}")
        counted = {name: metrics(s.diag_port) for name, s in subjects.items() if name != "off"}
        dropped = {name: m.get("hoplens_capture_dropped_total", float("nan")) for name, m in counted.items()}
        write_errors = {name: m.get("hoplens_capture_write_errors_total", float("nan"))
                        for name, m in counted.items()}
    finally:
        for s in subjects.values():
            s.stop()
        origin.stop()
        if not os.environ.get("CAPTURE_DIR"):
            env.remove_dir(capture_dir)

    print(f"\nhoplens captures on vs off, {DURATION} s per run, {REPEAT} interleaved runs each, medians")
    print(f"machine: {machine()}; proxy pinned to cpu {PROXY_CPU} (--threads 1), wrk + nginx on cpu {CLIENT_CPU}\n")
    print(f"| load | captures | req/s | MB/s | proxy CPU s/run | req per proxy CPU s |")
    print(f"|---|---|---|---|---|---|")
    ratios, cpu_ratios, paired = {}, {}, {}  # paired: the median of the rounds' own on/off
    ab = {}  # load: (on / base-on of the medians, paired)
    for load in LOADS:
        med, med_per_cpu = {}, {}
        for name in subjects:
            rs = [r for r in results if r["load"] == load and r["subject"] == name]
            rps = statistics.median(r["rps"] for r in rs)
            cpu = statistics.median(r["cpu_s"] for r in rs)
            med[name] = rps
            per_cpu = rps * DURATION / cpu if cpu else float("nan")
            med_per_cpu[name] = per_cpu
            print(f"| {load} | {name} | {rps:,.0f} | {statistics.median(r['mbps'] for r in rs):,.1f} | "
                  f"{cpu:.2f} | {per_cpu:,.0f} |")
        ratios[load] = med["on"] / med["off"]
        cpu_ratios[load] = med_per_cpu["on"] / med_per_cpu["off"]
        by_round = {(r["subject"], r["round"]): r["rps"] for r in results if r["load"] == load}
        paired[load] = statistics.median(by_round[("on", n)] / by_round[("off", n)]
                                         for n in range(REPEAT) if by_round.get(("off", n)))
        if "base-on" in subjects:
            ab[load] = (med["on"] / med["base-on"], statistics.median(
                by_round[("on", n)] / by_round[("base-on", n)] for n in range(REPEAT)))
    print()
    # The target is on the rate; the per-CPU ratio says what the capture costs where the
    # "off" proxy had CPU to spare (its clients, not the proxy, set the rate then).
    for load, ratio in ratios.items():
        verdict = "meets" if ratio >= TARGET else "MISSES"
        print(f"{load}: on/off = {ratio:.3f} ({verdict} the {TARGET:.0%} target; paired "
              f"{paired[load]:.3f}); per proxy CPU second {cpu_ratios[load]:.3f}")
    for load, (ratio, pair) in ab.items():
        print(f"{load}: captures on, this build / HOPLENS_BASE_BIN = {ratio:.3f} (paired {pair:.3f})")
    for name in dropped:
        print(f"{name}: capture_dropped_total = {dropped[name]:.0f}, "
              f"capture_write_errors_total = {write_errors[name]:.0f}")
    if os.environ.get("JSON"):
        with open(os.environ["JSON"], "w") as f:
            json.dump({"results": results, "ratios": ratios, "paired": paired, "cpu_ratios": cpu_ratios, "dropped": dropped, "machine": machine()}, f, indent=1)
    return 0 if all(r >= TARGET for r in ratios.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
