#!/usr/bin/env python3
"""System time of writing a capture-sized file the ways proxy/capture_file.hpp could,
alternating, one line per run:
  plain        pwrite through the page cache;
  preallocate  its blocks allocated ahead (fallocate FALLOC_FL_KEEP_SIZE, STEP_MIB at a time);
  write-behind preallocated, and each full WB_STEP_MIB of the file sent to the disk at once
               (sync_file_range) and, LAG steps later, dropped from the page cache
               (posix_fadvise DONTNEED), as the proxy does.
`cached` is how much of the file the page cache holds when the writing ends.

Env knobs: DIR (/var/tmp), GIB (2), PIECE_KIB (256), STEP_MIB (16), WB_STEP_MIB (8), LAG (2),
RUNS (4 of each), MODES (plain,preallocate,write-behind)."""
import ctypes
import os
import re
import resource
import time

libc = ctypes.CDLL("libc.so.6", use_errno=True)
libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_long, ctypes.c_long]
libc.sync_file_range.argtypes = [ctypes.c_int, ctypes.c_long, ctypes.c_long, ctypes.c_uint]
FALLOC_FL_KEEP_SIZE = 1
SYNC_FILE_RANGE_WRITE = 2

DIR = os.environ.get("DIR", "/var/tmp")
TOTAL = int(float(os.environ.get("GIB", "2")) * (1 << 30))
PIECE = int(os.environ.get("PIECE_KIB", "256")) << 10
STEP = int(os.environ.get("STEP_MIB", "16")) << 20
WB_STEP = int(os.environ.get("WB_STEP_MIB", "8")) << 20
LAG = int(os.environ.get("LAG", "2")) * WB_STEP
RUNS = int(os.environ.get("RUNS", "4"))
MODES = os.environ.get("MODES", "plain,preallocate,write-behind").split(",")


def cached_mib():
    return int(re.search(r"^Cached:\s+(\d+)", open("/proc/meminfo").read(), re.M).group(1)) >> 10


def run(path, mode):
    piece = os.urandom(PIECE)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    cached_before = cached_mib()
    before, start = resource.getrusage(resource.RUSAGE_SELF), time.monotonic()
    offset = allocated = written_back = dropped_to = 0
    while offset < TOTAL:
        if mode != "plain" and offset + PIECE > allocated:
            if libc.fallocate(fd, FALLOC_FL_KEEP_SIZE, allocated, STEP) != 0:
                raise OSError(ctypes.get_errno(), "fallocate")
            allocated += STEP
        os.pwrite(fd, piece, offset)
        offset += PIECE
        full = offset // WB_STEP * WB_STEP
        if mode == "write-behind" and full > written_back:
            libc.sync_file_range(fd, written_back, full - written_back, SYNC_FILE_RANGE_WRITE)
            written_back = full
            if full > LAG:
                drop_from = max(dropped_to - LAG, 0)
                dropped_to = full - LAG
                os.posix_fadvise(fd, drop_from, dropped_to - drop_from, os.POSIX_FADV_DONTNEED)
    after = resource.getrusage(resource.RUSAGE_SELF)
    cached = cached_mib() - cached_before
    os.close(fd)
    os.unlink(path)
    print(f"{mode:12} system {after.ru_stime - before.ru_stime:.2f} s "
          f"wall {time.monotonic() - start:.2f} s cached {cached} MiB", flush=True)


def main():
    path = os.path.join(DIR, f"hoplens-capture-write-{os.getpid()}")
    for _ in range(RUNS):
        for mode in MODES:
            run(path, mode)
            time.sleep(2)  # past the balloon's free-page reporting delay: every run starts alike


if __name__ == "__main__":
    main()
