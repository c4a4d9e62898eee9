#!/usr/bin/env python3
"""System time of writing a capture-sized file through the page cache, with and without its
blocks allocated ahead (fallocate FALLOC_FL_KEEP_SIZE, as proxy/capture_file.hpp does),
alternating. Prints one line per run.

Env knobs: DIR (/var/tmp), GIB (2), PIECE_KIB (256), STEP_MIB (16, the preallocation step),
RUNS (6 of each)."""
import ctypes
import os
import resource
import time

libc = ctypes.CDLL("libc.so.6", use_errno=True)
libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_long, ctypes.c_long]
FALLOC_FL_KEEP_SIZE = 1

DIR = os.environ.get("DIR", "/var/tmp")
TOTAL = int(float(os.environ.get("GIB", "2")) * (1 << 30))
PIECE = int(os.environ.get("PIECE_KIB", "256")) << 10
STEP = int(os.environ.get("STEP_MIB", "16")) << 20
RUNS = int(os.environ.get("RUNS", "6"))


def run(path, preallocate):
    piece = os.urandom(PIECE)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    before, start = resource.getrusage(resource.RUSAGE_SELF), time.monotonic()
    offset = allocated = 0
    while offset < TOTAL:
        if preallocate and offset + PIECE > allocated:
            if libc.fallocate(fd, FALLOC_FL_KEEP_SIZE, allocated, STEP) != 0:
                raise OSError(ctypes.get_errno(), "fallocate")
            allocated += STEP
        os.pwrite(fd, piece, offset)
        offset += PIECE
    after = resource.getrusage(resource.RUSAGE_SELF)
    os.close(fd)
    os.unlink(path)
    print(f"preallocate={int(preallocate)} system {after.ru_stime - before.ru_stime:.2f} s "
          f"wall {time.monotonic() - start:.2f} s", flush=True)


def main():
    path = os.path.join(DIR, f"hoplens-prealloc-{os.getpid()}")
    for _ in range(RUNS):
        for preallocate in (False, True):
            run(path, preallocate)


if __name__ == "__main__":
    main()
