"""cgroup discovery: mounts, v1/v2/hybrid detection, container names, spec values.

Pure Python and off the hot path: it runs when containers are discovered and
when a spec is asked for. The sampler gets from here the directories and the
stat-file paths it keeps open (:func:`files`).

Semantics follow cAdvisor v0.57 (see the project's cadvisor-v1-spec.md,
sections 1-4): a hybrid host is treated as cgroup v1, container names are
cgroup paths relative to the hierarchy root ("/", "/docker/<id>"), and spec
files are read leniently (a missing or unparsable file is 0, never an error).
"""
from __future__ import annotations

import math
import os
import re
import time
from dataclasses import dataclass, field

from cgsampler import errors

__all__ = [
    "Mount", "parse_mountinfo",
    "Hierarchy", "detect", "walk", "subcontainers",
    "SpecValues", "read_spec", "parse_limit", "parse_cpu_max", "files",
    "UNLIMITED", "V1_CONTROLLERS", "TRACKED_CONTROLLERS",
]

UNLIMITED = 2**64 - 1

# Kernel v1 controllers, for telling controllers from mount flags in super
# options. <proc>/cgroups adds whatever a newer kernel knows.
V1_CONTROLLERS = frozenset((
    "cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "net_cls",
    "net_prio", "blkio", "perf_event", "hugetlb", "pids", "rdma", "misc", "debug",
))

# The v1 subsystems cAdvisor keeps paths for: they define which hierarchies
# are walked, which directories make a container's creation time, and where
# subcontainers are looked for. name=systemd, freezer, net_cls, ... are not
# among them.
TRACKED_CONTROLLERS = (
    "cpu", "cpuacct", "cpuset", "memory", "blkio", "devices", "pids", "hugetlb", "perf_event",
)

# Files that only exist in a cgroup v2 directory: evidence for a v2 snapshot
# whose root lacks cgroup.controllers.
_V2_ONLY_FILES = (
    "cgroup.controllers", "cgroup.subtree_control", "cgroup.events", "cgroup.type",
    "cpu.max", "cpu.weight", "memory.current", "memory.max",
)

_IGNORED_NET_PREFIXES = ("lo", "veth", "docker", "nerdctl")


# --------------------------------------------------------------------------
# /proc/<pid>/mountinfo

@dataclass(frozen=True)
class Mount:
    """One line of /proc/<pid>/mountinfo; path fields have octal escapes decoded."""
    mount_id: int
    parent_id: int
    major: int
    minor: int
    root: str
    mount_point: str
    mount_options: tuple
    optional_fields: tuple
    fstype: str
    source: str
    super_options: tuple


_OCTAL_ESCAPE = re.compile(rb"\\([0-7]{3})")


def _unescape(value: str) -> str:
    # The kernel writes space, tab, newline and backslash as \ooo. Decode at
    # the byte level so non-ASCII paths survive (surrogateescape round-trips).
    if "\\" not in value:
        return value
    raw = value.encode("utf-8", "surrogateescape")
    raw = _OCTAL_ESCAPE.sub(lambda m: bytes((int(m.group(1), 8) & 0xFF,)), raw)
    return raw.decode("utf-8", "surrogateescape")


def _options(value: str) -> tuple:
    return tuple(value.split(",")) if value else ()


def _parse_mount_line(line: str) -> Mount:
    tokens = line.split(" ")
    # Before the "-" separator the kernel never prints an empty field, so runs
    # of spaces there are tolerated; after it, fields are positional: the
    # source may legitimately be empty ("tmpfs  ro,...").
    head: list[str] = []
    for i, token in enumerate(tokens):
        if token == "-" and len(head) >= 6:
            tail = tokens[i + 1:]
            break
        if token:
            head.append(token)
    else:
        raise ValueError('no " - " separator after the six fixed fields')
    if len(tail) < 2:
        raise ValueError('expected fstype and source after "-"')
    if not tail[0]:
        raise ValueError("empty filesystem type")
    try:
        mount_id, parent_id = int(head[0]), int(head[1])
        major_s, minor_s = head[2].split(":")
        major, minor = int(major_s), int(minor_s)
    except ValueError:
        raise ValueError("mount id, parent id or major:minor is not numeric") from None
    return Mount(
        mount_id=mount_id,
        parent_id=parent_id,
        major=major,
        minor=minor,
        root=_unescape(head[3]),
        mount_point=_unescape(head[4]),
        mount_options=_options(head[5]),
        optional_fields=tuple(head[6:]),
        fstype=tail[0],
        source=_unescape(tail[1]),
        # Some filesystems print unescaped spaces in super options (cifs: unc=\\host\a b).
        super_options=_options(" ".join(tail[2:])),
    )


