"""The kernel floor, measured exactly: which files one cgsampler sweep reads, the
sampler's own fds for them, and a C loop (floor.c, built with the system C
compiler and loaded with ctypes) that reads them the way the sweep does
(`Engine._read`), without parsing.

The sampler's fds are found through /proc/self/fd: a kept file's fd links to
the file's path; a file the engine opens for each read (v1 cgroup.procs) has no
fd of its own, but its directory is held as an O_PATH|O_DIRECTORY fd that links
to the directory's path (told apart from other fds of that directory by the
O_PATH bit in /proc/self/fdinfo), and the floor openat()s the file on it, as
the engine does. Slots past the fd budget hold neither: the floor opens by
path + fstat, as the engine does there.

Since 567fdaa `Engine.read_only_sweep()` reads exactly the jobs the last sweep
read through the same `_read` routine, so it is an exact floor too (plus a
Python call); the C floor stays as an independent check of it, for the
per-file breakdown, and for variants the engine does not do (EOF read kept,
re-open by path, kept fd for cgroup.procs). Both are checked to make as many
read syscalls as the sweep (`count_reads`).
"""
from __future__ import annotations

import ctypes
import hashlib
import os
import shutil
import subprocess
import tempfile

from cgsampler import hierarchy, schema

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.join(HERE, "floor.c")

_lib = None
_lib_error = None


def _cache_dir() -> str:
    d = os.path.join(os.environ.get("XDG_CACHE_HOME") or tempfile.gettempdir(),
                     f"cgsampler-bench-{os.getuid()}")
    os.makedirs(d, exist_ok=True)
    return d


