#!/usr/bin/env python3
"""hoplens's data path in each mode against a real nginx origin (issue 4 §5):
certificates (hoplens's CA when intercepted, the origin's when passed through), GET and POST
bodies of 0 B / 1 KiB / 10 MiB intact, chunked responses, client keep-alive and the upstream
pool."""
import os
import sys
import tempfile
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import backend, client, env, hoplens, pki, procs, scenario  # noqa: E402

O = scenario.O
S = None  # the Scenario, set up once for the module
POST_SIZES = {"0": 0, "1k": 1024, "10m": 10 * 1024 * 1024}
POST_FILES = {}


def setUpModule():
    global S
    S = scenario.Scenario(name="modes")
    for name, size in POST_SIZES.items():
        f = tempfile.NamedTemporaryFile(prefix=f"hoplens-post-{name}-", delete=False)
        f.write(os.urandom(size))
        f.close()
        POST_FILES[name] = f.name


def tearDownModule():
    for path in POST_FILES.values():
        os.unlink(path)
    if S is not None:
        S.stop()


def write_pem(pem):
    f = tempfile.NamedTemporaryFile("w", suffix=".pem", delete=False)
    f.write(pem)
    f.close()
    return f.name



class Certificates(scenario.AliveTestCase):
    def leaf_of(self, mode, host=O.ORIGIN_HOST, sni=True):
        if mode == "reverse" and not sni:
            addr, port = S.listener("reverse")
            conn = client.RawConn(addr, port, "tls", sni=None, cafile=None)
        else:
            conn = S.raw(mode, host=host, verify=False)
        with conn:
            return write_pem(conn.peer_leaf_pem())

    def assert_minted_by_hoplens(self, leaf, name, ip=False):
        try:
            ok, out = pki.verify(leaf, S.ca, hostname=None if ip else name)
            self.assertTrue(ok, f"leaf for {name} does not verify against hoplens's CA: {out}\n"
                                f"{pki.issuer(leaf)}")
            if ip:
                r = procs.run(["openssl", "verify", "-CAfile", S.ca, "-verify_ip", name, leaf])
                self.assertEqual(r.returncode, 0, f"no IP SAN {name}: {r.stdout + r.stderr}")
            ok, _ = pki.verify(leaf, S.origin.ca_cert)
            self.assertFalse(ok, "the leaf verifies against the origin's CA: not intercepted?")
        finally:
            os.unlink(leaf)

    def test_intercepting_modes_present_a_leaf_from_hoplens_ca(self):
        for mode in scenario.TLS_MODES:
            with self.subTest(mode=mode):
                self.assert_minted_by_hoplens(self.leaf_of(mode), O.ORIGIN_HOST)

    def test_each_name_gets_its_own_leaf(self):
        for mode in ("explicit", "sni"):
            with self.subTest(mode=mode):
                self.assert_minted_by_hoplens(self.leaf_of(mode, O.OTHER_HOST), O.OTHER_HOST)

    def test_reverse_without_sni_names_the_target_and_the_dialled_address(self):
        addr, _ = S.listener("reverse")
        self.assert_minted_by_hoplens(self.leaf_of("reverse", sni=False), O.ORIGIN_HOST)
        self.assert_minted_by_hoplens(self.leaf_of("reverse", sni=False), addr, ip=True)

    def test_curl_to_a_reverse_listener_by_address_verifies(self):
        # An IP URL sends no SNI; curl checks the leaf against the address.
        addr, port = S.listener("reverse")
        r = client.curl(f"https://{addr}:{port}/files/small", ["--cacert", S.ca])
        self.assertEqual(r.rc, 0, r.describe())
        self.assertEqual(r.bodies[0], O.SMALL_BODY.encode())

    def test_reverse_listener_on_ipv6_names_the_dialled_address(self):
        o = S.origin
        h = hoplens.Hoplens({"reverse": f"reverse:https://{O.ORIGIN_HOST}:{o.tls_port}"}, addr="::1",
                            name="modes-v6", args=["--upstream-ca", o.ca_cert, *o.maps()])
        try:
            r = client.curl(f"https://[::1]:{h.port['reverse']}/files/small", ["--cacert", h.ca_pem])
            self.assertEqual(r.rc, 0, r.describe())
            self.assertEqual(r.bodies[0], O.SMALL_BODY.encode())
        finally:
            h.cleanup()

    def test_explicit_connect_to_an_ip_gets_an_ip_san(self):
        addr, port = S.listener("explicit")
        with client.RawConn(addr, port, "connect", sni=None, cafile=None,
                            target=f"{O.ORIGIN_ADDR}:{S.origin.tls_port}") as c:
            leaf = write_pem(c.peer_leaf_pem())
        self.assert_minted_by_hoplens(leaf, O.ORIGIN_ADDR, ip=True)

    def test_curl_trusting_only_the_origin_ca_is_refused(self):
        url, args = S.via("explicit", "/files/small")
        args = [a if a != S.ca else S.origin.ca_cert for a in args]
        r = client.curl(url, args)
        self.assertEqual(r.rc, 60, "curl should reject hoplens's leaf when it trusts only the origin CA\n"
                         + r.describe())

    def test_passthrough_shows_the_origin_certificate(self):
        o = S.origin
        h = hoplens.Hoplens({"explicit": "explicit"}, name="modes-pass",
                            args=["--upstream-ca", o.ca_cert, *o.maps(), "--passthrough", "oth*.test"])
        try:
            addr, port = h.addr, h.port["explicit"]
            with client.RawConn(addr, port, "connect", sni=O.OTHER_HOST, cafile=o.ca_cert,
                                target=f"{O.OTHER_HOST}:{o.tls_port}") as c:
                leaf = write_pem(c.peer_leaf_pem())
                c.send(f"GET /files/1k HTTP/1.1\r\nHost: {O.OTHER_HOST}\r\n\r\n".encode())
                status, _, body = c.response()
            self.assertEqual(pki.fingerprint(leaf), pki.fingerprint(o.other_cert),
                             "passthrough must show the origin's own leaf")
            os.unlink(leaf)
            self.assertEqual((status, client.sha256(body)), (200, o.files["1k"]))
            # The name that does not match the glob is still intercepted.
            with client.RawConn(addr, port, "connect", sni=O.ORIGIN_HOST, cafile=h.ca_pem,
                                target=f"{O.ORIGIN_HOST}:{o.tls_port}") as c:
                self.assertTrue(pki.verify(write_pem(c.peer_leaf_pem()), h.ca_pem, O.ORIGIN_HOST)[0])
        finally:
            h.cleanup()


