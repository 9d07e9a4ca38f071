"""Sampler: container slots, sweeps into the history ring, and queries.

The sampler never encodes JSON: it hands out numpy views of the ring, and v1
objects built from rows on request.
"""
from __future__ import annotations

import errno
import os
import resource
import threading
import time
from collections import deque

import numpy as np

from cgsampler import errors, filesystems, hierarchy, schema, v1
from cgsampler import runtimes as _runtimes
from cgsampler.accelerators import Accelerators
from cgsampler._native.sweep import KINDS, EMULATE_MEMORY_USAGE, COUNT_FDS, Engine
from cgsampler._native.sockdiag import NetnsSocket
from cgsampler._native.taskstats import Taskstats

_TABLE_IDS = {name: i for i, name in enumerate(schema.KEY_TABLES)}
_OFFSETS = {name: schema.STATS_DTYPE.fields[name][1] for name in schema.STATS_DTYPE.names}
_LIST_INDEX = {name: i for i, name in enumerate(schema.DISK_LISTS)}
G = schema.GROUPS
FD_RESERVE = 256        # descriptors left for the embedding program
MAX_CPUS = 8192         # the kernel's largest NR_CPUS: a longer per-CPU file is not believed
NETWORK_GROUPS = ("network", "tcp", "udp")
SOCKET_INTERVAL = 5.0   # default seconds between socket-table reads (benchmarks/README.md)
SCHEDSTAT_INTERVAL = 1.0    # default seconds between schedstat reads
PROC_LOAD_INTERVAL = 1.0    # ... and between task-state counts from /proc (no taskstats)
YIELD_STEP_S = 0.0001   # sample() sleeps in steps of this while another caller waits for the lock
YIELD_MAX_S = 0.05      # ... at most this long (then it takes its turn)


