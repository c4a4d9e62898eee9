#!/usr/bin/env python3
"""Benchmark hoplens against nginx (a TLS reverse proxy with a verified upstream) and, when
installed, mitmproxy, in one run under the same load (issue 4 §6). Prints one table; the
figures that compare across machines are the per-core ratios to nginx.

Placement (2 cores): the subject alone on PROXY_CPU (0); the client and the origin on
CLIENT_CPU (1). The subject's own CPU time (its process tree, /proc) gives per-core figures.
Method from ../shared/bench-rig (run.sh, lib.sh): pinned subjects, hey for CONNECT and full
handshakes (Go: no session cache), wrk for keep-alive, curl for bulk, hey -q for fixed rate.

Env knobs: DURATION (s per timed run, 5), REPEAT (rounds over all subjects, interleaved so that
a slow minute of this shared machine hits every subject alike; the table shows medians, and
beside each ratio of medians the median of the per-round ratios, "paired"), SUBJECTS ("nginx hoplens hoplens-explicit mitmproxy"),
METRICS ("ka ka_hey hs_full lat bulk idle"), IDLE_CONNS (1000), BULK_RUNS (10), BULK_MB (100),
LAT_DURATION (s for the fixed-rate latency run, 20),
HOPLENS_BIN, HOPLENS_BASE_BIN (the binary of subjects "hoplens-base" and "hoplens-base-explicit", for A/B runs of a change), PROXY_CPU, CLIENT_CPU, RESULTS (a file for the raw JSON lines).
Needs: nginx-light wrk hey curl openssl (apt-get install -y hey wrk nginx-light).
"""
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
from lib import pki, procs  # noqa: E402

DURATION = int(os.environ.get("DURATION", "5"))
REPEAT = int(os.environ.get("REPEAT", "1"))
SUBJECTS = os.environ.get("SUBJECTS", "nginx hoplens hoplens-explicit mitmproxy").split()
METRICS = os.environ.get("METRICS", "ka ka_hey hs_full lat bulk idle").split()
IDLE_CONNS = int(os.environ.get("IDLE_CONNS", "1000"))
BULK_RUNS = int(os.environ.get("BULK_RUNS", "10"))
LAT_DURATION = int(os.environ.get("LAT_DURATION", "20"))
BULK_MB = int(os.environ.get("BULK_MB", "100"))
PROXY_CPU = os.environ.get("PROXY_CPU", "0")
CLIENT_CPU = os.environ.get("CLIENT_CPU", "1")
HOST = "origin.test"
SMALL = b"x" * 90 + b"\n"  # 91 bytes
CLK_TCK = os.sysconf("SC_CLK_TCK")


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def client(argv):
    return ["taskset", "-c", CLIENT_CPU, *argv]


# ------------------------------------------------------------------ process accounting
def proc_tree(root):
    parent = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                stat = open(f"/proc/{d}/stat").read()
            except OSError:
                continue
            parent[int(d)] = int(stat.rsplit(")", 1)[1].split()[1])
    tree, changed = {root}, True
    while changed:
        changed = False
        for p, pp in parent.items():
            if pp in tree and p not in tree:
                tree.add(p)
                changed = True
    return [p for p in tree if p in parent]


def tree_cpu_s(root):
    total = 0
    for p in proc_tree(root):
        try:
            f = open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(x) for x in f[11:15])  # utime stime cutime cstime
    return total / CLK_TCK


def tree_mem_kib(root):
    rss = pss = 0
    for p in proc_tree(root):
        try:
            rss += int(re.search(r"VmRSS:\s+(\d+)", open(f"/proc/{p}/status").read()).group(1))
            pss += int(re.search(r"Pss:\s+(\d+)", open(f"/proc/{p}/smaps_rollup").read()).group(1))
        except (OSError, AttributeError):
            continue
    return rss, pss


def measured(subject, argv, timeout):
    """Runs argv; returns (stdout text, wall s, subject cores used)."""
    c0, t0 = tree_cpu_s(subject.pid), time.monotonic()
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)
    wall = time.monotonic() - t0
    return r.stdout.decode(errors="replace"), wall, (tree_cpu_s(subject.pid) - c0) / wall


