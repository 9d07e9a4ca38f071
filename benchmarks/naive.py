"""The naive pure-Python sampler: the same fields as cgsampler's v1 sweep, the
way Python cgroup libraries (cgroupspy & co.) read them: for each container,
open/read/close each file and split it into Python values, one dict per
container per sample.

It is written to be reasonable Python, not slow on purpose: paths are resolved
once, files are opened in binary mode (no decoding), values are parsed with
int() and bytes.split(), and the blkio rule is cAdvisor's (the first file
group whose first file has device rows wins), so it reads the same files the
sampler's sweep reads.

`KeptFdPythonSampler` is the same Python parsing over kept-open fds read with
os.pread (the sampler's I/O strategy, Python's parsing): an informational
middle point that splits "kept fds" from "parsing in C".
"""
from __future__ import annotations

import os

from cgsampler import schema

CGROUP_ROOT = "/sys/fs/cgroup"
NS_PER_TICK = schema.NS_PER_TICK

# (controller, file) in the order the sampler reads them; cgroup.procs comes
# from the cpu hierarchy, as in cgsampler.hierarchy.files.
V1_FILES = (
    ("cpuacct", "cpuacct.usage"),
    ("cpuacct", "cpuacct.stat"),
    ("cpuacct", "cpuacct.usage_percpu"),
    ("cpu", "cpu.stat"),
    ("memory", "memory.usage_in_bytes"),
    ("memory", "memory.max_usage_in_bytes"),
    ("memory", "memory.failcnt"),
    ("memory", "memory.stat"),
    ("memory", "memory.use_hierarchy"),    # read once at setup, not per sample
    ("cpu", "cgroup.procs"),
)
BLKIO_GROUPS = schema.BLKIO_GROUPS
_OPS = {b"Read": "Read", b"Write": "Write", b"Sync": "Sync", b"Async": "Async",
        b"Discard": "Discard", b"Total": "Total"}


def container_paths(name: str, root: str = CGROUP_ROOT) -> dict:
    """file name -> absolute path for one container (existing files only), plus
    "blkio_groups": the blkio groups whose files exist, each a list of (path, list)."""
    rel = name.strip("/")
    out = {}
    for ctrl, fname in V1_FILES:
        p = os.path.join(root, ctrl, rel, fname)
        if os.path.exists(p):
            out[fname] = p
    groups = []
    for group in BLKIO_GROUPS:
        files = [(os.path.join(root, "blkio", rel, f), lst) for f, lst in group]
        files = [(p, lst) for p, lst in files if os.path.exists(p)]
        if files:
            groups.append(files)
    out["blkio_groups"] = groups
    return out


# --- parsers of file contents (bytes -> Python values) --------------------------

def parse_kv(data: bytes) -> dict:
    out = {}
    for line in data.splitlines():
        parts = line.split()
        if len(parts) == 2:
            out[parts[0]] = int(parts[1])
    return out


def parse_blkio(data: bytes, lst: str) -> list:
    """[(major, minor, list, op, value), ...]; the "Total N" line has no device."""
    out = []
    for line in data.splitlines():
        parts = line.split()
        if len(parts) == 3:
            major, minor = parts[0].split(b":")
            out.append((int(major), int(minor), lst, _OPS.get(parts[1], "Count"), int(parts[2])))
        elif len(parts) == 2 and b":" in parts[0]:
            major, minor = parts[0].split(b":")
            out.append((int(major), int(minor), lst, "Count", int(parts[1])))
    return out


def build_sample(usage, cpustat, percpu, cfs, mem_usage, mem_max, failcnt, memstat,
                 hierarchical, procs, disk) -> dict:
    p = "total_" if hierarchical else ""
    inactive = memstat.get(b"total_inactive_file")
    working_set = mem_usage if inactive is None else max(mem_usage - inactive, 0)
    return {
        "cpu_usage_total": usage,
        "cpu_user": cpustat.get(b"user", 0) * NS_PER_TICK,
        "cpu_system": cpustat.get(b"system", 0) * NS_PER_TICK,
        "cpu_percpu": percpu,
        "cpu_cfs_periods": cfs.get(b"nr_periods", 0),
        "cpu_cfs_throttled_periods": cfs.get(b"nr_throttled", 0),
        "cpu_cfs_throttled_time": cfs.get(b"throttled_time", 0),
        "memory_usage": mem_usage,
        "memory_max_usage": mem_max,
        "memory_failcnt": failcnt,
        "memory_cache": memstat.get(p.encode() + b"cache", 0),
        "memory_rss": memstat.get(p.encode() + b"rss", 0),
        "memory_swap": memstat.get(p.encode() + b"swap", 0),
        "memory_mapped_file": memstat.get(p.encode() + b"mapped_file", 0),
        "memory_inactive_file": inactive or 0,
        "memory_working_set": working_set,
        "memory_pgfault": memstat.get(b"pgfault", 0),
        "memory_pgmajfault": memstat.get(b"pgmajfault", 0),
        "process_count": procs,
        "diskio": disk,
    }


