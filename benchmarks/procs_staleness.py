"""Reproducer: on cgroup v1, a kept-open cgroup.procs fd re-read with
pread(fd, buf, n, 0) faster than about once a second keeps returning the pid
list of its first read, so Sampler's process_count does not follow processes
joining or leaving the container.

Kernel mechanism (kernel/cgroup/cgroup-v1.c): v1 cgroup.procs is served from a
cached "pidlist". cgroup_pidlist_start() reuses the pidlist of an open file
while it still exists, and cgroup_pidlist_stop() re-arms its destruction
CGROUP_PIDLIST_DESTROY_DELAY (1 s) later, so a reader polling faster than that
never triggers a rebuild. A fresh open() gets a new file context and rebuilds
the list (which also refreshes the kept fds of the same cgroup until the next
rebuild). cgroup v2's cgroup.procs iterates tasks on every read and is fine.

    sudo python -m benchmarks.procs_staleness [--hz 100] [--seconds 3]

Prints what the sampler's process_count shows after a process joins and after
it exits, next to a fresh read of the file, and the per-container cost (C,
benchmarks/floor.c) of reading cgroup.procs of 100 one-process containers: the
engine's way since 567fdaa (openat() on its kept O_PATH directory fd, one pread:
the EOF read is skipped for a short read, close), the same with the EOF read,
open by path + fstat (the engine's way past the fd budget, and for every slot
at 35d711c), and a kept fd (cheapest, and stale).
Exit status 1 when the count is stale.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

from benchmarks import cgroups, floor


def _fresh_count(path: str) -> int:
    with open(path, "rb") as f:
        return len(f.read().split())


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--hz", type=float, default=100.0, help="sampling rate")
    ap.add_argument("--seconds", type=float, default=3.0, help="how long to watch each change")
    args = ap.parse_args(argv)
    why = cgroups.unavailable()
    if why:
        print(why, file=sys.stderr)
        return 2
    from cgsampler import Sampler

    period = 1.0 / args.hz
    stale = False
    with cgroups.CgroupSet(1) as cs:
        procs_path = os.path.join(cs.dirs(0)["cpu"], "cgroup.procs")
        s = Sampler(containers=cs.names, history=4)
        try:
            def count():
                return int(s.stats[-1][0]["process_count"])

            def watch(expected):
                t0 = time.monotonic()
                while time.monotonic() - t0 < args.seconds:
                    s.sample()
                    if count() == expected:
                        return time.monotonic() - t0
                    time.sleep(period)
                return None

            s.sample()
            print(f"empty container: process_count {count()}")
            p = subprocess.Popen(["sleep", "1000"])
            try:
                for d in cs.dirs(0).values():
                    with open(os.path.join(d, "cgroup.procs"), "w") as f:
                        f.write(str(p.pid))
                seen = watch(1)
                print(f"process joined, sampling at {args.hz:g} Hz: "
                      + (f"counted after {seen:.3f} s" if seen is not None else
                         f"still {count()} after {args.seconds:g} s")
                      + f" (a fresh read of cgroup.procs says {_fresh_count(procs_path)})")
                stale |= seen is None
                s.sample()
                print(f"after that fresh read: process_count {count()}")
            finally:
                p.kill()
                p.wait()
            seen = watch(0)
            print(f"process exited, sampling at {args.hz:g} Hz: "
                  + (f"gone after {seen:.3f} s" if seen is not None else
                     f"still {count()} after {args.seconds:g} s")
                  + f" (a fresh read says {_fresh_count(procs_path)})")
            stale |= seen is None
        finally:
            s.close()

    if floor.load() is not None:
        with cgroups.CgroupSet(100, sleepers=100) as cs:
            s = Sampler(containers=cs.names, history=4)
            series = ()
            try:
                fds = floor.open_fds_by_path()
                series = (
                    ("openat(sampler's O_PATH dir fd) + 1 pread + close (the engine)",
                     floor.ExactFloor(s, cs.names, files={"cgroup.procs"}, by_path=fds)),
                    ("openat(sampler's O_PATH dir fd) + preads until 0 + close",
                     floor.ExactFloor(s, cs.names, files={"cgroup.procs"}, mode="until_zero", by_path=fds)),
                    ("open by path + fstat + 1 pread + close (past the fd budget)",
                     floor.ExactFloor(s, cs.names, files={"cgroup.procs"}, reopen="path")),
                    ("kept fd, 1 pread (stale)",
                     floor.ExactFloor(s, cs.names, files={"cgroup.procs"}, keep=True, by_path=fds)),
                )
                assert series[0][1].opened_at == cs.n, "the sampler's directory fds were not found"
                res = {label: [] for label, _ in series}
                for _ in range(15):
                    for label, fn in series:
                        fn()
                        t0 = time.thread_time_ns()
                        for _ in range(100):
                            fn()
                        res[label].append((time.thread_time_ns() - t0) / 100 / 100 / 1000)
                for label, xs in res.items():
                    xs.sort()
                    print(f"cgroup.procs of 100 one-process containers, {label}: "
                          f"{xs[len(xs) // 2]:.2f} us per container (CPU, median of 15)")
            finally:
                for _, x in series:
                    x.close()
                s.close()
    print("STALE: process_count does not follow the container's processes" if stale else
          "process_count followed the changes")
    return 1 if stale else 0


if __name__ == "__main__":
    raise SystemExit(main())
