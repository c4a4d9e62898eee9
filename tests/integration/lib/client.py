"""Clients: a curl wrapper that reports each transfer, and raw sockets for the shapes curl
will not send (smuggling, garbage, stalls). All reads have timeouts."""
import hashlib
import http.client
import json
import os
import socket
import ssl
import tempfile

from . import procs


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class CurlResult:
    def __init__(self, rc, transfers, stderr, bodies, argv):
        self.rc = rc                # curl's exit code
        self.transfers = transfers  # one dict per URL from --write-out %{json}
        self.stderr = stderr
        self.bodies = bodies        # one bytes per URL
        self.argv = argv

    @property
    def status(self):
        return self.transfers[0].get("http_code") if self.transfers else None

    @property
    def body(self):
        return self.bodies[0]

    def describe(self):
        short = [{k: t.get(k) for k in ("http_code", "num_connects", "size_download", "exitcode", "errormsg")}
                 for t in self.transfers]
        return f"curl rc={self.rc} {short}\nargv: {' '.join(self.argv)}\nstderr tail:\n{self.stderr[-1500:]}"


def curl(urls, args=(), timeout=60.0, data_file=None):
    """Runs one curl command for all urls (so they may share connections). args go before
    the URLs (e.g. -x, --cacert, --resolve, -X POST). data_file: POST its bytes to each URL."""
    if isinstance(urls, str):
        urls = [urls]
    if data_file is not None and len(urls) > 1:
        raise ValueError("POST one URL per curl call")
    with tempfile.TemporaryDirectory(prefix="hoplens-curl-") as tmp:
        argv = ["curl", "-sS", "--max-time", str(int(timeout)), "-w", "%{json}\\n", *args]
        if data_file is not None:
            argv += ["--data-binary", f"@{data_file}"]
        for i, url in enumerate(urls):
            argv += ["-o", os.path.join(tmp, f"body{i}"), url]
        r = procs.run(argv, timeout=timeout + 15)
        transfers = []
        for line in r.stdout.decode(errors="replace").splitlines():
            line = line.strip()
            if line.startswith("{"):
                transfers.append(json.loads(line))
        bodies = []
        for i in range(len(urls)):
            p = os.path.join(tmp, f"body{i}")
            if os.path.exists(p):
                with open(p, "rb") as f:
                    bodies.append(f.read())
            else:
                bodies.append(b"")
        return CurlResult(r.returncode, transfers, r.stderr.decode(errors="replace"), bodies, argv)


def _tls_context(cafile):
    if cafile:
        ctx = ssl.create_default_context(cafile=cafile)
    else:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


class ConnectRefused(ConnectionError):
    """The proxy answered CONNECT with something other than 200; .response holds its bytes."""

    def __init__(self, target, response):
        super().__init__(f"CONNECT {target}: {response[:200]!r}")
        self.response = response


class RawConn:
    """One client connection to a hoplens listener, ready to carry HTTP to the target.

    mode: "plain" (TCP; the http listener, or explicit absolute-form), "tls" (TLS straight to
    the listener: sni and reverse modes), "connect" (CONNECT target, then TLS inside).
    sni: server_hostname for TLS (None: no SNI). cafile None: do not verify (then the leaf can
    still be read with peer_leaf_pem)."""

    def __init__(self, addr, port, mode="plain", sni=None, cafile=None, target=None, timeout=10.0,
                 source_addr=None):
        self.connect_response = None
        self.sock = socket.create_connection((addr, port), timeout=timeout,
                                             source_address=(source_addr, 0) if source_addr else None)
        if mode == "connect":
            self.sock.sendall(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode())
            self.connect_response = self._read_head()
            if status_of(self.connect_response) != 200:
                rest, _ = self.read_until_close(timeout=5.0)
                self.close()
                raise ConnectRefused(target, self.connect_response + rest)
        if mode in ("tls", "connect"):
            self.sock = _tls_context(cafile).wrap_socket(self.sock, server_hostname=sni)

    def _read_head(self):
        head = b""
        while b"\r\n\r\n" not in head and len(head) < 65536:
            b = self.sock.recv(1)
            if not b:
                break
            head += b
        return head

    def send(self, data):
        self.sock.sendall(data)

    def response(self, method="GET"):
        """Parse one response (Content-Length, chunked or close-delimited). Returns
        (status, headers dict lower-cased, body)."""
        r = http.client.HTTPResponse(self.sock, method=method)
        r.begin()
        body = r.read()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, body

    def closed_by_peer(self, timeout=3.0):
        """True if the peer closes (EOF or reset) within timeout with nothing more to read."""
        self.sock.settimeout(timeout)
        try:
            return self.sock.recv(65536) == b""
        except (ConnectionResetError, BrokenPipeError, ssl.SSLError):
            return True
        except socket.timeout:
            return False
        except OSError:
            return True

    def read_until_close(self, timeout=5.0, limit=1 << 20):
        """Everything the peer sends until it closes; (data, closed)."""
        self.sock.settimeout(timeout)
        data = b""
        try:
            while len(data) < limit:
                b = self.sock.recv(65536)
                if not b:
                    return data, True
                data += b
        except (ConnectionResetError, ssl.SSLError):
            return data, True
        except socket.timeout:
            return data, False
        return data, False

    def peer_leaf_pem(self):
        der = self.sock.getpeercert(binary_form=True)
        return ssl.DER_cert_to_PEM_cert(der)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def status_of(raw_response):
    """The status code of a raw HTTP response's first line, or None."""
    first = raw_response.split(b"\r\n", 1)[0].split()
    return int(first[1]) if len(first) >= 2 and first[1].isdigit() else None