def raise_fd_limit() -> int:
    """Raises the soft RLIMIT_NOFILE to the hard limit; returns the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = max(soft, 1 << 20)
    if soft != resource.RLIM_INFINITY and soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            pass
    return soft


def possible_cpus(sys_root: str = "/sys") -> int:
    """Number of possible CPUs (what cpuacct.usage_percpu prints), at least the online count."""
    n = os.cpu_count() or 1
    try:
        with open(os.path.join(sys_root, "devices/system/cpu/possible")) as f:
            for part in f.read().strip().split(","):
                n = max(n, int(part.split("-")[-1]) + 1)
    except (OSError, ValueError):
        pass
    return n


def block_devices(sys_root: str = "/sys") -> dict:
    """(major, minor) -> "/dev/<name>" for the machine's disks, as cAdvisor's
    DiskMap: /sys/block entries except loop, ram and sr devices."""
    out = {}
    base = os.path.join(sys_root, "block")
    try:
        names = os.listdir(base)
    except OSError:
        return out
    for name in names:
        if name.startswith(("loop", "ram", "sr")):
            continue
        try:
            with open(os.path.join(base, name, "dev")) as f:
                major, minor = f.read().strip().split(":")
            out[(int(major), int(minor))] = "/dev/" + name
        except (OSError, ValueError):
            continue
    return out


class _Container:
    __slots__ = ("name", "slot", "col", "retired_at", "spec", "reopened", "netns", "netns_pid", "procs")

    def __init__(self, name, slot, col, spec, reopened, procs):
        self.name = name
        self.slot = slot
        self.col = col
        self.retired_at = None      # sweep count when its cgroup vanished
        self.spec = spec            # last SpecValues read
        self.reopened = reopened    # True: over the fd budget, files reopened each sweep
        self.netns = None           # key of its network namespace (see Sampler._attach_netns)
        self.netns_pid = None       # the process it was found through
        self.procs = procs          # its cgroup.procs path (where its namespace is looked for)


class _Netns:
    __slots__ = ("nid", "refs", "sock_diag")

    def __init__(self, nid, sock_diag):
        self.nid = nid              # Engine.add_netns id
        self.refs = 0               # containers in it
        self.sock_diag = sock_diag  # False: socket states from the /proc tables


def _jobs(h, name, disabled=frozenset(), taskstats=False):
    """The engine jobs for one container, the groups that cannot be collected,
    and the slot flags. disabled: group names not to collect; taskstats: v1 load
    by netlink taskstats (else counted from /proc)."""
    paths = hierarchy.files(h, name)
    jobs, uncollectable, flags = [], schema.group_mask(disabled & set(G)), 0
    if h.version == 1:
        specs = list(schema.V1_FILES)
        use_hierarchy = _read_text(paths.get("memory.use_hierarchy"))
        if use_hierarchy == "0":
            specs = [s if s.name != "memory.stat" else
                     schema.StatFile("memory.stat", "keyed", ("memory",), table="memory.stat.v1.local")
                     for s in specs]
        specs += list(schema.V1_BLKIO_FILES)
        cpu_dir = h.path("cpu", name)
        if taskstats and cpu_dir is not None and os.path.isdir(cpu_dir):
            paths["."] = cpu_dir
            specs.append(schema.V1_LOAD_TASKSTATS)
        else:
            specs.append(schema.V1_LOAD_THREADS)
    else:
        specs = list(schema.V2_FILES)
        if name == "/" and "memory.current" not in paths and "memory.stat" in paths:
            flags |= EMULATE_MEMORY_USAGE
            specs = [s for s in specs if s.name != "memory.current"]
    if not paths:
        raise FileNotFoundError(f"cgroup {name} vanished")
    specs = [sp for sp in specs if not set(sp.groups) <= disabled]
    if "processes" not in disabled:
        flags |= COUNT_FDS
    blkio_stopped = set()      # blkio groups cut short by a missing file
    for spec in specs:
        path = paths.get(spec.name)
        if spec.parser == "blkio":
            # cAdvisor reads a group's files in order and stops at the first one
            # missing; a group without its first (probe) file is not tried at all.
            if path is None or spec.blkio_group in blkio_stopped:
                blkio_stopped.add(spec.blkio_group)
                continue
        elif path is None:
            if spec.mandatory:
                uncollectable |= schema.group_mask(spec.groups)
            continue
        probe = int(spec.parser == "blkio" and schema.BLKIO_GROUPS[spec.blkio_group - 1][0][0] == spec.name)
        jobs.append((
            path, KINDS[spec.parser], schema.group_mask(spec.groups), int(spec.multi), int(spec.reopen),
            spec.max_record, _OFFSETS[spec.column] if spec.column else 0, _TABLE_IDS.get(spec.table, 0),
            spec.blkio_group, _LIST_INDEX.get(spec.blkio_list, 0), probe,
        ))
    if h.version == 1 and not any(j[1] == KINDS["blkio"] for j in jobs):
        uncollectable |= G["diskio"]
    if not jobs:
        raise FileNotFoundError(f"cgroup {name} has no stat files left")
    return jobs, uncollectable, flags


def _read_text(path):
    if not path:
        return None
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


class Sampler:
    """Samples every container (cgroup) of this host, or the named ones, into a
    fixed-capacity history ring.

    >>> with Sampler(history=60) as s:
    ...     s.sample()
    ...     info = s.container_info("/", v1.ContainerInfoRequest(num_stats=1))
    """

    def __init__(self, containers=None, history=60, cgroup_root=None, proc_root="/proc", *,
                 sys_root="/sys", max_disk_entries=32, max_cpus=None, fd_budget=None, intervals=None,
                 socket_interval=SOCKET_INTERVAL, max_interfaces=16, disable=(), runtimes=None,
                 env_allow=(), runtime_timeout=_runtimes.TIMEOUT_S,
                 accelerators="auto", nvml_library=None):
        if int(history) < 1:
            raise errors.InvalidOption(f"history must be at least 1 sample, got {history!r}")
        if int(max_disk_entries) < 0:
            raise errors.InvalidOption("max_disk_entries must be >= 0")
        if int(max_interfaces) < 0:
            raise errors.InvalidOption("max_interfaces must be >= 0")
        if isinstance(disable, str):
            disable = [disable]
        self._disabled = frozenset(disable)
        unknown = self._disabled - set(G) - {"filesystem"}
        if unknown:
            raise errors.InvalidOption(f"unknown group {sorted(unknown)[0]!r} in disable; groups are {', '.join(G)}")
        intervals = dict(intervals or {})
        if socket_interval is None:
            # the off switch, for the socket groups `intervals` does not name
            self._disabled |= {g for g in ("tcp", "udp") if g not in intervals}
        else:
            if isinstance(socket_interval, bool) or not isinstance(socket_interval, (int, float)) \
                    or not socket_interval >= 0:
                raise errors.InvalidOption(f"socket_interval must be a number of seconds >= 0, or None to "
                                           f"turn the socket tables off; got {socket_interval!r}")
            for g in ("tcp", "udp"):
                intervals.setdefault(g, socket_interval)
        self._h = hierarchy.detect(cgroup_root, proc_root)
        self._proc_root = proc_root
        self._sys_root = sys_root
        if isinstance(containers, str):
            containers = [containers]          # one name, not a sequence of characters
        self._wanted = None if containers is None else [_normalize(c) for c in containers]
        self._T = int(history)
        # cgroup v2 has no per-CPU file: no per-CPU array unless asked for.
        self._C = int(max_cpus) if max_cpus else (possible_cpus(sys_root) if self._h.version == 1 else 0)
        self._D = int(max_disk_entries)
        self._I = int(max_interfaces)
        self._fd_budget = int(fd_budget) if fd_budget is not None else max(raise_fd_limit() - FD_RESERVE, 0)
        self._engine = Engine()
        self._engine.set_proc_root(proc_root)
        self._taskstats = None
        if self._h.version == 1 and "load" not in self._disabled:
            try:
                self._taskstats = Taskstats()
            except OSError:
                # Only the initial network namespace has the taskstats family:
                # task states are then counted from /proc.
                pass
        self._engine.set_taskstats(self._taskstats)
        self._netns = {}                 # namespace key -> _Netns
        self._host_pid = _host_pid(proc_root)
        self._host_netns = _netns_key(proc_root, self._host_pid) if self._host_pid else None
        # One lock serialises sweeps and every change to slots or ring arrays: the
        # sweep runs without the GIL, so another thread's refresh() or close()
        # could otherwise free what it is reading.
        self._lock = threading.RLock()
        self._waiters = deque()          # callers of _turn() waiting for the lock
        for tname, table in schema.KEY_TABLES.items():
            presence = schema.PRESENCE_KEYS.get(tname)
            self._engine.set_table(_TABLE_IDS[tname], [
                (key.encode(), _OFFSETS[col], scale) for key, (col, scale) in table.items()],
                presence.encode() if presence else None)
        for gname in schema.GROUP_COLUMNS:
            self._engine.set_group_columns(G[gname].bit_length() - 1, schema.group_offsets(gname))
        # Default cadences (benchmarks/README.md, "Defaults"): schedstat costs about
        # 9 us per process and task states counted from /proc about 12 us per
        # thread, so both are read once a second unless asked otherwise; the
        # taskstats round trip (v1) is a few us per cgroup and runs every sweep.
        intervals.setdefault("schedstat", SCHEDSTAT_INTERVAL)
        if self._taskstats is None:
            intervals.setdefault("load", PROC_LOAD_INTERVAL)
        self._engine.set_intervals(_intervals_ns(intervals))
        self._containers: dict[str, _Container] = {}
        # Cgroups found but not added, with why (out of file descriptors); tried
        # again at every refresh().
        self.skipped: dict[str, str] = {}
        self._free_cols: list[int] = []
        self._t = 0          # next row of the ring
        self._count = 0      # sweeps done
        self._devices = {}          # (major, minor) -> "/dev/<name>", read at each refresh()
        # The host's filesystems (statfs) with their /proc/diskstats counters,
        # sampled with every sweep into a ring of their own; shown on "/".
        self._partitions, self._fs = [], None       # made by the first refresh()
        # Runtime metadata (names, labels, image), looked up off the sweep by
        # one background thread (cgsampler.runtimes).
        self._rt = _runtimes.Registry(runtimes, env_allow, runtime_timeout)
        self._alloc(max(16, len(self._wanted or ())))
        self._closed = False
        # GPUs through NVML (cgsampler.accelerators): True, False, "auto", or a
        # dict of Accelerators options (interval, process_interval, ...).
        opts = dict(accelerators) if isinstance(accelerators, dict) else {"mode": accelerators}
        self._acc = Accelerators(self._T, opts.pop("mode", True), nvml_library, proc_root=proc_root,
                                 sys_root=sys_root, version=self._h.version, **opts)
        self.refresh()
        if self._wanted is not None:
            missing = [c for c in self._wanted if c not in self._containers]
            if missing and missing[0] in self.skipped:
                reason = self.skipped[missing[0]]
                self.close()
                raise errors.CgsamplerError(
                    f"cannot open the files of {missing[0]!r} ({reason}); raise the open-file limit "
                    "(ulimit -n) or pass a smaller fd_budget")
            if missing:
                self.close()
                raise errors.UnknownContainer(
                    f"no cgroup named {missing[0]!r} in this host's cgroup hierarchy; "
                    "list them with `cgsampler top --once`")

    # --- ring storage ---------------------------------------------------------

    def _alloc(self, ncols, ncpus=None):
        ncpus = max(ncpus or 0, self._C)
        stats = np.zeros((self._T, ncols), dtype=schema.STATS_DTYPE)
        percpu = np.zeros((self._T, ncols, ncpus), dtype=np.uint64)
        disk = np.zeros((self._T, ncols, self._D), dtype=schema.DISK_ENTRY_DTYPE)
        net = np.zeros((self._T, ncols, self._I), dtype=schema.IFACE_DTYPE)
        old = getattr(self, "_stats", None)
        if old is not None:
            n = old.shape[1]
            stats[:, :n] = old
            percpu[:, :n, :self._C] = self._percpu
            disk[:, :n] = self._disk
            net[:, :n] = self._net
            self._free_cols.extend(range(ncols - 1, n - 1, -1))
        else:
            self._free_cols = list(range(ncols - 1, -1, -1))
        self._stats, self._percpu, self._disk, self._net = stats, percpu, disk, net
        self._C = ncpus
        self._engine.bind(stats, percpu, disk, net)

    def _take_col(self):
        if not self._free_cols:
            self._alloc(self._stats.shape[1] * 2)
        col = self._free_cols.pop()
        self._stats[:, col] = 0
        return col

    # --- containers -------------------------------------------------------------

    def refresh(self):
        """Picks up new cgroups and drops vanished ones whose history has aged out
        of the ring. Returns (added, dropped) name lists."""
        with self._turn():
            out = self._refresh()
        # An NVML (re)load waits for the library a bounded time: outside the
        # lock, so sweeps in other threads go on meanwhile.
        self._acc.refresh()
        return out

    def _update_filesystems(self):
        """(Re)reads the partition table of "/" from mountinfo; a changed table
        (a mount or unmount since) gets a new filesystem ring, so a gone mount
        point is never statfs'ed as its parent directory's filesystem; so does a
        /proc/diskstats grown past what the ring holds per sample. The samples
        before the change then have no filesystems."""
        try:
            parts = filesystems.partitions(proc_root=self._proc_root)
        except (OSError, errors.MalformedFile):
            parts = []
        diskstats = os.path.join(self._proc_root, "diskstats")
        lines = filesystems.diskstats_lines(diskstats)
        if self._fs is not None and parts == self._partitions and lines <= self._fs.max_disks:
            return                   # same table, and room for every diskstats line
        fs = filesystems.fs_sampler(parts, self._T, diskstats, filesystems.disk_capacity(lines))
        if self._fs is not None:
            self._fs.close()
        self._fs, self._partitions = fs, parts

    def _refresh(self):
        self._check_open()
        self._collect_vanished()
        if "filesystem" not in self._disabled:
            self._update_filesystems()
        # Devices added since (a disk, a dm volume) get their names; a name once
        # seen is kept for the samples that used it.
        self._devices.update({**filesystems.device_names(sys_root=self._sys_root),
                              **block_devices(self._sys_root)})
        present = hierarchy.walk(self._h)
        self._retire_missing(present)
        if self._wanted is not None:
            wanted = set(self._wanted)
            present = [n for n in present if n in wanted]
        added, dropped = [], []
        for name in present:
            c = self._containers.get(name)
            if c is not None and c.retired_at is not None:
                self._drop(c)        # re-created with the same name: a new container
                dropped.append(name)
                c = None
            if c is None and self._add(name):
                added.append(name)
            elif c is not None:
                self._attach_netns(c)     # no namespace found yet, or its process is gone
                self._attach_gpus(name)
        for c in list(self._containers.values()):
            if c.retired_at is not None and self._count - c.retired_at >= self._T:
                self._drop(c)
                dropped.append(c.name)
        self._rt.retry()          # lookups that met a runtime that was down
        return added, dropped

    def _retire_missing(self, present):
        """Retires tracked containers the walk no longer finds and whose cgroup
        directory is gone, though their kept fds still read: a v1 cgroup renamed
        away (rename(2) of a v1 cgroup keeps its files; v2 refuses it)."""
        here = set(present)
        for c in list(self._containers.values()):
            if c.retired_at is None and c.name not in here and not self._h.exists(c.name):
                self._engine.retire_slot(c.slot)
                c.retired_at = self._count
                self._release_netns(c)

    def _add(self, name):
        try:
            return self._add_slot(name)
        except OSError as e:
            if e.errno not in (errno.EMFILE, errno.ENFILE):
                raise
            # Out of descriptors (the process's limit, or the system's): this
            # container is left out now and tried again at the next refresh().
            self.skipped[name] = str(e)
            return False

    def _add_slot(self, name):
        try:
            jobs, uncollectable, flags = _jobs(self._h, name, self._disabled, self._taskstats is not None)
            spec = hierarchy.read_spec(self._h, name, self._proc_root, sys_root=self._sys_root)
        except FileNotFoundError:
            return False
        self._fit_percpu(jobs)
        wants = len(jobs)     # one fd per file, or per directory of a file opened per read
        keep_open = self._engine.kept_fds + wants <= self._fd_budget
        col = self._take_col()
        try:
            slot, _ = self._engine.add_slot(col, jobs, uncollectable, flags, keep_open)
        except FileNotFoundError:
            self._free_cols.append(col)
            return False
        except BaseException:
            self._free_cols.append(col)
            raise
        procs = next((j[0] for j in jobs if j[1] in (KINDS["procs"], KINDS["schedstat"])), None)
        c = self._containers[name] = _Container(name, slot, col, spec, not keep_open, procs)
        self.skipped.pop(name, None)
        self._rt.submit(name)
        self._attach_netns(c)
        self._attach_gpus(name)
        return True

    def _attach_gpus(self, name):
        self._acc.attach(name, self._h.path("devices", name) if self._h.version == 1 else None)

    # --- network namespaces ---------------------------------------------------------

    def _cgroup_pids(self, c):
        """The pids listed in the container's own cgroup.procs ([] if unreadable)."""
        try:
            with open(c.procs or hierarchy.files(self._h, c.name)["cgroup.procs"], "rb") as f:
                return [int(p) for p in f.read().split() if p.isdigit()]   # not a pid: the sweep counts it
        except (OSError, KeyError):
            return []

    def _container_pid(self, c, pids):
        """(pid, namespace key) of a process of the container in a network
        namespace of its own: the host's process for "/" (_host_pid), else the
        first of `pids` whose namespace is not the host's (a cgroup in the host
        namespace has no network stats, or host traffic would be counted
        twice); None. One readlink per pid until one is found."""
        if c.name == "/":
            return (self._host_pid, self._host_netns) if self._host_netns else None
        if self._host_netns is None:
            return None                    # the host's namespace is unknown: nothing to tell apart
        for pid in pids:
            key = _netns_key(self._proc_root, pid)
            if key is not None and key != self._host_netns:
                return pid, key
        return None

    def _attach_netns(self, c):
        """Points the container at its network namespace's reader, making one if
        it is the first container there."""
        if c.retired_at is not None or self._disabled >= set(NETWORK_GROUPS):
            return
        pids = self._cgroup_pids(c) if c.name != "/" else []
        if (c.netns is not None and (c.name == "/" or c.netns_pid in pids)
                and _netns_key(self._proc_root, c.netns_pid) == c.netns):
            return                         # its process is still in it, in the same namespace
        found = self._container_pid(c, pids)
        if found is not None and found[1] == c.netns:
            c.netns_pid = found[0]
            return
        self._release_netns(c)
        if found is None:
            return
        pid, key = found
        ns = self._netns.get(key)
        if ns is None:
            base = os.path.join(self._proc_root, str(pid))
            sock = None
            if not self._disabled >= {"tcp", "udp"}:
                try:
                    sock = NetnsSocket(os.path.join(base, "ns", "net"))
                except OSError as e:
                    if e.errno in (errno.EMFILE, errno.ENFILE):
                        return             # out of descriptors: tried again at the next refresh
                    sock = None            # no sock_diag here (or no CAP_SYS_ADMIN): the /proc tables
            try:
                nid = self._engine.add_netns(
                    os.path.join(base, "net", "dev"), sock,
                    [] if self._disabled >= {"tcp", "udp"} else     # no socket groups: no tables held
                    [os.path.join(base, "net", t) for t in ("tcp", "tcp6", "udp", "udp6")], self._I)
            except OSError:
                return                     # the process left meanwhile: tried again at the next refresh
            finally:
                if sock is not None:
                    sock.close()           # the engine keeps its own dup
            ns = self._netns[key] = _Netns(nid, sock is not None)
        ns.refs += 1
        self._engine.set_slot_netns(c.slot, ns.nid)
        c.netns, c.netns_pid = key, pid

    def _release_netns(self, c):
        if c.netns is None:
            return
        ns = self._netns[c.netns]
        try:
            self._engine.set_slot_netns(c.slot, -1)
        except KeyError:
            pass
        ns.refs -= 1
        if ns.refs == 0:
            self._engine.remove_netns(ns.nid)      # unpins the namespace
            del self._netns[c.netns]
        c.netns = c.netns_pid = None

    def _fit_percpu(self, jobs):
        # The kernel prints one value per possible CPU, a number fixed at boot: size
        # the per-CPU array from the file itself (fixture trees come from bigger hosts).
        for job in jobs:
            if job[1] == KINDS["percpu"]:
                n = len((_read_text(job[0]) or "").split())
                if self._C < n <= MAX_CPUS:
                    self._alloc(self._stats.shape[1], n)

    def _drop(self, c):
        self._release_netns(c)
        self._acc.detach(c.name)
        self._engine.remove_slot(c.slot)
        self._stats[:, c.col] = 0
        self._free_cols.append(c.col)
        del self._containers[c.name]
        self._rt.forget(c.name)

    def _collect_vanished(self):
        gone = self._engine.take_vanished()
        if gone:
            by_slot = {c.slot: c for c in self._containers.values()}
            for sid in gone:
                c = by_slot.get(sid)
                if c is not None and c.retired_at is None:
                    c.retired_at = self._count
                    self._release_netns(c)

    # --- sampling -----------------------------------------------------------------

    def sample(self):
        """One sweep over all containers into the next row of the ring."""
        if self._waiters:
            self._yield_to_waiters()
        with self._lock:
            if self._closed:
                self._check_open()
            if self._engine.sweep(self._t):
                self._collect_vanished()
            if self._fs is not None:
                self._fs.sample(self._t)
            self._acc.sample(self._t)
            self._t += 1
            if self._t == self._T:
                self._t = 0
            self._count += 1

    def _turn(self):
        """The lock, for everything but sample(): a thread sampling in a loop
        releases and takes the lock again at once, and an OS lock is not fair, so
        a refresh() or a query from another thread could wait for many sweeps.
        A caller waiting here is seen by sample(), which lets it go first."""
        return _Turn(self._lock, self._waiters)

    def _yield_to_waiters(self):
        deadline = time.monotonic() + YIELD_MAX_S
        while self._waiters and time.monotonic() < deadline:
            time.sleep(YIELD_STEP_S)

    def _rows(self):
        """Ring row indices, oldest first."""
        n = min(self._count, self._T)
        start = (self._t - n) % self._T
        return (np.arange(n) + start) % self._T

    # --- queries ----------------------------------------------------------------------

    @property
    def names(self) -> list:
        """Tracked container names (vanished ones until their history ages out), sorted."""
        return sorted(self._containers)

    @property
    def retired(self) -> list:
        """Names whose cgroup vanished; their history stays readable for a while."""
        return sorted(c.name for c in self._containers.values() if c.retired_at is not None)

    def _cols(self):
        return [self._containers[n].col for n in self.names]

    @property
    def stats(self) -> np.ndarray:
        """The history as a (samples, containers) array of STATS_DTYPE, oldest first,
        columns in the order of `names` (a copy)."""
        with self._turn():
            return self._stats[self._rows()][:, self._cols()]

    @property
    def percpu(self) -> np.ndarray:
        """(samples, containers, cpus) per-CPU usage in ns; `stats["cpu_percpu_count"]` entries valid."""
        with self._turn():
            return self._percpu[self._rows()][:, self._cols()]

    @property
    def disk(self) -> np.ndarray:
        """(samples, containers, entries) of DISK_ENTRY_DTYPE; `stats["diskio_count"]` entries valid."""
        with self._turn():
            return self._disk[self._rows()][:, self._cols()]

    @property
    def filesystems(self):
        """(partitions, fs): the filesystems of "/" (filesystems.Partition list) and
        their history, (samples, partitions) of filesystems.FS_DTYPE, oldest first
        (a copy; empty with disable=("filesystem",)). A partition table changed
        by a mount since the last refresh() starts a new history."""
        with self._turn():
            if self._fs is None:
                return [], np.zeros((len(self._rows()), 0), dtype=filesystems.FS_DTYPE)
            return list(self._partitions), self._fs.fs[self._rows()]

    @property
    def interfaces(self) -> np.ndarray:
        """(samples, containers, max_interfaces) of IFACE_DTYPE: each container's
        network interfaces, `stats["network_iface_count"]` entries valid."""
        with self._turn():
            return self._net[self._rows()][:, self._cols()]

    @property
    def accelerators(self) -> Accelerators:
        """The GPUs: .status/.detail (why none), .devices, .usage(name) (a
        container's GPUs with its processes' GPU memory), .history(rows)."""
        return self._acc

    @property
    def accelerator_status(self) -> str:
        """"ok", or why there are no GPU stats ("disabled", "no NVIDIA device",
        "not found", "driver not loaded", "no permission", "init timed out",
        "idle", ...); self.accelerators.detail has the text behind it."""
        return self._acc.status

    def accelerator_usage(self, name) -> list:
        """The GPUs attributed to the container, with the GPU memory its own
        processes use (process path); see Accelerators.usage."""
        with self._turn():
            return self._acc.usage(self._get(name).name)

    @property
    def gpu_history(self):
        """(samples, GPUs) of nvml.ACCELERATOR_DTYPE, oldest first, and the wall
        ns each row's values were read (carried between NVML reads)."""
        with self._turn():
            return self._acc.history(self._rows())

    @property
    def sweeps(self) -> int:
        return self._count

    @property
    def kept_fds(self) -> int:
        """File descriptors held open (stat files, network namespaces, the proc
        root, the taskstats socket, /proc/diskstats); containers past the fd budget reopen files
        each sweep."""
        if self._closed:
            return 0
        own = 1 + (self._taskstats is not None) + (self._fs is not None and self._fs.diskstats_open)
        return self._engine.kept_fds + own

    @property
    def container_fds(self) -> int:
        """The part of kept_fds held for containers (their stat files and network
        namespaces), without the sampler's own (proc root, taskstats socket)."""
        return self._engine.kept_fds

    @property
    def hierarchy(self):
        return self._h

    @property
    def devices(self) -> dict:
        """(major, minor) -> "/dev/<name>" of the machine's disks, as used for PerDiskStats.device."""
        return dict(self._devices)

    def errors(self, name) -> dict:
        """Read and parse error counters of one container, with the last failing file."""
        with self._turn():
            c = self._get(name)
            out = self._engine.slot_errors(c.slot)
            if c.netns is not None:
                # The network groups' reads belong to the namespace, not to a file of the slot.
                ns = self._engine.netns_errors(self._netns[c.netns].nid)
                out["network"] = {"dev": _read_result(ns["dev"]), "sockets": _read_result(ns["sockets"]),
                                  "sock_diag": ns["sock_diag"]}
        out["vanished"] = c.retired_at is not None
        out["reopened"] = c.reopened
        return out

    def _get(self, name):
        self._check_open()
        key = _normalize(name)
        c = self._containers.get(key)
        if c is None:
            raise errors.UnknownContainer(f"unknown container {key!r}: not a cgroup this sampler tracks "
                                          "(call refresh() to pick up new cgroups)")
        return c

    def spec(self, name, *, wait=True) -> v1.ContainerSpec:
        """The container's spec, re-read from its cgroup files (the last one read
        if the cgroup has vanished), with its runtime's labels, envs, image and
        creation time (`wait`: wait up to runtime_timeout for a pending lookup)."""
        c = self._get(name)
        if c.retired_at is None:
            try:
                c.spec = hierarchy.read_spec(self._h, c.name, self._proc_root, sys_root=self._sys_root)
            except FileNotFoundError:
                pass
        spec = spec_to_v1(c.spec, self._meminfo_total())
        meta = self._rt.metadata(c.name, wait=wait)
        if meta is not None:
            _runtimes.apply_spec(spec, meta)
        if c.netns is not None and c.name != "/":
            spec.has_network = True     # a namespace of its own (docs/compat.md: whose network)
        # A group turned off with disable= is not collected: the spec says so.
        off = self._disabled
        spec.has_filesystem &= "filesystem" not in off
        spec.has_diskio &= "diskio" not in off
        spec.has_network &= not off >= set(NETWORK_GROUPS)
        return spec

    def _meminfo_total(self):
        try:
            with open(os.path.join(self._proc_root, "meminfo")) as f:
                for line in f:
                    if line.startswith("MemTotal:"):
                        return int(line.split()[1]) * 1024
        except (OSError, ValueError, IndexError):
            pass
        return 0

    def container_info(self, name, request=None) -> v1.ContainerInfo:
        """The container as cAdvisor's /api/v1.3/containers/<name> shows it: spec,
        direct subcontainers, and the samples selected by `request` (newest
        num_stats within [start, end]), oldest first."""
        if request is None:
            request = v1.default_container_info_request()
        name = self.lookup(name)
        self._rt.wait([name])         # a pending runtime lookup, outside the sweep lock
        with self._turn():
            return self._container_info(name, request)

    def _container_info(self, name, request):
        c = self._get(name)
        spec = self.spec(c.name, wait=False)
        ref = self.reference(c.name)
        if c.retired_at is None:
            subs = hierarchy.subcontainers(self._h, c.name)
        else:
            subs = []
        rows = self._rows()
        sel = self._stats[rows, c.col]
        keep = np.nonzero(sel["valid"] != 0)[0]
        ts = sel["timestamp_ns"][keep]
        start, end = request.start, request.end
        if not start.is_zero():
            keep = keep[ts >= start.unix_ns]
            ts = sel["timestamp_ns"][keep]
        if not end.is_zero():
            keep = keep[ts <= end.unix_ns]
        if request.num_stats >= 0:
            keep = keep[len(keep) - min(request.num_stats, len(keep)):]
        stats = [stats_from_row(sel[i], self._percpu[rows[i], c.col], self._disk[rows[i], c.col],
                                self._devices, self._net[rows[i], c.col]) for i in keep]
        if c.name == "/" and self._fs is not None:
            for i, st in zip(keep, stats):
                st.filesystem = filesystems.fs_stats(self._fs.fs[rows[i]], self._partitions) or None
        for i, st in zip(keep, stats):
            st.accelerators = self._acc.stats(rows[i], c.name)
        return v1.ContainerInfo(
            id=ref.id,
            name=c.name,
            aliases=ref.aliases,
            namespace=ref.namespace,
            subcontainers=[v1.ContainerReference(name=s) for s in subs],
            spec=spec,
            stats=stats,
        )

    # --- runtimes ----------------------------------------------------------------------

    def lookup(self, name) -> str:
        """The cgroup name of a container: a tracked cgroup name (or any name
        starting with "/") as is; else a runtime alias (docker/podman/cri-o name,
        full id), a systemd unit, or a unique prefix of one (cAdvisor's
        /api/v1.3/docker/<alias> rule). UnknownContainer if none or several."""
        self._check_open()
        key = _normalize(name)
        if key in self._containers or name.startswith("/"):
            return key
        live = [n for n, c in self._containers.items() if c.retired_at is None]
        gone = [n for n, c in self._containers.items() if c.retired_at is not None]
        # Exact keys before prefixes, and among each, a running container before
        # one that vanished (still found while its history lasts): `podman rm web;
        # podman run --name web` finds the new web, and "web" never finds
        # "web-2" while a vanished "web" is still kept.
        for names, prefixes in ((live, False), (gone, False), (live, True), (gone, True)):
            if not names:
                continue
            try:
                return self._rt.find(name, names, prefixes=prefixes)
            except errors.AmbiguousName:
                raise
            except errors.UnknownContainer as e:
                last = e
        raise last if live or gone else errors.UnknownContainer(
            f"no container named {name!r}: this sampler tracks no container")

    def metadata(self, name, wait=True):
        """The container's runtimes.Metadata (runtime, id, name, aliases,
        namespace, labels, envs, image, created, pid), or None for a raw cgroup
        or one whose runtime did not answer."""
        return self._rt.metadata(self._get(name).name, wait=wait)

    def reference(self, name, wait=False) -> v1.ContainerReference:
        """The container's ContainerReference: raw (name only) unless a runtime
        claimed it."""
        key = self._get(name).name
        meta = self._rt.metadata(key, wait=wait)
        if meta is None:
            return v1.ContainerReference(name=key)
        return v1.ContainerReference(id=meta.id, name=key, aliases=list(meta.aliases) or None,
                                     namespace=meta.namespace)

    @property
    def runtimes(self) -> dict:
        """{runtime: endpoint} this sampler asks for metadata (None: naming only)."""
        return dict(self._rt.endpoints)

    @property
    def runtime_errors(self) -> dict:
        """{runtime: last error} for each runtime that failed (unreachable, timed
        out, bad answer) and has not answered since; its containers are named raw
        meanwhile and looked up again at the next refresh() after a back-off."""
        return self._rt.errors

    def close(self):
        """Closes every kept file descriptor (after a sweep in progress ends)."""
        lock = getattr(self, "_lock", None)
        if lock is None:                  # __init__ failed before the engine existed
            return
        with _Turn(lock, self._waiters):
            if getattr(self, "_closed", False):
                return
            self._closed = True       # first: a failure below must not leave it half open
            try:
                for c in list(self._containers.values()):
                    self._release_netns(c)
                    self._engine.remove_slot(c.slot)
                if self._taskstats is not None:
                    self._taskstats.close()
                self._engine.set_proc_root(None)
                if self._fs is not None:
                    self._fs.close()
                self._containers.clear()
            finally:
                for part in ("_acc", "_rt"):
                    obj = getattr(self, part, None)
                    if obj is not None:
                        obj.close()

    def _check_open(self):
        if self._closed:
            raise errors.SamplerClosed("this Sampler is closed; make a new one")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass


