#!/usr/bin/env python3
"""--capture-queue: a capture queue smaller than the traffic drops and counts, and loses
nothing else (issue 5 §5). hoplens with --har, --pcapng and a 1 MiB queue; eight 10 MiB
downloads in parallel outrun the capture thread. Every download arrives whole,
capture_dropped_total counts the drops, the HAR is valid and marks the exchanges that lost
bytes incomplete, saying why; the exchanges made after the burst are recorded whole, those on
new connections and those on the burst's own kept-alive connections (the capture resumes at a
connection's next exchange). The same load behind a 1 GiB queue, room for the whole burst
however long the capture thread waits on the disk, drops nothing."""
import concurrent.futures
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import capture_support as cs  # noqa: E402
from lib import client, env, hoplens, origin as O, procs  # noqa: E402

PARALLEL = 8


def check(cond, msg):
    if not cond:
        print(f"FAIL: {msg}", flush=True)
        sys.exit(1)


def burst(origin, proxy):
    """PARALLEL 10 MiB downloads at once through the explicit listener, each on a connection
    of its own that stays open; each must be intact. Returns the connections."""
    target = f"{O.ORIGIN_HOST}:{origin.tls_port}"
    conns = [client.RawConn(proxy.addr, proxy.port["x"], "connect", sni=O.ORIGIN_HOST,
                            cafile=proxy.ca_pem, target=target, timeout=120.0) for _ in range(PARALLEL)]

    def one(i):
        conns[i].send(f"GET /files/10m?burst={i} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode())
        return conns[i].response()

    with concurrent.futures.ThreadPoolExecutor(PARALLEL) as pool:
        for status, _, body in pool.map(one, range(PARALLEL)):
            check(status == 200, f"burst download: status {status}")
            check(client.sha256(body) == origin.files["10m"], "a 10 MiB body changed on its way")
    return conns


def run(origin, queue_args, name):
    """(drops, HAR entries) of one burst and two small exchanges after it."""
    work = env.temp_dir(name)
    har = os.path.join(work, "cap.har")
    diag_port = procs.free_port()
    proxy = hoplens.Hoplens({"x": "explicit"}, name=name, diag=f"127.0.0.1:{diag_port}",
                            args=["--upstream-ca", origin.ca_cert, *origin.maps(), "--har", har,
                                  "--pcapng", os.path.join(work, "cap.pcapng"), *queue_args])
    try:
        conns = burst(origin, proxy)
        time.sleep(1.0)  # the capture thread catches up: what follows fits in the queue
        host = f"{O.ORIGIN_HOST}:{origin.tls_port}"
        for i, conn in enumerate(conns):
            conn.send(f"GET /files/small?same={i} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
            status, _, body = conn.response()
            check(status == 200 and len(body) == 91, f"a request after the burst: {status}")
            conn.close()
        via = ["-x", proxy.url_explicit_proxy("x"), "--cacert", proxy.ca_pem]
        r = client.curl([origin.url("/files/1k?after=1"), origin.url("/files/small?after=2")], args=via)
        check(r.rc == 0 and client.sha256(r.bodies[0]) == origin.files["1k"], r.describe())
        drops = cs.metrics("127.0.0.1", diag_port).get("hoplens_capture_dropped_total", -1)
        check(proxy.stop() == (0, False), f"hoplens did not stop cleanly: {proxy.proc.tail()}")
        ok, out = cs.har_validate(har)
        check(ok, f"the HAR is not valid: {out}")
        return drops, cs.har_entries(har)
    finally:
        proxy.cleanup()
        env.remove_dir(work)


def main():
    env.require_tools("curl", "nginx")
    cs.require_node_modules("har-validator")
    origin = O.Origin()
    try:
        drops, entries = run(origin, ["--capture-queue", "1MiB"], "capqueue-small")
        check(drops > 0, f"a 1 MiB queue dropped nothing under {PARALLEL} parallel 10 MiB downloads")
        cut = [e for e in entries if e.get("_incomplete")]
        check(cut, "no HAR entry is marked incomplete although chunks were dropped")
        check(all("capture queue full" in e.get("comment", "") for e in cut),
              f"an incomplete entry does not say why: {[e.get('comment') for e in cut]}")
        after = [e for e in entries if "after=" in e["request"]["url"]]
        check(len(after) == 2 and not any(e.get("_incomplete") for e in after),
              f"the exchanges after the burst are not recorded whole: {after}")
        same = [e for e in entries if "same=" in e["request"]["url"]]
        check(len(same) == PARALLEL and not any(e.get("_incomplete") for e in same),
              f"{len(same)} of {PARALLEL} exchanges on the burst's own connections recorded whole "
              f"after the loss: {[(e['request']['url'], e.get('comment')) for e in same]}")

        drops, entries = run(origin, ["--capture-queue", "1GiB"], "capqueue-large")
        check(drops == 0, f"a 1 GiB queue dropped {drops} chunks")
        check(len(entries) == 2 * PARALLEL + 2 and not any(e.get("_incomplete") for e in entries),
              "a 1 GiB queue left incomplete entries")
        print(f"PASS: a 1 MiB queue dropped and counted, {len(cut)} entries marked incomplete; "
              f"a 1 GiB queue dropped nothing", flush=True)
    finally:
        origin.stop()


if __name__ == "__main__":
    main()
