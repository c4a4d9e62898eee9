#!/usr/bin/env python3
"""Issue 6 §5 with the real proxy, in a private network namespace (the TcpExt counters,
somaxconn and the TIME_WAIT table are per namespace, so nothing else on the machine moves
the numbers):
  - SIGSTOPped hoplens with --backlog 4: /diag's accept-queue limit equals ss -lnt's, and its
    ListenOverflows since start equals nstat's delta;
  - 200 connections hoplens closes first (400 to a malformed request): time_wait.own_inbound
    equals ss; upstream connections it closes first (a client's Connection: close):
    own_outbound equals ss;
  - the `proxy` counters move by what was sent through it (plain HTTP and CONNECT + TLS);
  - /diag has exactly DESIGN.md's keys; /metrics passes promtool;
  - --backlog above the namespace's somaxconn gives the clamp advice with both numbers, and
    the page in headless Chromium shows the listener and that advice (screenshot kept);
  - `hoplens diag --port P [--json]` with no proxy running reports a full Python listener.
Every check runs and the failures are listed together; exit 0 pass, 77 skip, 1 fail."""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import client, env, hoplens, origin, procs  # noqa: E402

SOMAXCONN = 64
FAILURES = []

# DESIGN.md "Contracts": the /diag keys, exactly.
TOP_KEYS = {"listeners", "kernel", "time_wait", "tcp_states", "sysctl", "advice", "proxy"}
LISTENER_KEYS = {"mode", "address", "backlog_requested", "backlog_effective", "accept_queue", "drops"}
KERNEL_BASE = ["listen_overflows", "listen_drops", "syn_queue_full_drops", "syncookies_sent",
               "paws_estab_rejects", "tw_bucket_overflows"]
KERNEL_KEYS = set(KERNEL_BASE) | {k + "_since_start" for k in KERNEL_BASE}
TIME_WAIT_KEYS = {"own", "own_inbound", "own_outbound", "host", "max_tw_buckets"}
PROXY_KEYS = {"connections_active", "connections_total", "requests_total", "upstream_errors_total",
              "certs_minted_total", "capture_dropped_total"}
SS_STATES = {"ESTAB", "SYN-SENT", "SYN-RECV", "FIN-WAIT-1", "FIN-WAIT-2", "TIME-WAIT", "UNCONN",
             "CLOSE-WAIT", "LAST-ACK", "LISTEN", "CLOSING", "NEW-SYN-RECV"}


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what, flush=True)
    if not ok:
        FAILURES.append(what)
    return ok


def sh(*argv, timeout=30.0):
    return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=timeout, check=True).stdout


def get(url, timeout=10.0):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read()


def diag(base):
    # The server reuses one kernel reading for 250 ms: wait that out so this one is fresh.
    time.sleep(0.3)
    return json.loads(get(base + "/diag"))


def listen_overflows():
    out = sh("nstat", "-asz", "TcpExtListenOverflows")
    return int(next(l.split()[1] for l in out.splitlines() if l.startswith("TcpExtListenOverflows")))


def ss_listen(port):
    """(Recv-Q, Send-Q) of the listening socket on port, as ss -lnt shows them."""
    fields = sh("ss", "-Hlnt", f"( sport = :{port} )").split()
    return int(fields[1]), int(fields[2])


def ss_time_wait(filter_expr):
    return len(sh("ss", "-Htan", "state", "time-wait", filter_expr).splitlines())


def open_stuck_clients(port, n):
    """n non-blocking connects; the caller closes them."""
    clients = []
    for _ in range(n):
        c = socket.socket()
        c.setblocking(False)
        c.connect_ex(("127.0.0.1", port))
        clients.append(c)
    return clients


