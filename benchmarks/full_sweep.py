"""A sweep with every group on, against the sum of its floors, and each group alone.

    sudo python benchmarks/full_sweep.py [--n 100] [--rounds 15] [--batch-ms 25]

Containers: N real v1 cgroups (benchmarks/cgroups.py) each with one `sleep`,
and every other one (even index) a second: 1.5 processes per container. The
second process of every 10th container (N/10 containers) runs inside one
network namespace made for the run (`ip netns add cgs-bench-<pid>`, entered with
`nsenter --net` after the process joined its cgroups; deleted at the end), so
those containers share it and the sampler reads its net/dev once per sweep and
its sockets by sock_diag. The others live in the host's namespace, which the
sampler does not attribute to containers (no network rows for them).

Series, all in one process and interleaved in rounds (order rotated each round):

* sweep, sockets every sweep: Sampler(..., socket_interval=0), every group on,
  plus the host's filesystems (FsSampler: statfs + /proc/diskstats);
* sweep, default: the same with socket_interval=5 (the default): in a timed
  batch the socket dumps happen at most once per 5 s, so its median is the
  sweep without sockets, and its floor leaves the socket dumps out;
* floor: the sum of the floors of what the sweep reads, in the same process
  and through the same kernel objects:
    - the cgroup files: the sampler's own Engine.read_only_sweep() (the exact
      files the last sweep read, through its fds, no parsing; it includes both
      reads of cgroup.procs: processes' and schedstat's);
    - per process (pid lists taken at set-up): fstatat("<pid>/fd") for the fd
      count, openat + pread + close of "<pid>/schedstat";
    - per cgroup: one taskstats CGROUPSTATS_CMD_GET round trip (reply + ack)
      on a kept netlink socket (load, v1);
    - per namespace: net/dev read to EOF through a kept fd; the sock_diag dumps
      the sampler makes (TCPDIAG_GETSOCK for tcp+tcp6 in one walk, UDP and UDP6
      with SKMEMINFO), each received to NLMSG_DONE;
    - stat + statfs of every partition the sampler samples + /proc/diskstats to EOF.
  (benchmarks/full_floor.c, called through ctypes: a few calls per sweep.)
* each group alone: a sampler with every other group disabled, and its floor
  (only that group's parts). network, tcp, udp and filesystem cannot stand
  alone (a container needs one cgroup file to be sampled): they are measured
  as "cpu + the group" and the "cpu" alone figures are subtracted, sweep and
  floor alike (the difference of medians).

Figures: µs per container per sweep (the sweep's time / N), median over rounds,
wall (perf_counter_ns) and thread CPU (thread_time_ns); sweep/floor is the
median of the per-round ratios. Each sampler is checked to collect its groups
(valid bits) before timing.
"""
from __future__ import annotations

import argparse
import ctypes
import gc
import hashlib
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
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
from cgsampler import Sampler, filesystems, schema  # noqa: E402

GROUPS = list(schema.GROUPS)                     # cpu ... udp
ALL = GROUPS + ["filesystem"]
NEEDS_HOST = ("network", "tcp", "udp", "filesystem")   # measured as cpu + g, minus cpu
FF_PROC_FD, FF_PROC_SCHEDSTAT, FF_PROC_STAT = 1, 2, 4
FF_TCP, FF_UDP = 1, 2


# --- building the C helpers ----------------------------------------------------------