# ------------------------------------------------------------------ origin and subjects
NGINX_COMMON = """
worker_processes 1;
daemon off;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
worker_rlimit_nofile 20000;
events {{ worker_connections 16384; multi_accept on; }}
http {{
    access_log off;
    client_body_temp_path {d}/body; proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fcgi; uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;
    keepalive_timeout 300s;
    keepalive_requests 10000000;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_cache shared:S:20m;
    {body}
}}
"""
ORIGIN_BODY = """
    sendfile on;
    server {{
        listen 127.0.0.1:{port} ssl;
        server_name origin.test;
        ssl_certificate {cert}; ssl_certificate_key {key};
        root {www};
        location = /small {{ }}
    }}
"""
NGINX_PROXY_BODY = """
    upstream origin {{ server 127.0.0.1:{oport}; keepalive 128; keepalive_requests 10000000;
                       keepalive_timeout 300s; }}
    server {{
        listen 127.0.0.1:{port} ssl;
        ssl_certificate {cert}; ssl_certificate_key {key};
        location / {{
            proxy_pass https://origin;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_ssl_verify on;
            proxy_ssl_trusted_certificate {ca};
            proxy_ssl_name origin.test;
            proxy_ssl_server_name on;
            proxy_ssl_session_reuse on;
            proxy_max_temp_file_size 0;
        }}
    }}
"""


def start_nginx(work, name, body, cpu):
    d = tempfile.mkdtemp(prefix=name + "-", dir=work)
    with open(os.path.join(d, "nginx.conf"), "w") as f:
        f.write(NGINX_COMMON.format(d=d, body=body))
    return procs.Process(["taskset", "-c", cpu, "nginx", "-p", d, "-c", os.path.join(d, "nginx.conf")], d, "nginx")


class Subject:
    def __init__(self, name, proc, url, proxy=None, idle_args=()):
        self.name, self.proc, self.pid = name, proc, proc.pid
        self.url = url            # base URL the client fetches
        self.proxy = proxy        # "127.0.0.1:P" for CONNECT subjects
        self.idle_args = list(idle_args)


def make_subject(name, work, pki_files, oport):
    ca, leaf, key = pki_files
    port = procs.free_port()
    if name == "nginx":
        p = start_nginx(work, "nginx-subject", NGINX_PROXY_BODY.format(
            oport=oport, port=port, cert=leaf, key=key, ca=ca), PROXY_CPU)
        s = Subject(name, p, f"https://127.0.0.1:{port}", idle_args=["--port", str(port)])
    elif name.startswith("hoplens"):
        # hoplens, hoplens-explicit, and hoplens-base[-explicit] for the HOPLENS_BASE_BIN build
        base = name.startswith("hoplens-base")
        binary = (os.environ.get("HOPLENS_BASE_BIN") if base else os.environ.get("HOPLENS_BIN")) \
            or os.path.join(HERE, "..", "build", "proxy", "hoplens")
        explicit = name.endswith("-explicit")
        spec = "explicit" if explicit else f"reverse:https://{HOST}:{oport}"
        argv = ["taskset", "-c", PROXY_CPU, binary, "--listen", f"{spec}@127.0.0.1:{port}",
                "--data-dir", tempfile.mkdtemp(prefix=name + "-data-", dir=work), "--upstream-ca", ca, "--map",
                f"{HOST}=127.0.0.1", "--threads", "1", "--diag", "off", "--log-level", "warn"]
        p = procs.Process(argv, work, name)
        if explicit:
            s = Subject(name, p, f"https://{HOST}:{oport}", proxy=f"127.0.0.1:{port}",
                        idle_args=["--port", str(port), "--target", f"{HOST}:{oport}"])
        else:
            s = Subject(name, p, f"https://127.0.0.1:{port}", idle_args=["--port", str(port)])
    elif name == "mitmproxy":
        if not shutil.which("mitmdump"):
            return None
        argv = ["taskset", "-c", PROXY_CPU, "mitmdump", "-q", "--listen-host", "127.0.0.1", "--listen-port",
                str(port), "--mode", f"reverse:https://127.0.0.1:{oport}", "--set", f"confdir={work}/mitm",
                "--set", f"ssl_verify_upstream_trusted_ca={ca}", "--set", "stream_large_bodies=1m"]
        p = procs.Process(argv, work, name)
        s = Subject(name, p, f"https://127.0.0.1:{port}", idle_args=["--port", str(port)])
    else:
        raise SystemExit(f"unknown subject {name}")
    if not procs.wait_port("127.0.0.1", port, 20.0, p.proc):
        log(f"{name} did not start:\n{p.tail()}")
        p.stop()
        return None
    return s


