#!/usr/bin/env python3
"""Captures end to end with curl (issue 5 §6): curl through hoplens (explicit and sni modes)
to nginx origins, with --har, --pcapng and --keylog. GET 0 B / 91 B / 1 KiB / 10 MiB, a
chunked response, a gzip response, a urlencoded and a binary POST, keep-alive (several URLs
in one curl). Then the HAR validates (schema + Chrome's rules) and holds one exact entry per
exchange; tshark finds one HTTP request and one response per exchange, no sequence-analysis
flag and no bad checksum, and reassembles the 10 MiB body intact; the key log is 0600 and
holds the secrets of both legs."""
import base64
import gzip
import hashlib
import os
import re
import stat
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import capture_support as cs  # noqa: E402
from lib import backend, client, env, hoplens, origin as O, procs  # noqa: E402

MODES = ("explicit", "sni")
FORM_BODY = "a=1&b=two+words&c=%C3%A9t%C3%A9"
BINARY_POST = os.urandom(64 * 1024)
CHUNKS = (20, 1000)
ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}(Z|[+-]\d\d:\d\d)$")
KEYLOG_LABELS = ("CLIENT_HANDSHAKE_TRAFFIC_SECRET", "SERVER_HANDSHAKE_TRAFFIC_SECRET",
                 "CLIENT_TRAFFIC_SECRET_0", "SERVER_TRAFFIC_SECRET_0", "EXPORTER_SECRET")

ORIGIN = None
GZIPPED = b""
SITE = None
RUNS = {}  # mode -> Run


class Run:
    """One hoplens in one mode, with its capture files and the exchanges curl made."""

    def __init__(self, mode):
        self.mode = mode
        self.dir = env.temp_dir(f"capcurl-{mode}")
        self.har = os.path.join(self.dir, "cap.har")
        self.pcapng = os.path.join(self.dir, "cap.pcapng")
        self.keylog = os.path.join(self.dir, "keys.log")
        self.curl_keylog = os.path.join(self.dir, "curl-keys.log")
        capture = ["--har", self.har, "--pcapng", self.pcapng, "--keylog", self.keylog]
        with_port = mode == "sni"  # an sni listener's port is not the origin's
        self.proxy = hoplens.Hoplens({mode: mode}, name=f"capcurl-{mode}",
                                     args=["--upstream-ca", ORIGIN.ca_cert, *ORIGIN.maps(with_port),
                                           *SITE.map_arg(with_port), *capture])
        self.expected = []  # dicts: method, url, status, body, req_body, mime, connects
        self.stop_status = None

    def url_args(self, host, port, path):
        p = self.proxy
        if self.mode == "explicit":
            return f"https://{host}:{port}{path}", ["-x", p.url_explicit_proxy(self.mode), "--cacert", p.ca_pem]
        lport = p.port[self.mode]
        return (f"https://{host}:{lport}{path}",
                ["--noproxy", "*", "--cacert", p.ca_pem, "--resolve", f"{host}:{lport}:{p.addr}"])

    def curl(self, targets, extra=(), data_file=None, req_body=b""):
        """targets: [(host, port, path, expected body, mime)]; one curl for all (keep-alive)."""
        urls, args = [], []
        for host, port, path, _, _ in targets:
            url, url_args = self.url_args(host, port, path)
            urls.append(url)
            if not args:
                args = url_args
            elif url_args[-2] == "--resolve" and url_args[-1] not in args:
                args += url_args[-2:]  # sni mode: one --resolve per host
        res = client.curl(urls, args=[*args, *extra], data_file=data_file, timeout=120.0)
        if res.rc != 0 or [t.get("exitcode") for t in res.transfers] != [0] * len(urls):
            raise AssertionError(f"curl through hoplens failed\n{res.describe()}\n{self.proxy.proc.tail()}")
        method = "POST" if (data_file or req_body) else "GET"
        for (host, port, path, body, mime), url, t, got in zip(targets, urls, res.transfers, res.bodies):
            if got != body:
                raise AssertionError(f"{url}: body differs ({len(got)} vs {len(body)} bytes)")
            self.expected.append({"method": method, "url": url, "status": 200, "body": body,
                                  "req_body": req_body, "mime": mime, "host": host,
                                  "connects": t.get("num_connects")})

    def traffic(self):
        o, tls = O.ORIGIN_HOST, ORIGIN.tls_port
        www = os.path.join(ORIGIN.dir, "www")
        files = {n: cs.read_file(os.path.join(www, n)) for n in ("0", "small", "1k", "10m")}
        os.environ["SSLKEYLOGFILE"] = self.curl_keylog  # curl's own secrets: the client leg's randoms
        try:
            # keep-alive: five exchanges on one client connection, then another host.
            self.curl([(o, tls, "/files/small", files["small"], "application/octet-stream"),
                       (o, tls, "/files/0", files["0"], "application/octet-stream"),
                       (o, tls, "/files/1k", files["1k"], "application/octet-stream"),
                       (o, tls, f"/chunked?n={CHUNKS[0]}&size={CHUNKS[1]}", backend.chunked_body(*CHUNKS),
                        "application/octet-stream"),
                       (o, tls, "/files/10m", files["10m"], "application/octet-stream"),
                       (cs.SITE_HOST, SITE.port, "/text.txt", cs.GZIP_TEXT.encode(), "text/plain")],
                      extra=["--compressed"])
            self.curl([(o, tls, "/echo", FORM_BODY.encode(), "application/octet-stream")],
                      extra=["-H", "Content-Type: application/x-www-form-urlencoded",
                             "--data-binary", FORM_BODY], req_body=FORM_BODY.encode())
            with tempfile.NamedTemporaryFile(dir=self.dir, delete=False) as f:
                f.write(BINARY_POST)
            self.curl([(o, tls, "/echo?kind=binary", BINARY_POST, "application/octet-stream")],
                      extra=["-H", "Content-Type: application/octet-stream"], data_file=f.name,
                      req_body=BINARY_POST)
        finally:
            del os.environ["SSLKEYLOGFILE"]
        self.stop_status = self.proxy.stop()

    def cleanup(self):
        self.proxy.cleanup()
        env.remove_dir(self.dir)


