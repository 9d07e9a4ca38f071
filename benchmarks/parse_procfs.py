"""Parse cost of the procfs parsers against the raw read of the same real file.

For each file (/proc/net/dev, /proc/net/tcp, tcp6, udp, udp6, /proc/diskstats,
/proc/self/stat, /proc/self/schedstat) on this machine:

* read: the whole file through a kept fd, as the sampler's engine reads it:
  preads from offset 0 into a buffer larger than the file, each where the last
  ended, until one returns 0 -- except that a first read shorter than a page
  minus the longest record is the whole file (seq_file stops a read short of
  its page only at the end), and single-record files (stat, schedstat) take
  one read. Timed in a C loop (a small C file built here with the system
  compiler, loaded with ctypes), so no Python runs between the reads. A
  seq_file read returns at most about a page, so a large /proc/net/tcp takes
  one read per ~27 sockets;
* parse: the native parser on the bytes of one such read, timed in a nogil C
  loop inside its module (`time_parse`), no Python objects;
* parse / read: what parsing adds to the floor (target: at most 10 %).

Each figure is the median of --rounds rounds, each round running a loop long
enough for ~--seconds. `--sockets N` first opens N loopback TCP connections
(2N + 1 sockets in /proc/net/tcp) to show how both costs grow with the table.

    python benchmarks/parse_procfs.py
    python benchmarks/parse_procfs.py --sockets 1000
"""
from __future__ import annotations

import argparse
import ctypes
import hashlib
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.environ.get("PYTHONPATH") or os.path.join(HERE, "..", "src"))

from cgsampler._native import diskstats, procnet, procpid

C_SOURCE = r"""
#include <time.h>
#include <unistd.h>
/* ns for `reps` reads of the whole file behind fd: preads from offset 0 on,
 * each where the last one ended, until one returns 0 -- or, when the first
 * returned fewer than `short_first` bytes, after that one (a seq_file read
 * stops short of a page only at the end of the file: the engine's rule).
 * *last = bytes of the last whole read; -1 on a read error, -2 if cap is
 * too small. */
long long read_loop(int fd, char *buf, long cap, long reps, long short_first, long *last)
{
    struct timespec t0, t1;
    long total = 0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (long i = 0; i < reps; i++) {
        total = 0;
        for (;;) {
            ssize_t n = pread(fd, buf + total, (size_t)(cap - total), total);
            if (n < 0)
                return -1;
            if (n == 0)
                break;
            total += n;
            if (total >= cap)
                return -2;
            if (total == n && n < short_first)
                break;
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    *last = total;
    return (long long)(t1.tv_sec - t0.tv_sec) * 1000000000LL + (t1.tv_nsec - t0.tv_nsec);
}
"""

PAGE = os.sysconf("SC_PAGESIZE")
MAX_RECORD = 512                 # longer than any line of these files
MULTI = PAGE - MAX_RECORD        # multi-record (seq_file) files: the engine's short-first-read rule
SINGLE = 1 << 62                 # single-record files: one read

FILES = [
    # (path, parser, read rule, parse(data, reps) -> ns)
    ("/proc/net/dev", "net_dev", MULTI, lambda d, r: procnet.time_parse("net_dev", d, r)),
    ("/proc/net/tcp", "tcp_states", MULTI, lambda d, r: procnet.time_parse("tcp", d, r)),
    ("/proc/net/tcp6", "tcp_states", MULTI, lambda d, r: procnet.time_parse("tcp", d, r)),
    ("/proc/net/udp", "udp_stats", MULTI, lambda d, r: procnet.time_parse("udp", d, r)),
    ("/proc/net/udp6", "udp_stats", MULTI, lambda d, r: procnet.time_parse("udp", d, r)),
    ("/proc/diskstats", "diskstats", MULTI, lambda d, r: diskstats.time_parse(d, r)),
    ("/proc/self/stat", "pid_stat", SINGLE, lambda d, r: procpid.time_parse("stat", d, r)),
    ("/proc/self/schedstat", "pid_schedstat", SINGLE, lambda d, r: procpid.time_parse("schedstat", d, r)),
]


