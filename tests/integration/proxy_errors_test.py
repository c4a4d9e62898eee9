#!/usr/bin/env python3
"""Errors a user can read (issue 4 §3, §5): upstream certificate, refused, unknown name and slow
upstream -> 502/504 with the reason; malformed, oversized and smuggling-shaped requests -> 400/431
and closed (and never forwarded); clients outside --allow -> 403 + close or close;
--insecure-upstream passes where verification fails."""
import os
import socket
import ssl
import sys
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import client, env, hoplens, procs, scenario  # noqa: E402

O = scenario.O
ORIGIN = None
S = None          # verifying hoplens, with a dead port mapped and a short upstream timeout
DEAD_PORT = None
UPSTREAM_TIMEOUT_OPTION = None
HTTP_MODES = ("http", "explicit-http")


def find_upstream_timeout_option():
    """conf names it --upstream-response-timeout; None if --help does not list it."""
    _, out, _ = hoplens.run_cli(["--help"])
    return "--upstream-response-timeout" if "--upstream-response-timeout" in out else None


def setUpModule():
    global ORIGIN, S, DEAD_PORT, UPSTREAM_TIMEOUT_OPTION
    ORIGIN = O.Origin()
    DEAD_PORT = procs.free_port()
    UPSTREAM_TIMEOUT_OPTION = find_upstream_timeout_option()
    extra = ["--map", f"dead.test=127.0.0.1:{DEAD_PORT}"]
    if UPSTREAM_TIMEOUT_OPTION:
        extra += [UPSTREAM_TIMEOUT_OPTION, "2s"]
    S = scenario.Scenario(extra, origin=ORIGIN, name="errors")


def tearDownModule():
    if S is not None:
        S.stop()
    if ORIGIN is not None:
        ORIGIN.stop()


def request_bytes(sc, mode, path, host=O.ORIGIN_HOST, method="GET", headers="", body=b""):
    head = (f"{method} {sc.request_target(mode, path, host)} HTTP/1.1\r\n"
            f"Host: {sc.host_header(mode, host)}\r\n{headers}\r\n")
    return head.encode() + body


def exchange(sc, mode, path, host=O.ORIGIN_HOST, **kw):
    """One request through hoplens; (status, body). For explicit mode an error may come as the
    answer to CONNECT or inside the tunnel: both count."""
    try:
        conn = sc.raw(mode, host=host, timeout=20.0)
    except client.ConnectRefused as e:  # CONNECT answered with an error
        return client.status_of(e.response), e.response.split(b"\r\n\r\n", 1)[-1]
    with conn:
        conn.send(request_bytes(sc, mode, path, host, **kw))
        status, _, body = conn.response()
        return status, body


def bad_request(sc, mode, data):
    """Sends raw bytes after the head of nothing; returns (status, everything received, closed)."""
    with sc.raw(mode, timeout=10.0) as conn:
        try:
            conn.send(data)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            pass  # hoplens may answer and close before reading it all
        got, closed = conn.read_until_close(timeout=5.0)
        return client.status_of(got), got, closed