MAX_INTERVAL_S = 10 * 365 * 86400     # ten years: "practically never", still exact in int64 ns


class _Turn:
    """with: takes `lock`, listed in `waiters` while waiting for it."""
    __slots__ = ("lock", "waiters")

    def __init__(self, lock, waiters):
        self.lock, self.waiters = lock, waiters

    def __enter__(self):
        self.waiters.append(None)         # deque append/pop: atomic across threads
        try:
            self.lock.acquire()
        finally:
            self.waiters.pop()

    def __exit__(self, *exc):
        self.lock.release()


def _read_result(code):
    """A namespace read's last result as text: None (fine), "malformed", or the errno's."""
    if code == 0:
        return None
    if code == -1:                 # formats.PARSE_MALFORMED
        return "malformed"
    return os.strerror(-code) if code < 0 else f"error {code}"


def _intervals_ns(intervals):
    """{group: seconds} -> ns per group bit. A group read less often than every
    sweep keeps its last values (and their timestamp) in the sweeps between."""
    out = [0] * 16
    for gname, seconds in (intervals or {}).items():
        if gname not in G:
            raise errors.InvalidOption(f"unknown group {gname!r} in intervals; groups are {', '.join(G)}")
        try:
            seconds = float(seconds)
        except (TypeError, ValueError):
            raise errors.InvalidOption(f"interval of {gname!r} must be a number of seconds, got {seconds!r}") from None
        if not 0 <= seconds <= MAX_INTERVAL_S:
            raise errors.InvalidOption(f"interval of {gname!r} must be between 0 and {MAX_INTERVAL_S} seconds, "
                                       f"got {seconds!r}")
        ns = int(seconds * 1e9)
        out[G[gname].bit_length() - 1] = ns
    return out