# --- open/read/close every sample ------------------------------------------------

def _read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


class NaiveSampler:
    """open/read/split per file per sample; one dict per container."""

    def __init__(self, names, root: str = CGROUP_ROOT):
        self.names = list(names)
        self.paths = [container_paths(n, root) for n in self.names]
        self.hierarchical = [_read(p["memory.use_hierarchy"]).strip() == b"1"
                             if "memory.use_hierarchy" in p else True for p in self.paths]

    def _blkio(self, groups) -> list:
        for files in groups:
            first_path, first_list = files[0]
            disk = parse_blkio(_read(first_path), first_list)
            if not disk:
                continue
            for path, lst in files[1:]:
                data = _read(path)
                if not data:
                    break
                disk.extend(parse_blkio(data, lst))
            return disk
        return []

    def sample_one(self, i: int) -> dict:
        p = self.paths[i]
        return build_sample(
            int(_read(p["cpuacct.usage"])),
            parse_kv(_read(p["cpuacct.stat"])),
            [int(x) for x in _read(p["cpuacct.usage_percpu"]).split()],
            parse_kv(_read(p["cpu.stat"])),
            int(_read(p["memory.usage_in_bytes"])),
            int(_read(p["memory.max_usage_in_bytes"])),
            int(_read(p["memory.failcnt"])),
            parse_kv(_read(p["memory.stat"])),
            self.hierarchical[i],
            len(_read(p["cgroup.procs"]).split()),
            self._blkio(p["blkio_groups"]),
        )

    def sample(self) -> list:
        return [self.sample_one(i) for i in range(len(self.names))]

    def close(self):
        pass


# --- kept fds + os.pread, Python parsing (informational) --------------------------

_BUF = 65536


def _pread_all(fd) -> bytes:
    """Whole file from offset 0 (a short read is the end, as for the sampler's
    single-record files); `fd` may be a path, then the file is opened for it."""
    if isinstance(fd, str):
        return _read(fd)
    data = os.pread(fd, _BUF, 0)
    if len(data) < _BUF:
        return data
    chunks = [data]
    off = len(data)
    while True:
        more = os.pread(fd, _BUF, off)
        if not more:
            return b"".join(chunks)
        chunks.append(more)
        off += len(more)


def _pread_multi(fd) -> bytes:
    """Multi-record file (cgroup.procs): a short read is not EOF; read until 0."""
    if isinstance(fd, str):
        return _read(fd)
    chunks, off = [], 0
    while True:
        more = os.pread(fd, _BUF, off)
        if not more:
            return b"".join(chunks)
        chunks.append(more)
        off += len(more)


class KeptFdPythonSampler(NaiveSampler):
    """NaiveSampler's parsing over fds opened once and re-read with os.pread.

    fds_by_path (path -> [fd, ...], e.g. floor.open_fds_by_path()) reuses fds the
    process already holds (the sampler's), so 1,000 containers do not need a
    second set of 13,000 descriptors; those fds are not closed here. With it, a
    file the sampler does not keep open (v1 cgroup.procs, which it re-opens for
    every read) is re-opened here too, as the sampler does."""

    def __init__(self, names, root: str = CGROUP_ROOT, fds_by_path=None):
        super().__init__(names, root)
        self.fds = []
        self._owned = []

        def fd_of(path):
            if fds_by_path is not None:
                got = fds_by_path.get(path) or fds_by_path.get(os.path.realpath(path))
                return min(got) if got else path      # a path: re-opened for every read
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            self._owned.append(fd)
            return fd

        for p in self.paths:
            fds = {k: fd_of(v) for k, v in p.items() if k not in ("blkio_groups", "memory.use_hierarchy")}
            fds["blkio_groups"] = [[(fd_of(path), lst) for path, lst in files] for files in p["blkio_groups"]]
            self.fds.append(fds)

    def _blkio(self, groups) -> list:
        for files in groups:
            first_fd, first_list = files[0]
            disk = parse_blkio(_pread_all(first_fd), first_list)
            if not disk:
                continue
            for fd, lst in files[1:]:
                data = _pread_all(fd)
                if not data:
                    break
                disk.extend(parse_blkio(data, lst))
            return disk
        return []

    def sample_one(self, i: int) -> dict:
        f = self.fds[i]
        return build_sample(
            int(_pread_all(f["cpuacct.usage"])),
            parse_kv(_pread_all(f["cpuacct.stat"])),
            [int(x) for x in _pread_all(f["cpuacct.usage_percpu"]).split()],
            parse_kv(_pread_all(f["cpu.stat"])),
            int(_pread_all(f["memory.usage_in_bytes"])),
            int(_pread_all(f["memory.max_usage_in_bytes"])),
            int(_pread_all(f["memory.failcnt"])),
            parse_kv(_pread_all(f["memory.stat"])),
            self.hierarchical[i],
            len(_pread_multi(f["cgroup.procs"]).split()),
            self._blkio(f["blkio_groups"]),
        )

    def close(self):
        for fd in self._owned:
            os.close(fd)
        self._owned = []
        self.fds = []
