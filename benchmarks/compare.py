"""Side-by-side cost of one cgsampler sweep over N real cgroup v1 containers.

For each N (default 1, 10, 100, 1000) it makes N sibling cgroups (benchmarks/
cgroups.py; a share of them with a sleeping process), builds
`Sampler(containers=those N)` and times, interleaved in rounds so that all
share the machine's noise:

  sweep     Sampler.sample(): pread + parse of every container into the ring
  floor     the kernel floor: a C loop (floor.c) reading exactly the files
            the sweep reads, the way Engine._read does, through the sampler's
            own fds (kept files; openat() on its O_PATH directory fds for
            cgroup.procs), no parsing
  engine    Engine.read_only_sweep(): the engine's own floor; since 567fdaa it
            reads exactly the jobs the last sweep read with the same _read
            routine, so it is exact too (it should agree with the C floor)
  pyfd      Python parsing over the same kept fds with os.pread, re-opening what
            the sampler re-opens (informational: kept fds without the C parser)
  naive     pure Python, open/read/split per file per sample (naive.py)
  runc      runc-anchor (opencontainers/runc libcontainer fs manager GetStats,
            the parser cAdvisor uses) on one of the N containers per round, its
            own per-sample figure; skipped with a note if it cannot be built

Figures are per container (sweep time / N) in microseconds: the median over
rounds (and the minimum). Ratios are medians of the per-round ratios, so both
sides of a ratio come from the same round. Flatness is the sweep's
per-container cost at N over that at N=10.

    sudo python benchmarks/compare.py --output /tmp/compare.md     # ~70 s here

(cgsampler is imported from PYTHONPATH if set, else from this checkout's src/;
`--source-label` names what was measured in the report.)
"""
from __future__ import annotations

import argparse
import gc
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
if REPO not in sys.path:
    sys.path.insert(0, REPO)
try:                                    # PYTHONPATH may point at another build of cgsampler
    import cgsampler  # noqa: F401
except ImportError:
    sys.path.insert(0, os.path.join(REPO, "src"))

from benchmarks import cgroups, floor, naive  # noqa: E402
from cgsampler import Sampler  # noqa: E402

RUNC_BUILD = os.path.normpath(os.path.join(REPO, "..", "shared", "tools", "runc-anchor", "build.sh"))


def log(*a):
    print(*a, file=sys.stderr, flush=True)


# --- timing ----------------------------------------------------------------------

def time_calls(fn, reps: int):
    """(wall ns, thread CPU ns) per call over reps calls, garbage collector off.
    Wall is time.perf_counter_ns; CPU is this thread's user+system time
    (time.thread_time_ns), which leaves out time the thread sat preempted by
    other work on a shared machine."""
    gc_was = gc.isenabled()
    gc.disable()
    try:
        c0 = time.thread_time_ns()
        t0 = time.perf_counter_ns()
        for _ in range(reps):
            fn()
        t1 = time.perf_counter_ns()
        c1 = time.thread_time_ns()
    finally:
        if gc_was:
            gc.enable()
    return (t1 - t0) / reps, (c1 - c0) / reps


def calibrate(fn, target_ns: float, max_reps: int = 100_000) -> int:
    fn()
    fn()
    one = time_calls(fn, 3)[0]
    return int(min(max(target_ns / max(one, 1.0), 1), max_reps))


class Method:
    """A thing to time: measure() returns (wall, CPU) ns per sweep (all N containers)."""

    def __init__(self, name, fn, reps):
        self.name, self.fn, self.reps = name, fn, reps

    def measure(self) -> float:
        return time_calls(self.fn, self.reps)