def exchange(port, request, timeout=10.0):
    """Sends request on a new connection, reads until the peer closes; returns the bytes."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as c:
        c.sendall(request)
        data = b""
        while True:
            chunk = c.recv(65536)
            if not chunk:
                return data
            data += chunk


def start_proxy(o, backlog, diag_port, name, extra=()):
    h = hoplens.Hoplens({"x": "explicit"}, name=name, diag=f"127.0.0.1:{diag_port}",
                        args=["--backlog", str(backlog), "--threads", "1",
                              "--upstream-ca", o.ca_cert, *o.maps(), *extra])
    base = f"http://127.0.0.1:{diag_port}"
    for _ in range(100):
        try:
            if get(base + "/healthz", timeout=1.0) == b"ok":
                return h, base
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"FAIL: diag endpoint did not answer\n{h.log()}")


def check_keys(d, where):
    check(set(d) == TOP_KEYS, f"{where}: top-level keys {sorted(d)}")
    for l in d.get("listeners", []):
        check(set(l) == LISTENER_KEYS and set(l["accept_queue"]) == {"current", "max"},
              f"{where}: listener keys {sorted(l)}")
    check(set(d["kernel"]) == KERNEL_KEYS, f"{where}: kernel keys {sorted(d['kernel'])}")
    check(set(d["time_wait"]) == TIME_WAIT_KEYS, f"{where}: time_wait keys {sorted(d['time_wait'])}")
    check(set(d["tcp_states"]) <= SS_STATES, f"{where}: tcp_states named as ss: {sorted(d['tcp_states'])}")
    check("net.core.somaxconn" in d["sysctl"] and all(k.startswith("net.") for k in d["sysctl"]),
          f"{where}: sysctl dotted names {sorted(d['sysctl'])}")
    check(all(set(a) == {"id", "level", "message"} for a in d["advice"]), f"{where}: advice item keys")
    if d["proxy"] is not None:
        check(set(d["proxy"]) == PROXY_KEYS, f"{where}: proxy keys {sorted(d['proxy'])}")


def promtool(base, artifacts, name):
    metrics = get(base + "/metrics")
    path = os.path.join(artifacts, name)
    with open(path, "wb") as f:
        f.write(metrics)
    r = subprocess.run(["promtool", "check", "metrics"], input=metrics, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=30)
    check(r.returncode == 0, f"promtool check metrics ({path}): {r.stdout.decode(errors='replace').strip()}")
    return metrics.decode()


def accept_queue_and_overflows(h, base, port):
    before = listen_overflows()
    h.proc.send_signal(signal.SIGSTOP)
    try:
        clients = open_stuck_clients(port, 12)
        time.sleep(1.0)
        recvq, sendq = ss_listen(port)
        time.sleep(0.5)
        for c in clients:  # no more retransmitted final ACKs to count
            c.close()
        time.sleep(0.5)
        after = listen_overflows()
    finally:
        h.proc.send_signal(signal.SIGCONT)
    d = diag(base)
    l = d["listeners"][0]
    since = d["kernel"]["listen_overflows_since_start"]
    print(f"ss -lnt: Recv-Q {recvq} Send-Q {sendq}; /diag max {l['accept_queue']['max']} "
          f"effective {l['backlog_effective']}; ListenOverflows nstat +{after - before}, /diag +{since}; "
          f"listener drops {l['drops']}")
    check(recvq == 5 and sendq == 4, "listen(4) holds 5 in ss -lnt")
    check(l["accept_queue"]["max"] == sendq and l["backlog_effective"] == sendq
          and l["backlog_requested"] == 4, "/diag accept-queue limit = ss Send-Q")
    check(since == after - before and since > 0, "/diag listen_overflows_since_start = nstat delta")
    check(l["drops"] is not None and l["drops"] >= since, "listener drops >= overflows since start")
    check(any(a["id"] == "listen_overflows_rising" and str(since) in a["message"] for a in d["advice"]),
          "listen_overflows_rising advice names the count")
    check_keys(d, "/diag")


def inbound_time_wait(base, port):
    for _ in range(200):
        reply = exchange(port, b"BAD\r\n\r\n")
        if not reply.startswith(b"HTTP/1.1 400"):
            check(False, f"malformed request answered {reply[:60]!r}")
            return
    time.sleep(0.3)
    ss_in = ss_time_wait(f"( sport = :{port} )")
    d = diag(base)
    own_in = d["time_wait"]["own_inbound"]
    print(f"TIME_WAIT on :{port}: /diag own_inbound {own_in}, ss {ss_in}")
    # Not always exactly 200: a client port reused for the same 4-tuple takes over the old
    # TIME_WAIT (RFC 6191 with timestamps). What matters is agreeing with ss.
    check(own_in == ss_in and own_in >= 190, "own_inbound = ss (sport = :P)")


def proxy_counters(base, port, o, hoplens_ca):
    before = diag(base)
    n = 30
    request = (f"GET http://{origin.ORIGIN_ADDR}:{o.http_port}/small HTTP/1.1\r\n"
               f"Host: {origin.ORIGIN_ADDR}:{o.http_port}\r\nConnection: close\r\n\r\n").encode()
    ok = sum(exchange(port, request).startswith(b"HTTP/1.1 200") for _ in range(n))
    check(ok == n, f"{ok}/{n} plain requests through the proxy got 200")
    # HTTPS through CONNECT, two names: one leaf minted for each.
    r = client.curl([o.url("/small"), o.url("/small", host=origin.OTHER_HOST)],
                    ["--proxy", f"http://127.0.0.1:{port}", "--cacert", hoplens_ca])
    if not check(r.rc == 0 and [t["http_code"] for t in r.transfers] == [200, 200],
                 "two HTTPS requests through CONNECT got 200"):
        print(r.describe())
    after = diag(base)
    moved = {k: after["proxy"][k] - before["proxy"][k] for k in PROXY_KEYS}
    print(f"proxy counters moved: {moved}")
    # curl makes one connection per name (CONNECT tunnels are not shared across names).
    check(moved["connections_total"] == n + 2, "connections_total += client connections")
    # Each plain GET, each CONNECT and each GET inside a tunnel is a request head.
    check(moved["requests_total"] >= n + 2, "requests_total += requests")
    check(moved["certs_minted_total"] == 2, "certs_minted_total += one leaf per new name")
    check(moved["upstream_errors_total"] == 0, "no upstream errors")
    check(after["proxy"]["connections_active"] == 0, "no connection left active")
    metrics = get(base + "/metrics").decode()
    check(f"\nhoplens_requests_total {after['proxy']['requests_total']}\n" in metrics,
          "/metrics hoplens_requests_total = /diag's")


class HeldOrigin:
    """A keep-alive HTTP/1.1 origin that never closes first and holds every response until
    `expected` connections are open, so that hoplens has them all in use at once."""

    def __init__(self, expected):
        self.expected = expected
        self.opened = 0
        self.cond = threading.Condition()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1024)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            with self.cond:
                self.opened += 1
                self.cond.notify_all()
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        with self.cond:
            self.cond.wait_for(lambda: self.opened >= self.expected, timeout=20)
        buf = b""
        with c:
            while True:
                while b"\r\n\r\n" not in buf:
                    data = c.recv(4096)
                    if not data:
                        return
                    buf += data
                buf = buf.split(b"\r\n\r\n", 1)[1]
                c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nheld\n")

    def stop(self):
        self.sock.close()


def outbound_time_wait(base, port, o):
    """n requests in flight at once need n upstream connections; the pool keeps some idle
    and hoplens closes the rest first, so their TIME_WAIT is on its side."""
    n = 150
    held = HeldOrigin(n)
    try:
        # own_outbound is "TIME_WAIT toward an upstream endpoint hoplens used", whoever
        # closed: count exactly those (the nginx origin's start-up probes left a few too).
        used = (f"( dst {origin.ORIGIN_ADDR}:{o.http_port} or dst {origin.ORIGIN_ADDR}:{o.tls_port}"
                f" or dst {origin.OTHER_ADDR}:{o.tls_port} or dst 127.0.0.1:{held.port} )")
        ours = f"( dst 127.0.0.1:{held.port} )"
        tw_before = ss_time_wait(ours)
        request = f"GET http://127.0.0.1:{held.port}/ HTTP/1.1\r\nHost: 127.0.0.1:{held.port}\r\n\r\n".encode()
        clients = [socket.create_connection(("127.0.0.1", port), timeout=30) for _ in range(n)]
        ok = 0
        try:
            for c in clients:
                c.sendall(request)
            for c in clients:
                data = b""
                while not data.endswith(b"held\n"):
                    chunk = c.recv(4096)
                    if not chunk:
                        break
                    data += chunk
                ok += data.startswith(b"HTTP/1.1 200")
            time.sleep(0.3)  # every client connection idle: its upstream is back in the pool
        finally:
            for c in clients:
                c.close()
        time.sleep(0.3)
        closed_by_us = ss_time_wait(ours) - tw_before
        pooled = len(sh("ss", "-Htan", "state", "established", ours).splitlines())
        ss_out = ss_time_wait(used)
        d = diag(base)
        own_out = d["time_wait"]["own_outbound"]
        print(f"{n} requests in flight: {held.opened} upstream connections, {pooled} kept in the pool, "
              f"{closed_by_us} closed by hoplens (TIME_WAIT); /diag own_outbound {own_out}, ss {ss_out}")
        check(ok == n and held.opened == n, f"{ok}/{n} held requests answered on {held.opened} upstream connections")
        check(closed_by_us > 0 and closed_by_us + pooled == n,
              "every upstream connection hoplens did not pool it closed first")
        check(own_out == ss_out and own_out >= closed_by_us, "own_outbound = ss (dst = the upstreams used)")
        check(d["time_wait"]["own"] == d["time_wait"]["own_inbound"] + own_out, "own = inbound + outbound")
    finally:
        held.stop()


def clamp_and_page(base, port, v6_port, artifacts, work):
    d = diag(base)
    by_address = {l["address"]: l for l in d["listeners"]}
    clamp = [a["message"] for a in d["advice"] if a["id"] == "somaxconn_clamps_backlog"]
    print(f"listeners: {d['listeners']}\nclamp advice: {clamp}")
    for address, mode in ((f"127.0.0.1:{port}", "explicit"), (f"[::1]:{v6_port}", "http")):
        l = by_address.get(address, {})
        check(l.get("mode") == mode and l.get("backlog_requested") == 200 and l.get("backlog_effective") == SOMAXCONN
              and l.get("accept_queue", {}).get("max") == SOMAXCONN, f"{address}: backlog 200 clamped to {SOMAXCONN}")
    check(len(clamp) == 2 and all("200" in m and str(SOMAXCONN) in m and "net.core.somaxconn" in m for m in clamp),
          "clamp advice per listener names both numbers and the sysctl")
    metrics = promtool(base, artifacts, "metrics_clamped.txt")
    check(f'hoplens_listener_accept_queue_max{{listener="explicit@127.0.0.1:{port}",socket="0"}} {SOMAXCONN}'
          in metrics, "/metrics has the listener's queue limit with its label")
    node_modules = os.path.join(env.source_dir(), "tests", "js", "node_modules")
    if not (os.access("/usr/bin/chromium", os.X_OK) and os.path.isdir(os.path.join(node_modules, "playwright-core"))):
        check(False, "chromium or playwright-core missing: page not checked")
        return
    shot = os.path.join(artifacts, "diag_page.png")
    r = subprocess.run(["node", os.path.join(env.source_dir(), "tests", "diag", "page_check.js"),
                        base + "/", f"127.0.0.1:{port}", "somaxconn_clamps_backlog", shot,
                        os.path.join(work, "chrome")],
                       env=dict(os.environ, NODE_PATH=node_modules), stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=90)
    out = r.stdout.decode(errors="replace").strip().splitlines()
    check(r.returncode == 0 and os.path.getsize(shot) > 0, f"page in Chromium: {out[-1] if out else ''}")


def host_report():
    """`hoplens diag` with no proxy: a Python listener with listen(3) and a full queue."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(3)
        port = s.getsockname()[1]
        clients = open_stuck_clients(port, 6)
        try:
            time.sleep(0.5)
            recvq, sendq = ss_listen(port)
            st, text, err = hoplens.run_cli(["diag", "--port", str(port)])
            st_json, out, err_json = hoplens.run_cli(["diag", "--port", str(port), "--json"])
        finally:
            for c in clients:
                c.close()
    print(f"ss -lnt: Recv-Q {recvq} Send-Q {sendq}\n{text}")
    row = [l.split() for l in text.splitlines() if l.strip().startswith(f"127.0.0.1:{port} ")]
    check(st == 0 and len(row) == 1 and row[0][1:3] == [str(recvq), str(sendq)],
          f"hoplens diag --port {port}: queue {recvq} and limit {sendq} on the listener's row")
    check("accept_queue_full" in text and "Advice" in text, "hoplens diag prints the advice")
    check(st_json == 0, f"hoplens diag --json exit {st_json}: {err_json}")
    d = json.loads(out)
    check_keys(d, "hoplens diag --json")
    ls = d["listeners"]
    check(len(ls) == 1 and ls[0]["address"] == f"127.0.0.1:{port}"
          and ls[0]["accept_queue"] == {"current": recvq, "max": sendq} and ls[0]["backlog_effective"] == 3,
          f"hoplens diag --json listener {ls}")
    check(any(a["id"] == "accept_queue_full" for a in d["advice"]), "hoplens diag --json advice")


