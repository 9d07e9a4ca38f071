"""Every numpy dtype of the history, and every kernel file's key-to-column table,
in one place.

The sampler keeps a ring of T rows for N containers:

* ``stats``  [T, N] of STATS_DTYPE: the scalar fields of one sample.
* ``percpu`` [T, N, C] uint64: per-CPU usage (ns), ``cpu_percpu_count`` entries valid.
* ``disk``   [T, N, D] of DISK_ENTRY_DTYPE: block I/O entries, ``diskio_count`` valid.

Values are stored in the units of the v1 data model (ns, bytes, counts); where the
kernel prints another unit the conversion is in the file's table below (``scale``)
and happens once, in the parser. A group whose valid bit is clear in ``valid``
was not collected in that sample (file missing, unreadable or malformed): its
fields are zero, never a guess.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# (field, numpy type, meaning). Order and types match csrc/cgs_layout.h.
STATS_FIELDS = [
    ("timestamp_ns", "<i8", "wall clock (CLOCK_REALTIME, ns) taken right after the container's files were read"),
    ("valid", "<u8", "bit mask of GROUPS collected in this sample; 0 = no sample (container gone or slot unused)"),
    ("fresh", "<u8", "bit mask of GROUPS read in this sweep; a valid group not fresh was carried from the "
                     "previous sample because its interval had not passed (Sampler(intervals=...))"),
    ("group_timestamp_ns", ("<i8", (16,)), "per group bit (GROUPS value 1 << i at index i): when its values "
                                          "were read (CLOCK_REALTIME ns); 0 if never"),
    ("cpu_usage_total", "<u8", "ns of CPU, cumulative, including descendants (v1 cpuacct.usage, v2 cpu.stat usage_usec)"),
    ("cpu_user", "<u8", "ns in user mode (v1 cpuacct.stat user ticks x 10^9/USER_HZ, v2 user_usec x 1000)"),
    ("cpu_system", "<u8", "ns in kernel mode (v1 cpuacct.stat system, v2 system_usec x 1000)"),
    ("cpu_cfs_periods", "<u8", "CFS enforcement periods elapsed (cpu.stat nr_periods)"),
    ("cpu_cfs_throttled_periods", "<u8", "periods in which the group was throttled (nr_throttled)"),
    ("cpu_cfs_throttled_time", "<u8", "ns throttled (v1 throttled_time, v2 throttled_usec x 1000)"),
    ("cpu_percpu_count", "<u8", "entries of the per-CPU array filled (v1 only; possible CPUs as the kernel prints them)"),
    ("memory_usage", "<u8", "bytes charged (v1 memory.usage_in_bytes, v2 memory.current; v2 root: anon + file)"),
    ("memory_max_usage", "<u8", "peak bytes (v1 memory.max_usage_in_bytes, v2 memory.peak where the kernel has it)"),
    ("memory_cache", "<u8", "page cache bytes (v1 [total_]cache, v2 file)"),
    ("memory_rss", "<u8", "anonymous + swap cache bytes (v1 [total_]rss, v2 anon)"),
    ("memory_swap", "<u8", "swap bytes (v1 [total_]swap, v2 memory.swap.current)"),
    ("memory_mapped_file", "<u8", "mapped file bytes (v1 [total_]mapped_file, v2 file_mapped)"),
    ("memory_working_set", "<u8", "usage - inactive_file, clamped at 0; = usage when the key is absent"),
    ("memory_failcnt", "<u8", "times the limit was hit (v1 memory.failcnt; always 0 on v2)"),
    ("memory_inactive_file", "<u8", "inactive page cache bytes (v1 total_inactive_file, v2 inactive_file)"),
    ("memory_pgfault", "<u8", "page faults (memory.stat pgfault: the group's own counter on v1)"),
    ("memory_pgmajfault", "<u8", "major page faults (memory.stat pgmajfault)"),
    ("diskio_count", "<u8", "entries of the disk array filled"),
    ("diskio_overflow", "<u8", "disk entries that did not fit (raise Sampler(max_disk_entries=...))"),
    ("process_count", "<u8", "processes in this cgroup itself (lines of cgroup.procs, not descendants)"),
    ("process_fd_count", "<u8", "open file descriptors of those processes (entries of <proc>/<pid>/fd)"),
    ("process_fd_skipped", "<u8", "processes whose fd directory could not be counted (exited meanwhile, no "
                                  "permission): process_fd_count leaves them out"),
    ("schedstat_run_time", "<u8", "ns on a CPU, summed over the cgroup's processes (<proc>/<pid>/schedstat "
                                  "field 1), exited processes' last values included"),
    ("schedstat_runqueue_time", "<u8", "ns waiting on a run queue (schedstat field 2), same sum"),
    ("schedstat_run_periods", "<u8", "timeslices run (schedstat field 3), same sum"),
    ("schedstat_exited", "<u8", "processes whose last values are kept in the sums after they left"),
    ("load_nr_sleeping", "<u8", "tasks (threads) of this cgroup itself in interruptible sleep"),
    ("load_nr_running", "<u8", "runnable tasks"),
    ("load_nr_stopped", "<u8", "stopped tasks"),
    ("load_nr_uninterruptible", "<u8", "tasks in uninterruptible sleep (D)"),
    ("load_nr_io_wait", "<u8", "tasks waiting on I/O (taskstats only; 0 where counted from /proc)"),
    ("load_average", "<u8", "nr_running smoothed with decay exp(-dt/10 s), x 1000, truncated (CpuStats.load_average)"),
    ("load_d_average", "<u8", "nr_uninterruptible smoothed the same way, x 1000"),
    ("network_iface_count", "<u8", "entries of the interface array filled (the container's network namespace)"),
    ("network_iface_overflow", "<u8", "interfaces that did not fit (raise Sampler(max_interfaces=...))"),
    ("tcp", ("<u8", (11,)), "TCP sockets of the namespace (IPv4) per state, kernel order: established, "
                            "syn_sent, syn_recv, fin_wait1, fin_wait2, time_wait, close, close_wait, "
                            "last_ack, listen, closing"),
    ("tcp6", ("<u8", (11,)), "the same for IPv6 sockets (IPv4-mapped ones included)"),
    ("udp", ("<u8", (4,)), "UDP sockets of the namespace (IPv4): count, drops, rx_queued bytes, tx_queued bytes"),
    ("udp6", ("<u8", (4,)), "the same for IPv6"),
]
STATS_DTYPE = np.dtype([(name, *typ) if isinstance(typ, tuple) else (name, typ)
                        for name, typ, _ in STATS_FIELDS])

DISK_ENTRY_DTYPE = np.dtype([
    ("major", "<u4"), ("minor", "<u4"),
    ("list", "<u2"),     # index into DISK_LISTS
    ("op", "<u2"),       # index into DISK_OPS
    ("pad", "<u4"),
    ("value", "<u8"),
])

# DiskIoStats lists (attribute names of v1.DiskIoStats), in the seed's order.
DISK_LISTS = ("io_service_bytes", "io_serviced", "io_queued", "sectors",
              "io_service_time", "io_wait_time", "io_merged", "io_time")
# Keys of PerDiskStats.stats; "Count" is the kernel's op-less value.
DISK_OPS = ("Count", "Read", "Write", "Sync", "Async", "Discard", "Total")

GROUPS = {"cpu": 1, "cfs": 2, "percpu": 4, "memory": 8, "diskio": 16, "processes": 32,
          "schedstat": 64, "load": 128, "network": 256, "tcp": 512, "udp": 1024}
# The columns each group fills: all zeroed when the group fails in a sweep.
GROUP_COLUMNS = {
    "cpu": ("cpu_usage_total", "cpu_user", "cpu_system"),
    "cfs": ("cpu_cfs_periods", "cpu_cfs_throttled_periods", "cpu_cfs_throttled_time"),
    "percpu": ("cpu_percpu_count",),
    "memory": ("memory_usage", "memory_max_usage", "memory_cache", "memory_rss", "memory_swap",
               "memory_mapped_file", "memory_working_set", "memory_failcnt", "memory_inactive_file",
               "memory_pgfault", "memory_pgmajfault"),
    "diskio": ("diskio_count", "diskio_overflow"),
    "processes": ("process_count", "process_fd_count", "process_fd_skipped"),
    "schedstat": ("schedstat_run_time", "schedstat_runqueue_time", "schedstat_run_periods", "schedstat_exited"),
    "load": ("load_nr_sleeping", "load_nr_running", "load_nr_stopped", "load_nr_uninterruptible",
             "load_nr_io_wait", "load_average", "load_d_average"),
    "network": ("network_iface_count", "network_iface_overflow"),
    "tcp": ("tcp", "tcp6"),
    "udp": ("udp", "udp6"),
}
TCP_STATES = ("established", "syn_sent", "syn_recv", "fin_wait1", "fin_wait2", "time_wait",
              "close", "close_wait", "last_ack", "listen", "closing")
UDP_FIELDS = ("listen", "dropped", "rx_queued", "tx_queued")

# One network interface of a container's namespace (procnet.pxd's NetDevIface).
IFACE_DTYPE = np.dtype([("name", "S16"), ("rx_bytes", "<u8"), ("rx_packets", "<u8"), ("rx_errors", "<u8"),
                        ("rx_dropped", "<u8"), ("tx_bytes", "<u8"), ("tx_packets", "<u8"),
                        ("tx_errors", "<u8"), ("tx_dropped", "<u8")])


def group_offsets(gname) -> list:
    """Byte offsets of every uint64 a group fills (array columns element by element)."""
    out = []
    for c in GROUP_COLUMNS[gname]:
        sub, off = STATS_DTYPE.fields[c][:2]
        n = int(np.prod(sub.shape)) if sub.shape else 1
        out.extend(off + 8 * i for i in range(n))
    return out

USER_HZ = 100          # cpuacct.stat ticks; the kernel ABI fixes it at 100
NS_PER_TICK = 10**9 // USER_HZ


# --- key tables of flat "key value" files: key -> (column, scale) --------------

CPUACCT_STAT = {"user": ("cpu_user", NS_PER_TICK), "system": ("cpu_system", NS_PER_TICK)}
CPU_STAT_V1 = {
    "nr_periods": ("cpu_cfs_periods", 1),
    "nr_throttled": ("cpu_cfs_throttled_periods", 1),
    "throttled_time": ("cpu_cfs_throttled_time", 1),
}
# v1 memory.stat: the total_ keys when memory.use_hierarchy is 1 (always, since 5.x)...
MEMORY_STAT_V1_HIERARCHICAL = {
    "total_cache": ("memory_cache", 1),
    "total_rss": ("memory_rss", 1),
    "total_swap": ("memory_swap", 1),
    "total_mapped_file": ("memory_mapped_file", 1),
    "total_inactive_file": ("memory_inactive_file", 1),
    "pgfault": ("memory_pgfault", 1),
    "pgmajfault": ("memory_pgmajfault", 1),
}
# ... and the local ones otherwise (the working set always uses total_inactive_file).
MEMORY_STAT_V1_LOCAL = {
    "cache": ("memory_cache", 1),
    "rss": ("memory_rss", 1),
    "swap": ("memory_swap", 1),
    "mapped_file": ("memory_mapped_file", 1),
    "total_inactive_file": ("memory_inactive_file", 1),
    "pgfault": ("memory_pgfault", 1),
    "pgmajfault": ("memory_pgmajfault", 1),
}
CPU_STAT_V2 = {
    "usage_usec": ("cpu_usage_total", 1000),
    "user_usec": ("cpu_user", 1000),
    "system_usec": ("cpu_system", 1000),
    "nr_periods": ("cpu_cfs_periods", 1),
    "nr_throttled": ("cpu_cfs_throttled_periods", 1),
    "throttled_usec": ("cpu_cfs_throttled_time", 1000),
}
MEMORY_STAT_V2 = {
    "anon": ("memory_rss", 1),
    "file": ("memory_cache", 1),
    "file_mapped": ("memory_mapped_file", 1),
    "inactive_file": ("memory_inactive_file", 1),
    "pgfault": ("memory_pgfault", 1),
    "pgmajfault": ("memory_pgmajfault", 1),
}
# Tables with a key whose absence changes a derived value: without inactive_file
# the working set is the usage (cAdvisor's rule).
PRESENCE_KEYS = {
    "memory.stat.v1.hierarchical": "total_inactive_file",
    "memory.stat.v1.local": "total_inactive_file",
    "memory.stat.v2": "inactive_file",
}
KEY_TABLES = {
    "cpuacct.stat": CPUACCT_STAT,
    "cpu.stat.v1": CPU_STAT_V1,
    "memory.stat.v1.hierarchical": MEMORY_STAT_V1_HIERARCHICAL,
    "memory.stat.v1.local": MEMORY_STAT_V1_LOCAL,
    "cpu.stat.v2": CPU_STAT_V2,
    "memory.stat.v2": MEMORY_STAT_V2,
}


# --- which file feeds what -----------------------------------------------------

PID_RECORD = 12            # one cgroup.procs line: a pid (at most 7 digits, pid_max 2^22) and "\n"


@dataclass(frozen=True)
class StatFile:
    """One kernel file the sampler holds open per container."""
    name: str                 # file name in the cgroup directory
    parser: str               # single | keyed | percpu | procs | blkio | iostat | schedstat | threads | taskstats
    groups: tuple             # GROUPS names it feeds
    mandatory: bool = True    # absent: its groups cannot be collected (a failure always clears them)
    column: str = ""          # single: the column
    table: str = ""           # keyed: KEY_TABLES name
    multi: bool = False       # many seq_file records: a short read is not EOF
    reopen: bool = False      # open it for every read instead of keeping it open
    max_record: int = 0       # multi: longest record in bytes, if bounded (skips the EOF read)
    blkio_group: int = 0      # blkio: cAdvisor's file group, tried in order ...
    blkio_list: str = ""      # ... and the DiskIoStats list it fills


V1_FILES = (
    StatFile("cpuacct.usage", "single", ("cpu",), column="cpu_usage_total"),
    StatFile("cpuacct.stat", "keyed", ("cpu",), table="cpuacct.stat"),
    StatFile("cpuacct.usage_percpu", "percpu", ("percpu",)),
    StatFile("cpu.stat", "keyed", ("cfs",), table="cpu.stat.v1"),
    StatFile("memory.usage_in_bytes", "single", ("memory",), column="memory_usage"),
    StatFile("memory.max_usage_in_bytes", "single", ("memory",), column="memory_max_usage"),
    StatFile("memory.failcnt", "single", ("memory",), column="memory_failcnt"),
    StatFile("memory.stat", "keyed", ("memory",), table="memory.stat.v1.hierarchical"),
    # v1 caches the pid list of an open cgroup.procs and serves it again to reads
    # within 1 s of the last (CGROUP_PIDLIST_DESTROY_DELAY): a kept fd would show a
    # stale count at high rates, so it is opened for each read.
    StatFile("cgroup.procs", "procs", ("processes",), multi=True, reopen=True, max_record=PID_RECORD),
    # Each process's <proc>/<pid>/schedstat, summed (a second read of the list:
    # the two groups have their own cadences).
    StatFile("cgroup.procs", "schedstat", ("schedstat",), multi=True, reopen=True, max_record=PID_RECORD),
)
# Task states on v1: netlink taskstats on the cpu cgroup directory ("." here);
# where the sampler cannot open a taskstats socket (not in the initial network
# namespace), counted from the threads' /proc stat files instead.
V1_LOAD_TASKSTATS = StatFile(".", "taskstats", ("load",))
V1_LOAD_THREADS = StatFile("tasks", "threads", ("load",), multi=True, reopen=True, max_record=PID_RECORD)

# cAdvisor's blkio file groups (reference section 8.2), in the order they are tried:
# the first group whose first file has device rows is used.
BLKIO_GROUPS = (
    ("blkio.bfq.sectors_recursive", "sectors"),
    ("blkio.bfq.io_service_time_recursive", "io_service_time"),
    ("blkio.bfq.io_wait_time_recursive", "io_wait_time"),
    ("blkio.bfq.io_merged_recursive", "io_merged"),
    ("blkio.bfq.io_queued_recursive", "io_queued"),
    ("blkio.bfq.time_recursive", "io_time"),
    ("blkio.bfq.io_serviced_recursive", "io_serviced"),
    ("blkio.bfq.io_service_bytes_recursive", "io_service_bytes"),
), (
    ("blkio.bfq.io_serviced_recursive", "io_serviced"),
    ("blkio.bfq.io_service_bytes_recursive", "io_service_bytes"),
), (
    ("blkio.sectors_recursive", "sectors"),
    ("blkio.io_service_time_recursive", "io_service_time"),
    ("blkio.io_wait_time_recursive", "io_wait_time"),
    ("blkio.io_merged_recursive", "io_merged"),
    ("blkio.io_queued_recursive", "io_queued"),
    ("blkio.time_recursive", "io_time"),
    ("blkio.io_serviced_recursive", "io_serviced"),
    ("blkio.io_service_bytes_recursive", "io_service_bytes"),
), (
    ("blkio.throttle.io_serviced_recursive", "io_serviced"),
    ("blkio.throttle.io_service_bytes_recursive", "io_service_bytes"),
), (
    ("blkio.throttle.io_serviced", "io_serviced"),
    ("blkio.throttle.io_service_bytes", "io_service_bytes"),
)
V1_BLKIO_FILES = tuple(
    StatFile(name, "blkio", ("diskio",), blkio_group=g + 1, blkio_list=lst)
    for g, group in enumerate(BLKIO_GROUPS) for name, lst in group
)

V2_FILES = (
    StatFile("cpu.stat", "keyed", ("cpu", "cfs"), table="cpu.stat.v2"),
    StatFile("memory.current", "single", ("memory",), column="memory_usage"),
    StatFile("memory.peak", "single", ("memory",), mandatory=False, column="memory_max_usage"),
    StatFile("memory.swap.current", "single", ("memory",), mandatory=False, column="memory_swap"),
    StatFile("memory.stat", "keyed", ("memory",), table="memory.stat.v2"),
    StatFile("io.stat", "iostat", ("diskio",)),
    StatFile("cgroup.procs", "procs", ("processes",), multi=True, max_record=PID_RECORD),
    StatFile("cgroup.procs", "schedstat", ("schedstat",), multi=True, max_record=PID_RECORD),
    # The kernel refuses taskstats for v2 directories: task states are counted
    # from each thread's /proc stat file.
    StatFile("cgroup.threads", "threads", ("load",), multi=True, max_record=PID_RECORD),
)


def group_mask(names) -> int:
    mask = 0
    for n in names:
        mask |= GROUPS[n]
    return mask

