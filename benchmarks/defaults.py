"""The measurements behind the sampler's default intervals (benchmarks/README.md, "Defaults").

    sudo python benchmarks/defaults.py [--memcgs 300] [--mib 4] [--rounds 7]

(a) memory.stat of the root against a leaf's, with many charged memory cgroups:
    --memcgs v1 memory cgroups under one parent (benchmarks/cgroups.py), filled
    in steps of a third: each step starts a toucher (benchmarks/toucher.c) in a
    third of them that writes --mib MiB of anonymous memory and sleeps. After
    each step: one pread of /sys/fs/cgroup/memory/memory.stat (the root, "/"),
    of the parent of the --memcgs, and of one populated leaf, through kept fds
    in a C loop (benchmarks/full_floor.c's ff_pread_cpu: one read, as the sweep
    reads this single-record file), µs of thread CPU time per read, median of
    --rounds rounds.
    Also: the same root read once right after a fresh toucher charged its pages
    (the first read after charges pays the rstat flush), and the whole sweep
    of one container ("/" alone, memory group alone) for scale.

(b) cost per process / thread of the per-process groups, for one cgroup holding
    P = 1, 10, 100 sleeping processes (one thread each):
    - schedstat: Sampler(containers=[it], only schedstat): cgroup.procs +
      openat/pread/close of each <pid>/schedstat + summing; floor: the
      sampler's read_only_sweep() + the same per-process reads in C;
    - processes (fd count): the same with only the processes group (one
      fstatat of <pid>/fd per process);
    - load counted from /proc (what cgroup v2 does, and v1 without taskstats):
      taskstats.time_count_task_states on the v1 cpu directory (tasks opened per
      read, then open/pread/close of each /proc/<tid>/stat and its parse, nogil
      loop); floor: the open + read of tasks and of each stat in C;
    - load by taskstats (v1): one CGROUPSTATS_CMD_GET round trip per cgroup,
      whatever P (Taskstats.time_cgroupstats).
    µs per sweep of that cgroup and per process, median of --rounds rounds.

Socket tables per namespace: benchmarks/sockets_bench.py and full_sweep.py.
"""
from __future__ import annotations

import argparse
import ctypes
import os
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
if REPO not in sys.path:
    sys.path.insert(0, REPO)
try:
    import cgsampler  # noqa: F401
except ImportError:
    sys.path.insert(0, os.path.join(REPO, "src"))

from benchmarks import cgroups  # noqa: E402
from benchmarks.full_sweep import (FF_PROC_SCHEDSTAT, FF_PROC_FD, FF_PROC_STAT, build, check,  # noqa: E402
                                   load_floor_lib, make_sampler, run_rounds, spawn_in, wait_in)
from cgsampler._native import taskstats  # noqa: E402

MEMROOT = "/sys/fs/cgroup/memory"
LOOP = 20               # nogil loop length of the timing helpers (their set-up is paid once per call)


class KeptRead:
    """One file on a kept fd, read by a C loop (one pread: a single-record file),
    timed in thread CPU time (full_floor.c's ff_pread_cpu)."""

    def __init__(self, lib, path):
        self.lib, self.path = lib, path
        self.fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        self.last = ctypes.c_long()

    def ns(self, reps):
        r = self.lib.ff_pread_cpu(self.fd, ctypes.c_long(reps), ctypes.byref(self.last))
        if r < 0:
            raise OSError(f"read_loop({self.path}) = {r}")
        return r

    def once_us(self):
        return self.ns(1) / 1000

    def close(self):
        os.close(self.fd)


def median_us(fn_ns, rounds, reps):
    return statistics.median(fn_ns(reps) / reps for _ in range(rounds)) / 1000


