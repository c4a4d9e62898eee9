"""Run the hoplens binary: a temp data dir, free ports, wait until every listener accepts."""
import os
import signal

from . import env, procs


SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")


def sanitizer_report(log):
    """The part of a log from the first sanitizer report on, or ""."""
    starts = [i for i in (log.find(m) for m in SANITIZER_MARKS) if i >= 0]
    return log[min(starts):][:20000] if starts else ""


class Hoplens:
    """listeners: {name: MODE} (e.g. {"x": "explicit", "r": "reverse:https://origin.test:8443"});
    each gets a free port on `addr`, found in self.port[name]. args: further options.
    The CA lands in data_dir (a fresh temp dir unless given): self.ca_pem."""

    def __init__(self, listeners, args=(), data_dir=None, addr="127.0.0.1", name="hoplens",
                 log_dir=None, diag="off", start_timeout=15.0, env_extra=None, binary=None):
        self.dir = env.temp_dir(name)
        self.data_dir = data_dir or os.path.join(self.dir, "data")
        self.ca_pem = os.path.join(self.data_dir, "ca.pem")
        self.addr = addr
        self.port = {k: procs.free_port(addr) for k in listeners}
        host = f"[{addr}]" if ":" in addr else addr
        self.argv = [binary or env.hoplens_bin(), "--data-dir", self.data_dir, "--diag", diag]
        for k, mode in listeners.items():
            self.argv += ["--listen", f"{mode}@{host}:{self.port[k]}"]
        self.argv += list(args)
        run_env = dict(os.environ)
        run_env.update(env_extra or {})
        self.proc = procs.Process(self.argv, log_dir or self.dir, name, env=run_env)
        self.exit_status = None
        ok = all(procs.wait_port(addr, p, start_timeout, self.proc.proc) for p in self.port.values())
        if not ok:
            status, _ = self.proc.stop(signal.SIGKILL, 2.0)
            raise RuntimeError(f"hoplens did not start listening (exit {status}):\n"
                               f"argv: {' '.join(self.argv)}\n{self.proc.tail()}")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def stop(self, sig=signal.SIGTERM, timeout=15.0):
        """Stops hoplens; returns (exit status, had to be killed)."""
        if self.exit_status is None:
            self.exit_status = self.proc.stop(sig, timeout)
        return self.exit_status

    def cleanup(self):
        """Stops hoplens and removes its files. In a sanitizer build (-DHOPLENS_SANITIZE=ON) a
        report in its log fails the test that started it, with the report."""
        self.stop()
        report = sanitizer_report(self.log())
        env.remove_dir(self.dir)
        if report:
            raise AssertionError(f"sanitizer report from {' '.join(self.argv)}:\n{report}")

    def log(self):
        return self.proc.stdout() + self.proc.stderr()

    def url_explicit_proxy(self, name="explicit"):
        return f"http://{self.addr}:{self.port[name]}"


def run_cli(args, timeout=30.0, env_extra=None):
    """Runs `hoplens ARGS` to completion (bounded); returns (status, stdout, stderr) as text."""
    run_env = dict(os.environ)
    run_env.update(env_extra or {})
    r = procs.run([env.hoplens_bin(), *args], timeout=timeout, env=run_env)
    return r.returncode, r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")


def message_lines(stdout, stderr):
    """The non-empty lines a command printed (both streams)."""
    return [l for l in (stdout + "\n" + stderr).splitlines() if l.strip()]