def setUpModule():
    global ORIGIN, SITE, GZIPPED
    env.require_tools("curl", "nginx", "tshark", "openssl")
    cs.require_node_modules("har-validator")
    try:
        ORIGIN = O.Origin()
        SITE = cs.Site((ORIGIN.ca_cert, ORIGIN.ca_key))
        # What nginx sends for text.txt, straight from nginx.
        r = client.curl(SITE.url("/text.txt"), args=["--cacert", ORIGIN.ca_cert, "-H", "Accept-Encoding: gzip",
                                                     "--resolve", f"{cs.SITE_HOST}:{SITE.port}:{cs.SITE_ADDR}"])
        GZIPPED = r.body
        if r.rc != 0 or gzip.decompress(GZIPPED) != cs.GZIP_TEXT.encode():
            raise AssertionError(f"site.test does not serve gzip: {r.describe()}")
        for mode in MODES:
            RUNS[mode] = Run(mode)
            RUNS[mode].traffic()
    except BaseException:
        tearDownModule()  # unittest does not when setUpModule fails
        raise


def tearDownModule():
    for r in RUNS.values():
        r.cleanup()
    if SITE is not None:
        SITE.stop()
    if ORIGIN is not None:
        ORIGIN.stop()


def header(hs, name):
    for h in hs:
        if h["name"].lower() == name:
            return h["value"]
    return None


def body_of(content):
    """Response content, or request postData (HAR 1.2 has no encoding for it: hoplens says
    base64 in its comment)."""
    text = content.get("text", "")
    b64 = content.get("encoding") == "base64" or "base64" in content.get("comment", "")
    return base64.b64decode(text) if b64 else text.encode()