def build(main: bool = False) -> str:
    """Compiles floor.c (shared object, or with main=True the standalone program)
    into a cache directory; returns its path. Raises RuntimeError without a compiler."""
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if not cc:
        raise RuntimeError("no C compiler (cc/gcc) to build benchmarks/floor.c")
    with open(SOURCE, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()[:12]
    out = os.path.join(_cache_dir(), f"floor-{digest}" + ("" if main else ".so"))
    if not os.path.exists(out):
        args = [cc, "-O2", "-Wall", "-o", out + ".tmp", SOURCE]
        args += ["-DFLOOR_MAIN"] if main else ["-shared", "-fPIC"]
        subprocess.run(args, check=True)
        os.replace(out + ".tmp", out)
    return out


def load():
    """The ctypes library, or None (then `load_error()` says why)."""
    global _lib, _lib_error
    if _lib is None and _lib_error is None:
        try:
            lib = ctypes.CDLL(build())
            # No argtypes: ExactFloor passes ready-made ctypes arguments, which halves
            # the per-call overhead (~1 us instead of ~2.5 us here).
            lib.cgs_floor_sweep.restype = ctypes.c_longlong
            _lib = lib
        except (RuntimeError, OSError, subprocess.CalledProcessError) as e:
            _lib_error = str(e)
    return _lib


def load_error():
    return _lib_error


# --- which files a sweep reads ---------------------------------------------------

def _has_device_rows(path: str) -> bool:
    with open(path, "rb") as f:
        data = f.read()
    return any(b":" in line.split(b" ", 1)[0] for line in data.splitlines() if line.strip())


def _is_empty(path: str) -> bool:
    with open(path, "rb") as f:
        return not f.read()


def _reopen(spec) -> bool:
    return bool(getattr(spec, "reopen", False))


def _max_record(spec) -> int:
    return int(getattr(spec, "max_record", 0) or 0)


def sweep_files(h, name: str) -> list:
    """[(file name, path, multi, reopen, max_record), ...] that one sweep of container
    `name` reads now, in the sweep's order (v1 only). The blkio rule is the
    engine's: groups in order, the first whose first file has device rows is
    chosen and read up to its first empty file; the probe files of groups tried
    before it are read too."""
    paths = hierarchy.files(h, name)
    out = [(spec.name, paths[spec.name], spec.multi, _reopen(spec), _max_record(spec))
           for spec in schema.V1_FILES if spec.name in paths]
    for group in schema.BLKIO_GROUPS:
        first = group[0][0]
        if first not in paths:
            continue              # group skipped (cAdvisor's rule): none of its files are read
        out.append((first, paths[first], False, False, 0))
        if not _has_device_rows(paths[first]):
            continue
        for fname, _ in group[1:]:
            if fname not in paths:
                continue
            out.append((fname, paths[fname], False, False, 0))
            if _is_empty(paths[fname]):
                break
        break
    return out


def held_files(h, name: str) -> list:
    """[(file name, path, multi, reopen, max_record), ...] of every file the sampler
    may read for `name` (reopen: not kept open, opened for each read)."""
    paths = hierarchy.files(h, name)
    specs = list(schema.V1_FILES) + list(schema.V1_BLKIO_FILES)
    seen, out = set(), []
    for spec in specs:
        if spec.name in paths and spec.name not in seen:
            seen.add(spec.name)
            out.append((spec.name, paths[spec.name], spec.multi, _reopen(spec), _max_record(spec)))
    return out


def open_fds_by_path(pid: str = "self") -> dict:
    """path -> [fd, ...] of this process's open files (readlink of /proc/self/fd);
    an O_PATH directory fd is listed under the directory's path."""
    out = {}
    base = f"/proc/{pid}/fd"
    for entry in os.listdir(base):
        try:
            target = os.readlink(os.path.join(base, entry))
        except OSError:
            continue
        out.setdefault(target, []).append(int(entry))
    return out


def fd_flags(fd: int) -> int:
    """The open flags of this process's fd (the octal `flags:` of /proc/self/fdinfo), or -1."""
    try:
        with open(f"/proc/self/fdinfo/{fd}") as f:
            for line in f:
                if line.startswith("flags:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return -1


def _is_path_dirfd(fd: int) -> bool:
    """An O_PATH|O_DIRECTORY fd: the kind the engine keeps for files it opens per read."""
    f = fd_flags(fd)
    return f >= 0 and f & (os.O_PATH | os.O_DIRECTORY) == os.O_PATH | os.O_DIRECTORY


def _lookup(by_path, path):
    return by_path.get(path) or by_path.get(os.path.realpath(path)) or []


def count_reads(fn, *args) -> int:
    """Read-type syscalls (read, pread, ...) that fn(*args) makes, from the syscr
    line of /proc/self/io (one pread of it before and after; the first is counted)."""
    fd = os.open("/proc/self/io", os.O_RDONLY | os.O_CLOEXEC)
    try:
        def syscr():
            for line in os.pread(fd, 4096, 0).splitlines():
                if line.startswith(b"syscr:"):
                    return int(line.split()[1])
            return 0
        before = syscr()
        fn(*args)
        after = syscr()
    finally:
        os.close(fd)
    return after - before - 1


MODES = {"engine": 0, "one_read": 1, "until_zero": 2}


class ExactFloor:
    """Reads, in C, exactly the files one sweep of `sampler` reads, as the engine
    does: through the sampler's own kept fd where it keeps one; for a file it
    opens for each read (v1 cgroup.procs), openat() on the sampler's own O_PATH
    fd of the file's directory, then close; where it holds neither (slots past
    the fd budget), open by path + fstat + close. Multi-record files follow the
    engine's EOF rule. Call it like a sweep; returns bytes read.

    `files` selects file names (e.g. {"memory.stat"}) to time one file kind alone;
    `mode`: "engine" (the engine's rule), "one_read" (one pread per file),
    "until_zero" (multi-record files read until 0, the rule before 567fdaa);
    `reopen="path"` opens every selected file by path (+ fstat) around its reads,
    the engine's way past the fd budget, instead of using the sampler's fds;
    `keep=True` opens (and keeps, until close()) an fd of its own for a file the
    sampler opens per read, to time the kept-fd read of such a file.
    `by_path`: open_fds_by_path() taken right after the sampler was made, so that
    fds opened later by others (a KeptFdPythonSampler) are not taken for its own.
    `repeat`: read the whole list that many times per call (to time a single
    container without the ~1 us of the ctypes call dominating); divide by it.

    Counts: `n` files per call, `kept` read through a kept fd, `opened_at` by
    openat() on a directory fd, `by_path` opened by path.

    One call costs the reads plus ~1 us of ctypes overhead; Sampler.sample()
    has a Python call overhead too (~0.3 us), so ratios at N=1 carry that noise."""

    def __init__(self, sampler, names, files=None, mode="engine", reopen=None, keep=False,
                 by_path=None, repeat=1):
        lib = load()
        if lib is None:
            raise RuntimeError(f"C floor unavailable: {load_error()}")
        if reopen not in (None, "path"):
            raise ValueError(f"reopen: None or 'path', not {reopen!r}")
        self._lib = lib
        if by_path is None:
            by_path = open_fds_by_path()
        fds, dirfds, multi, maxrec, paths, fnames, self.kinds = [], [], [], [], [], [], []
        self.kept = self.opened_at = self.by_path = 0
        self._own = []
        h = sampler.hierarchy
        for name in names:
            for fname, path, is_multi, is_reopen, max_record in sweep_files(h, name):
                if files is not None and fname not in files:
                    continue
                fd = dirfd = -1
                if reopen == "path":
                    pass
                elif is_reopen and keep:
                    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
                    self._own.append(fd)
                elif is_reopen:
                    dirs = [d for d in _lookup(by_path, os.path.dirname(path)) if _is_path_dirfd(d)]
                    dirfd = min(dirs) if dirs else -1
                else:
                    got = _lookup(by_path, path)
                    fd = min(got) if got else -1
                self.kept += fd >= 0
                self.opened_at += fd < 0 and dirfd >= 0
                self.by_path += fd < 0 and dirfd < 0
                fds.append(fd)
                dirfds.append(dirfd)
                multi.append(1 if is_multi else 0)
                maxrec.append(int(max_record))
                paths.append(path.encode())
                fnames.append(os.path.basename(path).encode())
                self.kinds.append(fname)
        self.repeat = int(repeat)
        self.n = len(fds) * self.repeat
        self.reopened = self.opened_at + self.by_path       # files opened for each read
        k = max(self.n, 1)
        self._fds = (ctypes.c_int * k)(*(fds * self.repeat))
        self._dirfds = (ctypes.c_int * k)(*(dirfds * self.repeat))
        self._multi = (ctypes.c_ubyte * k)(*(multi * self.repeat))
        self._maxrec = (ctypes.c_uint * k)(*(maxrec * self.repeat))
        self._pathbytes, self._namebytes = paths * self.repeat, fnames * self.repeat
        self._paths = (ctypes.c_char_p * k)(*self._pathbytes)
        self._names = (ctypes.c_char_p * k)(*self._namebytes)
        vp = ctypes.c_void_p
        self._args = (ctypes.cast(self._fds, vp), ctypes.cast(self._dirfds, vp), ctypes.cast(self._paths, vp),
                      ctypes.cast(self._names, vp), ctypes.cast(self._multi, vp), ctypes.cast(self._maxrec, vp),
                      ctypes.c_long(self.n), ctypes.c_int(MODES[mode]))
        self._fn = lib.cgs_floor_sweep

    def __call__(self):
        r = self._fn(*self._args)
        if r < 0:
            raise OSError(-r, os.strerror(-r))
        return r

    def close(self):
        for fd in self._own:
            os.close(fd)
        self._own = []


# --- standalone profile: python -m benchmarks.floor ----------------------------------

_PERF_SYMBOLS = ("memory_stat_show", "memcg1_stat_format", "__mem_cgroup_flush_stats",
                 "vsnprintf", "seq_read_iter", "kernfs_fop_read_iter", "vfs_read", "fdget",
                 "cgroup_seqfile_show", "cpu_cfs_stat_show", "cpuacct_stats_show",
                 "cpuacct_percpu_seq_show", "cgroup_pidlist_start", "pidlist_array_load",
                 "mod_delayed_work_on", "do_syscall_64")


def _perf_summary(data: str) -> list:
    """[(symbol, children %, self %)] of the symbols that tell the story."""
    r = subprocess.run(["perf", "report", "-i", data, "--children", "--stdio", "--sort", "sym",
                        "-g", "none"], capture_output=True, text=True)
    out = {}
    for line in r.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 4 and parts[0].endswith("%") and parts[1].endswith("%"):
            sym = parts[-1]
            if sym in _PERF_SYMBOLS and sym not in out:
                out[sym] = (float(parts[0][:-1]), float(parts[1][:-1]))
    return [(s, *out[s]) for s in _PERF_SYMBOLS if s in out]


def _list_line(entry) -> str:
    """One line of floor.c's LISTFILE: FLAGS (m multi, max_record, r openat on a kept
    O_PATH directory fd: the engine's way for files it opens per read) and the path."""
    _, path, multi, reopen, max_record = entry
    flags = ("m" if multi else "") + (str(max_record) if multi and max_record else "") + ("r" if reopen else "")
    return f"{flags or '-'} {path}\n"


def main(argv=None):
    """Times the standalone C floor (no Python in the process) over N fresh
    containers, per file kind, and optionally profiles it with `perf record`
    (cpu-clock sampling: works in VMs without hardware counters)."""
    import argparse
    import sys
    from benchmarks import cgroups

    ap = argparse.ArgumentParser(description=main.__doc__)
    ap.add_argument("--sizes", default="10,100,1000")
    ap.add_argument("--files-per-run", type=int, default=200_000,
                    help="file reads per timed run (iterations = this / files)")
    ap.add_argument("--repeat", type=int, default=3, help="timed runs per case (the median is shown)")
    ap.add_argument("--perf", action="store_true", help="also perf-record the whole floor at each N")
    args = ap.parse_args(argv)
    why = cgroups.unavailable()
    if why:
        print(why, file=sys.stderr)
        return 2
    exe = build(main=True)
    h = hierarchy.detect()
    work = tempfile.mkdtemp(prefix="cgs-floor-")
    try:
        for n in [int(x) for x in args.sizes.split(",")]:
            with cgroups.CgroupSet(n, sleepers=max(1, n // 10)) as cs:
                files = [f for name in cs.names for f in sweep_files(h, name)]
                kinds = list(dict.fromkeys(f[0] for f in files))
                print(f"N={n}: {len(files)} files, {len(files) / n:.1f} per container")
                for kind in [None] + kinds:
                    sel = [f for f in files if kind is None or f[0] == kind]
                    lst = os.path.join(work, f"n{n}.txt")
                    with open(lst, "w") as f:
                        f.writelines(_list_line(x) for x in sel)
                    iters = max(1, args.files_per_run // len(sel))
                    per = []
                    for _ in range(args.repeat):
                        r = subprocess.run([exe, lst, str(iters)], capture_output=True, text=True)
                        per.append(float(r.stderr.split("ns-per-sweep")[1].split()[0]) / n)
                    per.sort()
                    print(f"  {kind or 'all files':40s} {per[len(per) // 2] / 1000:7.2f} us per container")
                    if kind is None and args.perf and shutil.which("perf"):
                        with open(lst, "w") as f:
                            f.writelines(_list_line(x) for x in sel)
                        data = os.path.join(work, f"perf{n}.data")
                        subprocess.run(["perf", "record", "-q", "-e", "cpu-clock", "-F", "10000", "-g",
                                        "-o", data, exe, lst, str(iters * 2)],
                                       capture_output=True)
                        print("    perf (children% / self%):",
                              ", ".join(f"{s} {c:.1f}/{sf:.1f}" for s, c, sf in _perf_summary(data)))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