def _host_pid(proc_root):
    """The process whose network namespace is the host's: pid 1 (cAdvisor's
    choice), or this process where pid 1's namespace cannot be looked at (a
    sandbox's init may refuse it) and proc_root is this process's own /proc."""
    if _netns_key(proc_root, 1) is not None:
        return 1
    try:
        if os.path.samefile(proc_root, "/proc"):
            return os.getpid()
    except OSError:
        pass
    return None


def _netns_key(proc_root, pid):
    """(st_dev, st_ino) of a process's network namespace, or None."""
    try:
        st = os.stat(os.path.join(proc_root, str(pid), "ns", "net"))
    except (OSError, ValueError):
        return None
    return st.st_dev, st.st_ino


def _normalize(name) -> str:
    """cAdvisor's container name form: absolute, no trailing or doubled slashes."""
    if not isinstance(name, str):
        raise errors.InvalidOption(f"container names are strings, got {name!r}")
    return "/" + "/".join(p for p in name.split("/") if p)


def spec_to_v1(sv, mem_total=0) -> v1.ContainerSpec:
    """hierarchy.SpecValues -> v1.ContainerSpec, with the REST layer's adjustment
    (a memory limit of 0 on a container with memory shows the machine's memory)."""
    limit = sv.memory_limit
    if sv.has_memory and limit == 0:
        limit = mem_total
    return v1.ContainerSpec(
        creation_time=v1.Time.from_unix_ns(sv.creation_time_ns) if sv.creation_time_ns else v1.Time.ZERO,
        has_cpu=sv.has_cpu,
        cpu=v1.CpuSpec(limit=sv.cpu_limit, max_limit=0, mask=sv.cpu_mask,
                       quota=sv.cpu_quota, period=sv.cpu_period),
        has_memory=sv.has_memory,
        memory=v1.MemorySpec(limit=limit, reservation=sv.memory_reservation,
                             swap_limit=sv.memory_swap_limit),
        has_network=sv.has_network,
        has_filesystem=sv.has_filesystem,
        has_diskio=sv.has_diskio,
    )


