#!/usr/bin/env python3
"""A capture to a full filesystem keeps the proxy serving (issue 5 §5, §6). hoplens runs in a
private mount namespace whose capture dir is a 64 KiB tmpfs; a 10 MiB transfer fills it.
Every request still succeeds (the 10 MiB one intact, and more after it), /metrics counts the
write errors, the error is logged once per file rather than per write, and the HAR left on
the full disk is still valid. Skips (77) where mounting a tmpfs is not permitted."""
import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import capture_support as cs  # noqa: E402
from lib import client, env, origin as O, procs  # noqa: E402

TMPFS_SIZE = "64k"


def fail(msg):
    print(f"FAIL: {msg}", flush=True)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


def in_private_tmpfs(directory, argv):
    """argv run (exec'd, same PID) in a new mount namespace with a small tmpfs on directory."""
    script = f'mount -t tmpfs -o size={TMPFS_SIZE},mode=0755 tmpfs "$1" && shift && exec "$@"'
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", directory, *argv]


def main():
    env.require_tools("curl", "nginx", "unshare")
    cs.require_node_modules("har-validator")
    work = env.temp_dir("capfull")
    full = os.path.join(work, "full")
    os.makedirs(full)
    probe = procs.run(in_private_tmpfs(full, ["true"]), timeout=10.0)
    if probe.returncode != 0:
        env.skip(f"cannot mount a tmpfs in a private mount namespace: {probe.stderr.decode(errors='replace')}")
    origin = proxy = None
    try:
        origin = O.Origin()
        port, diag_port = procs.free_port(), procs.free_port()
        har, pcapng = os.path.join(full, "cap.har"), os.path.join(full, "cap.pcapng")
        argv = [env.hoplens_bin(), "--data-dir", os.path.join(work, "data"), "--diag", f"127.0.0.1:{diag_port}",
                "--listen", f"explicit@127.0.0.1:{port}", "--upstream-ca", origin.ca_cert, *origin.maps(),
                "--har", har, "--pcapng", pcapng]
        proxy = procs.Process(in_private_tmpfs(full, argv), work, "capfull")
        check(procs.wait_port("127.0.0.1", port, 15.0, proxy.proc), f"hoplens did not start: {proxy.tail()}")
        ca = os.path.join(work, "data", "ca.pem")
        via = ["-x", f"http://127.0.0.1:{port}", "--cacert", ca]

        r = client.curl([origin.url("/files/small"), origin.url("/files/10m"), origin.url("/files/1k")],
                        args=via, timeout=120.0)
        check(r.rc == 0 and [t["http_code"] for t in r.transfers] == [200] * 3, r.describe())
        check(client.sha256(r.bodies[1]) == origin.files["10m"], "the 10 MiB body changed on its way")
        for i in range(5):  # the disk is full now: the proxy must go on serving
            r = client.curl([origin.url(f"/files/1k?after={i}"), origin.url("/files/small")], args=via)
            check(r.rc == 0 and r.bodies[0] and client.sha256(r.bodies[0]) == origin.files["1k"], r.describe())
        r = client.curl([origin.url("/files/10m?again")], args=via, timeout=120.0)
        check(r.rc == 0 and client.sha256(r.body) == origin.files["10m"], r.describe())

        m = cs.metrics("127.0.0.1", diag_port)
        errors = m.get("hoplens_capture_write_errors_total", 0)
        check(errors >= 1, f"capture_write_errors_total is {errors}: {sorted(m)}")
        check(proxy.alive(), f"hoplens exited: {proxy.tail()}")
        # The files as hoplens sees them (inside its namespace).
        seen_har = f"/proc/{proxy.pid}/root{har}"
        ok, out = cs.har_validate(seen_har)
        check(ok, f"the HAR on the full disk is not valid: {out}")

        status, killed = proxy.stop(signal.SIGTERM, 15.0)
        check((status, killed) == (0, False), f"hoplens exit {status} killed={killed}: {proxy.tail()}")
        log = (proxy.stdout() + proxy.stderr()).splitlines()
        write_errors = [l for l in log if "capture" in l and ("No space" in l or "cannot" in l)]
        check(1 <= len(write_errors) <= 2, f"{len(write_errors)} capture error lines (want once per file):\n"
                                           + "\n".join(write_errors[:10]))
        check(len(log) < 30, f"{len(log)} log lines for a full disk:\n" + "\n".join(log[:40]))
        print(f"PASS: served through a full capture disk; {int(errors)} write errors counted, "
              f"{len(write_errors)} logged", flush=True)
    finally:
        if proxy is not None:
            proxy.stop(signal.SIGKILL, 5.0)
        if origin is not None:
            origin.stop()
        env.remove_dir(work)


if __name__ == "__main__":
    main()
