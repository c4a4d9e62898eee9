#!/usr/bin/env python3
"""WebSocket through hoplens: a real client (python3-websockets) through each mode to the nginx
origin, which passes /ws on to a WebSocket echo server (lib/ws_backend.py), as nginx fronts
real sites. hoplens passes the upgrade on, relays the 101, then tunnels the frames both ways
until both sides close (RFC 6455; permessage-deflate is negotiated end to end and the frames
go through untouched). Also: an upgrade the origin declines leaves the connection usable for
the next request, an upgrade to anything but websocket is not passed on, and an origin that
switches protocols unasked gets a 502, not a tunnel. A stop (SIGTERM) with a WebSocket open
ends it at once rather than waiting out --drain-timeout, and the HAR still gets its entry."""
import asyncio
import os
import socket
import ssl
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import capture_support as cs  # noqa: E402
from lib import client, env, hoplens, pki, scenario  # noqa: E402

env.require_tools("nginx")
websockets = env.import_debian_module("websockets")

O = scenario.O
S = None
MODES = scenario.TLS_MODES + scenario.selected(("http",))
UPGRADE_HEAD = ("GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: {protocol}\r\nConnection: Upgrade\r\n"
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")


def setUpModule():
    global S
    S = scenario.Scenario(name="ws")


def tearDownModule():
    if S is not None:
        S.stop()


def open_socket(mode):
    """(socket, ws uri, ssl context or None) for a WebSocket to origin.test/ws through hoplens."""
    addr, port = S.listener(mode)
    sock = socket.create_connection((addr, port), timeout=10)
    host = O.ORIGIN_HOST
    if mode == "explicit":
        target = f"{host}:{S.origin.tls_port}"
        sock.sendall(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += sock.recv(1)
        assert client.status_of(head) == 200, head
        uri = f"wss://{target}/ws"
    elif mode in ("sni", "reverse"):
        uri = f"wss://{host}:{port}/ws"
    else:
        uri = f"ws://{host}:{S.origin.http_port}/ws"
    sock.setblocking(False)
    tls = ssl.create_default_context(cafile=S.ca) if uri.startswith("wss") else None
    return sock, uri, tls


async def converse(mode, messages):
    """Sends each message, returns (the echoes, the close code, the negotiated extensions)."""
    sock, uri, tls = open_socket(mode)
    extra = {"ssl": tls, "server_hostname": O.ORIGIN_HOST} if tls else {}
    async with websockets.connect(uri, sock=sock, max_size=16 << 20, open_timeout=10,
                                  close_timeout=5, **extra) as ws:
        echoes = []
        for m in messages:
            await ws.send(m)
            echoes.append(await asyncio.wait_for(ws.recv(), 10))
        extensions = ws.response_headers.get("Sec-WebSocket-Extensions", "")
    return echoes, ws.close_code, extensions


class Tunnel(scenario.AliveTestCase):
    def test_echo_through_every_mode(self):
        messages = ["hello", os.urandom(64 * 1024), "é" * (300 * 1024), b"", "bye"]
        for mode in MODES:
            with self.subTest(mode=mode):
                echoes, code, extensions = asyncio.run(converse(mode, messages))
                self.assertEqual(len(echoes), len(messages))
                for sent, got in zip(messages, echoes):
                    prefix = b"echo:" if isinstance(sent, bytes) else "echo:"
                    self.assertEqual(got, prefix + sent)
                self.assertEqual(code, 1000)
                self.assertIn("permessage-deflate", extensions)

    def test_many_at_once(self):
        async def many():
            return await asyncio.gather(*(converse("reverse", [f"n{i}"] * 3) for i in range(20)))
        for i, (echoes, code, _) in enumerate(asyncio.run(many())):
            self.assertEqual(echoes, [f"echo:n{i}"] * 3)
            self.assertEqual(code, 1000)

    def test_server_push_while_client_is_silent(self):
        """Frames flow one way while the other is idle: neither direction's silence ends the
        tunnel (each stream has one deadline; a tunnel must not use them)."""
        async def run():
            sock, uri, tls = open_socket("reverse")
            async with websockets.connect(uri, sock=sock, ssl=tls, server_hostname=O.ORIGIN_HOST,
                                          open_timeout=10) as ws:
                await ws.send("first")
                self.assertEqual(await ws.recv(), "echo:first")
                await asyncio.sleep(2.5)  # past nothing: hoplens's idle timeout here is 60 s
                await ws.send("second")
                return await asyncio.wait_for(ws.recv(), 10)
        self.assertEqual(asyncio.run(run()), "echo:second")


class Declined(scenario.AliveTestCase):
    def test_declined_upgrade_keeps_the_connection(self):
        """nginx's static files ignore Upgrade: a 200 comes back and the same connection
        serves the next request."""
        for mode in ("reverse", "http"):
            with self.subTest(mode=mode), S.raw(mode) as conn:
                host = S.host_header(mode)
                conn.send(UPGRADE_HEAD.format(path="/files/small", host=host, protocol="websocket").encode())
                status, headers, body = conn.response()
                self.assertEqual(status, 200)
                self.assertEqual(len(body), 91)
                conn.send(f"GET /files/1k HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
                status, _, body = conn.response()
                self.assertEqual((status, len(body)), (200, 1024))

    def test_other_upgrades_are_not_passed_on(self):
        """Upgrade: h2c is hop-by-hop and not one hoplens speaks: /ws sees a plain GET."""
        with S.raw("reverse") as conn:
            conn.send(UPGRADE_HEAD.format(path="/ws", host=S.host_header("reverse"), protocol="h2c").encode())
            status, _, _ = conn.response()
            self.assertNotEqual(status, 101)


class TlsHalfClose(unittest.TestCase):
    """Found by review: when the client ended its TLS stream (close_notify) and kept reading,
    hoplens's close_notify upstream marked the origin's as received too, and OpenSSL then
    ended the upstream reads at once: what the origin still sent was lost. A TLS origin
    (scripted) sends four frames, 0.3 s apart, after the client's close_notify."""

    def test_the_other_direction_goes_on(self):
        work = env.temp_dir("ws-halfclose")
        cert, key = pki.make_leaf(work, (S.origin.ca_cert, S.origin.ca_key), [O.ORIGIN_HOST], ["127.0.0.1"])
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)

        def origin():
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(cert, key)
            raw, _ = listener.accept()
            with ctx.wrap_socket(raw, server_side=True) as conn:
                conn.settimeout(5)
                head = b""
                while b"\r\n\r\n" not in head:
                    head += conn.recv(4096)
                conn.sendall(SWITCH[:SWITCH.index(b"\r\n\r\n") + 4])
                time.sleep(0.5)  # the client's close_notify arrives meanwhile
                for i in range(1, 5):
                    conn.sendall(bytes([0x81, 2]) + b"f%d" % i)
                    time.sleep(0.3)

        threading.Thread(target=origin, daemon=True).start()
        proxy = hoplens.Hoplens({"r": f"reverse:https://{O.ORIGIN_HOST}:{listener.getsockname()[1]}"},
                                name="ws-halfclose", args=["--upstream-ca", S.origin.ca_cert,
                                                           "--map", f"{O.ORIGIN_HOST}=127.0.0.1"])
        try:
            # A memory-BIO TLS client: Python's sockets cannot send close_notify and read on.
            sock = socket.create_connection((proxy.addr, proxy.port["r"]), timeout=5)
            incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
            tls = ssl.create_default_context(cafile=proxy.ca_pem).wrap_bio(
                incoming, outgoing, server_hostname=O.ORIGIN_HOST)

            def flush():
                if outgoing.pending:
                    sock.sendall(outgoing.read())

            def read():
                while True:
                    try:
                        return tls.read(65536)
                    except ssl.SSLWantReadError:
                        flush()
                        data = sock.recv(65536)
                        if not data:
                            return b""
                        incoming.write(data)
                    except ssl.SSLZeroReturnError:
                        return b""

            while True:
                try:
                    tls.do_handshake()
                    break
                except ssl.SSLWantReadError:
                    flush()
                    incoming.write(sock.recv(65536))
            tls.write(UPGRADE_HEAD.format(path="/", host=O.ORIGIN_HOST, protocol="websocket").encode())
            flush()
            got = b""
            while b"\r\n\r\n" not in got:
                got += read()
            self.assertTrue(got.startswith(b"HTTP/1.1 101 "), got)
            try:
                tls.unwrap()  # close_notify; the socket stays open for reading
            except ssl.SSLWantReadError:
                pass
            flush()
            frames = got.split(b"\r\n\r\n", 1)[1]
            while frames.count(b"\x81\x02") < 4:
                more = read()
                if not more:
                    break
                frames += more
            self.assertEqual(frames, b"".join(bytes([0x81, 2]) + b"f%d" % i for i in range(1, 5)))
            sock.close()
        finally:
            proxy.cleanup()
            listener.close()
            env.remove_dir(work)


class StopWithTunnelOpen(unittest.TestCase):
    def test_sigterm_ends_open_websockets_and_records_them(self):
        """Before: the open WebSocket counted as an exchange in flight, so the stop waited the
        whole --drain-timeout (10 s), and its HAR entry, written when the connection ends,
        was lost: the connection ended after the capture had closed its files."""
        work = env.temp_dir("ws-stop")
        har = os.path.join(work, "ws.har")
        o = S.origin
        proxy = hoplens.Hoplens({"reverse": f"reverse:https://{O.ORIGIN_HOST}:{o.tls_port}"},
                                name="ws-stop", args=["--upstream-ca", o.ca_cert, *o.maps(),
                                                      "--har", har, "--drain-timeout", "10s"])
        try:
            async def talk_then_stop():
                addr, port = proxy.addr, proxy.port["reverse"]
                sock = socket.create_connection((addr, port), timeout=10)
                sock.setblocking(False)
                tls = ssl.create_default_context(cafile=proxy.ca_pem)
                async with websockets.connect(f"wss://{O.ORIGIN_HOST}:{port}/ws", sock=sock, ssl=tls,
                                              server_hostname=O.ORIGIN_HOST, open_timeout=10) as ws:
                    await ws.send("before the stop")
                    self.assertEqual(await ws.recv(), "echo:before the stop")
                    started = time.monotonic()
                    status = await asyncio.get_running_loop().run_in_executor(None, proxy.stop)
                    return status, time.monotonic() - started

            (status, killed), took = asyncio.run(talk_then_stop())
            self.assertEqual((status, killed), (0, False), proxy.proc.tail())
            self.assertLess(took, 5.0, "the stop waited for the open WebSocket")
            entries = [e for e in cs.har_entries(har) if e["response"]["status"] == 101]
            self.assertEqual(len(entries), 1, cs.har_entries(har))
            messages = [(m["type"], m["data"]) for m in entries[0]["_webSocketMessages"]]
            self.assertEqual(messages, [("send", "before the stop"), ("receive", "echo:before the stop")])
            self.assertTrue(entries[0].get("_incomplete"), entries[0].get("comment"))
        finally:
            proxy.cleanup()
            env.remove_dir(work)


ACCEPT = b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"  # for UPGRADE_HEAD's key
SWITCH = (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
          + ACCEPT + b"\r\n\x81\x05early")  # a frame in the same segment as the 101


class ScriptedSwitch(unittest.TestCase):
    """A raw origin that answers its first request with SWITCH, then records what it gets."""

    answer = SWITCH

    def setUp(self):
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(4)
        self.received = b""
        self.done = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()
        self.proxy = hoplens.Hoplens({"http": "http"}, name="ws-scripted", args=[
            "--map", f"switch.test=127.0.0.1:{self.listener.getsockname()[1]}"])

    def tearDown(self):
        self.proxy.cleanup()
        self.listener.close()

    def _serve(self):
        conn, _ = self.listener.accept()
        with conn:
            conn.settimeout(5)
            try:
                while b"\r\n\r\n" not in self.received:
                    self.received += conn.recv(4096)
                conn.sendall(self.answer)
                while True:
                    more = conn.recv(4096)
                    if not more:
                        break
                    self.received += more
            except OSError:
                pass
        self.done.set()

    def test_101_to_a_plain_request_is_a_502(self):
        """Before: the 101 went to the client as an interim response and hoplens waited for a
        final one that never came."""
        with client.RawConn(self.proxy.addr, self.proxy.port["http"]) as conn:
            conn.send(b"GET / HTTP/1.1\r\nHost: switch.test\r\n\r\n")
            status, _, body = conn.response()
        self.assertEqual(status, 502)
        self.assertIn(b"switched protocols (101) unasked", body)

    def test_only_websocket_is_asked_for(self):
        """The client's other protocols are not passed on: the origin is offered websocket alone."""
        with client.RawConn(self.proxy.addr, self.proxy.port["http"]) as conn:
            conn.send(UPGRADE_HEAD.format(path="/", host="switch.test", protocol="websocket, h2c").encode()
                      .replace(b"\r\n\r\n", b"\r\nUpgrade: h2c\r\n\r\n"))
            conn.sock.recv(4096)
        self.assertTrue(self.done.wait(5))
        head = self.received.split(b"\r\n\r\n")[0].lower()
        self.assertEqual(head.count(b"\r\nupgrade:"), 1, head)
        self.assertIn(b"\r\nupgrade: websocket\r\n", head + b"\r\n")
        self.assertNotIn(b"h2c", head)

    def test_frames_glued_to_the_heads_are_relayed(self):
        """The origin's first frame came with its 101, the client's with its request: both
        arrive, in order, and the client's end reaches the origin."""
        masked = b"\x81\x85abcd" + bytes(a ^ b for a, b in zip(b"eager", b"abcda"))
        with client.RawConn(self.proxy.addr, self.proxy.port["http"]) as conn:
            conn.send(UPGRADE_HEAD.format(path="/", host="switch.test", protocol="websocket").encode()
                      + masked)
            got = b""
            while not got.endswith(b"early"):
                more = conn.sock.recv(4096)
                self.assertTrue(more, f"closed after {got!r}")
                got += more
            conn.sock.shutdown(socket.SHUT_WR)
            self.assertTrue(self.done.wait(5))
        self.assertTrue(got.startswith(b"HTTP/1.1 101 "), got)
        self.assertIn(b"\r\nUpgrade: websocket\r\n", got)
        self.assertTrue(self.received.endswith(masked), self.received)


class SwitchNotToWebSocket(ScriptedSwitch):
    """Found by review: any 101 opened the tunnel, so an origin switching to h2c (or a status
    line saying 101 and nothing else) got the client's next bytes raw: requests that neither
    the HAR nor the access log saw. Only a 101 that accepts the WebSocket key is tunnelled."""

    answers = {
        "h2c": b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n",
        "bare": b"HTTP/1.1 101 Switching Protocols\r\n\r\n",
        "wrong key": (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      b"Sec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n\r\n"),
    }

    def _refused(self, answer):
        self.answer = answer
        smuggled = b"GET /secret-admin HTTP/1.1\r\nHost: switch.test\r\n\r\n"
        with client.RawConn(self.proxy.addr, self.proxy.port["http"]) as conn:
            conn.send(UPGRADE_HEAD.format(path="/", host="switch.test", protocol="websocket").encode())
            status, _, body = conn.response()
            try:
                conn.send(smuggled)
            except OSError:
                pass
        self.assertTrue(self.done.wait(5))
        self.assertEqual(status, 502)
        self.assertIn(b"upstream", body)
        self.assertNotIn(b"secret-admin", self.received)
        return body

    def test_h2c(self):
        self.assertIn(b"does not switch to websocket", self._refused(self.answers["h2c"]))

    def test_bare_101(self):
        self.assertIn(b"does not switch to websocket", self._refused(self.answers["bare"]))

    def test_wrong_accept(self):
        self.assertIn(b"does not accept the client's Sec-WebSocket-Key", self._refused(self.answers["wrong key"]))

    # The base class's own tests need the good answer.
    test_101_to_a_plain_request_is_a_502 = None
    test_only_websocket_is_asked_for = None
    test_frames_glued_to_the_heads_are_relayed = None


if __name__ == "__main__":
    unittest.main(verbosity=2)