def parse_mountinfo(data: bytes | str) -> list[Mount]:
    """Parse mountinfo text; raise MalformedFile naming the first bad line."""
    if isinstance(data, (bytes, bytearray, memoryview)):
        data = bytes(data).decode("utf-8", "surrogateescape")
    mounts = []
    for number, line in enumerate(data.split("\n"), 1):
        if not line.strip():
            continue
        try:
            mounts.append(_parse_mount_line(line))
        except ValueError as exc:
            raise errors.MalformedFile(f"mountinfo line {number}: {exc}: {line!r}") from None
    return mounts


# --------------------------------------------------------------------------
# Hierarchy detection

@dataclass
class Hierarchy:
    """Where the cgroup hierarchies are.

    version 1 covers hybrid hosts (v1 controllers plus a cgroup2 mount, kept
    in ``unified``). ``mounts`` maps each v1 controller (and named hierarchy,
    "name=systemd" -> "systemd") to its mount directory; co-mounted
    controllers share one directory. On v2 it is ``{"": root}``.
    """
    version: int
    mounts: dict = field(default_factory=dict)
    unified: str | None = None

    def path(self, controller: str, name: str) -> str | None:
        """Directory of container ``name`` under ``controller`` (ignored on v2); None if unmounted."""
        base = self.mounts.get("" if self.version == 2 else controller)
        if base is None:
            return None
        rel = _relative(name)
        return os.path.join(base, rel) if rel else base

    def exists(self, name: str) -> bool:
        """The container's directory is in some tracked hierarchy."""
        rel = _relative(name)
        return any(os.path.isdir(os.path.join(root, rel) if rel else root) for root in self._dirs())

    def _dirs(self, controllers=TRACKED_CONTROLLERS) -> list[str]:
        # Distinct hierarchy roots, in controller order.
        if self.version == 2:
            return [self.mounts[""]]
        roots = []
        for controller in controllers:
            root = self.mounts.get(controller)
            if root is not None and root not in roots:
                roots.append(root)
        return roots


def _relative(name: str) -> str:
    parts = [p for p in name.split("/") if p and p != "."]
    if ".." in parts:
        raise ValueError(f"container name {name!r} must not contain '..'")
    return "/".join(parts)


def _known_controllers(proc_root: str) -> set[str]:
    known = set(V1_CONTROLLERS)
    try:
        with open(os.path.join(proc_root, "cgroups"), encoding="ascii", errors="replace") as f:
            for line in f:
                if line and not line.startswith("#") and line.split():
                    known.add(line.split()[0])
    except OSError:
        pass
    return known


def _strip_name(option: str) -> str:
    return option[len("name="):] if option.startswith("name=") else option


def _controllers_of(super_options, known) -> list[str]:
    return [_strip_name(o) for o in super_options if o.startswith("name=") or o in known]