class RuncMethod:
    """runc-anchor on one container per round (cycling through `names`), times N
    so that it reads like a sweep. Wall: the tool's own per-sample figure. CPU:
    the child's user+system time (wait4 rusage) less its start-up cost (a 1-sample
    run, measured at warm-up), over the samples."""

    def __init__(self, binary, names, n, reps):
        self.name = "runc"
        self.binary, self.names, self.n, self.reps = binary, names, n, reps
        self.i = 0
        self.errors = []
        self.startup_cpu_ns = None

    def _run(self, name, reps):
        p = subprocess.Popen([self.binary, name, str(reps)], stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE)
        err = p.stderr.read().decode(errors="replace")
        p.stderr.close()
        _, status, ru = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        m = re.search(r"per-sample-us ([0-9.]+)", err)
        if p.returncode != 0 or not m:
            self.errors.append(err.strip()[-300:])
            return float("nan"), float("nan")
        return float(m.group(1)) * 1000.0, (ru.ru_utime + ru.ru_stime) * 1e9

    def measure(self):
        name = self.names[self.i % len(self.names)]
        self.i += 1
        if self.startup_cpu_ns is None:
            self.startup_cpu_ns = med([self._run(name, 1)[1] for _ in range(5)])
        wall, cpu = self._run(name, self.reps)
        cpu = (cpu - self.startup_cpu_ns) / (self.reps - 1) if self.reps > 1 else cpu
        return wall * self.n, cpu * self.n


def run_rounds(methods, rounds: int) -> dict:
    """{"wall": name -> [ns per sweep, one per round], "cpu": same}; the order
    rotates every round."""
    out = {"wall": {m.name: [] for m in methods}, "cpu": {m.name: [] for m in methods}}
    k = len(methods)
    for r in range(rounds):
        order = methods[r % k:] + methods[:r % k]
        for m in order:
            wall, cpu = m.measure()
            out["wall"][m.name].append(wall)
            out["cpu"][m.name].append(cpu)
    return out


def med(xs):
    xs = [x for x in xs if x == x]
    return statistics.median(xs) if xs else float("nan")


def ratio_median(a, b):
    """median over rounds of a[r] / b[r]."""
    rs = [x / y for x, y in zip(a, b) if x == x and y == y and y > 0]
    return statistics.median(rs) if rs else float("nan")


# --- runc-anchor -------------------------------------------------------------------

def find_runc(path, build: bool):
    """(binary or None, note)."""
    candidates = [path] if path else [os.environ.get("RUNC_ANCHOR"),
                                      os.path.join(os.environ.get("TMPDIR", "/tmp"), "runc-anchor")]
    for c in candidates:
        if c and os.access(c, os.X_OK):
            return c, ""
    if path:
        return None, f"runc-anchor not found at {path}"
    if not os.path.exists(RUNC_BUILD):
        return None, f"runc-anchor not built and {RUNC_BUILD} not found"
    have_go = shutil.which("go") and os.path.isdir("/usr/share/gocode/src/github.com/opencontainers/runc")
    if not (build or have_go):
        return None, ("runc-anchor not built (go or golang-github-opencontainers-runc-dev missing; "
                      "--build-runc lets build.sh apt-install them)")
    out = os.path.join(os.environ.get("TMPDIR", "/tmp"), "runc-anchor")
    log(f"building runc-anchor with {RUNC_BUILD} ...")
    r = subprocess.run(["bash", RUNC_BUILD, out], capture_output=True, text=True)
    if r.returncode != 0 or not os.access(out, os.X_OK):
        return None, f"runc-anchor build failed: {r.stderr.strip()[-200:]}"
    return out, ""


# The groups of the cgroup files only: what the naive samplers and runc read
# (full_sweep.py measures every group, per-process files and namespaces included).
CGROUP_FILES_ONLY = ("schedstat", "load", "network", "tcp", "udp", "filesystem")

# --- one size ---------------------------------------------------------------------

