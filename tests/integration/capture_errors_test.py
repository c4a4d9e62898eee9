#!/usr/bin/env python3
"""What hoplens answers itself is captured as the client saw it: a request that no upstream
took (connection refused, an upstream certificate that does not verify) and one the origin
did not answer in time get a HAR entry with hoplens's 502/504 and its reason, and the pcapng
holds the request and that answer (tshark reads one HTTP request and one response for each).
Before, such requests left no trace in either file: the user looking for why a request failed
found nothing. A request that succeeds beside them is recorded as usual. An answer to a
request too malformed to be recorded is not recorded either: on a kept-alive connection it
stood in the pcapng with no request before it (found by review)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import capture_support as cs  # noqa: E402
from lib import client, env, hoplens, origin as O, procs  # noqa: E402


def check(cond, msg):
    if not cond:
        print(f"FAIL: {msg}", flush=True)
        sys.exit(1)


def main():
    env.require_tools("curl", "nginx", "tshark")
    cs.require_node_modules("har-validator")
    origin = O.Origin()
    work = env.temp_dir("caperr")
    har, pcap = os.path.join(work, "cap.har"), os.path.join(work, "cap.pcapng")
    closed_port = procs.free_port()  # nothing listens there
    proxy = hoplens.Hoplens({"x": "explicit"}, name="caperr", args=[
        "--upstream-ca", origin.ca_cert, *origin.maps(), "--map", f"refused.test=127.0.0.1:{closed_port}",
        "--map", "wrongname.test=127.0.0.1", "--upstream-response-timeout", "1s",
        "--har", har, "--pcapng", pcap])
    try:
        via = ["-x", proxy.url_explicit_proxy("x"), "--cacert", proxy.ca_pem]
        tls = origin.tls_port
        cases = [  # url, status, words of the reason
            (f"https://refused.test:{tls}/a", 502, f"refused.test:{tls} (127.0.0.1): Connection refused"),
            (f"https://wrongname.test:{tls}/b", 502, "upstream certificate for wrongname.test"),
            (f"http://refused.test:{origin.http_port}/c", 502, "refused"),
            (origin.url("/slow?ms=3000"), 504, "sent no response within 1000 ms"),
            (origin.url("/files/small"), 200, ""),
        ]
        for url, status, _ in cases:
            r = client.curl([url], args=via, timeout=30.0)
            check(r.transfers and r.transfers[0]["http_code"] == status, f"{url}: {r.describe()}")
        # One good exchange, then a malformed request on the same connection.
        target = f"{O.ORIGIN_HOST}:{tls}"
        with client.RawConn(proxy.addr, proxy.port["x"], "connect", sni=O.ORIGIN_HOST,
                            cafile=proxy.ca_pem, target=target) as conn:
            conn.send(f"GET /files/1k HTTP/1.1\r\nHost: {target}\r\n\r\n".encode())
            check(conn.response()[0] == 200, "the kept-alive connection's first request")
            conn.send(b"GET /x HTTP/1.1\r\nHost: " + target.encode() + b"\r\nno colon here\r\n\r\n")
            check(conn.response()[0] == 400, "a malformed request is answered 400")
        check(proxy.stop() == (0, False), f"hoplens did not stop cleanly: {proxy.proc.tail()}")

        ok, out = cs.har_validate(har)
        check(ok, f"the HAR is not valid: {out}")
        entries = {e["request"]["url"]: e for e in cs.har_entries(har)}
        for url, status, words in cases:
            e = entries.get(url)
            check(e is not None, f"no HAR entry for {url}: {sorted(entries)}")
            check(e["response"]["status"] == status, f"{url}: status {e['response']['status']}")
            text = e["response"]["content"].get("text", "")
            check(words in text, f"{url}: the answer does not say why: {text!r}")
            check(not e.get("_incomplete"), f"{url}: marked incomplete: {e.get('comment')}")
            if status == 502:
                check("serverIPAddress" not in e, f"{url}: a server address for a request no server took")

        requests = cs.tshark_lines(pcap, "http.request")
        responses = cs.tshark_lines(pcap, "http.response")
        exchanges = len(cases) + 1  # and the kept-alive connection's good one
        check(len(requests) == exchanges and len(responses) == exchanges,
              f"tshark: {len(requests)} requests, {len(responses)} responses for {exchanges} exchanges")
        flagged = cs.tshark_lines(pcap, "tcp.analysis.flags")
        check(flagged == [], f"tcp.analysis.flags: {flagged[:5]}")
        print(f"PASS: {len(cases)} exchanges, hoplens's own answers included, in the HAR and the pcapng",
              flush=True)
    finally:
        proxy.cleanup()
        origin.stop()
        env.remove_dir(work)


if __name__ == "__main__":
    main()