def detect(cgroup_root: str | None = None, proc_root: str = "/proc") -> Hierarchy:
    """Find the cgroup hierarchies from mountinfo, or from a directory tree.

    Without ``cgroup_root`` the mounts of ``<proc_root>/self/mountinfo`` decide
    (the first mount of each v1 controller wins). With it, the directory is
    inspected; partial snapshots (fixture trees) are recognised too.
    """
    if cgroup_root is not None:
        return _detect_from_directory(cgroup_root)
    mountinfo = os.path.join(proc_root, "self", "mountinfo")
    try:
        with open(mountinfo, "rb") as f:
            mounts = parse_mountinfo(f.read())
    except OSError as e:
        raise errors.NoCgroupFilesystem(
            f"cannot read {mountinfo} ({e.strerror}): is {proc_root} a procfs (--proc-root)?") from None
    known = _known_controllers(proc_root)
    v1: dict[str, str] = {}
    unified = None
    for m in mounts:
        if m.fstype == "cgroup":
            for controller in _controllers_of(m.super_options, known):
                v1.setdefault(controller, m.mount_point)
        elif m.fstype == "cgroup2" and unified is None:
            unified = m.mount_point
    if v1:
        return Hierarchy(version=1, mounts=v1, unified=unified)
    if unified is not None:
        return Hierarchy(version=2, mounts={"": unified}, unified=unified)
    raise errors.NoCgroupFilesystem(
        f"no cgroup filesystem found in {mountinfo}; is /sys/fs/cgroup mounted?")


def _is_v1_hierarchy_name(name: str, known) -> bool:
    return all(_strip_name(p) in known or _strip_name(p) == "systemd" for p in name.split(","))


def _detect_from_directory(cgroup_root: str) -> Hierarchy:
    cgroup_root = os.path.normpath(cgroup_root)

    def exists(*parts):
        return os.path.exists(os.path.join(cgroup_root, *parts))

    if exists("cgroup.controllers"):
        return Hierarchy(version=2, mounts={"": cgroup_root}, unified=cgroup_root)
    if exists("cgroup.procs"):
        # A cgroup directory without cgroup.controllers: one v1 hierarchy (or a
        # cgroup inside one), not the directory that holds the hierarchies.
        raise errors.NoCgroupFilesystem(
            f"{cgroup_root} is a single cgroup v1 hierarchy; give the directory that holds the "
            f"controller hierarchies (cpu, memory, ...), e.g. {os.path.dirname(cgroup_root)}")
    try:
        entries = sorted(os.scandir(cgroup_root), key=lambda e: e.name)
    except OSError:
        entries = []
    v1: dict[str, str] = {}
    unified = None
    v2_children = False
    for entry in entries:
        try:
            if not entry.is_dir(follow_symlinks=False):
                continue  # /sys/fs/cgroup/cpu -> cpu,cpuacct links are seen through the real dir
        except OSError:
            continue
        is_v2 = exists(entry.name, "cgroup.controllers")
        if entry.name == "unified" or (is_v2 and entry.name == "systemd"):
            # systemd's hybrid mount; older systemd put it where name=systemd goes.
            if unified is None:
                unified = entry.path
        elif is_v2:
            v2_children = True  # a child cgroup of a v2 root (snapshots may lack the root's files)
        elif exists(entry.name, "cgroup.procs") or _is_v1_hierarchy_name(entry.name, V1_CONTROLLERS):
            # Real v1 roots hold cgroup.procs (named ones too, e.g. elogind);
            # partial snapshots are known by their controller names.
            for part in entry.name.split(","):
                v1.setdefault(_strip_name(part), entry.path)
    if v1:
        return Hierarchy(version=1, mounts=v1, unified=unified)
    if unified is not None:
        return Hierarchy(version=2, mounts={"": unified}, unified=unified)
    if v2_children or any(exists(f) for f in _V2_ONLY_FILES):
        # a v2 root copied without its own cgroup.* files (a snapshot)
        return Hierarchy(version=2, mounts={"": cgroup_root}, unified=cgroup_root)
    raise errors.NoCgroupFilesystem(
        f"no cgroup filesystem in {cgroup_root}: neither cgroup.controllers (v2) nor controller "
        "directories such as cpu/ and memory/ (v1); give a cgroup mount such as /sys/fs/cgroup")


# --------------------------------------------------------------------------
# Walking

def _walk_dirs(root: str):
    """Yield root and every directory below it, without following symlinks."""
    stack = [root]
    while stack:
        directory = stack.pop()
        try:
            with os.scandir(directory) as it:
                children = []
                for entry in it:
                    try:
                        if entry.is_dir(follow_symlinks=False):
                            children.append(entry.path)
                    except OSError:
                        continue  # vanished between listing and stat
        except (FileNotFoundError, NotADirectoryError):
            continue  # removed while we walked: not a container any more
        except OSError:
            children = []  # unreadable: keep its name, skip its children
        yield directory
        stack.extend(children)