def bench_size(n, args, runc_bin, notes):
    nsleep = max(1, round(n * args.sleepers_frac)) if args.sleepers_frac > 0 else 0
    log(f"N={n}: making {n} cgroups ({nsleep} with a sleeper) ...")
    t0 = time.perf_counter()
    with cgroups.CgroupSet(n, sleepers=nsleep) as cs:
        t_make = time.perf_counter() - t0
        s = Sampler(containers=cs.names, history=8, disable=CGROUP_FILES_ONLY)
        try:
            # one fd per file, or per directory of a file opened per read (sampler._add)
            expect_kept = len(floor.held_files(s.hierarchy, cs.names[0]))
            if s.kept_fds < n * expect_kept:
                notes.append(f"N={n}: only {s.kept_fds} fds kept (fd budget): some containers reopen files each sweep")
            fds = floor.open_fds_by_path()     # the sampler's fds (and this process's others)
            ex = floor.ExactFloor(s, cs.names, by_path=fds)
            pyfd = naive.KeptFdPythonSampler(cs.names, fds_by_path=fds)
            nv = naive.NaiveSampler(cs.names)
            reads = {
                "sweep": floor.count_reads(s.sample),
                "floor": floor.count_reads(ex),
                "engine": floor.count_reads(s._engine.read_only_sweep),
                "naive": floor.count_reads(nv.sample),
            }
            for k in ("floor", "engine"):
                if reads[k] != reads["sweep"]:
                    notes.append(f"N={n}: {k} made {reads[k]} read syscalls, the sweep {reads['sweep']}")
            if ex.by_path:
                notes.append(f"N={n}: the floor found no sampler fd for {ex.by_path} files (opened by path)")
            target = args.target_ms * 1e6
            methods = [
                Method("sweep", s.sample, calibrate(s.sample, target)),
                Method("floor", ex, calibrate(ex, target)),
                Method("engine", s._engine.read_only_sweep, calibrate(s._engine.read_only_sweep, target)),
                Method("pyfd", pyfd.sample, calibrate(pyfd.sample, target)),
                Method("naive", nv.sample, calibrate(nv.sample, target)),
            ]
            runc = None
            if runc_bin:
                picks = sorted({cs.names[i] for i in range(0, n, max(1, n // 3))} |
                               {cs.names[i] for i in cs.sleeper_indices()[:1]})
                runc = RuncMethod(runc_bin, picks, n, args.runc_reps)
                methods.append(runc)
            for m in methods:           # warm-up
                m.measure()
            rounds = args.rounds
            log(f"N={n}: {rounds} rounds x " + ", ".join(f"{m.name}" + (f"x{m.reps}" if hasattr(m, 'fn') else "")
                                                         for m in methods))
            t1 = time.perf_counter()
            res = run_rounds(methods, rounds)
            log(f"N={n}: {time.perf_counter() - t1:.1f} s")
            if runc is not None and runc.errors:
                notes.append(f"N={n}: runc-anchor failed {len(runc.errors)} times: {runc.errors[0]}")
            s_kept = s.kept_fds
            extra = {}
            if args.breakdown and n == args.breakdown_n:
                extra = breakdown(s, cs, args, fds)
            pyfd.close()
        finally:
            s.close()
    return {"n": n, "sleepers": nsleep, "make_s": t_make, "res": res, "reads": reads,
            "files_read": ex.n / n, "reopened": ex.reopened / n, "opened_at": ex.opened_at / n,
            "kept": s_kept / n,
            "extra": extra}


def breakdown(s, cs, args, fds):
    """Where the floor goes, per file kind, at this N; and, for the containers
    with a process, what cgroup.procs costs the engine's way (openat on the kept
    directory fd, one pread) next to the EOF read it skips, the open by path +
    fstat it replaced, and a kept fd (stale on v1); and what re-opening
    memory.stat each sweep would cost."""
    kinds = []
    for fname, *_ in floor.sweep_files(s.hierarchy, cs.names[0]):
        if fname not in kinds:
            kinds.append(fname)
    target = args.target_ms * 1e6 / 2
    full = floor.ExactFloor(s, cs.names, by_path=fds)
    methods = [Method("sweep", s.sample, calibrate(s.sample, target)),
               Method("floor", full, calibrate(full, target))]
    for k in kinds:
        f = floor.ExactFloor(s, cs.names, files={k}, by_path=fds)
        methods.append(Method(k, f, calibrate(f, target)))
    busy = [cs.names[i] for i in cs.sleeper_indices()]
    procs_series = []
    if busy:
        procs_series = [
            ("procs busy: openat, 1 pread (engine)", floor.ExactFloor(s, busy, files={"cgroup.procs"}, by_path=fds)),
            ("procs busy: openat, preads until 0", floor.ExactFloor(s, busy, files={"cgroup.procs"},
                                                                    mode="until_zero", by_path=fds)),
            ("procs busy: open by path + fstat, 1 pread", floor.ExactFloor(s, busy, files={"cgroup.procs"},
                                                                           reopen="path")),
            ("procs busy: kept fd, 1 pread (stale on v1)", floor.ExactFloor(s, busy, files={"cgroup.procs"},
                                                                            keep=True, by_path=fds)),
        ]
        methods += [Method(label, f, calibrate(f, target)) for label, f in procs_series]
    memstat_all = floor.ExactFloor(s, cs.names, files={"memory.stat"}, reopen="path")
    methods.append(Method("memory.stat (reopen)", memstat_all, calibrate(memstat_all, target)))
    log(f"breakdown at N={len(cs.names)}: {len(methods)} series x {args.rounds} rounds")
    res = run_rounds(methods, args.rounds)
    for _, f in procs_series:
        f.close()
    return {"res": res, "kinds": kinds, "n": len(cs.names), "busy": len(busy),
            "procs_series": [label for label, _ in procs_series],
            "reopened": {k for k, _, _, r, _ in floor.sweep_files(s.hierarchy, cs.names[0]) if r}}


def root_container(args):
    """The root "/" as one container: sweep, floor and each of its files (the
    per-file floors read the file 100 times per call, so the ~1 us of the
    ctypes call is spread out)."""
    s = Sampler(containers=["/"], history=8, disable=CGROUP_FILES_ONLY)
    rep = 100
    try:
        target = args.target_ms * 1e6 / 2
        full = floor.ExactFloor(s, ["/"])
        kinds = [k for k in dict.fromkeys(full.kinds)]
        methods = [Method("sweep", s.sample, calibrate(s.sample, target)),
                   Method("floor", full, calibrate(full, target))]
        per_file = {}
        for k in kinds:
            f = per_file[k] = floor.ExactFloor(s, ["/"], files={k}, repeat=rep)
            methods.append(Method(k, f, calibrate(f, target)))
        res = run_rounds(methods, args.rounds)
        for clock in res:
            for k in kinds:
                res[clock][k] = [x / rep for x in res[clock][k]]
        reads = floor.count_reads(s.sample)
        nbytes = {k: per_file[k]() // rep for k in kinds}
    finally:
        s.close()
    return {"res": res, "kinds": kinds, "reads": reads, "bytes": nbytes}


# --- report -----------------------------------------------------------------------

def us(ns):
    return ns / 1000.0


def fmt(x, nd=1):
    return "n/a" if x != x else f"{x:.{nd}f}"


def machine():
    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = ""
    try:
        with open("/proc/meminfo") as f:
            mem = f"{int(f.readline().split()[1]) / 2**20:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    return (f"{os.cpu_count()} CPUs ({cpu}), {mem}, Linux {platform.release()}, "
            f"Python {platform.python_version()}")


def main_table(results, clock):
    L = ["| N | files read (opened per read) / kept fds | sweep | kernel floor | sweep/floor | naive Python | naive/sweep "
         "| runc-anchor | runc/sweep | flatness (vs N=10) |",
         "|---|---|---|---|---|---|---|---|---|---|"]
    base10 = next((r for r in results if r["n"] == 10), None)
    for r in results:
        res, n = r["res"][clock], r["n"]
        sw = [x / n for x in res["sweep"]]
        fl = [x / n for x in res["floor"]]
        nv = [x / n for x in res["naive"]]
        rc = [x / n for x in res.get("runc", [])]
        if base10 is None:
            flat = "n/a"
        else:
            flat = fmt(med(sw) / med([x / 10 for x in base10["res"][clock]["sweep"]]), 2)
        L.append(
            f"| {n} | {r['files_read']:.1f} ({r['reopened']:.1f}) / {r['kept']:.1f} "
            f"| {fmt(us(med(sw)))} ({fmt(us(min(sw)))}) | {fmt(us(med(fl)))} ({fmt(us(min(fl)))}) "
            f"| {fmt(ratio_median(res['sweep'], res['floor']), 2)} "
            f"| {fmt(us(med(nv)), 0)} | {fmt(ratio_median(res['naive'], res['sweep']), 1)} "
            f"| {fmt(us(med(rc)), 0) if rc else 'skipped'} "
            f"| {fmt(ratio_median(res['runc'], res['sweep']), 1) if rc else 'n/a'} | {flat} |")
    return L


def source_version(label=None):
    """Which cgsampler was measured: the label given, or git HEAD (and whether
    src/ differs from it) when cgsampler was imported from this checkout."""
    import cgsampler
    where = os.path.dirname(os.path.dirname(os.path.abspath(cgsampler.__file__)))
    if label:
        return f"{label} (cgsampler from {where})"
    if os.path.abspath(where) != os.path.join(REPO, "src"):
        return f"cgsampler from {where}"
    try:
        rev = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", REPO, "status", "--porcelain", "--untracked-files=no", "--", "src"],
                               capture_output=True, text=True).stdout.strip()
        return f"commit {rev}" + (" plus uncommitted changes in src/" if dirty else "")
    except OSError:
        return "unknown"


def report(results, args, notes, runc_note, root):
    L = []
    L.append(f"Machine: {machine()}. Measured: {source_version(args.source_label)}.")
    L.append(f"Command: `{' '.join(['python', 'benchmarks/compare.py'] + sys.argv[1:])}` "
             f"({args.rounds} interleaved rounds per N, ~{args.target_ms:g} ms per timed batch, "
             f"{args.sleepers_frac:.0%} of containers with a sleeping process).")
    L.append("")
    L.append("**Wall clock** (`time.perf_counter_ns`): per-container cost of one sweep, µs, median over "
             "rounds (min in parentheses); ratios are medians of per-round ratios.")
    L.append("")
    L += main_table(results, "wall")
    L.append("")
    L.append("**Thread CPU time** (`time.thread_time_ns`; runc: child rusage less start-up), same batches: "
             "insensitive to time spent preempted by other load on the machine.")
    L.append("")
    L += main_table(results, "cpu")
    L.append("")
    L.append("Same run, the other series (µs per container, median, wall / CPU):")
    L.append("")
    L.append("| N | engine read_only_sweep() | sweep/engine | Python over kept fds (pyfd) | pyfd/sweep "
             "| read syscalls per container: sweep / floor / engine / naive |")
    L.append("|---|---|---|---|---|---|")
    for r in results:
        w, c, n, rd = r["res"]["wall"], r["res"]["cpu"], r["n"], r["reads"]
        L.append(
            f"| {n} | {fmt(us(med(w['engine']) / n))} / {fmt(us(med(c['engine']) / n))} "
            f"| {fmt(ratio_median(w['sweep'], w['engine']), 2)} / {fmt(ratio_median(c['sweep'], c['engine']), 2)} "
            f"| {fmt(us(med(w['pyfd']) / n))} / {fmt(us(med(c['pyfd']) / n))} "
            f"| {fmt(ratio_median(w['pyfd'], w['sweep']), 1)} / {fmt(ratio_median(c['pyfd'], c['sweep']), 1)} "
            f"| {rd['sweep'] / n:.2f} / {rd['floor'] / n:.2f} / {rd['engine'] / n:.2f} / {rd['naive'] / n:.2f} |")
    bd = next((r["extra"] for r in results if r["extra"]), None)
    if bd:
        n = bd["n"]
        w, c = bd["res"]["wall"], bd["res"]["cpu"]
        fw, fc = med(w["floor"]), med(c["floor"])
        L.append("")
        L.append(f"Where the floor goes at N={n}: C preads of one file kind over all N containers "
                 "(µs per container and share of the whole floor; wall / CPU):")
        L.append("")
        L.append("| file | µs / container | share of floor |")
        L.append("|---|---|---|")

        def row(label, key):
            L.append(f"| {label} | {fmt(us(med(w[key]) / n), 2)} / {fmt(us(med(c[key]) / n), 2)} "
                     f"| {med(w[key]) / fw:.0%} / {med(c[key]) / fc:.0%} |")
        for k in bd["kinds"]:
            row(k + (" (openat each sweep)" if k in bd.get("reopened", ()) else ""), k)
        tw, tc = sum(med(w[k]) for k in bd["kinds"]), sum(med(c[k]) for k in bd["kinds"])
        L.append(f"| (sum of the above) | {fmt(us(tw / n), 2)} / {fmt(us(tc / n), 2)} "
                 f"| {tw / fw:.0%} / {tc / fc:.0%} |")
        row("whole floor (all files, one pass)", "floor")
        row("sweep (floor + parse + store)", "sweep")
        row("memory.stat opened by path each sweep", "memory.stat (reopen)")
        if bd["busy"]:
            b = bd["busy"]
            L.append("")
            L.append(f"cgroup.procs of the {b} containers with a process, µs per container (wall / CPU):")
            L.append("")
            L.append("| how | µs / container |")
            L.append("|---|---|")
            for label in bd["procs_series"]:
                L.append(f"| {label} | {fmt(us(med(w[label]) / b), 2)} / {fmt(us(med(c[label]) / b), 2)} |")
    if root:
        w, c = root["res"]["wall"], root["res"]["cpu"]
        L.append("")
        L.append(f"The root container \"/\" alone (never part of the N-container runs), CPU µs: sweep "
                 f"{fmt(us(med(c['sweep'])), 1)}, floor {fmt(us(med(c['floor'])), 1)}, {root['reads']} reads; "
                 "per file (µs, bytes): " +
                 ", ".join(f"{k} {fmt(us(med(c[k])), 1)} ({root['bytes'][k]} B)" for k in root["kinds"]) + ".")
    L.append("")
    L.append("Series: sweep = `Sampler.sample()`; kernel floor = C preads (benchmarks/floor.c) of exactly the "
             "files the sweep reads, the way `Engine._read` does, through the sampler's own fds (openat() on its "
             "O_PATH directory fd for cgroup.procs); engine = `Sampler._engine.read_only_sweep()` "
             "(the jobs the last sweep read, same `_read`: exact too); pyfd = Python parsing over the kept fds "
             "(os.pread); naive = benchmarks/naive.py (open/read/split); runc-anchor = runc libcontainer "
             "`GetStats()` of one container (more files than the sweep: see README).")
    if runc_note:
        notes.insert(0, runc_note)
    for note in notes:
        L.append(f"\nNote: {note}")
    return "\n".join(L) + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(description="cgsampler sweep vs kernel floor vs naive Python vs runc")
    ap.add_argument("--sizes", default="1,10,100,1000", help="comma-separated container counts")
    ap.add_argument("--rounds", type=int, default=25, help="interleaved rounds per size")
    ap.add_argument("--target-ms", type=float, default=40.0, help="wall time of one timed batch")
    ap.add_argument("--sleepers-frac", type=float, default=0.1,
                    help="share of containers with a sleeping process (at least 1)")
    ap.add_argument("--runc", help="runc-anchor binary (default: $RUNC_ANCHOR or $TMPDIR/runc-anchor)")
    ap.add_argument("--build-runc", action="store_true",
                    help="build runc-anchor with ../shared/tools/runc-anchor/build.sh (may apt-install go)")
    ap.add_argument("--no-runc", action="store_true")
    ap.add_argument("--runc-reps", type=int, default=100, help="samples per runc-anchor run")
    ap.add_argument("--breakdown-n", type=int, default=100, help="N at which to split the floor per file")
    ap.add_argument("--no-breakdown", dest="breakdown", action="store_false")
    ap.add_argument("--no-root", dest="root", action="store_false", help="skip the root container")
    ap.add_argument("--output", help="also write the markdown report to this file")
    ap.add_argument("--source-label", help="what cgsampler build this is (printed in the report), e.g. a commit "
                                           "when PYTHONPATH points at an exported tree")
    args = ap.parse_args(argv)

    why = cgroups.unavailable()
    if why:
        log(f"cannot run: {why}")
        return 2
    if floor.load() is None:
        log(f"cannot build the C floor: {floor.load_error()}")
        return 2
    cgroups.clean_stale(verbose=False)
    sizes = [int(x) for x in args.sizes.split(",") if x.strip()]
    runc_bin, runc_note = (None, "runc-anchor skipped (--no-runc)") if args.no_runc else \
        find_runc(args.runc, args.build_runc)
    if runc_note:
        log(runc_note)
    notes, results = [], []
    t0 = time.perf_counter()
    for n in sizes:
        results.append(bench_size(n, args, runc_bin, notes))
    root = root_container(args) if args.root else None
    log(f"total {time.perf_counter() - t0:.0f} s")
    text = report(results, args, notes, runc_note, root)
    print(text)
    if args.output:
        with open(args.output, "w") as f:
            f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