def memory_part(args, rl):
    out = []
    memcgs = sum(1 for _ in os.walk(MEMROOT)) - 1
    print(f"(a) memory.stat: {memcgs} memory cgroups on this host before the run; "
          f"{args.memcgs} made, filled a third at a time, {args.mib} MiB each", flush=True)
    toucher = build("toucher.c", shared=False)
    cs = cgroups.CgroupSet(args.memcgs, controllers=("memory",)).create()
    procs = []
    try:
        root = KeptRead(rl, os.path.join(MEMROOT, "memory.stat"))
        parent = KeptRead(rl, os.path.join(MEMROOT, cs.parent, "memory.stat"))
        leaf = KeptRead(rl, os.path.join(cs.dirs(0)["memory"], "memory.stat"))
        steps = [0] + [args.memcgs * k // 3 for k in (1, 2, 3)]
        done = 0
        for target in steps:
            first_after = None
            while done < target:
                p = subprocess.Popen([toucher, str(args.mib), os.path.join(cs.dirs(done)["memory"], "cgroup.procs")],
                                     stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
                procs.append(p)
                if p.stdout.readline().strip() != b"ok":
                    raise RuntimeError("a toucher failed")
                done += 1
            if target:
                first_after = root.once_us()          # the first read after the charges: pays the flush
            reps = 200
            row = {"populated": done, "root": median_us(root.ns, args.rounds, reps),
                   "parent": median_us(parent.ns, args.rounds, reps),
                   "leaf": median_us(leaf.ns, args.rounds, reps), "first": first_after,
                   "root_bytes": root.last.value}
            out.append(row)
            print(f"  populated {done:4d}: root {row['root']:.1f} µs ({row['root_bytes']} B), parent "
                  f"{row['parent']:.1f}, leaf {row['leaf']:.1f}, first root read after the charges "
                  f"{'-' if first_after is None else f'{first_after:.1f}'} µs", flush=True)
        total = sum(1 for _ in os.walk(MEMROOT)) - 1
        # For scale: a sweep of "/" alone with only the memory group, and of one leaf.
        with make_sampler(["/"], ["memory"], None) as s_root, \
                make_sampler([cs.names[0]], ["memory"], None) as s_leaf:
            def sw(s):
                def f(reps):
                    t0 = time.thread_time_ns()
                    for _ in range(reps):
                        s.sample()
                    return time.thread_time_ns() - t0
                return f
            root_sweep = median_us(sw(s_root), args.rounds, 200)     # thread CPU
            leaf_sweep = median_us(sw(s_leaf), args.rounds, 200)
        print(f"  memory group alone, one sweep of one container: '/' {root_sweep:.1f} µs, a leaf "
              f"{leaf_sweep:.1f} µs ({total} memory cgroups on the host)", flush=True)
        for k in (root, parent, leaf):
            k.close()
    finally:
        for p in procs:
            p.kill()
        for p in procs:
            p.wait()
        cs.remove()
    return out


def process_part(args, ff):
    print(f"(b) per-process groups, one cgroup with P sleeping processes; µs per sweep of it "
          f"(per process), median of {args.rounds} rounds", flush=True)
    cs = cgroups.CgroupSet(1).create()
    procs = []
    ts = taskstats.Taskstats()
    cpu_dir = cs.dirs(0)["cpu"]
    proc_fd = os.open("/proc", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    cpu_fd = os.open(cpu_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    sleep = shutil.which("sleep") or "/bin/sleep"
    files = [os.path.join(d, "cgroup.procs") for d in cs.dirs(0).values()]
    rows = []
    try:
        print("| P | schedstat sweep | its floor | processes (fd count) sweep | its floor | "
              "load from /proc (count_task_states) | its floor | load by taskstats |")
        print("|---:|---|---|---|---|---|---|---|")
        for p_target in (1, 10, 100):
            deadline = time.monotonic() + 30
            while len(procs) < p_target:
                p = spawn_in(files, [sleep, "1000000"])
                procs.append(p)
                wait_in(files[0], p, deadline)
            with open(files[0]) as f:
                pids = [int(x) for x in f.read().split()]
            assert len(pids) == p_target, pids
            arr = (ctypes.c_uint * len(pids))(*pids)
            n = ctypes.c_long(len(pids))
            s_sched = make_sampler(cs.names, ["schedstat"], None)
            s_procs = make_sampler(cs.names, ["processes"], None)
            s_sched.sample()
            s_procs.sample()

            def floor_sched():
                s_sched._engine.read_only_sweep()
                check(ff.ff_proc(proc_fd, arr, n, FF_PROC_SCHEDSTAT), "schedstat")

            def floor_procs():
                s_procs._engine.read_only_sweep()
                check(ff.ff_proc(proc_fd, arr, n, FF_PROC_FD), "fd")

            def floor_load():
                check(ff.ff_openat_read(cpu_fd, b"tasks"), "tasks")
                check(ff.ff_proc(proc_fd, arr, n, FF_PROC_STAT), "stat")

            series = {"sched": s_sched.sample, "sched_floor": floor_sched,
                      "procs": s_procs.sample, "procs_floor": floor_procs,
                      "load": lambda: taskstats.time_count_task_states(cpu_dir, LOOP),
                      "load_floor": floor_load,
                      "taskstats": lambda: ts.time_cgroupstats(cpu_dir, LOOP)}
            res = run_rounds(series, args.rounds, 15e6)
            for k in ("load", "taskstats"):      # one call = LOOP sweeps of that group
                res[k] = [(w / LOOP, c / LOOP) for w, c in res[k]]
            s_sched.close()
            s_procs.close()
            m = {k: statistics.median(x[1] for x in v) / 1000 for k, v in res.items()}   # CPU µs
            rows.append((p_target, m))
            cell = lambda k: f"{m[k]:.1f} ({m[k] / p_target:.2f})"   # noqa: E731
            print(f"| {p_target} | {cell('sched')} | {cell('sched_floor')} | {cell('procs')} | "
                  f"{cell('procs_floor')} | {cell('load')} | {cell('load_floor')} | {m['taskstats']:.1f} |",
                  flush=True)
        (_, a), (_, b) = rows[0], rows[-1]
        span = rows[-1][0] - rows[0][0]
        print("  marginal µs per added process (P=1 -> 100): " + ", ".join(
            f"{k} {(b[k] - a[k]) / span:.2f}" for k in ("sched", "sched_floor", "procs", "procs_floor",
                                                         "load", "load_floor")), flush=True)
        print("  (thread CPU time; the Python call of sample() and of the timing helpers is included, "
              "~1-2 µs)")
    finally:
        for p in procs:
            p.kill()
        for p in procs:
            p.wait()
        os.close(proc_fd)
        os.close(cpu_fd)
        ts.close()
        cs.remove()
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--memcgs", type=int, default=300)
    ap.add_argument("--mib", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--skip-memory", action="store_true")
    ap.add_argument("--skip-processes", action="store_true")
    args = ap.parse_args(argv)
    why = cgroups.unavailable()
    if why:
        sys.exit(f"defaults: {why}")
    cgroups.clean_stale(verbose=False)
    print(f"kernel {os.uname().release}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}")
    if not args.skip_memory:
        memory_part(args, load_floor_lib())
    if not args.skip_processes:
        process_part(args, load_floor_lib())
    print(f"load at the end {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