def _name_of(root: str, directory: str) -> str:
    rel = os.path.relpath(directory, root)
    return "/" if rel == "." else "/" + rel.replace(os.sep, "/")


def walk(h: Hierarchy, controllers=TRACKED_CONTROLLERS) -> list[str]:
    """Every container name: "/" and all descendants, the union over hierarchies, sorted.

    Like cAdvisor, systemd ``*.mount`` cgroups are not containers (their
    children, if any, are). v1 walks the hierarchies of ``controllers``.
    """
    names = {"/"}
    for root in h._dirs(controllers):
        if not os.path.isdir(root):
            continue
        for directory in _walk_dirs(root):
            name = _name_of(root, directory)
            if not name.endswith(".mount"):
                names.add(name)
    return sorted(names)


def subcontainers(h: Hierarchy, name: str, controllers=TRACKED_CONTROLLERS) -> list[str]:
    """Direct children of ``name`` (union over hierarchies), sorted; includes ``*.mount``."""
    rel = _relative(name)
    prefix = "/" + rel if rel else ""
    children = set()
    for root in h._dirs(controllers):
        directory = os.path.join(root, rel) if rel else root
        try:
            with os.scandir(directory) as it:
                for entry in it:
                    try:
                        if entry.is_dir(follow_symlinks=False):
                            children.add(f"{prefix}/{entry.name}")
                    except OSError:
                        continue
        except OSError:
            continue
    return sorted(children)


# --------------------------------------------------------------------------
# Spec values

@dataclass
class SpecValues:
    """Raw ContainerSpec inputs of one container (cAdvisor spec section 3)."""
    creation_time_ns: int = 0           # 0 = unknown (cAdvisor's zero time)
    has_cpu: bool = False
    cpu_limit: int = 0                  # shares
    cpu_mask: str = ""
    cpu_quota: int = 0                  # microseconds
    cpu_period: int = 0                 # microseconds
    has_memory: bool = False
    memory_limit: int = 0               # bytes
    memory_reservation: int = 0
    memory_swap_limit: int = 0
    has_diskio: bool = False
    has_network: bool = False
    has_filesystem: bool = False
    has_processes: bool = False


_UINT = re.compile(r"[0-9]+", re.ASCII)
_SPACE = " \t\n\r\v\f"


def _uint(text: str) -> int:
    """Strict unsigned decimal (Go's ParseUint): anything else, or > 2**64-1, is 0."""
    if not _UINT.fullmatch(text):
        return 0
    digits = text.lstrip("0") or "0"
    if len(digits) > 20:  # also keeps int() clear of the str-digits limit
        return 0
    value = int(digits)
    return value if value <= UNLIMITED else 0


def _text(value) -> str:
    if isinstance(value, (bytes, bytearray, memoryview)):
        value = bytes(value).decode("ascii", "replace")
    return value.strip(_SPACE)


def parse_limit(text: bytes | str) -> int:
    """Read a single-value spec file: "max" is 2**64-1; empty, negative or garbage is 0."""
    s = _text(text)
    if s == "max":
        return UNLIMITED
    return _uint(s)


def parse_cpu_max(text: bytes | str) -> tuple[int, int]:
    """cgroup v2 cpu.max "QUOTA PERIOD" -> (quota, period); "max" quota is 0; malformed is (0, 0)."""
    tokens = _text(text).split(" ")
    if len(tokens) != 2:
        return 0, 0
    quota = 0 if tokens[0] == "max" else _uint(tokens[0])
    return quota, _uint(tokens[1])


def _read(directory: str | None, name: str) -> str:
    if directory is None:
        return ""
    try:
        with open(os.path.join(directory, name), "rb") as f:
            return _text(f.read(65536))
    except OSError:
        return ""  # missing, vanished, or a directory: the spec reads it as empty


