#!/usr/bin/env python3
"""The hoplens binary's command line (issue 3): exit codes, one-line errors, ca init/export,
--version, --help. No network beyond a bounded start attempt on a loopback port."""
import os
import stat
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import env, hoplens, procs  # noqa: E402


def openssl(args, input_bytes=None):
    return procs.run(["openssl", *args], input_bytes=input_bytes, timeout=30)


class UsageErrors(unittest.TestCase):
    def setUp(self):
        self.tmp = env.temp_dir("cli")
        self.data = os.path.join(self.tmp, "never-created")

    def tearDown(self):
        env.remove_dir(self.tmp)

    def assert_usage_error(self, args, must_name):
        status, out, err = hoplens.run_cli(["--data-dir", self.data, *args], timeout=15)
        lines = hoplens.message_lines(out, err)
        detail = f"hoplens {' '.join(args)} -> exit {status}, output {lines!r}"
        self.assertEqual(status, 2, detail)
        self.assertEqual(len(lines), 1, "expected exactly one line: " + detail)
        self.assertIn(must_name, lines[0], detail)
        self.assertFalse(os.path.exists(self.data), "a usage error must write nothing: " + detail)
        return lines[0]

    def test_bad_listen_mode(self):
        line = self.assert_usage_error(["--listen", "foo@127.0.0.1:8080"], "--listen")
        self.assertIn("foo", line)

    def test_bad_listen_port(self):
        self.assert_usage_error(["--listen", "explicit@127.0.0.1:99999"], "--listen")

    def test_unknown_option(self):
        self.assert_usage_error(["--no-such-option"], "no-such-option")

    def test_bad_map(self):
        self.assert_usage_error(["--map", "no-equals-sign"], "--map")

    def test_bad_allow(self):
        self.assert_usage_error(["--allow", "300.1.2.3/8"], "--allow")

    def test_bad_key_type(self):
        status, out, err = hoplens.run_cli(["ca", "init", "--data-dir", self.data, "--key-type", "dsa-512"])
        lines = hoplens.message_lines(out, err)
        self.assertEqual(status, 2, lines)
        self.assertEqual(len(lines), 1, lines)
        self.assertIn("key-type", lines[0])

    def test_unreadable_config(self):
        self.assert_usage_error(["--config", os.path.join(self.tmp, "missing.conf")], "config")


