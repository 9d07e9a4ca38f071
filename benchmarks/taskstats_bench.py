"""Cost per cgroup of the task-state counts of LoadStats (cAdvisor-v1-spec 7.1),
two ways, for a cgroup holding one process of 1, 10 and 100 threads:

* taskstats: one CGROUPSTATS_CMD_GET on a kept netlink socket and a kept
  O_RDONLY directory fd (cgroup v1 only): send + reply + ack;
* /proc: read the tid list, then open/read/close /proc/<tid>/stat per thread
  and parse it (taskstats.count_task_states), on cgroup v2 (cgroup.threads,
  kept fd and pread, or reopened each time) and on the same v1 cgroup
  (tasks, reopened: a kept v1 tasks fd serves a stale list).

    sudo python -m benchmarks.taskstats_bench [--reps 2000]

Times are nogil C loops (no Python per request); µs per cgroup, best of 5.
"""
from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
import uuid

from cgsampler._native import taskstats

V1 = "/sys/fs/cgroup/cpu"
V2 = "/sys/fs/cgroup/unified"
THREADS = (  # n-1 threads and the main one, all sleeping in pipe reads
    "import os, sys, threading\n"
    "r, w = os.pipe()\n"
    "for _ in range(int(sys.argv[1]) - 1): threading.Thread(target=os.read, args=(r, 1), daemon=True).start()\n"
    "sys.stdout.write('ok\\n'); sys.stdout.flush(); sys.stdin.read()\n"
)


def best_us(fn, reps, rounds=5):
    return min(fn(reps) for _ in range(rounds)) / reps / 1000.0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=2000)
    args = ap.parse_args(argv)
    if os.geteuid() != 0 or not os.path.exists(V1 + "/tasks"):
        print("needs root and a cgroup v1 cpu hierarchy at " + V1, file=sys.stderr)
        return 2
    name = f"cgs-taskstats-bench-{uuid.uuid4().hex[:8]}"
    v1, v2 = os.path.join(V1, name), os.path.join(V2, name)
    has_v2 = os.path.exists(V2 + "/cgroup.threads")
    os.mkdir(v1)
    if has_v2:
        os.mkdir(v2)
    procs = []
    try:
        ts = taskstats.Taskstats()
        print(f"kernel {os.uname().release}, {os.cpu_count()} CPUs; µs per cgroup (best of 5 x {args.reps})")
        print(f"{'threads':>7} {'taskstats v1':>13} {'/proc v1 tasks':>15} "
              f"{'/proc v2 reopen':>16} {'/proc v2 kept':>14}")
        for n in (1, 10, 100):
            p = subprocess.Popen([sys.executable, "-c", THREADS, str(n)], stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE)
            procs.append(p)
            assert p.stdout.readline() == b"ok\n"
            # the same threads in both hierarchies: v1 cpu and the v2 mount
            for d in (v1, v2) if has_v2 else (v1,):
                with open(os.path.join(d, "cgroup.procs"), "w") as f:
                    f.write(str(p.pid))
            deadline = time.monotonic() + 10
            while ts.cgroup_stats(v1)["nr_sleeping"] != n:     # all n in their pipe reads
                assert time.monotonic() < deadline, ts.cgroup_stats(v1)
                time.sleep(0.01)
            row = [best_us(lambda r: ts.time_cgroupstats(v1, r), args.reps),
                   best_us(lambda r: taskstats.time_count_task_states(v1, r), args.reps)]
            if has_v2:
                row += [best_us(lambda r: taskstats.time_count_task_states(v2, r), args.reps),
                        best_us(lambda r: taskstats.time_count_task_states(v2, r, reopen=False), args.reps)]
            print(f"{n:>7} " + " ".join(f"{v:>{w}.2f}" for v, w in zip(row, (13, 15, 16, 14))))
            p.kill()
            p.wait()
        ts.close()
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGKILL)
                p.wait()
        for d in (v1, v2):
            for _ in range(50):
                try:
                    os.rmdir(d)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.05)
    return 0


if __name__ == "__main__":
    sys.exit(main())