_SCALARS = [n for n in schema.STATS_DTYPE.names if not schema.STATS_DTYPE.fields[n][0].shape]
_IFACE_COUNTERS = schema.IFACE_DTYPE.names[1:]
I32_MAX = 2**31 - 1


def stats_from_row(row, percpu, disk, devices=None, net=None) -> v1.ContainerStats:
    """One history row (with its per-CPU, disk and interface blocks) ->
    v1.ContainerStats. Groups not collected in that sample stay zero-valued."""
    valid = int(row["valid"])
    st = v1.ContainerStats(timestamp=v1.Time.from_unix_ns(int(row["timestamp_ns"])))
    r = {name: int(row[name]) for name in _SCALARS}
    if valid & G["cpu"]:
        st.cpu.usage.total = r["cpu_usage_total"]
        st.cpu.usage.user = r["cpu_user"]
        st.cpu.usage.system = r["cpu_system"]
    if valid & G["percpu"]:
        st.cpu.usage.per_cpu_usage = [int(x) for x in percpu[:r["cpu_percpu_count"]]]
    if valid & G["cfs"]:
        st.cpu.cfs.periods = r["cpu_cfs_periods"]
        st.cpu.cfs.throttled_periods = r["cpu_cfs_throttled_periods"]
        st.cpu.cfs.throttled_time = r["cpu_cfs_throttled_time"]
    if valid & G["memory"]:
        m = st.memory
        m.usage = r["memory_usage"]
        m.max_usage = r["memory_max_usage"]
        m.cache = r["memory_cache"]
        m.rss = r["memory_rss"]
        m.swap = r["memory_swap"]
        m.mapped_file = r["memory_mapped_file"]
        m.working_set = r["memory_working_set"]
        m.failcnt = r["memory_failcnt"]
        for data in (m.container_data, m.hierarchical_data):
            data.pgfault = r["memory_pgfault"]
            data.pgmajfault = r["memory_pgmajfault"]
    if valid & G["diskio"]:
        lists = {}
        for e in disk[:r["diskio_count"]]:
            key = (int(e["major"]), int(e["minor"]))
            per_dev = lists.setdefault(schema.DISK_LISTS[e["list"]], {})
            entry = per_dev.get(key)
            if entry is None:
                entry = per_dev[key] = v1.PerDiskStats(
                    device=(devices or {}).get(key, ""), major=key[0], minor=key[1], stats={})
            entry.stats[schema.DISK_OPS[e["op"]]] = int(e["value"])
        for lst, per_dev in lists.items():
            setattr(st.diskio, lst, list(per_dev.values()))
    if valid & G["processes"]:
        st.processes.process_count = r["process_count"]
        st.processes.fd_count = r["process_fd_count"]
    if valid & G["schedstat"]:
        st.cpu.schedstat = v1.CpuSchedstat(run_time=r["schedstat_run_time"],
                                           runqueue_time=r["schedstat_runqueue_time"],
                                           run_periods=r["schedstat_run_periods"])
    if valid & G["load"]:
        st.task_stats = v1.LoadStats(
            nr_sleeping=r["load_nr_sleeping"], nr_running=r["load_nr_running"],
            nr_stopped=r["load_nr_stopped"], nr_uninterruptible=r["load_nr_uninterruptible"],
            nr_io_wait=r["load_nr_io_wait"])
        st.cpu.load_average = min(r["load_average"], I32_MAX)
    if valid & G["network"] and net is not None:
        ifaces = [v1.InterfaceStats(name=e["name"].decode("utf-8", "surrogateescape"),
                                    **{k: int(e[k]) for k in _IFACE_COUNTERS})
                  for e in net[:r["network_iface_count"]]]
        if ifaces:
            st.network.interfaces = ifaces
            first = ifaces[0]        # flattened "for backwards compatibility", as cAdvisor does
            st.network.name = first.name
            for k in _IFACE_COUNTERS:
                setattr(st.network, k, getattr(first, k))
    if valid & G["tcp"]:
        st.network.tcp = v1.TcpStat(**dict(zip(schema.TCP_STATES, map(int, row["tcp"]))))
        st.network.tcp6 = v1.TcpStat(**dict(zip(schema.TCP_STATES, map(int, row["tcp6"]))))
    if valid & G["udp"]:
        st.network.udp = v1.UdpStat(**dict(zip(schema.UDP_FIELDS, map(int, row["udp"]))))
        st.network.udp6 = v1.UdpStat(**dict(zip(schema.UDP_FIELDS, map(int, row["udp6"]))))
    return st
