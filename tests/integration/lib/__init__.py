"""Shared helpers for hoplens's end-to-end tests (stdlib only).

Modules:
  env     -- the binary, the artifact dir, temp dirs, skip (exit 77)
  procs   -- start processes, stop them by PID with bounded waits, free ports, wait for ports
  pki     -- a test CA and leaves made with the openssl CLI
  origin  -- nginx origin (two names, HTTPS + HTTP) with a Python backend (echo, chunked, slow)
  hoplens -- run the hoplens binary with a temp data dir and wait until it listens
  client  -- curl wrapper, raw HTTP/TLS sockets (plain, CONNECT, TLS), leaf fetch, sha256

Tests import them as `from lib import origin, hoplens, client` after putting
tests/integration on sys.path (see any proxy_*_test.py).
"""
