"""Cost of FsSampler.sample (statfs of every partition + /proc/diskstats read,
parsed and joined) against its floor: the same syscalls in a C loop with no
parsing (FsSampler.time_floor). Both loops run nogil inside the extension; the
rounds interleave them and the best of --repeat rounds is printed, in µs per
sample. Also shown: one Python call of sample() per sample, and a naive Python
equivalent (os.statvfs per mount point + open/read/split of /proc/diskstats).

    python benchmarks/fs_bench.py [--reps 2000] [--repeat 7]

Cases: /proc/diskstats alone, this host's partition table
(cgsampler.filesystems.partitions()), and the same mount points repeated to 64
filesystems.
"""
import argparse
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "src"))

from cgsampler.filesystems import fs_sampler, partitions  # noqa: E402


def naive(parts):
    out = []
    for p in parts:
        try:
            out.append(os.statvfs(p.mountpoint))
        except OSError:
            out.append(None)
    with open("/proc/diskstats") as f:
        disks = {(int(t[0]), int(t[1])): [int(x) for x in t[3:14]] for t in map(str.split, f) if len(t) >= 14}
    return out, [disks.get((p.major, p.minor)) for p in parts]


def per_sample_us(fn, reps):
    return fn(reps) / reps / 1000


def python_calls_us(s, reps):
    t0 = time.perf_counter_ns()
    for r in range(reps):
        s.sample(r % 64)
    return (time.perf_counter_ns() - t0) / reps / 1000


def naive_us(parts, reps):
    t0 = time.perf_counter_ns()
    for _ in range(reps):
        naive(parts)
    return (time.perf_counter_ns() - t0) / reps / 1000


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=2000, help="samples per timed loop")
    ap.add_argument("--repeat", type=int, default=7, help="interleaved rounds; the best is kept")
    args = ap.parse_args()

    host = partitions()
    with open("/proc/diskstats", "rb") as f:
        disk_lines = f.read().count(b"\n")
    cases = [("/proc/diskstats only (0 filesystems)", []),
             (f"this host: {len(host)} filesystems", host),
             ("64 filesystems (host's, repeated)", (host * (64 // len(host) + 1))[:64])]
    print(f"/proc/diskstats: {disk_lines} lines; {args.reps} samples per loop, best of {args.repeat}")
    print()
    print("| case | sample() nogil loop | C floor | ratio | sample() per Python call | naive Python |")
    print("|---|---|---|---|---|---|")
    for label, parts in cases:
        s = fs_sampler(parts, 64)
        s.sample(0)                     # sizes the read buffer
        best = {"loop": [], "floor": [], "call": [], "naive": []}
        for _ in range(args.repeat):
            best["floor"].append(per_sample_us(s.time_floor, args.reps))
            best["loop"].append(per_sample_us(s.time_sample, args.reps))
            best["call"].append(python_calls_us(s, args.reps))
            best["naive"].append(naive_us(parts, max(args.reps // 4, 1)))
        b = {k: min(v) for k, v in best.items()}
        print(f"| {label} | {b['loop']:.2f} µs | {b['floor']:.2f} µs | {b['loop'] / b['floor']:.2f} "
              f"| {b['call']:.2f} µs | {b['naive']:.2f} µs |")


if __name__ == "__main__":
    main()
