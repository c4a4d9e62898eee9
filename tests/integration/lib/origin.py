"""The origin: nginx with its own test CA, serving two names on loopback.

  https://origin.test:TLS_PORT on 127.0.0.1   (leaf SAN origin.test, 127.0.0.1)
  https://other.test:TLS_PORT  on 127.0.0.2   (leaf SAN other.test, 127.0.0.2)
  http://{origin,other}.test:HTTP_PORT on both addresses
Static files: /files/0 (0 B), /files/small (91 B), /files/1k, /files/10m (random; sha256 in
`files`). /echo, /chunked, /slow are proxied to a Python backend (backend.py); /ws to a
WebSocket echo server (ws_backend.py), upgrade and all, as nginx does for real sites.
Access logs start with nginx's $connection, so a test can count client connections to the
origin (which, behind hoplens, are hoplens's upstream connections).
"""
import hashlib
import os
import signal

from . import backend, env, pki, procs, ws_backend

ORIGIN_HOST = "origin.test"
OTHER_HOST = "other.test"
ORIGIN_ADDR = "127.0.0.1"
OTHER_ADDR = "127.0.0.2"
FILE_SIZES = {"0": 0, "small": 91, "1k": 1024, "10m": 10 * 1024 * 1024}

_LOCATIONS = """
        location /files/ {{ alias {www}/; }}
        location ~ ^/(echo|chunked|slow) {{
            proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;
            proxy_read_timeout 300s;
        }}
        location = /ws {{
            proxy_pass http://127.0.0.1:{ws_port};
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection "upgrade";
            proxy_read_timeout 300s;
        }}
        location = /small {{ return 200 "{small}"; }}
"""

_CONF = """
user root root;
worker_processes 1;
daemon off;
pid {d}/nginx.pid;
error_log {d}/error.log info;
events {{ worker_connections 4096; }}
http {{
    default_type application/octet-stream;
    client_body_temp_path {d}/tmp/body;
    proxy_temp_path {d}/tmp/proxy;
    fastcgi_temp_path {d}/tmp/fastcgi;
    uwsgi_temp_path {d}/tmp/uwsgi;
    scgi_temp_path {d}/tmp/scgi;
    log_format conns '$connection $connection_requests $server_addr:$server_port '
                     '"$request" $status $body_bytes_sent $request_length '
                     'reused=$ssl_session_reused sni=$ssl_server_name host=$host';
    keepalive_requests 1000000;
    keepalive_timeout 120s;
    client_max_body_size 512m;
    sendfile on;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_cache shared:SSL:1m;
    upstream backend {{ server 127.0.0.1:{backend_port}; keepalive 16; }}
    server {{
        listen {origin_addr}:{tls_port} ssl;
        server_name {origin_host};
        ssl_certificate {origin_cert};
        ssl_certificate_key {origin_key};
        access_log {d}/access-tls.log conns;
{locations}
    }}
    server {{
        listen {other_addr}:{tls_port} ssl;
        server_name {other_host};
        ssl_certificate {other_cert};
        ssl_certificate_key {other_key};
        access_log {d}/access-tls.log conns;
{locations}
    }}
    server {{
        listen {origin_addr}:{http_port};
        listen {other_addr}:{http_port};
        access_log {d}/access-http.log conns;
{locations}
    }}
}}
"""

SMALL_BODY = "x" * 90 + "\n"  # 91 bytes, the benchmark's body


