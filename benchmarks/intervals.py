"""What per-group intervals save: a 100 Hz sweep over N real cgroups with every
group read each sweep, against the same sweep with memory.stat's group and
cgroup.procs read once a second (Sampler(intervals=...)).

    sudo python benchmarks/intervals.py [--n 100] [--seconds 3]

Prints µs per container per sweep (median over the run) for both, in one run."""
from __future__ import annotations

import argparse
import os
import statistics
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
from cgsampler import Sampler  # noqa: E402


def per_container_us(names, intervals, seconds, hz=100):
    with Sampler(containers=names, history=8, intervals=intervals) as s:
        costs = []
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            t0 = time.perf_counter_ns()
            s.sample()
            costs.append((time.perf_counter_ns() - t0) / len(names) / 1000)
            time.sleep(1 / hz)
        return statistics.median(costs), statistics.mean(costs)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--seconds", type=float, default=3.0)
    args = ap.parse_args(argv)
    why = cgroups.unavailable()
    if why:
        sys.exit(f"intervals: {why}")
    slow = {"memory": 1.0, "processes": 1.0}
    with cgroups.CgroupSet(args.n, sleepers=max(1, args.n // 10)) as cs:
        every = per_container_us(cs.names, None, args.seconds)
        paced = per_container_us(cs.names, slow, args.seconds)
        every2 = per_container_us(cs.names, None, args.seconds)        # bracket the paced run
    base = (every[0] + every2[0]) / 2
    print(f"N={args.n}, 100 Hz, {args.seconds:g} s each; µs per container per sweep (median / mean)")
    print(f"  every group every sweep:            {every[0]:.1f} / {every[1]:.1f}, again {every2[0]:.1f}")
    print(f"  memory and processes once a second: {paced[0]:.1f} / {paced[1]:.1f}  ({base / paced[1]:.1f}x less on average)")


if __name__ == "__main__":
    main()
