"""Where things are: the hoplens binary, the artifact dir, temp dirs; skipping (exit 77)."""
import importlib
import os
import shutil
import sys
import tempfile

SKIP = 77


def skip(reason):
    print(f"SKIP: {reason}", flush=True)
    sys.exit(SKIP)


def import_debian_module(name):
    """Imports a Python module that scripts/install-deps.sh installs with apt. apt installs
    modules for Debian's own python3: a python3 from elsewhere that comes first in PATH
    (pyenv, on some of these machines) looks for them in Debian's directory last."""
    try:
        return importlib.import_module(name)
    except ImportError:
        sys.path.append("/usr/lib/python3/dist-packages")
        return importlib.import_module(name)


def require_tools(*names):
    """Exit 77 when one of the peers a test drives is not installed."""
    missing = [n for n in names if shutil.which(n) is None]
    if missing:
        skip("missing tools: " + ", ".join(missing))


def source_dir():
    here = os.path.dirname(os.path.abspath(__file__))
    return os.environ.get("HOPLENS_SOURCE_DIR") or os.path.abspath(os.path.join(here, "..", "..", ".."))


def hoplens_bin():
    """HOPLENS_BIN (set by ctest), else the usual build dirs. A missing binary is a failure."""
    candidates = [os.environ.get("HOPLENS_BIN")]
    candidates += [os.path.join(source_dir(), d, "proxy", "hoplens") for d in ("build", "build-it")]
    for c in candidates:
        if c and os.access(c, os.X_OK):
            return c
    raise SystemExit(f"FAIL: hoplens binary not found (HOPLENS_BIN={os.environ.get('HOPLENS_BIN')!r})")


def artifacts_dir(test_name):
    base = os.environ.get("HOPLENS_ARTIFACTS") or os.path.join(tempfile.gettempdir(), "hoplens-artifacts")
    path = os.path.join(base, test_name)
    os.makedirs(path, exist_ok=True)
    return path


def temp_dir(prefix):
    """A private temp dir; removed by the caller (or left for inspection when KEEP_TMP=1)."""
    return tempfile.mkdtemp(prefix=f"hoplens-{prefix}-")


def remove_dir(path):
    if os.environ.get("KEEP_TMP") == "1":
        print(f"kept {path}", flush=True)
        return
    shutil.rmtree(path, ignore_errors=True)
