"""Shared pieces of the capture end-to-end tests (issue 5 §6); not a test itself.

  Site        -- a second nginx, site.test on 127.0.0.3, signed by the lib origin's CA, that
                 serves what lib/origin.py does not: an HTML page with a stylesheet, a script
                 and a PNG (real MIME types), gzip-compressed text; /ws is a WebSocket echo
                 (lib/ws_backend.py) behind it.
  har_*       -- load and validate a HAR (node tests/js/validate_har.js: har-validator plus
                 Chrome's importer rules).
  tshark_*    -- count packets of a pcapng matching a display filter.
  metrics()   -- hoplens's /metrics as {name: value}.
"""
import json
import os
import signal
import struct
import urllib.request
import zlib

from lib import env, pki, procs, ws_backend

SITE_HOST = "site.test"
SITE_ADDR = "127.0.0.3"
PAGE_TITLE = "hoplens capture page"
SCRIPT_MARK = "script ran"
IMAGE_SIZE = 16
# Text long and repetitive enough that gzip shrinks it a lot: the HAR must hold it decoded.
GZIP_TEXT = "".join(f"line {i:05d} of a compressible text file\n" for i in range(400))

_PAGE = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>{PAGE_TITLE}</title>
<link rel="stylesheet" href="/style.css"><script src="/app.js" defer></script></head>
<body><h1 id="title">{PAGE_TITLE}</h1>
<p id="status">script did not run</p>
<img id="logo" src="/logo.png" width="{IMAGE_SIZE}" height="{IMAGE_SIZE}" alt="logo">
</body></html>
"""
_CSS = "h1 { color: rgb(12, 34, 56); }\n"
_JS = f"document.getElementById('status').textContent = '{SCRIPT_MARK}';\n"

_CONF = """
user root root;
worker_processes 1;
daemon off;
pid {d}/nginx.pid;
error_log {d}/error.log info;
events {{ worker_connections 1024; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    client_body_temp_path {d}/tmp/body;
    proxy_temp_path {d}/tmp/proxy;
    fastcgi_temp_path {d}/tmp/fastcgi;
    uwsgi_temp_path {d}/tmp/uwsgi;
    scgi_temp_path {d}/tmp/scgi;
    access_log {d}/access.log;
    keepalive_timeout 120s;
    gzip on;
    gzip_min_length 1;
    gzip_types text/plain text/css application/javascript;
    server {{
        listen {addr}:{port} ssl;
        server_name {host};
        ssl_certificate {cert};
        ssl_certificate_key {key};
        root {d}/www;
        location = /ws {{
            proxy_pass http://127.0.0.1:{ws_port};
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection "upgrade";
        }}
        etag off;
        if_modified_since off;
        add_header Cache-Control no-store;
    }}
}}
"""


def png(size):
    """A size x size opaque red PNG (so a test can tell the image decoded)."""
    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))
    rows = b"".join(b"\x00" + b"\xff\x00\x00" * size for _ in range(size))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


class Site:
    """nginx serving https://site.test:PORT/ on 127.0.0.3 with a leaf from ca=(cert, key)."""

    FILES = {"index.html": _PAGE.encode(), "style.css": _CSS.encode(), "app.js": _JS.encode(),
             "logo.png": png(IMAGE_SIZE), "text.txt": GZIP_TEXT.encode()}

    def __init__(self, ca):
        self.dir = env.temp_dir("site")
        os.chmod(self.dir, 0o755)
        for sub in ("tmp", "www", "pki"):
            os.makedirs(os.path.join(self.dir, sub), exist_ok=True)
        cert, key = pki.make_leaf(os.path.join(self.dir, "pki"), ca, [SITE_HOST], [SITE_ADDR])
        for name, data in self.FILES.items():
            with open(os.path.join(self.dir, "www", name), "wb") as f:
                f.write(data)
        self.port = procs.free_port(SITE_ADDR)
        self.ws_backend = ws_backend.WebSocketEcho()
        conf = os.path.join(self.dir, "nginx.conf")
        with open(conf, "w") as f:
            f.write(_CONF.format(d=self.dir, addr=SITE_ADDR, port=self.port, host=SITE_HOST,
                                 cert=cert, key=key, ws_port=self.ws_backend.port))
        self.nginx = procs.Process(["nginx", "-p", self.dir, "-c", conf], self.dir, "nginx")
        if not procs.wait_port(SITE_ADDR, self.port, 10.0, self.nginx.proc):
            self.stop()
            raise RuntimeError(f"site nginx did not start: {self.nginx.tail()}")

    def url(self, path, scheme="https"):
        return f"{scheme}://{SITE_HOST}:{self.port}{path}"

    def map_arg(self, with_port=False):
        return ["--map", f"{SITE_HOST}={SITE_ADDR}" + (f":{self.port}" if with_port else "")]

    def stop(self):
        self.nginx.stop(signal.SIGTERM, timeout=10.0)
        self.ws_backend.stop()
        env.remove_dir(self.dir)


def js_dir():
    return os.path.join(env.source_dir(), "tests", "js")


def require_node_modules(*names):
    env.require_tools("node")
    for n in names:
        if not os.path.isdir(os.path.join(js_dir(), "node_modules", n)):
            env.skip(f"tests/js/node_modules/{n} is not installed (npm ci --prefix tests/js)")


def read_file(path):
    with open(path, "rb") as f:
        return f.read()


def har_load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def har_validate(path):
    """(ok, output) of validate_har.js: HAR 1.2 schema + Chrome importer strictness."""
    r = procs.run(["node", os.path.join(js_dir(), "validate_har.js"), path], timeout=60.0)
    return r.returncode == 0, (r.stdout + r.stderr).decode(errors="replace").strip()


def har_entries(path):
    return har_load(path)["log"]["entries"]


def tshark_lines(pcapng, display_filter, *options):
    """The lines tshark prints for packets matching display_filter (bounded run)."""
    r = procs.run(["tshark", "-n", "-r", pcapng, *options, "-Y", display_filter], timeout=120.0)
    if r.returncode != 0:
        raise AssertionError(f"tshark -Y {display_filter!r} failed: {r.stderr.decode(errors='replace')}")
    return [l for l in r.stdout.decode(errors="replace").splitlines() if l.strip()]


def tshark_fields(pcapng, display_filter, *fields):
    """One tuple of field values per matching packet."""
    args = ["-T", "fields"] + [a for f in fields for a in ("-e", f)]
    return [tuple(l.split("\t")) for l in tshark_lines(pcapng, display_filter, *args)]


def metrics(addr, port):
    """hoplens's /metrics (Prometheus text) as {name: float}; labels are dropped."""
    with urllib.request.urlopen(f"http://{addr}:{port}/metrics", timeout=5.0) as r:
        text = r.read().decode()
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            out[name.split("{")[0]] = float(value)
    return out
