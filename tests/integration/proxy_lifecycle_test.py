#!/usr/bin/env python3
"""SIGTERM stops accepting, drains the exchange in flight and exits 0; SIGINT exits 0;
--access-log - prints one line per exchange on stdout, and nothing else goes there (issue 4 §4)."""
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import client, env, hoplens, procs, scenario  # noqa: E402

O = scenario.O
ORIGIN = None


def setUpModule():
    global ORIGIN
    ORIGIN = O.Origin()


def tearDownModule():
    if ORIGIN is not None:
        ORIGIN.stop()


def start(extra=()):
    return hoplens.Hoplens({"explicit": "explicit", "http": "http"}, name="life",
                           args=["--upstream-ca", ORIGIN.ca_cert, *ORIGIN.maps(), *extra])


class Signals(unittest.TestCase):
    def test_sigterm_drains_in_flight_then_exits_0(self):
        # ~10 s of download at 1 MB/s (curl may burst ahead of its limit at first, by as much
        # as the socket buffers hold): in flight at SIGTERM, well inside the drain timeout.
        h = start(["--drain-timeout", "30s"])
        out = tempfile.NamedTemporaryFile(delete=False).name
        try:
            port = h.port["http"]
            p = subprocess.Popen(["curl", "-sS", "--max-time", "60", "--limit-rate", "1M", "-o", out,
                                  "-w", "%{http_code}", "--noproxy", "*", "--connect-to",
                                  f"{O.ORIGIN_HOST}:{ORIGIN.http_port}:127.0.0.1:{port}",
                                  ORIGIN.url("/files/10m", scheme="http")], stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE)
            deadline = time.monotonic() + 5.0
            while (not os.path.exists(out) or os.path.getsize(out) == 0) and time.monotonic() < deadline:
                time.sleep(0.05)
            self.assertIsNone(p.poll(), f"the download should still be running: {p.poll()} {p.communicate()}")
            h.proc.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + 3.0
            while procs.port_open("127.0.0.1", port, 0.3) and time.monotonic() < deadline:
                time.sleep(0.1)
            self.assertFalse(procs.port_open("127.0.0.1", port, 0.3), "still accepting 3 s after SIGTERM")
            body, err = p.communicate(timeout=60)
            self.assertEqual((p.returncode, body), (0, b"200"), f"in-flight download cut by SIGTERM: {err!r}")
            self.assertEqual(client.sha256_file(out), ORIGIN.files["10m"])
            status = h.proc.wait(20.0)
            self.assertEqual(status, 0, f"exit status after SIGTERM: {status}\n{h.proc.tail()}")
        finally:
            os.unlink(out)
            h.cleanup()

    def test_sigint_exits_0(self):
        h = start()
        try:
            url = ORIGIN.url("/files/small", scheme="http")
            r = client.curl(url, ["-x", f"http://127.0.0.1:{h.port['explicit']}"])
            self.assertEqual(r.status, 200, r.describe())
            h.proc.send_signal(signal.SIGINT)
            status = h.proc.wait(15.0)
            self.assertEqual(status, 0, f"exit status after SIGINT: {status}\n{h.proc.tail()}")
        finally:
            h.cleanup()