def inner():
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    subprocess.run(["sysctl", "-qw", f"net.core.somaxconn={SOMAXCONN}"], check=True)
    work = env.temp_dir("diag-netns")
    os.environ["NSTAT_HISTORY"] = os.path.join(work, "nstat.history")
    artifacts = env.artifacts_dir("diag_netns")
    o = origin.Origin()
    h = None
    try:
        h, base = start_proxy(o, 4, 19090, "diag-small-backlog")
        port = h.port["x"]
        accept_queue_and_overflows(h, base, port)
        inbound_time_wait(base, port)
        proxy_counters(base, port, o, h.ca_pem)
        outbound_time_wait(base, port, o)
        promtool(base, artifacts, "metrics.txt")
        h.cleanup()
        v6_port = procs.free_port("::1")
        h, base = start_proxy(o, 200, 19091, "diag-clamped", ["--listen", f"http@[::1]:{v6_port}"])
        clamp_and_page(base, h.port["x"], v6_port, artifacts, work)
        h.cleanup()
        h = None
        host_report()
    finally:
        if h is not None:
            print(h.log()[-3000:])
            h.cleanup()
        o.stop()
        shutil.rmtree(work, ignore_errors=True)
    if FAILURES:
        print(f"FAIL: {len(FAILURES)} checks failed:\n  " + "\n  ".join(FAILURES))
        return 1
    print("PASS")
    return 0


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "inner":
        return inner()
    env.hoplens_bin()
    if os.getuid() != 0:
        env.skip("needs root for unshare -n")
    env.require_tools("unshare", "ip", "ss", "nstat", "nginx", "curl", "promtool", "node")
    r = subprocess.run(["timeout", "300", "unshare", "-n", sys.executable, os.path.abspath(__file__), "inner"])
    return r.returncode


if __name__ == "__main__":
    sys.exit(main())
