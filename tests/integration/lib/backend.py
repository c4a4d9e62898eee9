"""The dynamic half of the origin: a plain-HTTP backend that nginx proxies to.

  POST /echo            200, body = the request body, X-Body-Sha256 / X-Body-Length of what arrived
  GET  /chunked?n=N&size=S   200 with Transfer-Encoding: chunked, N chunks of chunk_payload(i, S)
  GET  /slow?ms=M       waits M ms (at most 120 s), then 200 "slow\n"
Runs in a daemon thread of the test process.
"""
import hashlib
import http.server
import threading
import time
import urllib.parse


def chunk_payload(index, size):
    """Deterministic content of chunk `index`, so a test can recompute the whole body."""
    unit = f"chunk-{index:06d};".encode()
    return (unit * (size // len(unit) + 1))[:size]


def chunked_body(n, size):
    return b"".join(chunk_payload(i, size) for i in range(n))


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # quiet: nginx's access log is the record
        pass

    def _query(self):
        return {k: v[0] for k, v in urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query).items()}

    def _read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            parts = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length", "0")))

    def _reply(self, status, body, headers=()):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        body = self._read_body()
        if urllib.parse.urlsplit(self.path).path.endswith("/echo"):
            self._reply(200, body, [("Content-Type", "application/octet-stream"),
                                    ("X-Body-Sha256", hashlib.sha256(body).hexdigest()),
                                    ("X-Body-Length", str(len(body)))])
        else:
            self._reply(404, b"not found\n")

    def do_GET(self):
        path = urllib.parse.urlsplit(self.path).path
        q = self._query()
        if path.endswith("/chunked"):
            n, size = int(q.get("n", "16")), int(q.get("size", "1000"))
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for i in range(n):
                data = chunk_payload(i, size)
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.write(b"0\r\n\r\n")
        elif path.endswith("/slow"):
            time.sleep(min(int(q.get("ms", "1000")), 120_000) / 1000.0)
            self._reply(200, b"slow\n")
        else:
            self._reply(404, b"not found\n")


class _QuietServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # a peer that resets mid-response is part of what the tests do


class Backend:
    def __init__(self, host="127.0.0.1"):
        self.server = _QuietServer((host, 0), _Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.2},
                                       daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5.0)