class AccessLog(unittest.TestCase):
    def test_one_line_per_exchange_on_stdout(self):
        h = start(["--access-log", "-"])
        try:
            proxy = ["-x", f"http://127.0.0.1:{h.port['explicit']}", "--cacert", h.ca_pem]
            marks = [uuid.uuid4().hex for _ in range(4)]
            urls = [ORIGIN.url(f"/files/small?{marks[0]}"), ORIGIN.url(f"/files/1k?{marks[1]}"),
                    ORIGIN.url(f"/files/small?{marks[2]}", scheme="http")]
            r = client.curl(urls, proxy)
            self.assertEqual([t["http_code"] for t in r.transfers], [200, 200, 200], r.describe())
            r = client.curl(ORIGIN.url(f"/nope?{marks[3]}"), proxy)
            self.assertEqual(r.status, 404, r.describe())
            # A malformed request makes a log line; it goes to stderr, not into the access log.
            with socket.create_connection(("127.0.0.1", h.port["http"]), timeout=5) as s:
                s.sendall(b"GARBAGE\r\n\r\n")
                self.assertIn(b" 400 ", s.recv(4096))
            h.stop()
            lines = h.proc.stdout().splitlines()
            access_line = re.compile(r"^\d{4}-\d\d-\d\dT\S+ \S+ [A-Z]+ \S+ \d{3} \d+ \d+ \d+\.\d$")
            self.assertEqual([l for l in lines if l.strip() and not access_line.match(l)], [],
                             "stdout should carry the access log alone")
            self.assertIn("malformed request", h.proc.stderr())
            self.assertIn("hoplens: listening", h.proc.stderr())
            for mark, status in zip(marks, ("200", "200", "200", "404")):
                mine = [l for l in lines if mark in l]
                self.assertEqual(len(mine), 1, f"want one access-log line for {mark}; stdout:\n" + "\n".join(lines[-20:]))
                self.assertIn("GET", mine[0])
                self.assertIn(status, mine[0].split(), f"status missing in: {mine[0]}")
                self.assertIn("127.0.0.1", mine[0], "client address missing")
        finally:
            h.cleanup()

    def test_sighup_reopens_the_file_under_load(self):
        # logrotate: the file is renamed, then SIGHUP. Lines before it stay in the renamed
        # file, lines after go to a new one, and the workers writing meanwhile are not
        # disturbed (replacing the logger under them once crashed a worker).
        work = env.temp_dir("access-log")
        path = os.path.join(work, "access.log")
        h = start(["--access-log", path, "--threads", "2"])
        proxy = ["-x", f"http://127.0.0.1:{h.port['explicit']}"]
        url = ORIGIN.url("/files/small", scheme="http")
        try:
            self.assertEqual(client.curl(url + "?before", proxy).status, 200)
            os.rename(path, path + ".1")
            stop = time.monotonic() + 3.0
            done = threading.Event()
            request = f"GET {url}?load HTTP/1.1\r\nHost: {url.split('/')[2]}\r\n\r\n".encode()

            def load():  # one kept-alive connection, as fast as it answers; bounded
                try:
                    with client.RawConn("127.0.0.1", h.port["explicit"], timeout=10.0) as conn:
                        for _ in range(100000):
                            if done.is_set():
                                return
                            conn.send(request)
                            conn.response()
                except OSError:
                    return  # hoplens died: asserted below

            loads = [threading.Thread(target=load) for _ in range(6)]
            for t in loads:
                t.start()
            signals = 0
            while time.monotonic() < stop and h.proc.alive():
                h.proc.send_signal(signal.SIGHUP)
                signals += 1
                time.sleep(0.005)
            done.set()
            for t in loads:
                t.join(30)
            self.assertTrue(h.proc.alive(), f"hoplens died under {signals} SIGHUPs:\n{h.proc.tail()}")
            self.assertEqual(client.curl(url + "?after", proxy).status, 200)
            deadline = time.monotonic() + 5.0
            while time.monotonic() < deadline and "?after" not in open(path).read():
                time.sleep(0.1)
            rotated, current = open(path + ".1").read(), open(path).read()
            self.assertIn("?before", rotated)
            self.assertNotIn("?before", current)
            self.assertIn("?after", current)
            self.assertNotIn("?after", rotated)
            # A path that cannot be reopened (its directory replaced by a file): the log
            # goes on in the open file, and hoplens goes on serving and handling signals.
            os.rename(work, work + ".moved")
            open(work, "w").close()
            try:
                h.proc.send_signal(signal.SIGHUP)
                time.sleep(0.3)
                self.assertEqual(client.curl(url + "?unreopened", proxy).status, 200)
                self.assertTrue(h.proc.alive(), f"a failed reopen killed hoplens:\n{h.proc.tail()}")
                self.assertIn("cannot reopen", h.proc.stderr())
            finally:
                os.unlink(work)
                os.rename(work + ".moved", work)
        finally:
            h.cleanup()
            env.remove_dir(work)


if __name__ == "__main__":
    env.require_tools("nginx", "curl")
    env.hoplens_bin()
    unittest.main(verbosity=2)
