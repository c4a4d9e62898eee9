"""The standard end-to-end setup: one nginx origin and hoplens in front of it, plus `via()`,
which turns (mode, path) into the curl URL and options that reach the origin through hoplens.

Two hoplens processes share one data dir (one CA):
  main: explicit, http and reverse:https://origin.test:TLS listeners; --map NAME=ADDR keeps
        the requested port, so CONNECT origin.test:TLS and Host: origin.test:HTTP both work.
  sni:  one sni listener; --map NAME=ADDR:TLS, since the client's port is the listener's.
"""
import os
import sys
import unittest

from . import hoplens, origin as origin_mod

O = origin_mod


def selected(modes):
    """HOPLENS_IT_MODES="sni http" narrows a run to some modes (for debugging one of them)."""
    wanted = os.environ.get("HOPLENS_IT_MODES", "").split()
    return tuple(m for m in modes if not wanted or m in wanted)


TLS_MODES = selected(("explicit", "sni", "reverse"))
ALL_MODES = TLS_MODES + selected(("http", "explicit-http"))


class Scenario:
    def __init__(self, extra_args=(), origin=None, upstream_ca=True, sni=True, name="hl"):
        self.origin = origin or O.Origin()
        self._own_origin = origin is None
        o = self.origin
        trust = ["--upstream-ca", o.ca_cert] if upstream_ca else []
        self.main = None
        self.sni = None
        try:
            self.main = hoplens.Hoplens(
                {"explicit": "explicit", "http": "http",
                 "reverse": f"reverse:https://{O.ORIGIN_HOST}:{o.tls_port}"},
                args=[*trust, *o.maps(with_port=False), *extra_args], name=f"{name}-main")
            self.data_dir = self.main.data_dir
            self.ca = self.main.ca_pem
            if sni:
                self.sni = hoplens.Hoplens({"sni": "sni"}, data_dir=self.data_dir, name=f"{name}-sni",
                                           args=[*trust, *o.maps(with_port=True), *extra_args])
        except Exception:
            self.stop()
            raise

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def stop(self):
        for h in (self.sni, self.main):
            if h is not None:
                h.cleanup()
        if self._own_origin:
            self.origin.stop()

    def check_alive(self):
        """Raises AssertionError with the log tail if a hoplens process has exited."""
        for h in (self.main, self.sni):
            if h is not None and not h.proc.alive():
                raise AssertionError(f"hoplens ({h.proc.name}) exited with status {h.proc.proc.returncode}:\n"
                                     f"{h.proc.tail(15)}")

    def listener(self, mode):
        """(addr, port) of the hoplens listener that serves mode."""
        if mode == "sni":
            return self.sni.addr, self.sni.port["sni"]
        key = "explicit" if mode == "explicit-http" else mode
        return self.main.addr, self.main.port[key]

    def via(self, mode, path, host=O.ORIGIN_HOST):
        """(url, curl args) for GET/POST path on host through hoplens in mode."""
        o = self.origin
        addr, port = self.listener(mode)
        proxy = ["-x", f"http://{addr}:{port}"]
        no_proxy = ["--noproxy", "*"]
        trust = ["--cacert", self.ca]
        if mode == "explicit":
            return o.url(path, host), proxy + trust
        if mode == "explicit-http":
            return o.url(path, host, scheme="http"), proxy
        if mode == "sni":
            return f"https://{host}:{port}{path}", no_proxy + trust + ["--resolve", f"{host}:{port}:{addr}"]
        if mode == "reverse":
            if host != O.ORIGIN_HOST:
                raise ValueError("the reverse listener's target is origin.test")
            return f"https://{host}:{port}{path}", no_proxy + trust + ["--resolve", f"{host}:{port}:{addr}"]
        if mode == "http":
            return (o.url(path, host, scheme="http"),
                    no_proxy + ["--connect-to", f"{host}:{o.http_port}:{addr}:{port}"])
        raise ValueError(mode)

    def raw(self, mode, host=O.ORIGIN_HOST, verify=True, **kw):
        """A client.RawConn through hoplens in mode, ready for an HTTP request to host."""
        from . import client
        addr, port = self.listener(mode)
        cafile = self.ca if verify else None
        if mode == "explicit":
            return client.RawConn(addr, port, "connect", sni=host, cafile=cafile,
                                  target=f"{host}:{self.origin.tls_port}", **kw)
        if mode in ("sni", "reverse"):
            return client.RawConn(addr, port, "tls", sni=host, cafile=cafile, **kw)
        return client.RawConn(addr, port, "plain", **kw)

    def request_target(self, mode, path, host=O.ORIGIN_HOST):
        """What goes after the method: absolute form for explicit-http, origin form otherwise."""
        if mode == "explicit-http":
            return f"http://{host}:{self.origin.http_port}{path}"
        return path

    def host_header(self, mode, host=O.ORIGIN_HOST):
        port = self.origin.http_port if mode in ("http", "explicit-http") else self.listener(mode)[1]
        if mode == "explicit":
            port = self.origin.tls_port
        return f"{host}:{port}"


class AliveTestCase(unittest.TestCase):
    """Fails fast, with hoplens's log tail, once hoplens has died, and blames the test it died
    in. Uses the Scenario in the global `S` of the test's module."""

    def _check(self):
        sc = getattr(sys.modules[type(self).__module__], "S", None)
        if sc is not None:
            sc.check_alive()

    def setUp(self):
        self._check()

    def tearDown(self):
        self._check()
