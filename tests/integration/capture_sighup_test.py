#!/usr/bin/env python3
"""SIGHUP reopens the capture files, as logrotate needs (issue 5 §5): exchanges, then the HAR
and pcapng are renamed, SIGHUP, more exchanges. The renamed files are complete and valid
with the first exchanges only; the new files are fresh, valid, and hold only the later ones."""
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import capture_support as cs  # noqa: E402
from lib import client, env, hoplens, origin as O  # noqa: E402

BEFORE = ("/files/small?phase=before", "/files/1k?phase=before")
AFTER = ("/files/small?phase=after", "/files/0?phase=after", "/files/1k?phase=after")


def fail(msg):
    print(f"FAIL: {msg}", flush=True)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


def wait_for(pred, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.05)
    fail(f"timed out after {timeout} s waiting for {what}")


def get(origin, proxy, paths):
    urls = [origin.url(p) for p in paths]
    r = client.curl(urls, args=["-x", proxy.url_explicit_proxy("explicit"), "--cacert", proxy.ca_pem])
    check(r.rc == 0 and all(t["http_code"] == 200 for t in r.transfers), r.describe())
    return urls


def har_urls(path):
    return sorted(e["request"]["url"] for e in cs.har_entries(path))


def check_files(har, pcapng, urls, what):
    ok, out = cs.har_validate(har)
    check(ok, f"{what} HAR invalid: {out}")
    check(har_urls(har) == sorted(urls), f"{what} HAR holds {har_urls(har)}, expected {sorted(urls)}")
    n = len(cs.tshark_lines(pcapng, "http.request"))
    check(n == len(urls), f"{what} pcapng has {n} HTTP requests, expected {len(urls)}; its packets:\n" +
          "\n".join(cs.tshark_lines(pcapng, "frame")[:20]))
    check(cs.tshark_lines(pcapng, "tcp.analysis.flags") == [], f"{what} pcapng has TCP analysis flags")


def main():
    env.require_tools("curl", "nginx", "tshark")
    cs.require_node_modules("har-validator")
    work = env.temp_dir("caphup")
    origin = proxy = None
    try:
        origin = O.Origin()
        har, pcapng = os.path.join(work, "cap.har"), os.path.join(work, "cap.pcapng")
        proxy = hoplens.Hoplens({"explicit": "explicit"}, name="caphup",
                                args=["--upstream-ca", origin.ca_cert, *origin.maps(), "--har", har,
                                      "--pcapng", pcapng])
        before = get(origin, proxy, BEFORE)
        wait_for(lambda: len(cs.har_entries(har)) == len(before), 10.0, "the first entries in the HAR")
        os.rename(har, har + ".1")
        os.rename(pcapng, pcapng + ".1")
        proxy.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: os.path.exists(har) and os.path.exists(pcapng), 10.0, "new files after SIGHUP")
        check(proxy.proc.alive(), f"hoplens died on SIGHUP: {proxy.proc.tail()}")
        check(cs.har_entries(har) == [], "the reopened HAR is not empty")
        after = get(origin, proxy, AFTER)
        wait_for(lambda: len(cs.har_entries(har)) == len(after), 10.0, "the later entries in the new HAR")
        status = proxy.stop()
        check(status == (0, False), f"hoplens exit {status}: {proxy.proc.tail()}")
        check_files(har + ".1", pcapng + ".1", before, "rotated")
        check_files(har, pcapng, after, "reopened")
        print("PASS: SIGHUP started fresh valid files; the rotated ones kept the earlier exchanges", flush=True)
    finally:
        if proxy is not None:
            proxy.cleanup()
        if origin is not None:
            origin.stop()
        env.remove_dir(work)


if __name__ == "__main__":
    main()
