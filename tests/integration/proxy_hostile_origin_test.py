#!/usr/bin/env python3
"""Origins that misbehave (issue 4 §3, §5; each case was found by review): hoplens answers
with a readable 502, keeps running, and never lets an origin's bytes answer a request they do
not belong to. The origins are scripted sockets on loopback, reached through the explicit
listener in plain HTTP (absolute form); the real nginx origin serves the requests that must
come through untouched."""
import os
import shutil
import socket
import struct
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import capture_support as cs  # noqa: E402
from lib import client, env, hoplens, scenario  # noqa: E402

O = scenario.O
S = None
INJECTED = b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nINJECTED"


HEAD_TIMEOUT_S = 1.0  # --request-head-timeout and --upstream-response-timeout here


def setUpModule():
    global S
    S = scenario.Scenario(["--request-head-timeout", "1s", "--upstream-response-timeout", "1s"],
                          name="hostile", sni=False)


def tearDownModule():
    if S is not None:
        S.stop()


class ScriptedOrigin:
    """Answers the n-th request on each connection with script[n] (bytes), then keeps the
    connection open, or closes it after the last answer when close_after is set. A script
    entry of None closes without answering."""

    def __init__(self, script, close_after=False):
        self.script = script
        self.close_after = close_after
        self.connections = 0
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        with conn:
            conn.settimeout(10)
            data = b""
            for answer in self.script:
                while b"\r\n\r\n" not in data:
                    try:
                        more = conn.recv(65536)
                    except OSError:
                        return
                    if not more:
                        return
                    data += more
                data = data.split(b"\r\n\r\n", 1)[1]  # the requests here have no body
                if answer is None:
                    return
                if callable(answer):
                    try:
                        answer(conn)
                    except OSError:
                        pass
                    return
                conn.sendall(answer)
            if not self.close_after:
                try:
                    while conn.recv(65536):
                        pass
                except OSError:
                    pass

    def drip(self, conn, data, interval=0.2):
        for i in range(len(data)):
            conn.sendall(data[i:i + 1])
            time.sleep(interval)

    def url(self, path="/"):
        return f"http://127.0.0.1:{self.port}{path}"

    def stop(self):
        self.sock.close()


def _send_quietly(conn, data):
    try:
        conn.send(data)
    except OSError:
        pass  # hoplens answered and closed before taking it all


def empty_post(url):
    return f"POST {url} HTTP/1.1\r\nHost: {url.split('/')[2]}\r\nContent-Length: 0\r\n\r\n".encode()


def request(url):
    host = url.split("/")[2]
    return f"GET {url} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()


def nginx_url(path="/files/small"):
    return f"http://{O.ORIGIN_HOST}:{S.origin.http_port}{path}"