class Bodies(scenario.AliveTestCase):
    def test_get_bodies_intact(self):
        for mode in scenario.ALL_MODES:
            for name in ("0", "1k", "10m"):
                with self.subTest(mode=mode, size=name):
                    url, args = S.via(mode, f"/files/{name}")
                    r = client.curl(url, args)
                    self.assertEqual((r.rc, r.status), (0, 200), r.describe())
                    self.assertEqual(client.sha256(r.body), S.origin.files[name],
                                     f"{mode} GET /files/{name}: body differs ({len(r.body)} bytes)")

    def test_post_bodies_intact(self):
        for mode in scenario.ALL_MODES:
            for name, path in POST_FILES.items():
                with self.subTest(mode=mode, size=name):
                    url, args = S.via(mode, "/echo")
                    r = client.curl(url, args + ["-H", "Content-Type: application/octet-stream"],
                                    data_file=path)
                    self.assertEqual((r.rc, r.status), (0, 200), r.describe())
                    self.assertEqual(client.sha256(r.body), client.sha256_file(path),
                                     f"{mode} POST {name}: echoed body differs ({len(r.body)} bytes)")

    def test_chunked_request_body(self):
        for mode in scenario.ALL_MODES:
            with self.subTest(mode=mode):
                url, args = S.via(mode, "/echo")
                r = client.curl(url, args + ["-H", "Transfer-Encoding: chunked"], data_file=POST_FILES["1k"])
                self.assertEqual((r.rc, r.status), (0, 200), r.describe())
                self.assertEqual(client.sha256(r.body), client.sha256_file(POST_FILES["1k"]))

    def test_chunked_responses(self):
        n, size = 300, 3000
        want = client.sha256(backend.chunked_body(n, size))
        for mode in scenario.ALL_MODES:
            with self.subTest(mode=mode):
                url, args = S.via(mode, f"/chunked?n={n}&size={size}")
                r = client.curl(url, args + ["-v"])
                self.assertEqual((r.rc, r.status), (0, 200), r.describe())
                self.assertIn("< transfer-encoding: chunked", r.stderr.lower(),
                              "the response should reach the client chunked, as the origin sent it")
                self.assertEqual(client.sha256(r.body), want, f"{mode}: chunked body differs")