class Origin:
    """Start with Origin(dir) (or as a context manager); stop() stops nginx and the backend."""

    def __init__(self, directory=None, big_file_bytes=None):
        self.dir = directory or env.temp_dir("origin")
        self._own_dir = directory is None
        os.chmod(self.dir, 0o755)  # nginx workers read the files
        for sub in ("tmp", "www", "pki"):
            os.makedirs(os.path.join(self.dir, sub), exist_ok=True)
        pki_dir = os.path.join(self.dir, "pki")
        self.ca_cert, self.ca_key = pki.make_ca(pki_dir, "origin")
        ca = (self.ca_cert, self.ca_key)
        self.origin_cert, origin_key = pki.make_leaf(pki_dir, ca, [ORIGIN_HOST], [ORIGIN_ADDR])
        self.other_cert, other_key = pki.make_leaf(pki_dir, ca, [OTHER_HOST], [OTHER_ADDR])
        self.files = self._write_files(big_file_bytes)
        self.backend = backend.Backend()
        self.ws_backend = ws_backend.WebSocketEcho()
        self.tls_port = procs.free_port(ORIGIN_ADDR)
        self.http_port = procs.free_port(ORIGIN_ADDR)
        conf = _CONF.format(d=self.dir, backend_port=self.backend.port, tls_port=self.tls_port,
                            http_port=self.http_port, origin_addr=ORIGIN_ADDR, other_addr=OTHER_ADDR,
                            origin_host=ORIGIN_HOST, other_host=OTHER_HOST,
                            origin_cert=self.origin_cert, origin_key=origin_key,
                            other_cert=self.other_cert, other_key=other_key,
                            locations=_LOCATIONS.format(www=os.path.join(self.dir, "www"), small=SMALL_BODY,
                                                       ws_port=self.ws_backend.port))
        self.conf_path = os.path.join(self.dir, "nginx.conf")
        with open(self.conf_path, "w") as f:
            f.write(conf)
        self.nginx = procs.Process(["nginx", "-p", self.dir, "-c", self.conf_path], self.dir, "nginx")
        ready = all(procs.wait_port(a, p, 10.0, self.nginx.proc)
                    for a in (ORIGIN_ADDR, OTHER_ADDR) for p in (self.tls_port, self.http_port))
        if not ready:
            log = self._read("error.log")
            self.stop()
            raise RuntimeError(f"nginx origin did not start:\n{log}")

    def _write_files(self, big_file_bytes):
        sizes = dict(FILE_SIZES)
        if big_file_bytes:
            sizes["big"] = big_file_bytes
        digests = {}
        for name, size in sizes.items():
            data = SMALL_BODY.encode() if name == "small" else os.urandom(size)
            with open(os.path.join(self.dir, "www", name), "wb") as f:
                f.write(data)
            digests[name] = hashlib.sha256(data).hexdigest()
        return digests

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def stop(self):
        if getattr(self, "nginx", None) is not None:
            self.nginx.stop(signal.SIGTERM, timeout=10.0)
        self.backend.stop()
        self.ws_backend.stop()
        if self._own_dir:
            env.remove_dir(self.dir)

    def _read(self, name):
        try:
            with open(os.path.join(self.dir, name), errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def log_lines(self, which="tls"):
        """Access log lines of the HTTPS servers ("tls") or the plain one ("http")."""
        return [l for l in self._read(f"access-{which}.log").splitlines() if l.strip()]

    def connection_ids(self, which="tls", since=0):
        """Distinct nginx connection serial numbers in the log, from line `since` on."""
        return {l.split()[0] for l in self.log_lines(which)[since:]}

    def url(self, path, host=ORIGIN_HOST, scheme="https"):
        port = self.tls_port if scheme == "https" else self.http_port
        return f"{scheme}://{host}:{port}{path}"

    def resolve_args(self):
        """curl --resolve arguments that reach the origin directly (no proxy)."""
        return ["--resolve", f"{ORIGIN_HOST}:{self.tls_port}:{ORIGIN_ADDR}",
                "--resolve", f"{OTHER_HOST}:{self.tls_port}:{OTHER_ADDR}",
                "--resolve", f"{ORIGIN_HOST}:{self.http_port}:{ORIGIN_ADDR}",
                "--resolve", f"{OTHER_HOST}:{self.http_port}:{OTHER_ADDR}"]

    def maps(self, with_port=False):
        """hoplens --map arguments for both names (port kept from the request unless with_port)."""
        suffix = f":{self.tls_port}" if with_port else ""
        return ["--map", f"{ORIGIN_HOST}={ORIGIN_ADDR}{suffix}", "--map", f"{OTHER_HOST}={OTHER_ADDR}{suffix}"]