class HostileOrigins(scenario.AliveTestCase):
    def exchanges(self, urls):
        """The requests in a row on one client connection through the explicit listener:
        [(status, body)]."""
        out = []
        with S.raw("explicit-http", timeout=20.0) as conn:
            for url in urls:
                conn.send(request(url))
                status, _, body = conn.response()
                while 100 < status < 200:  # interim (103 Early Hints): the final one follows
                    status, _, body = conn.response()
                out.append((status, body))
        return out

    def test_origin_closing_without_an_answer_is_502_and_hoplens_lives_on(self):
        # This exact case crashed the whole proxy (a double free in the reason's temporaries).
        origin = ScriptedOrigin([None])
        try:
            (status, body), = self.exchanges([origin.url("/x")])
            self.assertEqual(status, 502, body)
            self.assertIn(b"closed the connection without a response", body)
        finally:
            origin.stop()
        S.check_alive()
        status, body = self.exchanges([nginx_url()])[0]
        self.assertEqual((status, body), (200, O.SMALL_BODY.encode()))

    def test_response_head_too_large_says_so(self):
        huge = b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * (200 * 1024) + b"\r\n\r\n"
        origin = ScriptedOrigin([huge])
        try:
            (status, body), = self.exchanges([origin.url("/big-head")])
            self.assertEqual(status, 502, body)
            self.assertIn(b"response head larger than", body)
        finally:
            origin.stop()

    def test_bytes_after_a_response_never_answer_the_next_request(self):
        origin = ScriptedOrigin([b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi" + INJECTED])
        try:
            got = self.exchanges([origin.url("/a"), nginx_url(), origin.url("/b")])
        finally:
            origin.stop()
        self.assertEqual(got[0], (200, b"hi"))
        self.assertEqual(got[1], (200, O.SMALL_BODY.encode()), "another origin's reply was replaced")
        self.assertEqual(got[2], (200, b"hi"), "the extra bytes answered a later request")

    def test_204_and_304_with_a_length_carry_no_body(self):
        # After a 204, what follows is not its body: here a response nobody asked for.
        origin = ScriptedOrigin([b"HTTP/1.1 204 No Content\r\nContent-Length: 45\r\n\r\n" + INJECTED])
        try:
            got = self.exchanges([origin.url("/204"), nginx_url()])
        finally:
            origin.stop()
        self.assertEqual(got, [(204, b""), (200, O.SMALL_BODY.encode())])
        # A 304's Content-Length describes the cached body: none follows, the next response does.
        origin = ScriptedOrigin([b"HTTP/1.1 304 Not Modified\r\nContent-Length: 1234\r\n\r\n",
                                 b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecond"])
        try:
            got = self.exchanges([origin.url("/304"), origin.url("/200")])
        finally:
            origin.stop()
        self.assertEqual(got, [(304, b""), (200, b"second")])

    def upload_to(self, origin):
        """POSTs 4 MiB to origin through the explicit listener, the body sent beside reading
        the answer; everything received until hoplens closes."""
        body = b"b" * (4 * 1024 * 1024)
        url = origin.url("/upload")
        try:
            with S.raw("explicit-http", timeout=20.0) as conn:
                conn.send(f"POST {url} HTTP/1.1\r\nHost: {url.split('/')[2]}\r\n"
                          f"Content-Length: {len(body)}\r\n\r\n".encode())
                sender = threading.Thread(target=lambda: _send_quietly(conn, body), daemon=True)
                sender.start()
                got, _ = conn.read_until_close(timeout=15.0)
                sender.join(15)
                return got
        finally:
            origin.stop()

    def test_origin_leaving_in_the_middle_of_a_request_body_is_502(self):
        # It reads the head and goes: the client hears why instead of a silent close.
        got = self.upload_to(ScriptedOrigin([None]))
        self.assertEqual(client.status_of(got), 502, got[:300])
        self.assertIn(b"stopped taking the body", got)

    def test_an_early_answer_to_an_upload_reaches_the_client(self):
        # The origin refuses the body (413) after its head and closes: the client gets the
        # origin's answer, not a 502 of hoplens's own.
        def refuse(conn):
            conn.sendall(b"HTTP/1.1 413 Content Too Large\r\nContent-Length: 9\r\n"
                         b"Connection: close\r\n\r\ntoo large")
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

        got = self.upload_to(ScriptedOrigin([refuse]))
        self.assertEqual(client.status_of(got), 413, got[:300])
        self.assertIn(b"too large", got)

    def test_a_head_sent_a_byte_at_a_time_still_times_out(self):
        # The limit is on the whole head, not on each read: one byte every 0.2 s would
        # otherwise hold a connection for as long as the head is allowed to be.
        slow_head = b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 100 + b"\r\nContent-Length: 0\r\n\r\n"
        early_hints = b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n"
        for name, answer in (("slow head", lambda conn: origin.drip(conn, slow_head)),
                             ("1xx after 1xx", lambda conn: [conn.sendall(early_hints) or
                                                             time.sleep(0.2) for _ in range(100)])):
            with self.subTest(name):
                origin = ScriptedOrigin([answer])
                try:
                    started = time.monotonic()
                    (status, body), = self.exchanges([origin.url("/slow")])
                    took = time.monotonic() - started
                finally:
                    origin.stop()
                self.assertEqual(status, 504, body)
                self.assertLess(took, HEAD_TIMEOUT_S + 3.0, f"504 came after {took:.1f} s")
        with S.raw("explicit-http", timeout=20.0) as conn:
            started = time.monotonic()
            head = request(nginx_url()) + b"X-Slow: " + b"a" * 100
            for i in range(len(head)):
                try:
                    conn.send(head[i:i + 1])
                except OSError:
                    break
                time.sleep(0.1)
                if time.monotonic() - started > HEAD_TIMEOUT_S + 3.0:
                    break
            got, _ = conn.read_until_close(timeout=5.0)
            took = time.monotonic() - started
        self.assertEqual(client.status_of(got), 408, got[:200])
        self.assertLess(took, HEAD_TIMEOUT_S + 1.5, f"408 came after {took:.1f} s")

    def test_origin_closing_after_each_response_is_invisible_to_the_client(self):
        # It says nothing of closing (no Connection: close): the kept connection is found
        # closed when the next request is written to it, and a request without a body is
        # sent again on a fresh connection (RFC 9112 9.3.1).
        origin = ScriptedOrigin([b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"], close_after=True)
        try:
            got = self.exchanges([origin.url(f"/{i}") for i in range(3)])
        finally:
            origin.stop()
        self.assertEqual(got, [(200, b"ok")] * 3)
        self.assertGreaterEqual(origin.connections, 3)

    def test_a_body_delimited_by_the_close_and_cut_by_a_reset_reaches_the_client_cut(self):
        def cut(conn):
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\npartial")
            time.sleep(0.2)
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

        origin = ScriptedOrigin([cut])
        try:
            r = client.curl(origin.url("/cut"), ["-x", f"http://127.0.0.1:{S.main.port['explicit']}"],
                            timeout=20)
        finally:
            origin.stop()
        self.assertNotEqual(r.rc, 0, f"curl took a body cut by a reset as complete: {r.describe()}")

    def test_a_post_is_never_sent_twice(self):
        # The origin may have acted on it before closing (RFC 9110 9.2.2): the client gets a
        # 502 and decides, instead of a second charge.
        origin = ScriptedOrigin([b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", None])
        try:
            with S.raw("explicit-http", timeout=20.0) as conn:
                conn.send(request(origin.url("/first")))
                self.assertEqual(conn.response()[0], 200)
                conn.send(empty_post(origin.url("/charge")))
                status, _, body = conn.response()
        finally:
            origin.stop()
        self.assertEqual(status, 502, body)
        self.assertEqual(origin.connections, 1, "the POST was sent again on a new connection")

    def test_a_post_after_the_origin_closed_its_idle_connection_goes_on_a_fresh_one(self):
        # The origin closed the pooled connection (a FIN) a moment ago: a POST, which cannot
        # be resent, looks before it takes a pooled connection, however briefly idle.
        origin = ScriptedOrigin([b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"], close_after=True)
        try:
            with S.raw("explicit-http", timeout=20.0) as conn:
                conn.send(request(origin.url("/first")))
                self.assertEqual(conn.response()[0], 200)
                time.sleep(0.3)
                conn.send(empty_post(origin.url("/charge")))
                status, _, body = conn.response()
        finally:
            origin.stop()
        self.assertEqual((status, body), (200, b"ok"))

    def test_a_request_sent_again_is_captured_once(self):
        # The resend after a stale pooled connection must not put the request twice into
        # the capture: the reassembler would pair every later response with the wrong request.
        work = env.temp_dir("resend-har")
        har = os.path.join(work, "c.har")
        origin = ScriptedOrigin([b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"], close_after=True)
        h = hoplens.Hoplens({"explicit": "explicit"}, args=["--har", har], name="resend-har")
        try:
            with client.RawConn("127.0.0.1", h.port["explicit"], timeout=20.0) as conn:
                for i in range(3):
                    conn.send(request(origin.url(f"/{i}")))
                    self.assertEqual(conn.response()[0], 200)
            h.stop()
            entries = cs.har_entries(har)
            self.assertEqual([(e["request"]["url"], e["response"]["status"]) for e in entries],
                             [(origin.url(f"/{i}"), 200) for i in range(3)])
        finally:
            origin.stop()
            h.cleanup()
            env.remove_dir(work)


DEAD_PORT = 9  # discard: nothing listens on loopback here, so a connect is refused at once


class SilentResolver(unittest.TestCase):
    """A name server that never answers: getaddrinfo would wait its own timeouts (15 s and
    more), which no cancel interrupts; the client gets 504 at --connect-timeout instead."""

    def test_a_lookup_that_never_ends_is_504_at_the_connect_timeout(self):
        if os.geteuid() != 0 or not shutil.which("unshare"):
            self.skipTest("needs root and unshare (a private /etc/resolv.conf)")
        work = env.temp_dir("silent-dns")
        server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            server.bind(("127.0.0.9", 53))  # receives the queries, answers none
        except OSError as e:
            server.close()
            self.skipTest(f"127.0.0.9:53 is taken: {e}")
        h = None
        try:
            resolv = os.path.join(work, "resolv.conf")
            with open(resolv, "w") as f:
                f.write("nameserver 127.0.0.9\noptions timeout:4 attempts:1\n")
            wrapper = os.path.join(work, "hoplens-private-resolv")
            with open(wrapper, "w") as f:
                f.write("#!/bin/sh\nexec unshare -m sh -c 'mount --bind \"$0\" /etc/resolv.conf && "
                        "exec \"$@\"' " + f"'{resolv}' '{env.hoplens_bin()}' \"$@\"\n")
            os.chmod(wrapper, 0o755)
            h = hoplens.Hoplens({"explicit": "explicit"}, args=["--connect-timeout", "1s", "--threads", "1"],
                                name="silent-dns", binary=wrapper)
            started = time.monotonic()
            with client.RawConn("127.0.0.1", h.port["explicit"], timeout=30.0) as conn:
                conn.send(request("http://never-answered.test/"))
                status, _, body = conn.response()
            took = time.monotonic() - started
            self.assertEqual(status, 504, body)
            self.assertIn(b"resolving never-answered.test timed out", body)
            self.assertLess(took, 5.0)
            # The lookup still waiting for the silent server holds no other behind it: a
            # name from /etc/hosts resolves at once (with Asio's resolver, one thread per
            # worker, it waited for the first to give up).
            with client.RawConn("127.0.0.1", h.port["explicit"], timeout=30.0) as conn:
                conn.send(request(f"http://localhost:{DEAD_PORT}/"))
                status, _, body = conn.response()
            self.assertEqual(status, 502, body)
            self.assertIn(b"cannot connect", body)
            # A burst of new connections to one name is one lookup, joined by all: each
            # gets the timeout's 504, none a refusal for too many lookups.
            statuses = []

            def one():
                try:
                    with client.RawConn("127.0.0.1", h.port["explicit"], timeout=30.0) as c:
                        c.send(request("http://never-answered.test/"))
                        statuses.append(c.response()[0])
                except OSError as e:
                    statuses.append(str(e))

            burst = [threading.Thread(target=one) for _ in range(300)]
            for t in burst:
                t.start()
            for t in burst:
                t.join(30)
            self.assertEqual(statuses, [504] * 300)
        finally:
            if h is not None:
                h.cleanup()
            server.close()
            env.remove_dir(work)


if __name__ == "__main__":
    unittest.main(verbosity=2)
