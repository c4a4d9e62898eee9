"""Processes and ports. Every wait here has a deadline; processes are stopped by PID."""
import os
import signal
import socket
import subprocess
import time


def free_port(host="127.0.0.1"):
    """A port that was free a moment ago on host (bind to 0, read it, close)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def port_open(host, port, timeout=0.5):
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_port(host, port, timeout=10.0, proc=None):
    """True once host:port accepts a TCP connection; False after timeout or if proc exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            return False
        if port_open(host, port, timeout=0.3):
            return True
        time.sleep(0.05)
    return False


class Process:
    """A child in its own session, stdout/stderr to files under log_dir."""

    def __init__(self, argv, log_dir, name, env=None, cwd=None, stdout_pipe=False):
        self.name = name
        self.argv = argv
        self.stdout_path = os.path.join(log_dir, f"{name}.stdout")
        self.stderr_path = os.path.join(log_dir, f"{name}.stderr")
        self._out = open(self.stdout_path, "wb")
        self._err = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen(argv, stdout=self._out, stderr=self._err, stdin=subprocess.DEVNULL,
                                     env=env, cwd=cwd, start_new_session=True)
        self.pid = self.proc.pid

    def alive(self):
        return self.proc.poll() is None

    def send_signal(self, sig):
        if self.alive():
            os.kill(self.pid, sig)

    def wait(self, timeout):
        """The exit status, or None if still running after timeout seconds."""
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, sig=signal.SIGTERM, timeout=10.0):
        """Signal, wait up to timeout, then SIGKILL the process group. Returns the exit status
        (negative for a signal) and whether it had to be killed."""
        killed = False
        if self.alive():
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass
            if self.wait(timeout) is None:
                killed = True
                try:
                    os.killpg(self.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.wait(5.0)
        self._out.close()
        self._err.close()
        return self.proc.returncode, killed

    def stdout(self):
        with open(self.stdout_path, "rb") as f:
            return f.read().decode(errors="replace")

    def stderr(self):
        with open(self.stderr_path, "rb") as f:
            return f.read().decode(errors="replace")

    def tail(self, lines=30):
        out = (self.stdout() + "\n" + self.stderr()).strip().splitlines()
        return "\n".join(out[-lines:])


def resident_kib(pid):
    """A process's resident set size (VmRSS), in KiB; 0 once it is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except FileNotFoundError:
        pass
    return 0


def run(argv, timeout=30.0, input_bytes=None, env=None):
    """Run to completion (bounded). Returns CompletedProcess with bytes stdout/stderr."""
    return subprocess.run(argv, input=input_bytes, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=timeout, env=env)