class UpstreamErrors(scenario.AliveTestCase):
    def test_untrusted_upstream_certificate_is_502_with_reason(self):
        with scenario.Scenario(origin=ORIGIN, upstream_ca=False, name="errors-noca") as sc:
            for mode in scenario.TLS_MODES:
                with self.subTest(mode=mode):
                    status, body = exchange(sc, mode, "/files/small")
                    self.assertEqual(status, 502, body)
                    text = body.decode(errors="replace")
                    self.assertIn("unable to get local issuer certificate", text)
                    self.assertIn(O.ORIGIN_HOST, text)

    def test_insecure_upstream_passes(self):
        with scenario.Scenario(["--insecure-upstream"], origin=ORIGIN, upstream_ca=False,
                               name="errors-insecure") as sc:
            for mode in scenario.TLS_MODES:
                with self.subTest(mode=mode):
                    url, args = sc.via(mode, "/files/1k")
                    r = client.curl(url, args)
                    self.assertEqual((r.rc, r.status), (0, 200), r.describe())
                    self.assertEqual(client.sha256(r.body), ORIGIN.files["1k"])
            self.assertIn("insecure", sc.main.log().lower(), "--insecure-upstream must be warned at start")

    def test_connection_refused_is_502_with_reason(self):
        for mode in scenario.selected(("explicit", "sni", "http", "explicit-http")):
            with self.subTest(mode=mode):
                status, body = exchange(S, mode, "/files/small", host="dead.test")
                self.assertEqual(status, 502, body)
                self.assertIn(b"refused", body.lower())

    def test_an_error_answering_head_has_no_body(self):
        """RFC 9110 §9.3.2: the answer to HEAD is a head; its Content-Length is the body a GET
        would have had. Before, the reason followed it, bytes a client reads as the start of
        the next response."""
        with S.raw("http", timeout=10.0) as conn:
            conn.send(request_bytes(S, "http", "/files/small", host="dead.test", method="HEAD"))
            got, closed = conn.read_until_close(timeout=5.0)
        head, _, rest = got.partition(b"\r\n\r\n")
        self.assertEqual(client.status_of(got), 502, got)
        self.assertIn(b"\r\nContent-Length: ", head)
        self.assertEqual(rest, b"", "a body after the answer to HEAD")
        self.assertTrue(closed)

    def test_unknown_name_is_502_with_reason(self):
        for mode in scenario.selected(("explicit", "sni", "http", "explicit-http")):
            with self.subTest(mode=mode):
                status, body = exchange(S, mode, "/files/small", host="no-such-host.invalid")
                self.assertEqual(status, 502, body)
                self.assertIn(b"no-such-host.invalid", body)

    def test_slow_upstream_is_504(self):
        if not UPSTREAM_TIMEOUT_OPTION:
            self.fail("--help names no upstream response timeout option; cannot test 504 in bounded time")
        for mode in scenario.selected(("explicit", "http")):
            with self.subTest(mode=mode):
                status, body = exchange(S, mode, "/slow?ms=8000")
                self.assertEqual(status, 504, body)

    def test_request_to_the_proxy_itself_is_508_not_a_loop(self):
        addr, port = S.listener("explicit")
        proxy = f"http://{addr}:{port}"
        for url in (f"http://{addr}:{port}/", f"https://{addr}:{port}/"):
            with self.subTest(url=url):
                r = client.curl(url, ["-x", proxy, "--cacert", S.ca, "--max-time", "10"])
                # https: the 508 comes inside the CONNECT tunnel, over TLS with hoplens's leaf.
                self.assertEqual(r.status, 508, r.describe())
                self.assertIn(b"refusing to loop", r.body, r.describe())
        S.check_alive()

    def test_upstream_still_works_after_errors(self):
        url, args = S.via("explicit", "/files/1k")
        r = client.curl(url, args)
        self.assertEqual((r.rc, r.status), (0, 200), r.describe())


class BadRequests(scenario.AliveTestCase):
    MODES = scenario.selected(("http", "explicit-http", "explicit", "sni", "reverse"))

    def assert_rejected(self, data_for_mode, want_status, forwarded_marker=None):
        for mode in self.MODES:
            with self.subTest(mode=mode):
                since = len(ORIGIN.log_lines("tls")) + len(ORIGIN.log_lines("http"))
                status, got, closed = bad_request(S, mode, data_for_mode(mode))
                self.assertEqual(status, want_status, f"{mode}: got {got[:300]!r}")
                self.assertTrue(closed, f"{mode}: connection should be closed after {want_status}")
                if forwarded_marker:
                    logs = ORIGIN.log_lines("tls") + ORIGIN.log_lines("http")
                    self.assertEqual([l for l in logs if forwarded_marker in l], [],
                                     f"{mode}: a rejected request reached the origin")
                    self.assertGreaterEqual(len(logs), since)

    def test_malformed_request_is_400(self):
        self.assert_rejected(lambda m: b"GET / HTTP/1.1\r\nHost origin.test\r\n\x01bad\r\n\r\n", 400)

    def test_garbage_request_line_is_400(self):
        self.assert_rejected(lambda m: b"\x16\x03\x01 this is not http\r\n\r\n", 400)

    def test_head_too_large_is_431(self):
        big = "X-Big: " + "a" * 200_000 + "\r\n"
        self.assert_rejected(lambda m: request_bytes(S, m, "/files/small", headers=big), 431)

    def test_content_length_and_transfer_encoding_is_400(self):
        marker = uuid.uuid4().hex
        self.assert_rejected(lambda m: request_bytes(
            S, m, f"/echo?{marker}", method="POST",
            headers="Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", body=b"0\r\n\r\n"), 400, marker)

    def test_differing_duplicate_content_length_is_400(self):
        marker = uuid.uuid4().hex
        self.assert_rejected(lambda m: request_bytes(
            S, m, f"/echo?{marker}", method="POST",
            headers="Content-Length: 5\r\nContent-Length: 6\r\n", body=b"hello!"), 400, marker)

    def test_bad_chunk_is_400(self):
        self.assert_rejected(lambda m: request_bytes(
            S, m, "/echo", method="POST", headers="Transfer-Encoding: chunked\r\n",
            body=b"zz\r\nhello\r\n0\r\n\r\n"), 400)

    def test_chunk_framing_read_two_ways_smuggles_nothing(self):
        # After a chunk's data llhttp takes any two bytes; nginx takes a lone LF as the line
        # end and would read `10` as the next chunk's size, the smuggled GET inside its body
        # stream. hoplens sends the body on re-framed as it read it (one chunk "A"), and the
        # rest, read by hoplens as the next request, is refused.
        smuggled = uuid.uuid4().hex
        for mode in self.MODES:
            with self.subTest(mode=mode):
                hidden = request_bytes(S, mode, f"/files/small?{smuggled}")
                body = b"1\r\nA\n10\r\n\r\n0\r\n\r\n" + hidden
                status, got, closed = bad_request(S, mode, request_bytes(
                    S, mode, "/echo", method="POST", headers="Transfer-Encoding: chunked\r\n",
                    body=body))
                self.assertEqual(status, 200, got[:300])
                self.assertIn(b"\r\n\r\nA", got, "the origin got another body than hoplens read")
                self.assertIn(b" 400 ", got, "the bytes after the body were not refused")
                logs = ORIGIN.log_lines("tls") + ORIGIN.log_lines("http")
                self.assertEqual([l for l in logs if smuggled in l], [], "a request was smuggled")

    def test_bytes_before_the_connect_response_get_a_clear_400(self):
        # Not a silent wait for a handshake that can never complete.
        addr, port = S.listener("explicit")
        target = f"{O.ORIGIN_HOST}:{ORIGIN.tls_port}"
        with client.RawConn(addr, port, timeout=10.0) as conn:
            conn.send(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode() +
                      b"\x16\x03\x01\x00\x05hello")
            got, closed = conn.read_until_close(timeout=5.0)
        self.assertEqual(client.status_of(got), 400, got[:200])
        self.assertIn(b"before its 200 response", got)
        self.assertTrue(closed)