class DataDirIsAFile(unittest.TestCase):
    def setUp(self):
        self.tmp = env.temp_dir("cli")
        self.file = os.path.join(self.tmp, "a-file")
        with open(self.file, "w") as f:
            f.write("not a directory\n")

    def tearDown(self):
        env.remove_dir(self.tmp)

    def check(self, status, out, err, what):
        lines = hoplens.message_lines(out, err)
        self.assertIn(status, (1, 2), f"{what}: exit {status}, output {lines!r}")
        self.assertEqual(len(lines), 1, f"{what}: expected one line, got {lines!r}")
        with open(self.file) as f:
            self.assertEqual(f.read(), "not a directory\n", f"{what} changed the file")

    def test_ca_init(self):
        self.check(*hoplens.run_cli(["ca", "init", "--data-dir", self.file]), "ca init")

    def test_run(self):
        port = procs.free_port()
        argv = [env.hoplens_bin(), "--data-dir", self.file, "--diag", "off",
                "--listen", f"explicit@127.0.0.1:{port}"]
        try:
            r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=15)
        except subprocess.TimeoutExpired:
            self.fail("hoplens ran (did not exit within 15 s) with a data dir that is a file")
        self.check(r.returncode, r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace"), "run")


class CaCommands(unittest.TestCase):
    def setUp(self):
        self.tmp = env.temp_dir("cli")
        self.data = os.path.join(self.tmp, "data")

    def tearDown(self):
        env.remove_dir(self.tmp)

    def read(self, name, mode="rb"):
        with open(os.path.join(self.data, name), mode) as f:
            return f.read()

    def init(self, *extra):
        return hoplens.run_cli(["ca", "init", "--data-dir", self.data, *extra])

    def test_init_twice_refuses_and_keeps_the_ca(self):
        status, out, err = self.init()
        self.assertEqual(status, 0, out + err)
        key_mode = stat.S_IMODE(os.stat(os.path.join(self.data, "ca.key")).st_mode)
        self.assertEqual(key_mode, 0o600, f"ca.key mode is {oct(key_mode)}")
        pem, key = self.read("ca.pem"), self.read("ca.key")

        status, out, err = self.init()
        lines = hoplens.message_lines(out, err)
        self.assertNotEqual(status, 0, f"second ca init must refuse: {lines!r}")
        self.assertEqual(len(lines), 1, lines)
        self.assertIn("force", lines[0], "the refusal should say how to override it")
        self.assertEqual(self.read("ca.pem"), pem, "ca.pem changed after a refused ca init")
        self.assertEqual(self.read("ca.key"), key, "ca.key changed after a refused ca init")

        status, out, err = self.init("--force")
        self.assertEqual(status, 0, out + err)
        self.assertNotEqual(self.read("ca.pem"), pem, "ca init --force did not replace the CA")

    def test_ca_is_a_ca(self):
        self.assertEqual(self.init()[0], 0)
        r = openssl(["x509", "-in", os.path.join(self.data, "ca.pem"), "-noout", "-text"])
        text = r.stdout.decode()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(text, r"Basic Constraints: critical\s+CA:TRUE")
        self.assertRegex(text, r"Key Usage: critical\s+Certificate Sign, CRL Sign")
        self.assertIn("hoplens", text.split("Subject:")[1].splitlines()[0])
        self.assertIn("ASN1 OID: prime256v1", text, "default key type is ecdsa-p256")

    def test_rsa_key_type(self):
        status, out, err = self.init("--key-type", "rsa-2048")
        self.assertEqual(status, 0, out + err)
        r = openssl(["x509", "-in", os.path.join(self.data, "ca.pem"), "-noout", "-text"])
        self.assertIn("Public-Key: (2048 bit)", r.stdout.decode())

    def test_export_pem_and_der(self):
        self.assertEqual(self.init()[0], 0)
        pem_file = os.path.join(self.data, "ca.pem")
        want = openssl(["x509", "-in", pem_file, "-noout", "-fingerprint", "-sha256"]).stdout

        r = procs.run([env.hoplens_bin(), "ca", "export", "--data-dir", self.data], timeout=15)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(r.stdout.startswith(b"-----BEGIN CERTIFICATE-----"), r.stdout[:80])
        got = openssl(["x509", "-noout", "-fingerprint", "-sha256"], input_bytes=r.stdout)
        self.assertEqual(got.stdout, want, "ca export (PEM) is not ca.pem")

        r = procs.run([env.hoplens_bin(), "ca", "export", "--data-dir", self.data, "--der"], timeout=15)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout[:1], b"\x30", "DER starts with a SEQUENCE tag")
        got = openssl(["x509", "-inform", "der", "-noout", "-fingerprint", "-sha256"], input_bytes=r.stdout)
        self.assertEqual(got.returncode, 0, got.stderr)
        self.assertEqual(got.stdout, want, "ca export --der is not ca.pem")

    def test_export_without_ca(self):
        status, out, err = hoplens.run_cli(["ca", "export", "--data-dir", self.data])
        lines = hoplens.message_lines(out, err)
        self.assertEqual(status, 1, lines)
        self.assertEqual(len(lines), 1, lines)


class InfoCommands(unittest.TestCase):
    def test_version(self):
        status, out, err = hoplens.run_cli(["--version"])
        self.assertEqual(status, 0, err)
        self.assertIn("hoplens", out.lower())
        self.assertIn("OpenSSL", out)
        self.assertIn("Boost", out)

    def test_help_lists_options_with_defaults(self):
        status, out, err = hoplens.run_cli(["--help"])
        self.assertEqual(status, 0, err)
        for option in ("--listen", "--data-dir", "--upstream-ca", "--insecure-upstream", "--map",
                       "--passthrough", "--allow", "--har", "--pcapng", "--keylog", "--access-log",
                       "--diag", "--backlog", "--threads", "--config", "--log-level"):
            self.assertIn(option, out, f"--help does not list {option}")
        self.assertIn("explicit@127.0.0.1:8080", out, "--help should show --listen's default")
        self.assertIn("4096", out, "--help should show --backlog's default")
        self.assertIn("127.0.0.1:9090", out, "--help should show --diag's default")


if __name__ == "__main__":
    env.require_tools("openssl")
    env.hoplens_bin()
    unittest.main(verbosity=2)