def _weight_to_shares(weight: int) -> int:
    # cAdvisor's linear map of cpu.weight [1, 10000] onto shares [2, 262144].
    if 1 <= weight <= 10000:
        return 2 + ((weight - 1) * 262142) // 9999
    return 0


def _fix_cpu_mask(mask: str, num_cores: int) -> str:
    if mask:
        return mask
    return "0" if num_cores <= 1 else f"0-{num_cores - 1}"


def _boot_time_ns(proc_root: str, now_s: float) -> int:
    # cAdvisor: now - sysinfo.uptime (whole seconds, rounded up), truncated to the minute.
    try:
        with open(os.path.join(proc_root, "uptime"), "rb") as f:
            uptime = math.ceil(float(f.read().split()[0]))
    except (OSError, ValueError, IndexError):
        return 0
    boot = int(now_s) - uptime
    return (boot - boot % 60) * 10**9


def _creation_time_ns(dirs, marker: str, proc_root: str) -> int:
    now_ns = time.time_ns()
    lowest = now_ns
    for directory in dirs:
        try:
            lowest = min(lowest, os.stat(directory).st_mtime_ns)
        except OSError:
            continue
        try:
            lowest = min(lowest, os.stat(os.path.join(directory, marker)).st_mtime_ns)
        except OSError:
            pass
    if lowest == now_ns:
        return 0
    return max(lowest, _boot_time_ns(proc_root, now_ns / 1e9))


def _meminfo_bytes(proc_root: str, key: str) -> int | None:
    try:
        with open(os.path.join(proc_root, "meminfo"), "rb") as f:
            for line in f:
                if line.startswith(key.encode() + b":"):
                    fields = line.split()
                    if len(fields) >= 2 and fields[1].isdigit():
                        return int(fields[1]) * 1024
                    return None
    except OSError:
        pass
    return None


def _has_physical_network(sys_root: str) -> bool:
    try:
        names = os.listdir(os.path.join(sys_root, "class", "net"))
    except OSError:
        return False
    return any(not n.startswith(_IGNORED_NET_PREFIXES) for n in names)


def read_spec(h: Hierarchy, name: str, proc_root: str = "/proc", sys_root: str = "/sys",
              num_cores: int | None = None) -> SpecValues:
    """Read the spec of container ``name``; never raises for missing or odd files.

    ``num_cores`` (default: this machine's) fills an empty CPU mask.
    """
    if num_cores is None:
        num_cores = os.cpu_count() or 1
    is_root = _relative(name) == ""
    spec = SpecValues()

    if h.version == 2:
        d = h.path("", name)
        exists = os.path.isdir(d)
        spec.creation_time_ns = _creation_time_ns([d], "cgroup.events", proc_root)
        if exists:
            spec.has_cpu = True
            spec.cpu_limit = _weight_to_shares(parse_limit(_read(d, "cpu.weight")))
            spec.cpu_quota, spec.cpu_period = parse_cpu_max(_read(d, "cpu.max"))
            spec.cpu_mask = _fix_cpu_mask(_read(d, "cpuset.cpus.effective"), num_cores)
            spec.has_diskio = True
            spec.has_processes = True
        if os.path.exists(os.path.join(d, "memory.max")):
            spec.has_memory = True
            spec.memory_limit = parse_limit(_read(d, "memory.max"))
            spec.memory_reservation = parse_limit(_read(d, "memory.min"))
            spec.memory_swap_limit = parse_limit(_read(d, "memory.swap.max"))
    else:
        paths = {c: h.path(c, name) for c in TRACKED_CONTROLLERS if c in h.mounts}
        if is_root:
            paths.pop("pids", None)  # cAdvisor drops the root's pids path
        present = {c: p for c, p in paths.items() if os.path.isdir(p)}
        spec.creation_time_ns = _creation_time_ns(
            dict.fromkeys(paths.values()), "cgroup.clone_children", proc_root)
        cpu = present.get("cpu")
        if cpu is not None:
            spec.has_cpu = True
            spec.cpu_limit = parse_limit(_read(cpu, "cpu.shares"))
            spec.cpu_period = parse_limit(_read(cpu, "cpu.cfs_period_us"))
            quota = _read(cpu, "cpu.cfs_quota_us")
            spec.cpu_quota = 0 if quota == "-1" else _uint(quota)
        cpuset = present.get("cpuset")
        if cpuset is not None:
            spec.has_cpu = True
            spec.cpu_mask = _fix_cpu_mask(_read(cpuset, "cpuset.cpus"), num_cores)
        memory = present.get("memory")
        if memory is not None:
            spec.has_memory = True
            spec.memory_limit = parse_limit(_read(memory, "memory.limit_in_bytes"))
            spec.memory_reservation = parse_limit(_read(memory, "memory.soft_limit_in_bytes"))
            spec.memory_swap_limit = parse_limit(_read(memory, "memory.memsw.limit_in_bytes"))
        spec.has_diskio = "blkio" in present
        spec.has_processes = "pids" in present

    if is_root:
        spec.has_filesystem = True
        spec.has_network = _has_physical_network(sys_root)
        mem_total = _meminfo_bytes(proc_root, "MemTotal")
        if mem_total is None:
            spec.has_memory = False
        else:
            spec.has_memory = True
            spec.memory_limit = mem_total
        swap_total = _meminfo_bytes(proc_root, "SwapTotal")
        if swap_total is not None:
            spec.memory_swap_limit = swap_total
    return spec