class Har(unittest.TestCase):
    def entries(self, run):
        return cs.har_entries(run.har)

    def test_proxy_exited_cleanly(self):
        for run in RUNS.values():
            with self.subTest(mode=run.mode):
                self.assertEqual(run.stop_status, (0, False), run.proxy.proc.tail())

    def test_validates(self):
        for run in RUNS.values():
            with self.subTest(mode=run.mode):
                ok, out = cs.har_validate(run.har)
                self.assertTrue(ok, out)
                har = cs.har_load(run.har)
                self.assertEqual(har["log"]["creator"]["name"], "hoplens")

    def test_one_entry_per_exchange(self):
        for run in RUNS.values():
            with self.subTest(mode=run.mode):
                got = sorted((e["request"]["method"], e["request"]["url"]) for e in self.entries(run))
                want = sorted((x["method"], x["url"]) for x in run.expected)
                self.assertEqual(got, want)

    def test_entries_match_the_exchanges(self):
        for run in RUNS.values():
            by_url = {(e["request"]["method"], e["request"]["url"]): e for e in self.entries(run)}
            for x in run.expected:
                with self.subTest(mode=run.mode, url=x["url"]):
                    e = by_url.get((x["method"], x["url"]))
                    self.assertIsNotNone(e, "no entry")
                    req, resp, content = e["request"], e["response"], e["response"]["content"]
                    self.assertEqual(resp["status"], x["status"])
                    self.assertEqual(req["httpVersion"], "HTTP/1.1")
                    self.assertRegex(e["startedDateTime"], ISO_MS)
                    self.assertNotIn("_incomplete", e)
                    self.assertEqual(content["size"], len(x["body"]))
                    self.assertTrue(content["mimeType"].startswith(x["mime"]), content["mimeType"])
                    self.assertEqual(e["serverIPAddress"],
                                     cs.SITE_ADDR if x["host"] == cs.SITE_HOST else O.ORIGIN_ADDR)
                    self.assertGreater(req["headersSize"], 0)
                    self.assertGreater(resp["headersSize"], 0)
                    self.assertEqual(req["bodySize"], len(x["req_body"]))
                    for phase in ("send", "wait", "receive"):
                        self.assertGreaterEqual(e["timings"][phase], 0)
                    for phase in ("blocked", "dns", "connect", "ssl"):
                        self.assertTrue(e["timings"][phase] == -1 or e["timings"][phase] >= 0)
                    cap = 1024 * 1024
                    if len(x["body"]) <= cap:
                        self.assertEqual(body_of(content), x["body"])
                        self.assertNotIn("comment", e)
                    else:  # --capture-body-limit's default: the first MiB, and a note
                        self.assertEqual(body_of(content), x["body"][:cap])
                        self.assertIn("truncated", e.get("comment", ""))
                    if x["req_body"]:
                        self.assertEqual(body_of(req["postData"]), x["req_body"])
                    else:
                        self.assertNotIn("postData", req)

    def test_body_sizes_from_the_wire(self):
        for run in RUNS.values():
            by_path = {e["request"]["url"].split("/", 3)[3]: e for e in self.entries(run)}
            with self.subTest(mode=run.mode):
                fixed = by_path["files/1k"]["response"]
                self.assertEqual(fixed["bodySize"], 1024)
                self.assertEqual(by_path["files/10m"]["response"]["bodySize"], 10 * 1024 * 1024)
                self.assertEqual(by_path["files/0"]["response"]["bodySize"], 0)
                chunked = by_path[f"chunked?n={CHUNKS[0]}&size={CHUNKS[1]}"]["response"]
                self.assertEqual(header(chunked["headers"], "transfer-encoding"), "chunked")
                # On the wire a chunked body also carries its framing (nginx re-chunks: the
                # exact count is checked against the pcapng in test_sizes_add_up_to_the_wire).
                self.assertGreater(chunked["bodySize"], CHUNKS[0] * CHUNKS[1] + len("0\r\n\r\n"))
                self.assertEqual(chunked["content"]["size"], CHUNKS[0] * CHUNKS[1])

    def test_sizes_add_up_to_the_wire(self):
        """Per connection, the HAR's headersSize + bodySize of each direction sum to the TCP
        payload bytes of that direction in the pcapng: both count every byte exactly once."""
        for run in RUNS.values():
            with self.subTest(mode=run.mode):
                har = {}
                for e in self.entries(run):
                    up, down = har.get(e["connection"], (0, 0))
                    req, resp = e["request"], e["response"]
                    har[e["connection"]] = (up + req["headersSize"] + req["bodySize"],
                                            down + resp["headersSize"] + resp["bodySize"])
                wire = {}
                for stream, src, n in cs.tshark_fields(run.pcapng, "tcp.len > 0", "tcp.stream", "tcp.srcport",
                                                       "tcp.len"):
                    wire.setdefault(stream, {}).setdefault(int(src), 0)
                    wire[stream][int(src)] += int(n)
                clients = dict(cs.tshark_fields(run.pcapng, "tcp.flags.syn == 1 && tcp.flags.ack == 0",
                                                "tcp.stream", "tcp.srcport"))
                pcap = []
                for stream, by_port in wire.items():
                    self.assertEqual(len(by_port), 2, by_port)
                    client_port = int(clients[stream])
                    server_port = (set(by_port) - {client_port}).pop()
                    pcap.append((by_port[client_port], by_port[server_port]))
                self.assertEqual(sorted(har.values()), sorted(pcap))

    def test_gzip_is_decoded_with_compression_set(self):
        for run in RUNS.values():
            e = [e for e in self.entries(run) if e["request"]["url"].endswith("/text.txt")]
            with self.subTest(mode=run.mode):
                self.assertEqual(len(e), 1)
                resp = e[0]["response"]
                self.assertEqual(header(resp["headers"], "content-encoding"), "gzip")
                self.assertEqual(resp["content"]["text"], cs.GZIP_TEXT)
                self.assertLess(resp["bodySize"], len(cs.GZIP_TEXT) // 4)
                self.assertEqual(resp["content"]["compression"], len(cs.GZIP_TEXT) - len(GZIPPED))

    def test_post_data(self):
        for run in RUNS.values():
            with self.subTest(mode=run.mode):
                form = [e for e in self.entries(run) if e["request"]["url"].endswith("/echo")][0]
                post = form["request"]["postData"]
                self.assertEqual(post["mimeType"], "application/x-www-form-urlencoded")
                self.assertEqual(post["text"], FORM_BODY)
                self.assertEqual(post["params"], [{"name": "a", "value": "1"},
                                                  {"name": "b", "value": "two words"},
                                                  {"name": "c", "value": "été"}])
                binary = [e for e in self.entries(run) if e["request"]["url"].endswith("kind=binary")][0]
                self.assertEqual(binary["request"]["queryString"], [{"name": "kind", "value": "binary"}])
                self.assertNotIn("params", binary["request"]["postData"])

    def test_keep_alive_shares_a_connection(self):
        for run in RUNS.values():
            with self.subTest(mode=run.mode):
                origin_gets = [x for x in run.expected[:5]]
                self.assertEqual([x["connects"] for x in origin_gets], [1, 0, 0, 0, 0],
                                 "curl did not keep the connection alive")
                entries = {e["request"]["url"]: e for e in self.entries(run)}
                conns = {entries[x["url"]]["connection"] for x in origin_gets}
                self.assertEqual(len(conns), 1, f"keep-alive exchanges on {conns}")
                others = {e["connection"] for e in self.entries(run)} - conns
                self.assertEqual(len(others), 3, "site GET and two POSTs: three more connections")
                ordered = sorted((entries[x["url"]] for x in origin_gets), key=lambda e: e["startedDateTime"])
                # Only the first exchange on a fresh proxy opened an upstream connection.
                self.assertGreater(ordered[0]["timings"]["connect"], 0)
                self.assertGreater(ordered[0]["timings"]["ssl"], 0)
                for e in ordered[1:]:
                    self.assertEqual(e["timings"]["connect"], -1, e["request"]["url"])


class Pcapng(unittest.TestCase):
    def test_one_http_request_and_response_per_exchange(self):
        for run in RUNS.values():
            with self.subTest(mode=run.mode):
                n = len(run.expected)
                self.assertEqual(len(cs.tshark_lines(run.pcapng, "http.request")), n)
                self.assertEqual(len(cs.tshark_lines(run.pcapng, "http.response")), n)
                uris = sorted(u for (u,) in cs.tshark_fields(run.pcapng, "http.request", "http.request.uri"))
                self.assertEqual(uris, sorted("/" + x["url"].split("/", 3)[3] for x in run.expected))

    def test_no_analysis_flags(self):
        for run in RUNS.values():
            with self.subTest(mode=run.mode):
                self.assertEqual(cs.tshark_lines(run.pcapng, "tcp.analysis.flags"), [])

    def test_checksums_are_valid(self):
        opts = ("-o", "tcp.check_checksum:TRUE", "-o", "ip.check_checksum:TRUE")
        for run in RUNS.values():
            with self.subTest(mode=run.mode):
                bad = cs.tshark_lines(run.pcapng, "tcp.checksum.status != 1 || ip.checksum.status != 1", *opts)
                self.assertEqual(bad[:5], [])
                good = cs.tshark_lines(run.pcapng, "tcp.checksum.status == 1 && ip.checksum.status == 1", *opts)
                self.assertGreater(len(good), 100, "checksums were not verified")

    def test_handshakes_and_fins(self):
        for run in RUNS.values():
            with self.subTest(mode=run.mode):
                syns = cs.tshark_lines(run.pcapng, "tcp.flags.syn == 1 && tcp.flags.ack == 0")
                fins = cs.tshark_lines(run.pcapng, "tcp.flags.fin == 1")
                self.assertEqual(len(syns), 4, "four client connections")
                self.assertGreaterEqual(len(fins), 4)

    def test_big_body_reassembles_intact(self):
        for run in RUNS.values():
            with self.subTest(mode=run.mode):
                out = os.path.join(run.dir, "objects")
                r = procs.run(["tshark", "-n", "-r", run.pcapng, "--export-objects", f"http,{out}"], timeout=120)
                self.assertEqual(r.returncode, 0, r.stderr)
                digests = {client.sha256_file(os.path.join(out, f)) for f in os.listdir(out)}
                self.assertIn(ORIGIN.files["10m"], digests)
                self.assertIn(hashlib.sha256(BINARY_POST).hexdigest(), digests)


class Keylog(unittest.TestCase):
    def randoms(self, path):
        by_label = {}
        with open(path) as f:
            for line in f:
                parts = line.split()
                if len(parts) == 3:
                    by_label.setdefault(parts[0], set()).add(parts[1])
        return by_label

    def test_mode_0600(self):
        for run in RUNS.values():
            with self.subTest(mode=run.mode):
                self.assertEqual(stat.S_IMODE(os.stat(run.keylog).st_mode), 0o600)

    def test_both_legs(self):
        for run in RUNS.values():
            with self.subTest(mode=run.mode):
                ours = self.randoms(run.keylog)
                for label in KEYLOG_LABELS:
                    self.assertIn(label, ours)
                curl_side = self.randoms(run.curl_keylog)["CLIENT_TRAFFIC_SECRET_0"]
                self.assertEqual(len(curl_side), 4, "curl made four TLS connections to hoplens")
                hoplens_side = ours["CLIENT_TRAFFIC_SECRET_0"]
                self.assertLessEqual(curl_side, hoplens_side, "client leg secrets missing")
                upstream = hoplens_side - curl_side
                self.assertGreaterEqual(len(upstream), 2, "upstream leg secrets missing (origin + site)")
                for label in KEYLOG_LABELS:
                    self.assertLessEqual(hoplens_side, ours[label], f"{label} missing for a connection")


if __name__ == "__main__":
    unittest.main(verbosity=2)