def build(source: str, shared: bool = True) -> str:
    """Compiles benchmarks/<source> into a cache directory (once per content); returns the path."""
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if not cc:
        raise RuntimeError(f"no C compiler (cc/gcc) to build benchmarks/{source}")
    path = os.path.join(HERE, source)
    with open(path, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()[:12]
    cache = os.path.join(os.environ.get("XDG_CACHE_HOME") or tempfile.gettempdir(),
                         f"cgsampler-bench-{os.getuid()}")
    os.makedirs(cache, exist_ok=True)
    out = os.path.join(cache, f"{os.path.splitext(source)[0]}-{digest}" + (".so" if shared else ""))
    if not os.path.exists(out):
        args = [cc, "-O2", "-Wall", "-o", out + ".tmp", path] + (["-shared", "-fPIC"] if shared else [])
        subprocess.run(args, check=True)
        os.replace(out + ".tmp", out)
    return out


def load_floor_lib():
    lib = ctypes.CDLL(build("full_floor.c"), use_errno=True)
    for name in ("ff_proc", "ff_taskstats", "ff_read_all", "ff_statfs", "ff_sockdiag", "ff_openat_read",
                 "ff_pread_cpu"):
        getattr(lib, name).restype = ctypes.c_longlong
    lib.ff_taskstats_open.restype = ctypes.c_int
    lib.ff_diag_socket.restype = ctypes.c_int
    return lib


def check(rc, what):
    if rc < 0:
        raise OSError(-rc, f"{what}: {os.strerror(-rc)}")
    return rc


# --- the rig: cgroups, extra processes, a network namespace -----------------------------

def _die_with_parent():
    cgroups._die_with_parent()


def spawn_in(procs_files, argv):
    """A process that joins the cgroups (writes its pid to each procs file) and then execs argv."""
    script = "for f in " + " ".join(procs_files) + '; do echo $$ > "$f" || exit 1; done; exec ' + " ".join(argv)
    return subprocess.Popen(["/bin/sh", "-c", script], stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent)


def wait_in(procs_file, p, deadline):
    while True:
        with open(procs_file) as f:
            if str(p.pid) in f.read().split():
                return
        if p.poll() is not None:
            raise RuntimeError(f"a process exited with {p.returncode} before joining {procs_file}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"a process did not join {procs_file} in time")
        time.sleep(0.005)


class Rig:
    """N containers with 1-2 processes each; every 10th has its second process in a
    network namespace shared by those. Use as a context manager."""

    def __init__(self, n):
        self.n = n
        self.cs = cgroups.CgroupSet(n, sleepers=n)
        self.netns = f"cgs-bench-{os.getpid()}-{secrets.token_hex(3)}"
        self.extra = []
        self.netns_pid = None
        self.netns_containers = []

    def __enter__(self):
        self.cs.create()
        try:
            subprocess.run(["ip", "netns", "add", self.netns], check=True)
            self._made_ns = True
            sleep = shutil.which("sleep") or "/bin/sleep"
            nsenter = shutil.which("nsenter") or "/usr/bin/nsenter"
            deadline = time.monotonic() + 20
            for i in range(0, self.n, 2):
                files = [os.path.join(d, "cgroup.procs") for d in self.cs.dirs(i).values()]
                if i % 10 == 0:
                    argv = [nsenter, f"--net=/run/netns/{self.netns}", sleep, "1000000"]
                    self.netns_containers.append(i)
                else:
                    argv = [sleep, "1000000"]
                p = spawn_in(files, argv)
                self.extra.append(p)
                wait_in(files[0], p, deadline)
            # nsenter execs sleep: wait until it is in the namespace
            ns_ino = os.stat(f"/run/netns/{self.netns}").st_ino
            for i, p in zip(range(0, self.n, 2), self.extra):
                if i % 10:
                    continue
                while True:
                    try:
                        if os.stat(f"/proc/{p.pid}/ns/net").st_ino == ns_ino:
                            break
                    except FileNotFoundError:
                        pass
                    if time.monotonic() > deadline:
                        raise RuntimeError("the namespace's processes did not enter it")
                    time.sleep(0.005)
                self.netns_pid = self.netns_pid or p.pid
        except BaseException:
            self.close()
            raise
        return self

    def pids(self, i):
        d = self.cs.dirs(i)[self.cs.controllers[0]]
        with open(os.path.join(d, "cgroup.procs")) as f:
            return [int(x) for x in f.read().split()]

    def close(self):
        for p in self.extra:
            if p.poll() is None:
                p.kill()
        for p in self.extra:
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        self.cs.remove()
        if getattr(self, "_made_ns", False):
            subprocess.run(["ip", "netns", "del", self.netns], check=False)
            self._made_ns = False

    def __exit__(self, *exc):
        self.close()


# --- samplers and floors -----------------------------------------------------------------

def make_sampler(names, groups, socket_interval):
    """A sampler of `names` collecting exactly `groups` (names of ALL)."""
    disable = tuple(g for g in ALL if g not in groups)
    # schedstat and load from /proc default to once a second: measured here on every sweep.
    return Sampler(containers=names, history=8, socket_interval=socket_interval, disable=disable,
                   intervals={"schedstat": 0, "load": 0})


class Floor:
    """The floor of a sampler collecting `groups`: its read_only_sweep() plus the C
    loops of the groups whose reads are not cgroup files."""

    def __init__(self, lib, sampler, rig, groups, partitions, idx):
        self.lib = lib
        self.eng = sampler._engine
        self.groups = set(groups)
        self._own = []
        self.proc_what = (FF_PROC_FD if "processes" in groups else 0) | \
                         (FF_PROC_SCHEDSTAT if "schedstat" in groups else 0)
        pids = [p for i in idx for p in rig.pids(i)]
        self.npids = len(pids)
        self.pids = (ctypes.c_uint * len(pids))(*pids)
        self.proc_fd = self._open("/proc", os.O_RDONLY | os.O_DIRECTORY)
        self.ts = None
        if "load" in groups:
            fam = ctypes.c_int()
            self.ts = check(lib.ff_taskstats_open(ctypes.byref(fam)), "taskstats socket")
            self._own.append(self.ts)
            self.ts_family = fam.value
            dirs = [self._open(rig.cs.dirs(i)["cpu"], os.O_RDONLY | os.O_DIRECTORY) for i in idx]
            self.ts_dirs = (ctypes.c_int * len(dirs))(*dirs)
            self.ts_n = len(dirs)
            self.seq = ctypes.c_uint(0)
        self.dev_fd = self._open(f"/proc/{rig.netns_pid}/net/dev", os.O_RDONLY) if "network" in groups else -1
        self.sock_what = (FF_TCP if "tcp" in groups else 0) | (FF_UDP if "udp" in groups else 0)
        self.diag = -1
        if self.sock_what:
            self.diag = check(lib.ff_diag_socket(f"/proc/{rig.netns_pid}/ns/net".encode()), "sock_diag socket")
            self._own.append(self.diag)
            self.dseq = ctypes.c_uint(0)
        self.fs = "filesystem" in groups
        if self.fs:
            paths = [p.mountpoint.encode() for p in partitions]
            self._paths = paths
            self.fs_paths = (ctypes.c_char_p * max(len(paths), 1))(*paths)
            self.fs_n = len(paths)
            self.disk_fd = self._open("/proc/diskstats", os.O_RDONLY)

    def _open(self, path, flags):
        fd = os.open(path, flags | os.O_CLOEXEC)
        self._own.append(fd)
        return fd

    def __call__(self):
        lib = self.lib
        self.eng.read_only_sweep()
        if self.proc_what:
            check(lib.ff_proc(self.proc_fd, self.pids, ctypes.c_long(self.npids), self.proc_what), "proc")
        if self.ts is not None:
            check(lib.ff_taskstats(self.ts, self.ts_family, self.ts_dirs, ctypes.c_long(self.ts_n),
                                   ctypes.byref(self.seq)), "taskstats")
        if self.dev_fd >= 0:
            check(lib.ff_read_all(self.dev_fd), "net/dev")
        if self.sock_what:
            check(lib.ff_sockdiag(self.diag, self.sock_what, ctypes.byref(self.dseq)), "sock_diag")
        if self.fs:
            lib.ff_statfs(self.fs_paths, ctypes.c_long(self.fs_n))
            check(lib.ff_read_all(self.disk_fd), "diskstats")

    def close(self):
        for fd in self._own:
            try:
                os.close(fd)
            except OSError:
                pass
        self._own = []


def valid_counts(s, groups):
    """{group: containers whose last row has it valid}."""
    valid = s.stats[-1]["valid"]
    return {g: int(((valid & schema.GROUPS[g]) != 0).sum()) for g in groups if g in schema.GROUPS}


# --- timing ------------------------------------------------------------------------------

def calibrate(fn, batch_ns):
    fn()
    t0 = time.perf_counter_ns()
    fn()
    one = max(time.perf_counter_ns() - t0, 1)
    return max(1, int(batch_ns / one))


def timed(fn, reps):
    gc.disable()
    try:
        w0, c0 = time.perf_counter_ns(), time.thread_time_ns()
        for _ in range(reps):
            fn()
        return (time.perf_counter_ns() - w0) / reps, (time.thread_time_ns() - c0) / reps
    finally:
        gc.enable()


def run_rounds(series, rounds, batch_ns):
    """series: {name: fn}. Returns {name: [(wall_ns, cpu_ns) per round]}."""
    reps = {k: calibrate(fn, batch_ns) for k, fn in series.items()}
    out = {k: [] for k in series}
    keys = list(series)
    for r in range(rounds):
        order = keys[r % len(keys):] + keys[:r % len(keys)]
        for k in order:
            out[k].append(timed(series[k], reps[k]))
    return out


def med(xs):
    return statistics.median(xs)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--batch-ms", type=float, default=25.0)
    args = ap.parse_args(argv)
    why = cgroups.unavailable()
    if why:
        sys.exit(f"full_sweep: {why}")
    if not shutil.which("ip") or not shutil.which("nsenter"):
        sys.exit("full_sweep: needs iproute2 (ip) and util-linux (nsenter)")
    cgroups.clean_stale(verbose=False)
    lib = load_floor_lib()
    partitions = filesystems.partitions()
    n = args.n
    t_start = time.monotonic()
    load0 = os.getloadavg()[0]
    with Rig(n) as rig:
        names = rig.cs.names
        nproc = sum(len(rig.pids(i)) for i in range(n))
        made = {}        # label -> (sampler, floor, groups, containers)

        def add(label, groups, socket_interval=0.0, idx=None):
            idx = list(range(n)) if idx is None else idx
            s = make_sampler([names[i] for i in idx], groups, socket_interval)
            s.sample()
            s.sample()
            # With socket_interval 5 s a timed batch reads no socket table: its floor has none either.
            fgroups = [g for g in groups if socket_interval == 0 or g not in ("tcp", "udp")]
            f = Floor(lib, s, rig, fgroups, partitions, idx)
            f()
            made[label] = (s, f, groups, idx)

        add("all, sockets every sweep", ALL, 0.0)
        add("all, socket_interval 5 s", ALL, 5.0)
        for g in ALL:
            if g in NEEDS_HOST:
                continue
            add(g, [g])
        # Groups that cannot stand alone: over a few containers (the namespace's, or one
        # for the host's filesystems), 'cpu + g' against 'cpu' on the same containers.
        sub = {"network": rig.netns_containers, "filesystem": [1]}
        for g in NEEDS_HOST:
            idx = sub.get(g, rig.netns_containers)
            add(g, ["cpu", g], idx=idx)
            if ("cpu", len(idx)) not in made:
                add(("cpu", len(idx)), ["cpu"], idx=idx)
        # checks: every sampler collects what it should
        problems = []
        for label, (s, f, groups, idx) in made.items():
            counts = valid_counts(s, groups)
            for g, c in counts.items():
                want = sum(i in rig.netns_containers for i in idx) if g in ("network", "tcp", "udp") else len(idx)
                if c != want:
                    problems.append(f"{label}: group {g} valid in {c} containers, expected {want}")
        if problems:
            print("WARNING:\n  " + "\n  ".join(problems), file=sys.stderr)
        series = {}
        for label, (s, f, groups, idx) in made.items():
            series[("sweep", label)] = s.sample
            series[("floor", label)] = f
        res = run_rounds(series, args.rounds, args.batch_ms * 1e6)
        made_idx = {g: len(made[g][3]) for g in NEEDS_HOST}
        s_all = made["all, sockets every sweep"][0]
        kept = s_all.kept_fds
        nns = len(s_all._netns)
        for s, f, _, _ in made.values():
            f.close()
            s.close()
    load1 = os.getloadavg()[0]

    def per_sweep(label, kind, i):     # median µs per sweep
        return med([x[i] for x in res[(kind, label)]]) / 1000

    def per(label, kind, i):           # median µs per container of the N
        return per_sweep(label, kind, i) / n

    def ratio(label, i):
        return med([a[i] / b[i] for a, b in zip(res[("sweep", label)], res[("floor", label)])])

    def diff(g, kind, i):              # 'cpu + g' less 'cpu', median of per-round differences, µs per sweep
        base = made_idx[g]
        return med([(a[i] - b[i]) / 1000 for a, b in zip(res[(kind, g)], res[(kind, ("cpu", base))])])

    print(f"kernel {os.uname().release}, {os.cpu_count()} CPUs, load {load0:.2f} -> {load1:.2f}; "
          f"N={n} v1 cgroups, {nproc} processes ({nproc / n:.1f} per container), "
          f"{len(rig.netns_containers)} containers in {nns} network namespace(s) of their own, "
          f"{len(partitions)} filesystems; {args.rounds} rounds of ~{args.batch_ms:g} ms batches; "
          f"kept fds of the full sampler {kept}; {time.monotonic() - t_start:.0f} s")
    print()
    print("| series | sweep µs/container (wall / CPU) | floor µs/container (wall / CPU) | sweep / floor (wall / CPU) |")
    print("|---|---|---|---|")
    for label in ("all, sockets every sweep", "all, socket_interval 5 s"):
        print(f"| {label} | {per(label, 'sweep', 0):.1f} / {per(label, 'sweep', 1):.1f} | "
              f"{per(label, 'floor', 0):.1f} / {per(label, 'floor', 1):.1f} | "
              f"{ratio(label, 0):.2f} / {ratio(label, 1):.2f} |")
    print()
    print("Each group alone, µs per container of the N (wall / CPU). network, tcp, udp: 'cpu + group' less "
          "'cpu' over the namespace's containers; filesystem: the same over one container; their cost is per "
          "namespace / per host (µs per sweep in the last column), spread here over the N containers.")
    print()
    print("| group | sweep | floor | sweep / floor | share of the full sweep (wall, CPU) | µs per sweep (wall / CPU) |")
    print("|---|---|---|---|---|---|")
    full = [per("all, sockets every sweep", "sweep", i) for i in (0, 1)]
    for g in ALL:
        if g in NEEDS_HOST:
            sw = [diff(g, "sweep", i) for i in (0, 1)]
            fl = [diff(g, "floor", i) for i in (0, 1)]
            rt = [sw[i] / fl[i] if fl[i] > 0 else float("nan") for i in (0, 1)]
            pc_sw, pc_fl = [x / n for x in sw], [x / n for x in fl]
            tail = f"{sw[0]:.1f} / {sw[1]:.1f} (floor {fl[0]:.1f} / {fl[1]:.1f})"
        else:
            pc_sw = [per(g, "sweep", i) for i in (0, 1)]
            pc_fl = [per(g, "floor", i) for i in (0, 1)]
            rt = [ratio(g, i) for i in (0, 1)]
            tail = f"{per_sweep(g, 'sweep', 0):.0f} / {per_sweep(g, 'sweep', 1):.0f}"
        print(f"| {g} | {pc_sw[0]:.2f} / {pc_sw[1]:.2f} | {pc_fl[0]:.2f} / {pc_fl[1]:.2f} | "
              f"{rt[0]:.2f} / {rt[1]:.2f} | {100 * pc_sw[0] / full[0]:.0f} %, {100 * pc_sw[1] / full[1]:.0f} % | {tail} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