# ------------------------------------------------------------------ metrics
def parse_wrk(out):
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    lat = {k: to_ms(v) for k, v in re.findall(r"^\s+(50|99)%\s+(\S+)", out, re.M)}
    errors = sum(int(x) for x in re.findall(r"(?:Non-2xx or 3xx responses|connect|read|write|timeout)[: ]+(\d+)", out))
    return {"value": rps, "p50_ms": lat.get("50"), "p99_ms": lat.get("99"), "errors": errors}


def to_ms(v):
    m = re.match(r"([\d.]+)(us|ms|s)$", v)
    return float(m.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[m.group(2)] if m else None


def parse_hey(out):
    total = float(re.search(r"Total:\s+([\d.]+) secs", out).group(1))
    ok = sum(int(n) for n in re.findall(r"\[200\]\s+(\d+) responses", out))
    lat = {k: float(v) * 1000 for k, v in re.findall(r"(50|99)% in ([\d.]+) secs", out)}
    bad = sum(int(n) for c, n in re.findall(r"\[(\d+)\]\s+(\d+) responses", out) if c != "200")
    err = sum(int(n) for n in re.findall(r"^\s+\[(\d+)\]\s+Get", out, re.M))
    return {"value": ok / total if total else 0.0, "p50_ms": lat.get("50"), "p99_ms": lat.get("99"),
            "errors": bad + err}


def run_wrk(s, extra=()):
    out, wall, cores = measured(s, client(["wrk", "-t1", "-c50", f"-d{DURATION}s", "--timeout", "5s", "--latency",
                                           *extra, s.url + "/small"]), DURATION + 30)
    return dict(parse_wrk(out), cores=cores, unit="req/s", tool="wrk")


def run_hey(s, conns, extra=(), duration=DURATION):
    # hey sends its URL's host:port as SNI; -host gives it (and the Host header) a real name.
    target = ["-x", f"http://{s.proxy}"] if s.proxy else ["-host", HOST]
    out, wall, cores = measured(s, client(["hey", "-cpus", "1", "-c", str(conns), "-z", f"{duration}s", "-t", "10",
                                           *target, *extra, s.url + "/small"]), duration + 30)
    return dict(parse_hey(out), cores=cores, unit="req/s", tool="hey")


def m_ka(s):
    return run_hey(s, 50) if s.proxy else run_wrk(s)


def m_ka_hey(s):
    return run_hey(s, 50)


def m_hs_full(s):
    return run_hey(s, 50, ["-disable-keepalive"])


def m_lat(s):
    # hey's first request on each of its 10 connections pays a full TLS handshake: in a 5 s
    # run (1,000 requests) those 10 are the p99. LAT_DURATION (20 s) makes it the steady state's.
    r = run_hey(s, 10, ["-q", "20"], LAT_DURATION)
    r["value"] = r["p99_ms"]
    r["unit"] = "p99 ms"
    return r


def m_bulk(s):
    speeds, c0, t0 = [], tree_cpu_s(s.pid), time.monotonic()
    proxy = ["-x", f"http://{s.proxy}"] if s.proxy else []
    for _ in range(BULK_RUNS):
        r = subprocess.run(client(["curl", "-sk", "-o", "/dev/null", "--max-time", "120", *proxy, "-w",
                                   "%{http_code} %{size_download} %{speed_download}", s.url + "/big"]),
                           stdout=subprocess.PIPE, timeout=150)
        code, size, speed = r.stdout.decode().split()
        if code == "200" and int(size) == BULK_MB * 10**6:
            speeds.append(float(speed) / 1e6)
    cpu = tree_cpu_s(s.pid) - c0
    if not speeds:
        return {"value": None, "unit": "MB/s", "error": "all downloads failed"}
    wall = time.monotonic() - t0
    return {"value": statistics.median(speeds), "unit": "MB/s", "cores": cpu / wall, "tool": "curl",
            "mb_per_cpu_s": len(speeds) * BULK_MB / cpu if cpu else None}


def m_idle(s, work):
    ready, stop = os.path.join(work, "idle.ready"), os.path.join(work, "idle.stop")
    for f in (ready, stop):
        if os.path.exists(f):
            os.unlink(f)
    time.sleep(1)
    before = tree_mem_kib(s.pid)
    p = subprocess.Popen(client([sys.executable, os.path.join(HERE, "idle_conns.py"), "-n", str(IDLE_CONNS),
                                 "--ready-file", ready, "--stop-file", stop, "--hold", "60", *s.idle_args]))
    deadline = time.monotonic() + 90
    while not os.path.exists(ready) and time.monotonic() < deadline and p.poll() is None:
        time.sleep(0.2)
    time.sleep(2)
    after = tree_mem_kib(s.pid)
    res = open(ready).read() if os.path.exists(ready) else "ok=0"
    open(stop, "w").close()
    p.wait(30)
    ok = int(re.search(r"ok=(\d+)", res).group(1))
    if not ok:
        return {"value": None, "unit": "KiB/conn", "error": res.strip()}
    return {"value": (after[1] - before[1]) / ok, "unit": "PSS KiB/conn", "rss_kib_per_conn": (after[0] - before[0]) / ok,
            "conns": ok, "detail": res.strip().replace("\n", "; ")}


# ------------------------------------------------------------------ main
def machine():
    model = re.search(r"Model name:\s+(.*)", subprocess.run(["lscpu"], stdout=subprocess.PIPE).stdout.decode())
    speed = subprocess.run(["taskset", "-c", PROXY_CPU, "openssl", "speed", "-mr", "-seconds", "1", "-bytes", "16384",
                            "-evp", "aes-256-gcm"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL).stdout.decode()
    m = re.search(r"\+F:\d+:[^:]+:([\d.]+)", speed)
    aes = float(m.group(1)) / 1e6 if m else None
    return {"cpu": model.group(1).strip() if model else "?", "nproc": os.cpu_count(),
            "aes_256_gcm_16k_MBps": aes, "openssl": subprocess.run(["openssl", "version"], stdout=subprocess.PIPE)
            .stdout.decode().strip()}


def main():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    for tool in ("nginx", "wrk", "hey", "curl", "openssl", "taskset"):
        if not shutil.which(tool):
            raise SystemExit(f"missing {tool}: apt-get install -y nginx-light wrk hey curl openssl util-linux")
    work = tempfile.mkdtemp(prefix="hoplens-bench-")
    os.chmod(work, 0o755)
    info = machine()
    log(f"machine: {info}")
    ca, ca_key = pki.make_ca(work, "bench")
    leaf, key = pki.make_leaf(work, (ca, ca_key), [HOST, "proxy.test"], ["127.0.0.1"])
    www = os.path.join(work, "www")
    os.makedirs(www)
    with open(os.path.join(www, "small"), "wb") as f:
        f.write(SMALL)
    with open(os.path.join(www, "big"), "wb") as f:
        for _ in range(BULK_MB):
            f.write(os.urandom(10**6))
    oport = procs.free_port()
    origin = start_nginx(work, "origin", ORIGIN_BODY.format(port=oport, cert=leaf, key=key, www=www), CLIENT_CPU)
    if not procs.wait_port("127.0.0.1", oport, 10.0, origin.proc):
        raise SystemExit(f"origin failed:\n{origin.tail()}")
    results = {}  # (subject, metric) -> [result of each round]
    out = open(os.environ["RESULTS"], "a") if os.environ.get("RESULTS") else None
    try:
        for _ in range(REPEAT):
            for name in SUBJECTS:
                run_subject(name, work, (ca, leaf, key), oport, results, out)
    finally:
        origin.stop()
        shutil.rmtree(work, ignore_errors=True)
    print_table(results, info)


def run_subject(name, work, pki_files, oport, results, out):
    s = make_subject(name, work, pki_files, oport)
    if s is None:
        log(f"{name}: skipped (not installed or did not start)")
        return
    try:
        sanity = subprocess.run(["curl", "-sk", "-o", "/dev/null", "-w", "%{http_code} %{size_download}",
                                 *(["-x", f"http://{s.proxy}"] if s.proxy else []), s.url + "/small"],
                                stdout=subprocess.PIPE, timeout=20).stdout.decode()
        if sanity != f"200 {len(SMALL)}":
            log(f"{name}: sanity check failed ({sanity!r}); skipped\n{s.proc.tail()}")
            return
        for m in METRICS:
            if m == "ka_hey" and s.proxy:
                continue  # ka already used hey for a CONNECT subject
            log(f"{name}: {m}")
            try:
                r = m_idle(s, work) if m == "idle" else globals()[f"m_{m}"](s)
            except Exception as e:  # noqa: BLE001 - one failed metric must not end the run
                r = {"value": None, "error": f"{type(e).__name__}: {e}"}
            results.setdefault((name, m), []).append(r)
            line = json.dumps({"subject": name, "metric": m, **r, "duration": DURATION})
            print("BENCH " + line, flush=True)
            if out:
                out.write(line + "\n")
    finally:
        s.proc.stop()


def per_core(r, metric):
    if not r or r.get("value") is None:
        return None
    if metric == "bulk":
        return r.get("mb_per_cpu_s")
    if metric in ("lat", "idle"):
        return r["value"]
    return r["value"] / r["cores"] if r.get("cores") else None


def median_per_core(rounds, metric):
    values = [v for v in (per_core(r, metric) for r in rounds or []) if v is not None]
    return statistics.median(values) if values else None


def paired_ratio(rounds, base_rounds, metric, base_metric):
    """Median over rounds of (subject / nginx in the same round): a slow minute of the shared
    machine then moves both sides of each ratio instead of one side of the medians."""
    pairs = [(per_core(a, metric), per_core(b, base_metric)) for a, b in zip(rounds or [], base_rounds or [])]
    ratios = [a / b for a, b in pairs if a is not None and b]
    return statistics.median(ratios) if ratios else None


def median_result(rounds, metric):
    """The round whose per-core figure is the median (its own value and cores shown beside it)."""
    good = sorted((r for r in rounds or [] if per_core(r, metric) is not None), key=lambda r: per_core(r, metric))
    return good[(len(good) - 1) // 2] if good else (rounds or [{}])[-1]


def fmt(v):
    return "-" if v is None else (f"{v:,.0f}" if abs(v) >= 100 else f"{v:.2f}")


def print_table(results, info):
    names = [n for n in SUBJECTS if any(k[0] == n for k in results)]
    print(f"\nmachine: {info['cpu']}, {info['nproc']} cores, {info['openssl']}, "
          f"AES-256-GCM 16 KiB {fmt(info['aes_256_gcm_16k_MBps'])} MB/s/core; DURATION={DURATION}s, "
          f"median of {REPEAT} interleaved round(s)")
    labels = {"ka": "keep-alive /small req/s (wrk; hey for CONNECT)", "ka_hey": "keep-alive req/s (hey)",
              "hs_full": "full-handshake conn/s (hey)", "lat": "p99 ms at 200 req/s (hey -q)",
              "bulk": f"{BULK_MB} MB body MB/s (curl)", "idle": f"PSS KiB per idle conn ({IDLE_CONNS})"}
    print("| metric | " + " | ".join(f"{n} (value / cores / per core)" for n in names) + " | " +
          " | ".join(f"{n}/nginx per core" for n in names if n != "nginx") + " |")
    print("|---" * (1 + len(names) + len([n for n in names if n != "nginx"])) + "|")
    for m in METRICS:
        cells, base = [], median_per_core(results.get(("nginx", m)), m)
        for n in names:
            r = median_result(results.get((n, m)), m)
            cells.append(f"{fmt(r.get('value'))} / {fmt(r.get('cores'))} / {fmt(per_core(r, m))}"
                         + (f" (p50 {fmt(r.get('p50_ms'))})" if m == "lat" and r.get("p50_ms") is not None else "")
                         + (f" err={r['errors']}" if r.get("errors") else "")
                         + (f" FAILED: {r['error']}" if r.get("error") else ""))
        ratios = []
        for n in names:
            if n == "nginx":
                continue
            pc = median_per_core(results.get((n, m)), m)
            # Under the same client: a CONNECT subject's keep-alive figure came from hey, so it
            # is compared with nginx's hey figure, not with its wrk one.
            b, bm, vs = base, m, ""
            if (m == "ka" and median_result(results.get((n, m)), m).get("tool") == "hey"
                    and median_result(results.get(("nginx", m)), m).get("tool") != "hey"):
                b, bm, vs = median_per_core(results.get(("nginx", "ka_hey")), "ka_hey"), "ka_hey", " vs hey"
            paired = paired_ratio(results.get((n, m)), results.get(("nginx", bm)), m, bm)
            ratios.append((f"{pc / b:.2f}x" if pc is not None and b else "-")
                          + (f" (paired {paired:.2f}x{vs})" if paired is not None and REPEAT > 1 else
                             (f" ({vs.strip()})" if vs else "")))
        print(f"| {labels.get(m, m)} | " + " | ".join(cells) + " | " + " | ".join(ratios) + " |")


if __name__ == "__main__":
    main()