class AllowList(scenario.AliveTestCase):
    """hoplens allows only 127.0.0.2; connections from 127.0.0.1 are refused."""

    @classmethod
    def setUpClass(cls):
        cls.h = hoplens.Hoplens({"http": "http", "explicit": "explicit",
                                 "reverse": f"reverse:https://{O.ORIGIN_HOST}:{ORIGIN.tls_port}",
                                 "sni": "sni"}, addr="127.0.0.1", name="errors-allow",
                                args=["--upstream-ca", ORIGIN.ca_cert, *ORIGIN.maps(), "--allow", "127.0.0.2/32"])

    @classmethod
    def tearDownClass(cls):
        cls.h.cleanup()

    def test_http_modes_answer_403_then_close(self):
        for name in ("http", "explicit"):
            with self.subTest(listener=name):
                with client.RawConn("127.0.0.1", self.h.port[name], "plain", source_addr="127.0.0.1") as c:
                    try:
                        c.send(f"GET http://{O.ORIGIN_HOST}:{ORIGIN.http_port}/files/small HTTP/1.1\r\n"
                               f"Host: {O.ORIGIN_HOST}:{ORIGIN.http_port}\r\n\r\n".encode())
                    except (BrokenPipeError, ConnectionResetError):
                        pass
                    got, closed = c.read_until_close(5.0)
                self.assertEqual(client.status_of(got), 403, got[:200])
                self.assertTrue(closed)

    def test_allowed_client_passes(self):
        with client.RawConn("127.0.0.1", self.h.port["http"], "plain", source_addr="127.0.0.2") as c:
            c.send(f"GET /files/small HTTP/1.1\r\nHost: {O.ORIGIN_HOST}:{ORIGIN.http_port}\r\n\r\n".encode())
            status, _, body = c.response()
        self.assertEqual(status, 200, body)

    def test_tls_modes_close_without_handshake(self):
        for name in ("sni", "reverse"):
            with self.subTest(listener=name):
                with self.assertRaises((ssl.SSLError, ConnectionError, OSError, socket.timeout)):
                    c = client.RawConn("127.0.0.1", self.h.port[name], "tls", sni=O.ORIGIN_HOST,
                                       cafile=self.h.ca_pem, source_addr="127.0.0.1", timeout=5.0)
                    c.close()


if __name__ == "__main__":
    env.require_tools("nginx", "curl", "openssl")
    env.hoplens_bin()
    unittest.main(verbosity=2)