class ConnectionReuse(scenario.AliveTestCase):
    def test_requests_share_one_client_connection(self):
        for mode in scenario.ALL_MODES:
            with self.subTest(mode=mode):
                url, args = S.via(mode, "/files/1k")
                r = client.curl([url] * 5, args)
                self.assertEqual(r.rc, 0, r.describe())
                self.assertEqual([t["http_code"] for t in r.transfers], [200] * 5, r.describe())
                connects = sum(t.get("num_connects", 0) for t in r.transfers)
                self.assertEqual(connects, 1, "5 requests on one curl command should use one "
                                 "connection to hoplens\n" + r.describe())
                for body in r.bodies:
                    self.assertEqual(client.sha256(body), S.origin.files["1k"])

    def test_upstream_pool_reused_across_client_connections(self):
        for mode in ("explicit", "sni", "reverse", "http"):
            with self.subTest(mode=mode):
                which = "http" if mode == "http" else "tls"
                marker = uuid.uuid4().hex
                client_connections = 4
                for _ in range(client_connections):
                    url, args = S.via(mode, f"/files/small?{marker}")
                    r = client.curl([url, url], args)
                    self.assertEqual([t["http_code"] for t in r.transfers], [200, 200], r.describe())
                lines = [l for l in S.origin.log_lines(which) if marker in l]
                self.assertEqual(len(lines), 2 * client_connections, f"origin log: {lines}")
                upstream = {l.split()[0] for l in lines}
                self.assertLess(len(upstream), client_connections,
                                f"{mode}: {client_connections} client connections made {len(upstream)} "
                                f"upstream connections; the pool should reuse them. Origin log:\n"
                                + "\n".join(lines))


class Resumption(scenario.AliveTestCase):
    def s_client(self, session_arg, session_file):
        addr, port = S.listener("sni")
        request = f"GET /files/small HTTP/1.1\r\nHost: {O.ORIGIN_HOST}\r\nConnection: close\r\n\r\n"
        r = procs.run(["openssl", "s_client", "-connect", f"{addr}:{port}", "-servername", O.ORIGIN_HOST,
                       "-CAfile", S.ca, "-verify_return_error", "-msg", "-ign_eof", session_arg, session_file],
                      input_bytes=request.encode(), timeout=30.0)
        out = r.stdout.decode(errors="replace")
        self.assertEqual(r.returncode, 0, out + r.stderr.decode(errors="replace"))
        self.assertIn(O.SMALL_BODY.strip(), out)
        return out

    def test_a_client_resumes_with_the_one_ticket_it_got(self):
        # One TLS 1.3 ticket per connection (OpenSSL sends two by default; the second cost ~10%
        # of the full-handshake rate, and a client resumes with one), and it resumes.
        with tempfile.TemporaryDirectory(prefix="hoplens-sess-") as d:
            session = os.path.join(d, "session.pem")
            first = self.s_client("-sess_out", session)
            tickets = [l for l in first.splitlines() if l.startswith("<<<") and "NewSessionTicket" in l]
            self.assertEqual(len(tickets), 1, "\n".join(tickets))
            self.assertIn("New, TLSv1.3", first)
            second = self.s_client("-sess_in", session)
            self.assertIn("Reused, TLSv1.3", second)


class Ipv6(scenario.AliveTestCase):
    def test_explicit_on_ipv6_loopback(self):
        try:
            procs.free_port("::1")
        except OSError:
            self.skipTest("no IPv6 loopback")
        o = S.origin
        h = hoplens.Hoplens({"explicit": "explicit"}, addr="::1", name="modes-v6",
                            args=["--upstream-ca", o.ca_cert, *o.maps(), "--allow", "::1/128"])
        try:
            r = client.curl(o.url("/files/1k"), ["-x", f"http://[::1]:{h.port['explicit']}", "--cacert", h.ca_pem])
            self.assertEqual((r.rc, r.status), (0, 200), r.describe())
            self.assertEqual(client.sha256(r.body), o.files["1k"])
        finally:
            h.cleanup()


if __name__ == "__main__":
    env.require_tools("nginx", "curl", "openssl")
    env.hoplens_bin()
    unittest.main(verbosity=2)