def load_read_loop():
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if not cc:
        sys.exit("no C compiler (cc/gcc) to build the pread loop")
    cache = os.path.join(os.environ.get("XDG_CACHE_HOME") or tempfile.gettempdir(),
                         f"cgsampler-bench-{os.getuid()}")
    os.makedirs(cache, exist_ok=True)
    so = os.path.join(cache, f"read-loop-{hashlib.sha256(C_SOURCE.encode()).hexdigest()[:12]}.so")
    if not os.path.exists(so):
        src = so[:-3] + ".c"
        with open(src, "w") as f:
            f.write(C_SOURCE)
        subprocess.run([cc, "-O2", "-shared", "-fPIC", "-o", so + ".tmp", src], check=True)
        os.replace(so + ".tmp", so)
    lib = ctypes.CDLL(so)
    lib.read_loop.restype = ctypes.c_longlong
    lib.read_loop.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_long, ctypes.c_long, ctypes.c_long,
                              ctypes.POINTER(ctypes.c_long)]
    return lib


def calibrate(run, seconds):
    """reps such that run(reps) takes about `seconds`."""
    reps = 1
    while True:
        ns = run(reps)
        if ns >= seconds * 1e9 / 10 or reps >= 1 << 30:
            return max(1, int(reps * seconds * 1e9 / max(ns, 1)))
        reps *= 10


def measure(lib, path, rule, parse, rounds, seconds):
    fd = os.open(path, os.O_RDONLY)
    try:
        cap = 1 << 16
        last = ctypes.c_long()
        while True:                 # a buffer the whole file fits in, with room to spare
            buf = ctypes.create_string_buffer(cap)
            rc = lib.read_loop(fd, buf, cap, 1, rule, ctypes.byref(last))
            if rc == -2 or last.value > cap // 2:
                cap *= 4
                continue
            if rc < 0:
                raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()), path)
            break
        data = buf.raw[:last.value]

        def read_ns(reps):
            ns = lib.read_loop(fd, buf, cap, reps, rule, ctypes.byref(last))
            if ns < 0:
                raise OSError(f"{path}: read_loop failed ({ns})")
            return ns

        read_reps = calibrate(read_ns, seconds)
        parse_reps = calibrate(lambda r: parse(data, r), seconds)
        reads, parses = [], []
        for _ in range(rounds):     # interleaved, so drift hits both alike
            reads.append(read_ns(read_reps) / read_reps)
            parses.append(parse(data, parse_reps) / parse_reps)
        return {"size": len(data), "lines": data.count(b"\n"), "read": statistics.median(reads),
                    "parse": statistics.median(parses)}
    finally:
        os.close(fd)


def open_connections(n):
    """n loopback TCP connections (kept open until exit): 2n + 1 sockets in /proc/net/tcp."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 2 * n + 64
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(min(n, 4096) or 1)
    kept = [listener]
    for _ in range(n):
        c = socket.create_connection(listener.getsockname())
        s, _ = listener.accept()
        kept += [c, s]
    return kept


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--seconds", type=float, default=0.05, help="length of one timed loop")
    ap.add_argument("--sockets", type=int, default=0, help="loopback TCP connections to open first")
    args = ap.parse_args(argv)
    lib = load_read_loop()
    kept = open_connections(args.sockets) if args.sockets else []
    print(f"kernel {os.uname().release}, {os.cpu_count()} CPUs; {args.sockets} extra loopback TCP "
          f"connections; median of {args.rounds} rounds")
    print()
    print("| file | parser | bytes | lines | read (preads) | parse | parse / read |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for path, label, rule, parse in FILES:
        if not os.path.exists(path):
            print(f"| `{path}` | {label} | - | - | - | - | missing |")
            continue
        m = measure(lib, path, rule, parse, args.rounds, args.seconds)
        print(f"| `{path}` | {label} | {m['size']} | {m['lines']} | {m['read']:,.0f} ns | "
              f"{m['parse']:,.0f} ns | {100 * m['parse'] / m['read']:.1f} % |")
    for s in kept:
        s.close()


if __name__ == "__main__":
    main()
