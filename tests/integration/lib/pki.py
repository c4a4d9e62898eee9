"""A test CA and server leaves, made with the openssl CLI (EC P-256)."""
import os

from . import procs


def _openssl(*args, cwd=None):
    r = procs.run(["openssl", *args], timeout=30.0)
    if r.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args)} failed: {r.stderr.decode(errors='replace')}")
    return r.stdout


def make_ca(directory, name="origin"):
    """Writes NAME-ca.pem / NAME-ca.key in directory; returns (cert, key) paths."""
    cert = os.path.join(directory, f"{name}-ca.pem")
    key = os.path.join(directory, f"{name}-ca.key")
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", key, "-out", cert, "-days", "30", "-subj", f"/CN=hoplens-test {name} CA",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    return cert, key


def make_leaf(directory, ca, dns_names, ips=(), name=None):
    """A serverAuth leaf for dns_names + ips signed by ca=(cert, key); returns (cert, key)."""
    name = name or dns_names[0]
    cert = os.path.join(directory, f"{name}.pem")
    key = os.path.join(directory, f"{name}.key")
    csr = os.path.join(directory, f"{name}.csr")
    ext = os.path.join(directory, f"{name}.ext")
    san = ",".join([f"DNS:{d}" for d in dns_names] + [f"IP:{i}" for i in ips])
    with open(ext, "w") as f:
        f.write(f"subjectAltName={san}\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n"
                "keyUsage=critical,digitalSignature\n")
    _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", key, "-out", csr, "-subj", f"/CN={dns_names[0]}")
    _openssl("x509", "-req", "-in", csr, "-CA", ca[0], "-CAkey", ca[1], "-set_serial",
             str(int.from_bytes(os.urandom(8), "big")), "-days", "30", "-extfile", ext, "-out", cert)
    return cert, key


def verify(leaf_pem_path, ca_path, hostname=None):
    """(ok, output) of `openssl verify` of a leaf against exactly one CA file."""
    args = ["openssl", "verify", "-CAfile", ca_path, "-purpose", "sslserver"]
    if hostname:
        args += ["-verify_hostname", hostname]
    r = procs.run(args + [leaf_pem_path], timeout=30.0)
    return r.returncode == 0, (r.stdout + r.stderr).decode(errors="replace").strip()


def fingerprint(pem_path):
    return _openssl("x509", "-in", pem_path, "-noout", "-fingerprint", "-sha256").decode().strip()


def issuer(pem_path):
    return _openssl("x509", "-in", pem_path, "-noout", "-issuer").decode().strip()
