#!/usr/bin/env python3
"""Garbage bytes, stalled clients and a hello without SNI on every listener do not disturb a
10 MiB transfer running beside them, nor new requests (issue 4 §5)."""
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import client, env, scenario  # noqa: E402

O = scenario.O
S = None
PER_LISTENER = 20


def setUpModule():
    global S
    S = scenario.Scenario(name="robust")


def tearDownModule():
    if S is not None:
        S.stop()


def start_download(mode, out_path):
    """A 10 MiB GET through hoplens, slowed to last a few seconds; returns the Popen."""
    url, args = S.via(mode, "/files/10m")
    return subprocess.Popen(["curl", "-sS", "--max-time", "60", "--limit-rate", "3M", "-o", out_path,
                             "-w", "%{http_code}", *args, url], stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def abuse(addr, port):
    """Opens stalled connections (nothing, half a request line, half a TLS record) and sends
    garbage; returns the sockets still open so that they stay stalled."""
    held = []
    shapes = [b"", b"GET / HTT", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", os.urandom(4096),
              b"\x00" * 1000 + b"\r\n\r\n", b"CONNECT\r\n\r\n"]
    for i in range(PER_LISTENER):
        try:
            s = socket.create_connection((addr, port), timeout=3.0)
            data = shapes[i % len(shapes)]
            if data:
                s.sendall(data)
            held.append(s)
        except OSError:
            pass  # hoplens may close a garbage connection at once
    return held



class Disturbance(scenario.AliveTestCase):
    def test_abuse_beside_10mib_transfers(self):
        tmp = tempfile.mkdtemp(prefix="hoplens-robust-")
        downloads = {m: start_download(m, os.path.join(tmp, m)) for m in scenario.selected(("explicit", "sni", "http"))}
        held = []
        try:
            time.sleep(0.5)
            for mode in ("explicit", "http", "reverse", "sni"):
                held += abuse(*S.listener(mode))
            # New requests still get through on every listener while the abusers stall.
            for mode in scenario.ALL_MODES:
                url, args = S.via(mode, "/files/1k")
                r = client.curl(url, args, timeout=20)
                self.assertEqual((r.rc, r.status), (0, 200), f"{mode} beside stalled clients: " + r.describe())
            for mode, p in downloads.items():
                out, err = p.communicate(timeout=60)
                self.assertEqual((p.returncode, out), (0, b"200"), f"{mode} download: {err!r}")
                self.assertEqual(client.sha256_file(os.path.join(tmp, mode)), S.origin.files["10m"],
                                 f"{mode}: the 10 MiB body was damaged")
        finally:
            for p in downloads.values():
                if p.poll() is None:
                    p.kill()
                    p.wait(5)
            for s in held:
                s.close()
            env.remove_dir(tmp)
        self.assertTrue(S.main.proc.alive() and S.sni.proc.alive(), "hoplens died")

    def test_hello_without_sni_gets_unrecognized_name(self):
        addr, port = S.listener("sni")
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        with socket.create_connection((addr, port), timeout=5.0) as raw:
            with self.assertRaises(ssl.SSLError) as caught:
                ctx.wrap_socket(raw, server_hostname=None).close()
        self.assertIn("UNRECOGNIZED_NAME", str(caught.exception).upper())
        url, args = S.via("sni", "/files/small")
        self.assertEqual(client.curl(url, args).status, 200, "sni listener broken after a hello without SNI")


if __name__ == "__main__":
    env.require_tools("nginx", "curl", "openssl")
    env.hoplens_bin()
    unittest.main(verbosity=2)