# --------------------------------------------------------------------------
# Stat files for the sampler

_V1_FILES = (
    ("cpuacct", ("cpuacct.usage", "cpuacct.usage_percpu", "cpuacct.stat")),
    ("cpu", ("cpu.stat",)),
    ("memory", ("memory.usage_in_bytes", "memory.max_usage_in_bytes", "memory.failcnt",
                "memory.stat", "memory.memsw.usage_in_bytes", "memory.use_hierarchy")),
    # Every blkio file cAdvisor's group selection may probe or read (spec 8.2).
    ("blkio", (
        "blkio.bfq.sectors_recursive", "blkio.bfq.io_service_time_recursive",
        "blkio.bfq.io_wait_time_recursive", "blkio.bfq.io_merged_recursive",
        "blkio.bfq.io_queued_recursive", "blkio.bfq.time_recursive",
        "blkio.bfq.io_serviced_recursive", "blkio.bfq.io_service_bytes_recursive",
        "blkio.sectors_recursive", "blkio.io_service_time_recursive",
        "blkio.io_wait_time_recursive", "blkio.io_merged_recursive",
        "blkio.io_queued_recursive", "blkio.time_recursive",
        "blkio.io_serviced_recursive", "blkio.io_service_bytes_recursive",
        "blkio.throttle.io_serviced_recursive", "blkio.throttle.io_service_bytes_recursive",
        "blkio.throttle.io_serviced", "blkio.throttle.io_service_bytes",
    )),
)
_V1_PROCS_ORDER = ("cpu", "cpuacct", "memory", "pids", "cpuset", "blkio", "devices",
                   "hugetlb", "perf_event", "freezer", "systemd")
_V2_FILES = ("cpu.stat", "memory.current", "memory.peak", "memory.swap.current",
             "memory.stat", "io.stat", "cgroup.procs", "cgroup.threads")


def files(h: Hierarchy, name: str) -> dict:
    """Absolute paths of the stat files the sampler keeps open, by file name; existing files only."""
    found = {}
    if h.version == 2:
        d = h.path("", name)
        for key in _V2_FILES:
            p = os.path.join(d, key)
            if os.path.exists(p):
                found[key] = p
        return found
    for controller, keys in _V1_FILES:
        d = h.path(controller, name)
        if d is None:
            continue
        for key in keys:
            p = os.path.join(d, key)
            if os.path.exists(p):
                found[key] = p
    for controller in _V1_PROCS_ORDER:
        d = h.path(controller, name)
        if d is not None and os.path.exists(os.path.join(d, "cgroup.procs")):
            found["cgroup.procs"] = os.path.join(d, "cgroup.procs")
            if os.path.exists(os.path.join(d, "tasks")):
                found["tasks"] = os.path.join(d, "tasks")       # its threads
            break
    return found
