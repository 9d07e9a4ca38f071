"""The sampling engine: container slots with kept-open file descriptors, and one
sweep over all of them in a single nogil section that reads each file with
pread(fd, buf, n, 0) and parses it straight into row t of the history arrays.

Python hands each slot a list of jobs (file path, parser kind, groups, where the
result goes) built from schema.py; nothing here knows file names. No Python
object is touched between the start and the end of a sweep."""
cimport cython
from cpython.bytes cimport PyBytes_AsString
from libc.errno cimport errno, EINTR, ENODEV, ENOENT, ESRCH, ENOMEM, EMFILE, ENFILE
from libc.stdint cimport uint16_t, uint32_t, uint64_t, int64_t, INT64_MAX
from libc.stdlib cimport malloc, calloc, realloc, free
from libc.string cimport memset, memcpy, strlen
from posix.fcntl cimport open as c_open, openat, O_RDONLY, O_CLOEXEC, O_DIRECTORY

cdef extern from "<fcntl.h>" nogil:
    enum: O_PATH
from posix.unistd cimport close, pread, sysconf, _SC_PAGESIZE
from libc.string cimport strrchr
import os
from posix.stat cimport fstat, struct_stat
from posix.time cimport clock_gettime, timespec, CLOCK_REALTIME, CLOCK_MONOTONIC

cimport numpy as cnp
import numpy as np

from cgsampler._native.formats cimport (
    cgs_row, cgs_disk_entry, KeyTable, KeyEntry, DiskSink, disk_sink_init, PARSE_OK, PARSE_MALFORMED, CGS_U64_MAX,
    CGS_MEMORY, CGS_PERCPU, CGS_DISKIO, CGS_NETWORK, CGS_TCP, CGS_UDP, CGS_NGROUPS,
    single_value, flat_keyed, count_pids,
)
from cgsampler._native.cgroup_v1 cimport cpuacct_usage_percpu, blkio_rwstat
from cgsampler._native.cgroup_v2 cimport io_stat
from cgsampler._native.procnet cimport NetDevIface
from cgsampler._native.procpid cimport Schedstat
from cgsampler._native.processes cimport (PidList, SchedCache, pid_list, count_fds, fd_sizes_are_counts,
                                          schedstat_sum,
                                          sched_cache_free)
from cgsampler._native.network cimport (NetnsState, TABLE_ABSENT, netns_new, netns_free, netns_read_dev,
                                        netns_read_sockets)
from cgsampler._native.sockdiag cimport (SOCKDIAG_VALID_TCP, SOCKDIAG_VALID_TCP6, SOCKDIAG_VALID_UDP,
                                         SOCKDIAG_VALID_UDP6)
from cgsampler._native.taskstats cimport (Taskstats, CgroupStats, count_task_states, load_decay)
from cgsampler._native.sockdiag import NetnsSocket

cnp.import_array()

# Parser kinds (schema.py names them; the values are shared through Engine.KINDS).
cdef enum:
    K_SINGLE = 0      # one number -> the column at `offset`
    K_KEYED = 1       # "key value" lines -> columns of key table `table`
    K_PERCPU = 2      # cpuacct.usage_percpu -> the per-CPU side array
    K_PROCS = 3       # cgroup.procs -> process_count (line count)
    K_BLKIO = 4       # one blkio file of group `bgroup`, list `blist`
    K_IOSTAT = 5      # v2 io.stat -> disk entries
    K_SCHEDSTAT = 6   # cgroup.procs -> <proc>/<pid>/schedstat of each process, summed
    K_TASKSTATS = 7   # the cgroup directory -> task states by netlink taskstats (v1)
    K_THREADS = 8     # cgroup.threads (v1: tasks) -> task states from <proc>/<tid>/stat

KINDS = {"single": K_SINGLE, "keyed": K_KEYED, "percpu": K_PERCPU, "procs": K_PROCS,
         "blkio": K_BLKIO, "iostat": K_IOSTAT, "schedstat": K_SCHEDSTAT, "taskstats": K_TASKSTATS,
         "threads": K_THREADS}

cdef enum:
    SLOT_FREE = 0
    SLOT_ACTIVE = 1
    SLOT_VANISHED = 2

# Slot flags.
EMULATE_MEMORY_USAGE = 1     # v2 root: no memory.current; usage = anon + file
COUNT_FDS = 2                # processes group: also count each process's open fds
cdef enum:
    F_EMULATE_USAGE = 1
    F_COUNT_FDS = 2

cdef enum:
    MAX_TABLES = 32
    NGROUPS = CGS_NGROUPS
    MAX_GROUP_COLUMNS = 32
    INITIAL_BUFFER = 65536
    STAT_SCRATCH = 1024      # one /proc/<tid>/stat

cdef struct Job:
    int fd               # kept-open fd, or -1: open/read/close each sweep (fd budget, or `reopen`)
    int kind
    uint64_t groups      # valid bits this file contributes to; any failure clears them
    int multi            # multi-record seq_file: read until EOF, a short read is not the end
    int reopen           # never keep this file open (v1 cgroup.procs: see schema.py)
    uint64_t ino         # inode when the slot was made: a file opened by path with another
                         # inode belongs to a re-created cgroup, so this container vanished
    int dirfd            # `reopen` files of a kept slot: their directory, held open (O_PATH);
                         # openat() on it is cheaper than a path walk and answers ENOENT
                         # once the cgroup is removed, whatever is re-created at the path
    char *name           # the file name within path (for openat)
    uint32_t max_record  # multi-record files: longest record; a first read this far short of
                         # a page is the whole file (saves the EOF read); 0 = always read to EOF
    int was_read         # read by the last sweep (blkio groups not chosen are skipped)
    uint32_t offset
    int table
    int bgroup           # K_BLKIO: file group (1..5, tried in order) ...
    int blist            # ... and DiskIoStats list
    int probe            # K_BLKIO: first file of its group
    char *path

cdef struct Slot:
    int state
    int flags
    Py_ssize_t col
    int njobs
    Job *jobs
    uint64_t uncollectable    # groups with a needed file absent when the slot was made
    int64_t next_due[NGROUPS] # CLOCK_MONOTONIC ns when each group is next read (intervals)
    int64_t intervals[NGROUPS] # this slot's own interval per group (the root's memory.stat); 0 = the engine's
    int netns                 # index into Engine.netns of the container's network namespace, or -1
    SchedCache sched          # last schedstat of each process, and of the departed ones
    double load_avg           # smoothed nr_running and nr_uninterruptible (spec 7.2)
    double load_d_avg
    int64_t load_mono         # CLOCK_MONOTONIC ns of the last load read; 0 = none yet
    uint64_t read_errors
    uint64_t parse_errors
    int last_errno
    int last_job

cdef inline int vanished_errno(int e) noexcept nogil:
    return e == ENODEV or e == ENOENT or e == ESRCH


cdef inline void read_error(Slot *s, int k, int err) noexcept nogil:
    s.read_errors += 1
    s.last_errno = err
    s.last_job = k


cdef inline void parse_error(Slot *s, int k) noexcept nogil:
    s.parse_errors += 1
    s.last_errno = 0
    s.last_job = k


@cython.final
cdef class Engine:
    cdef Slot *slots
    cdef Py_ssize_t nslots
    cdef KeyTable tables[MAX_TABLES]
    cdef int presence[MAX_TABLES]   # table entry whose absence matters (inactive_file), or -1
    cdef uint32_t group_cols[NGROUPS][MAX_GROUP_COLUMNS]   # columns zeroed when a group fails
    cdef int group_ncols[NGROUPS]
    cdef int64_t intervals[NGROUPS]  # ns between reads of each group; 0 = every sweep
    cdef list _table_keys           # keeps the key bytes alive
    cdef char *buf
    cdef Py_ssize_t cap
    cdef char *stats_base
    cdef Py_ssize_t T, N, C, D, itemsize
    cdef uint64_t *percpu_base
    cdef cgs_disk_entry *disk_base
    cdef object _arrays
    cdef public Py_ssize_t kept_fds
    cdef Py_ssize_t page
    cdef bint swept
    cdef list _vanished
    cdef int proc_dirfd             # the proc root, for per-process files
    cdef int fd_sizes               # its <pid>/fd sizes are fd counts (procfs, Linux >= 6.2)
    cdef PidList pids               # scratch: the pids of one cgroup.procs
    cdef char *scratch              # scratch: one /proc/<tid>/stat
    cdef Taskstats taskstats        # v1 task states; None: count them from /proc
    cdef NetnsState **netns
    cdef Py_ssize_t nnetns
    cdef uint64_t sweep_no
    cdef NetDevIface *iface_base
    cdef Py_ssize_t NI

    def __cinit__(self):
        cdef int i
        self.slots = NULL
        self.nslots = 0
        self.buf = <char *>malloc(INITIAL_BUFFER)
        if self.buf == NULL:
            raise MemoryError()
        self.cap = INITIAL_BUFFER
        memset(self.tables, 0, sizeof(self.tables))
        memset(self.group_ncols, 0, sizeof(self.group_ncols))
        memset(self.intervals, 0, sizeof(self.intervals))
        for i in range(MAX_TABLES):
            self.presence[i] = -1
        self._table_keys = []
        self._vanished = []
        self.kept_fds = 0
        self.stats_base = NULL
        self.page = sysconf(_SC_PAGESIZE)
        self.proc_dirfd = -1
        memset(&self.pids, 0, sizeof(PidList))
        self.scratch = <char *>malloc(STAT_SCRATCH)
        if self.scratch == NULL:
            raise MemoryError()
        self.netns = NULL
        self.nnetns = 0
        self.sweep_no = 0

    def __dealloc__(self):
        cdef Py_ssize_t i
        for i in range(self.nslots):
            self._free_slot(i)
        free(self.slots)
        for i in range(MAX_TABLES):
            free(self.tables[i].entries)
        free(self.buf)
        free(self.scratch)
        free(self.pids.pids)
        for i in range(self.nnetns):
            netns_free(self.netns[i])
        free(self.netns)
        if self.proc_dirfd >= 0:
            close(self.proc_dirfd)

    # --- configuration (Python side, off the hot path) -------------------------

    def set_table(self, int table_id, entries, presence_key=None):
        """entries: [(key bytes, column byte offset, scale), ...]. presence_key: the
        key whose absence the sweep must know about (memory.stat's inactive_file:
        without it the working set is the usage)."""
        if not 0 <= table_id < MAX_TABLES:
            raise ValueError("table id out of range")
        n = len(entries)
        cdef KeyEntry *e = <KeyEntry *>calloc(max(n, 1), sizeof(KeyEntry))
        if e == NULL:
            raise MemoryError()
        keys = []
        for i, (key, offset, scale) in enumerate(entries):
            key = bytes(key)
            keys.append(key)
            e[i].key = PyBytes_AsString(key)
            e[i].keylen = len(key)
            e[i].offset = offset
            e[i].scale = scale
        free(self.tables[table_id].entries)
        self.tables[table_id].entries = e
        self.tables[table_id].n = n
        self.presence[table_id] = -1
        if presence_key is not None:
            self.presence[table_id] = keys.index(bytes(presence_key))
        self._table_keys.append(keys)

    def set_intervals(self, intervals_ns):
        """Minimum ns between reads of each group (index = group bit); 0 = every
        sweep. A sweep that finds a group not due carries its values, valid bit
        and timestamp from the previous sample instead of reading its files."""
        if len(intervals_ns) > NGROUPS:
            raise ValueError("too many groups")
        for g in range(NGROUPS):
            self.intervals[g] = intervals_ns[g] if g < len(intervals_ns) else 0
            if self.intervals[g] < 0:
                raise ValueError("intervals must be >= 0")

    def set_proc_root(self, path):
        """Where per-process files are read (<proc>/<pid>/fd, schedstat, stat);
        None closes the one held."""
        cdef int fd = -1
        if path is not None:
            fd = c_open(os.fsencode(path), O_RDONLY | O_CLOEXEC | O_DIRECTORY | O_PATH)
            if fd < 0:
                raise OSError(errno, "cannot open the proc root", path)
        if self.proc_dirfd >= 0:
            close(self.proc_dirfd)
        self.proc_dirfd = fd        # not in kept_fds: that counts what containers hold
        self.fd_sizes = fd_sizes_are_counts(fd) if fd >= 0 else 0

    def set_taskstats(self, Taskstats taskstats):
        """The netlink socket for K_TASKSTATS jobs (None: those jobs fail)."""
        self.taskstats = taskstats

    def add_netns(self, dev_path, sock=None, table_paths=(), Py_ssize_t max_interfaces=16):
        """A network namespace: dev_path is <proc>/<pid>/net/dev of a process in
        it; sock a NetnsSocket opened in it (the engine keeps a dup of its fd, so
        the caller may close it), or None to read the /proc tables at
        table_paths (tcp, tcp6, udp, udp6). Every fd pins the namespace until
        remove_netns(). Returns its id. FileNotFoundError if the process is gone."""
        cdef int dev_fd, diag_fd = -1, i
        cdef int tfds[4]
        cdef NetnsState *ns
        cdef NetnsState **grown
        dev_fd = c_open(os.fsencode(dev_path), O_RDONLY | O_CLOEXEC)
        if dev_fd < 0:
            e = errno
            raise FileNotFoundError(e, "vanished", dev_path) if vanished_errno(e) else OSError(e, "cannot open", dev_path)
        for i in range(4):
            tfds[i] = -1
        try:
            if sock is not None:
                diag_fd = os.dup(sock.fileno())
                os.set_inheritable(diag_fd, False)
            else:
                for i, path in enumerate(table_paths[:4]):
                    tfds[i] = c_open(os.fsencode(path), O_RDONLY | O_CLOEXEC)
                    if tfds[i] < 0 and i % 2 == 1 and errno == ENOENT:
                        tfds[i] = TABLE_ABSENT     # tcp6 / udp6 of a kernel without IPv6: no sockets
                    elif tfds[i] < 0 and (errno == EMFILE or errno == ENFILE):
                        # Out of descriptors: no reader rather than one whose socket
                        # tables fail for its whole life (the caller tries again later).
                        e = errno
                        raise OSError(e, os.strerror(e), path)
            ns = netns_new(dev_fd, diag_fd, tfds, max_interfaces)    # owns the fds once made
            if ns == NULL:
                raise MemoryError()
        except BaseException:
            close(dev_fd)
            if diag_fd >= 0:
                close(diag_fd)
            for i in range(4):
                if tfds[i] >= 0:
                    close(tfds[i])
            raise
        self.kept_fds += self._netns_fds(ns)
        for i in range(self.nnetns):
            if self.netns[i] == NULL:
                self.netns[i] = ns
                return i
        grown = <NetnsState **>realloc(self.netns, (self.nnetns + 1) * sizeof(NetnsState *))
        if grown == NULL:
            self.kept_fds -= self._netns_fds(ns)
            netns_free(ns)
            raise MemoryError()
        self.netns = grown
        self.netns[self.nnetns] = ns
        self.nnetns += 1
        return self.nnetns - 1

    def remove_netns(self, Py_ssize_t nid):
        """Closes a namespace's fds. No slot may still point at it."""
        if not 0 <= nid < self.nnetns or self.netns[nid] == NULL:
            raise KeyError(f"no network namespace {nid}")
        self.kept_fds -= self._netns_fds(self.netns[nid])
        netns_free(self.netns[nid])
        self.netns[nid] = NULL

    cdef int _netns_fds(self, NetnsState *ns):
        cdef int n = (ns.dev_fd >= 0) + (ns.diag_fd >= 0), i
        for i in range(4):
            n += ns.table_fds[i] >= 0
        return n

    def netns_errors(self, Py_ssize_t nid):
        """Last results of a namespace's reads: {"dev": 0 or error, "sockets": ...}."""
        if not 0 <= nid < self.nnetns or self.netns[nid] == NULL:
            raise KeyError(f"no network namespace {nid}")
        return {"dev": self.netns[nid].dev_err, "sockets": self.netns[nid].sock_err,
                "sock_diag": self.netns[nid].diag_fd >= 0}

    def set_slot_netns(self, Py_ssize_t sid, Py_ssize_t nid):
        """Points a container at its network namespace (-1: none; then its
        network, tcp and udp groups are not collected)."""
        cdef int g
        self._check(sid)
        if nid >= 0 and (nid >= self.nnetns or self.netns[nid] == NULL):
            raise KeyError(f"no network namespace {nid}")
        if nid != self.slots[sid].netns:
            # Another namespace: its groups are read at the next sweep, never
            # carried over from the namespace the container left.
            for g in range(NGROUPS):
                if ((<uint64_t>1) << g) & (CGS_NETWORK | CGS_TCP | CGS_UDP):
                    self.slots[sid].next_due[g] = 0
        self.slots[sid].netns = nid

    def set_slot_intervals(self, Py_ssize_t sid, intervals_ns):
        """One container's own minimum ns between reads per group bit (0 = the
        engine's interval for that group)."""
        self._check(sid)
        for g in range(NGROUPS):
            v = intervals_ns[g] if g < len(intervals_ns) else 0
            if v < 0:
                raise ValueError("intervals must be >= 0")
            self.slots[sid].intervals[g] = v

    def set_group_columns(self, int group_bit, offsets):
        """Row columns (byte offsets) that belong to group `1 << group_bit`: they
        are zeroed when the group fails in a sweep, never left half-filled."""
        if not 0 <= group_bit < NGROUPS or len(offsets) > MAX_GROUP_COLUMNS:
            raise ValueError("group or column count out of range")
        for i, off in enumerate(offsets):
            self.group_cols[group_bit][i] = off
        self.group_ncols[group_bit] = len(offsets)

    def bind(self, cnp.ndarray stats, cnp.ndarray percpu, cnp.ndarray disk, cnp.ndarray net):
        """Points the engine at the history arrays: stats [T, N] of STATS_DTYPE,
        percpu [T, N, C] uint64, disk [T, N, D] of DISK_ENTRY_DTYPE, net [T, N, I]
        of IFACE_DTYPE, C-contiguous."""
        for a in (stats, percpu, disk, net):
            if not a.flags.c_contiguous:
                raise ValueError("history arrays must be C-contiguous")
        if stats.dtype.itemsize != sizeof(cgs_row):
            raise ValueError("stats dtype does not match the native row layout")
        if disk.dtype.itemsize != sizeof(cgs_disk_entry):
            raise ValueError("disk dtype does not match the native entry layout")
        if percpu.dtype != np.uint64:
            raise ValueError("percpu must be uint64")
        T, N = stats.shape[0], stats.shape[1]
        if net.dtype.itemsize != sizeof(NetDevIface):
            raise ValueError("net dtype does not match the native interface layout")
        if percpu.shape[0] != T or percpu.shape[1] != N or disk.shape[0] != T or disk.shape[1] != N \
                or net.shape[0] != T or net.shape[1] != N:
            raise ValueError("history arrays disagree on shape")
        self._arrays = (stats, percpu, disk, net)
        self.iface_base = <NetDevIface *>cnp.PyArray_DATA(net)
        self.NI = net.shape[2]
        self.stats_base = <char *>cnp.PyArray_DATA(stats)
        self.percpu_base = <uint64_t *>cnp.PyArray_DATA(percpu)
        self.disk_base = <cgs_disk_entry *>cnp.PyArray_DATA(disk)
        self.T, self.N, self.C, self.D = T, N, percpu.shape[2], disk.shape[2]
        self.itemsize = sizeof(cgs_row)

    def add_slot(self, Py_ssize_t col, jobs, uint64_t uncollectable=0, int flags=0, bint keep_open=True):
        """Makes a slot for one container. jobs: [(path, kind, groups, multi,
        reopen, max_record, offset, table, bgroup, blist, probe), ...]. Opens every file now
        when keep_open (the fd budget is the caller's), and notes each file's
        inode. Returns (slot id, fds kept). Raises FileNotFoundError if the
        container vanished."""
        cdef Py_ssize_t sid = -1, i
        for i in range(self.nslots):
            if self.slots[i].state == SLOT_FREE:
                sid = i
                break
        if sid < 0:
            sid = self.nslots
            newp = <Slot *>realloc(self.slots, (self.nslots + 16) * sizeof(Slot))
            if newp == NULL:
                raise MemoryError()
            self.slots = newp
            memset(&self.slots[self.nslots], 0, 16 * sizeof(Slot))
            self.nslots += 16
        cdef Slot *s = &self.slots[sid]
        memset(s, 0, sizeof(Slot))
        s.jobs = <Job *>calloc(max(len(jobs), 1), sizeof(Job))
        if s.jobs == NULL:
            raise MemoryError()
        s.col = col
        s.flags = flags
        s.uncollectable = uncollectable
        s.last_job = -1
        s.netns = -1
        s.state = SLOT_ACTIVE
        cdef Job *j
        cdef int fd, kept = 0
        cdef struct_stat st
        try:
            kept = self._fill_slot(sid, s, jobs, keep_open)
        except BaseException:
            self._free_slot(sid)        # never leave a half-made slot to be swept
            raise
        return sid, kept

    cdef int _fill_slot(self, Py_ssize_t sid, Slot *s, jobs, bint keep_open) except -1:
        cdef Job *j
        cdef int fd, kept = 0
        cdef struct_stat st
        cdef Py_ssize_t i
        for i, spec in enumerate(jobs):
            j = &s.jobs[i]
            j.fd = -1                    # before anything can raise: _free_slot closes fds >= 0
            j.dirfd = -1
            s.njobs = i + 1
            path, kind, groups, multi, reopen, max_record, offset, table, bgroup, blist, probe = spec
            bpath = os.fsencode(path)    # cgroup names are bytes; undecodable ones round-trip
            j.path = <char *>malloc(len(bpath) + 1)
            if j.path == NULL:
                raise MemoryError()
            memcpy(j.path, <char *>bpath, len(bpath))
            j.path[len(bpath)] = 0
            j.kind, j.groups, j.multi, j.reopen, j.max_record = kind, groups, multi, reopen, max_record
            j.name = strrchr(j.path, b'/') + 1 if strrchr(j.path, b'/') != NULL else j.path
            j.offset, j.table, j.bgroup, j.blist, j.probe = offset, table, bgroup, blist, probe
            if keep_open and reopen:
                # Hold the directory first, then find the file through it: what the
                # slot reads later is then this cgroup's, even if the path is
                # removed and re-created meanwhile.
                dpath = os.path.dirname(bpath)
                j.dirfd = c_open(<char *>dpath, O_RDONLY | O_CLOEXEC | O_DIRECTORY | O_PATH)
                if j.dirfd < 0:
                    e = errno
                    raise FileNotFoundError(e, "vanished", path) if vanished_errno(e) else OSError(e, "cannot open", path)
                kept += 1
                self.kept_fds += 1      # counted as it is opened: _free_slot may close it
                fd = openat(j.dirfd, j.name, O_RDONLY | O_CLOEXEC)
            else:
                fd = c_open(j.path, O_RDONLY | O_CLOEXEC)
            if fd < 0:
                e = errno
                if vanished_errno(e):
                    raise FileNotFoundError(e, "vanished", path)
                continue        # unreadable now (EACCES...): reopened each sweep, errors counted there
            if fstat(fd, &st) != 0:
                close(fd)
                continue
            j.ino = st.st_ino
            if keep_open and not reopen:
                j.fd = fd
                kept += 1
                self.kept_fds += 1
            else:
                close(fd)
        return kept

    def retire_slot(self, Py_ssize_t sid):
        """The container is gone though its fds still read (a v1 cgroup renamed
        away): closes its fds and keeps its column, as a vanished one."""
        self._check(sid)
        if self.slots[sid].state == SLOT_ACTIVE:
            self._close_fds(&self.slots[sid])
            self.slots[sid].state = SLOT_VANISHED + 1      # reported (by the caller)

    def remove_slot(self, Py_ssize_t sid):
        """Closes the slot's fds and frees it."""
        self._check(sid)
        self._free_slot(sid)

    cdef void _free_slot(self, Py_ssize_t sid) noexcept:
        cdef Slot *s = &self.slots[sid]
        cdef int i
        if s.state == SLOT_FREE:
            return
        self._close_fds(s)
        for i in range(s.njobs):
            free(s.jobs[i].path)
        free(s.jobs)
        sched_cache_free(&s.sched)
        memset(s, 0, sizeof(Slot))

    cdef void _close_fds(self, Slot *s) noexcept nogil:
        cdef int i
        for i in range(s.njobs):
            if s.jobs[i].fd >= 0:
                close(s.jobs[i].fd)
                s.jobs[i].fd = -1
                self.kept_fds -= 1
            if s.jobs[i].dirfd >= 0:
                close(s.jobs[i].dirfd)
                s.jobs[i].dirfd = -1
                self.kept_fds -= 1

    def _check(self, Py_ssize_t sid):
        if not 0 <= sid < self.nslots or self.slots[sid].state == SLOT_FREE:
            raise KeyError(f"no slot {sid}")

    def slot_errors(self, Py_ssize_t sid):
        """Counters of one slot: read_errors, parse_errors, last_errno, last_file."""
        self._check(sid)
        cdef Slot *s = &self.slots[sid]
        last = None
        if 0 <= s.last_job < s.njobs:
            last = os.fsdecode(s.jobs[s.last_job].path)
        return {"read_errors": s.read_errors, "parse_errors": s.parse_errors,
                "last_errno": s.last_errno, "last_file": last}

    def take_vanished(self):
        """Slot ids that vanished in sweeps since the last call (fds already closed)."""
        out = self._vanished
        self._vanished = []
        return out

    # --- the hot path ----------------------------------------------------------

    cdef int _open_job(self, Job *j, int *opened, int *err) noexcept nogil:
        """The job's fd: the kept one, or one opened now (*opened = 1: the caller
        closes it). -1 and *err on failure."""
        cdef int fd = j.fd
        cdef struct_stat st
        opened[0] = 0
        if fd >= 0:
            return fd
        if j.dirfd >= 0:
            fd = openat(j.dirfd, j.name, O_RDONLY | O_CLOEXEC)
            if fd < 0:
                err[0] = errno
                return -1
        else:
            fd = c_open(j.path, O_RDONLY | O_CLOEXEC)
            if fd < 0:
                err[0] = errno
                return -1
            if j.ino != 0 and (fstat(fd, &st) != 0 or <uint64_t>st.st_ino != j.ino):
                close(fd)
                err[0] = ENODEV         # the same path, a new cgroup: ours is gone
                return -1
        opened[0] = 1
        return fd

    cdef Py_ssize_t _read(self, Job *j, int *err) noexcept nogil:
        """Reads the whole file into self.buf; -1 and *err on failure."""
        cdef int opened = 0
        cdef Py_ssize_t total = 0, n
        cdef char *grown
        cdef int fd
        j.was_read = 1
        fd = self._open_job(j, &opened, err)
        if fd < 0:
            return -1
        while True:
            n = pread(fd, self.buf + total, self.cap - total, total)
            if n < 0:
                if errno == EINTR:
                    continue
                err[0] = errno
                total = -1
                break
            total += n
            if n == 0 or (total < self.cap and not j.multi):
                break
            if total == n and j.max_record and n + j.max_record < self.page:
                # A multi-record read stops only when the next record would not fit
                # in the kernel's page: this short, the first read got them all.
                break
            if total == self.cap:
                # A file longer than the buffer: grow once and keep it (not steady state).
                grown = <char *>realloc(self.buf, self.cap * 2)
                if grown == NULL:
                    err[0] = ENOMEM
                    total = -1
                    break
                self.buf = grown
                self.cap *= 2
        if opened:
            close(fd)
        return total

    cdef inline int64_t _interval(self, Slot *s, int g) noexcept nogil:
        return s.intervals[g] if s.intervals[g] else self.intervals[g]

    cdef int _load(self, Job *j, Slot *s, cgs_row *row, int64_t now_mono, int *err) noexcept nogil:
        """Task states of the cgroup into the load columns, and the smoothed
        averages (spec 7.2, with the decay of the time since the last read).
        0, -1 (read error, *err set) or 1 (malformed input: a tasks /
        cgroup.threads line that is not a tid, a /proc/<tid>/stat or a netlink
        reply that does not parse). Not PARSE_MALFORMED: that is -1 too, and the
        caller would count it as a read error."""
        cdef CgroupStats cs
        cdef uint64_t vanished = 0
        cdef int opened = 0, fd, rc
        cdef Py_ssize_t n
        cdef double d
        if j.kind == K_TASKSTATS:
            if self.taskstats is None:
                err[0] = ENOENT
                return -1
            fd = self._open_job(j, &opened, err)
            if fd < 0:
                return -1
            j.was_read = 1
            rc = self.taskstats.cgroupstats(fd, &cs)
            if opened:
                close(fd)
        else:
            n = self._read(j, err)
            if n < 0:
                return -1
            rc = count_task_states(self.buf, n, self.proc_dirfd, self.scratch, STAT_SCRATCH, &cs, &vanished)
        if rc != 0:
            if -4096 < rc < 0:
                err[0] = -rc
                return -1
            return 1
        row.load_nr_sleeping = cs.nr_sleeping
        row.load_nr_running = cs.nr_running
        row.load_nr_stopped = cs.nr_stopped
        row.load_nr_uninterruptible = cs.nr_uninterruptible
        row.load_nr_io_wait = cs.nr_io_wait
        if s.load_mono == 0:
            s.load_avg = <double>cs.nr_running
            s.load_d_avg = <double>cs.nr_uninterruptible
        else:
            d = load_decay((now_mono - s.load_mono) / 1e9)
            s.load_avg = s.load_avg * d + cs.nr_running * (1.0 - d)
            s.load_d_avg = s.load_d_avg * d + cs.nr_uninterruptible * (1.0 - d)
        s.load_mono = now_mono
        row.load_average = <uint64_t>(s.load_avg * 1000.0)
        row.load_d_average = <uint64_t>(s.load_d_avg * 1000.0)
        return PARSE_OK

    cdef int _per_process(self, Job *j, Slot *s, cgs_row *row, Py_ssize_t n) noexcept nogil:
        """After a cgroup.procs read: the fd count (K_PROCS of a COUNT_FDS slot)
        or the schedstat sums (K_SCHEDSTAT) of its processes. 0, a negative
        errno, or PARSE_MALFORMED."""
        cdef Schedstat ss
        cdef int rc = pid_list(self.buf, n, &self.pids)
        if rc != PARSE_OK:
            return -ENOMEM if rc == -2 else rc
        if j.kind == K_PROCS:
            return count_fds(self.proc_dirfd, self.fd_sizes, &self.pids, &row.process_fd_count,
                             &row.process_fd_skipped)
        rc = schedstat_sum(self.proc_dirfd, &self.pids, &s.sched, &ss)
        if rc == PARSE_OK:
            row.schedstat_run_time = ss.run_time
            row.schedstat_runqueue_time = ss.runqueue_time
            row.schedstat_run_periods = ss.run_periods
            row.schedstat_exited = s.sched.nexited
        return rc

    cdef uint64_t _network(self, Slot *s, cgs_row *row, Py_ssize_t t, uint64_t due, uint64_t *failed) noexcept nogil:
        """The container's namespace's interfaces and socket counts (read once
        per sweep for all containers in it). Returns the groups it read."""
        cdef NetnsState *ns = self.netns[s.netns]
        cdef uint64_t valid = 0, k, fit
        cdef NetDevIface *dst
        cdef int bits
        if due & CGS_NETWORK:
            valid |= CGS_NETWORK
            bits = netns_read_dev(ns, self.sweep_no, &self.buf, &self.cap)
            if bits != 0:
                failed[0] |= CGS_NETWORK
                if bits == PARSE_MALFORMED:     # net/dev read but did not parse
                    s.parse_errors += 1
                else:
                    s.read_errors += 1
            else:
                fit = ns.iface_count if ns.iface_count < <uint64_t>self.NI else <uint64_t>self.NI
                dst = self.iface_base + (t * self.N + s.col) * self.NI
                if fit:
                    memcpy(dst, ns.ifaces, fit * sizeof(NetDevIface))
                row.network_iface_count = fit
                row.network_iface_overflow = ns.iface_overflow + (ns.iface_count - fit)
        if due & (CGS_TCP | CGS_UDP):
            bits = netns_read_sockets(ns, self.sweep_no,
                                      ((SOCKDIAG_VALID_TCP | SOCKDIAG_VALID_TCP6) if due & CGS_TCP else 0)
                                      | ((SOCKDIAG_VALID_UDP | SOCKDIAG_VALID_UDP6) if due & CGS_UDP else 0),
                                      &self.buf, &self.cap)
            if due & CGS_TCP:
                valid |= CGS_TCP
                if (bits & (SOCKDIAG_VALID_TCP | SOCKDIAG_VALID_TCP6)) == (SOCKDIAG_VALID_TCP | SOCKDIAG_VALID_TCP6):
                    memcpy(row.tcp, &ns.socks.tcp, sizeof(row.tcp))
                    memcpy(row.tcp6, &ns.socks.tcp6, sizeof(row.tcp6))
                else:
                    failed[0] |= CGS_TCP
                    s.read_errors += 1
            if due & CGS_UDP:
                valid |= CGS_UDP
                if (bits & (SOCKDIAG_VALID_UDP | SOCKDIAG_VALID_UDP6)) == (SOCKDIAG_VALID_UDP | SOCKDIAG_VALID_UDP6):
                    memcpy(row.udp, &ns.socks.udp, sizeof(row.udp))      # the first four UdpStat fields
                    memcpy(row.udp6, &ns.socks.udp6, sizeof(row.udp6))
                else:
                    failed[0] |= CGS_UDP
                    s.read_errors += 1
        return valid

    cdef int _vanish(self, Slot *s, cgs_row *row) noexcept nogil:
        """The container's cgroup is gone: retire the slot, close its fds, leave
        its row empty. Returns 1 (what _sweep_slot returns for it)."""
        s.state = SLOT_VANISHED
        self._close_fds(s)
        memset(row, 0, sizeof(cgs_row))
        return 1

    cdef int _sweep_slot(self, Slot *s, Py_ssize_t t, int64_t now_mono) noexcept nogil:
        """Samples one container into row t. Returns 1 if it vanished."""
        cdef Py_ssize_t prev_t = t - 1 if t > 0 else self.T - 1
        cdef cgs_row *row = <cgs_row *>(self.stats_base + (t * self.N + s.col) * self.itemsize)
        cdef uint64_t *percpu = self.percpu_base + (t * self.N + s.col) * self.C
        cdef DiskSink sink
        cdef uint64_t valid = 0, failed = 0, ignored, seen, mark, due = 0, carried, off
        cdef Py_ssize_t n
        cdef int k, g, c, err = 0, rc, chosen = 0, inactive_seen = 0
        cdef Job *j
        cdef timespec ts
        cdef cgs_row prev
        # The previous sample of this container, kept aside before the row is
        # cleared (with a ring of one row they are the same memory).
        memcpy(&prev, self.stats_base + (prev_t * self.N + s.col) * self.itemsize, sizeof(cgs_row))
        # Network groups need the namespace of a process of the container.
        off = s.uncollectable
        if s.netns < 0:
            off |= CGS_NETWORK | CGS_TCP | CGS_UDP
        for g in range(NGROUPS):
            if self._interval(s, g) == 0 or s.next_due[g] <= now_mono or not (prev.valid >> g) & 1:
                due |= (<uint64_t>1) << g
        memset(row, 0, sizeof(cgs_row))
        disk_sink_init(&sink, self.disk_base + (t * self.N + s.col) * self.D, self.D)
        for k in range(s.njobs):
            j = &s.jobs[k]
            j.was_read = 0
            if not j.groups & due:
                continue                  # no group of it is due: carried below
            # A file shared by groups (v2 cpu.stat: cpu and cfs) is read when any of
            # them is due, and all of them are fresh: the slower group is refreshed
            # for free rather than the faster one frozen at the slower cadence.
            valid |= j.groups
            if j.kind == K_TASKSTATS or j.kind == K_THREADS:
                rc = self._load(j, s, row, now_mono, &err)
                if rc == -1 and vanished_errno(err) and j.kind == K_THREADS:
                    return self._vanish(s, row)
                if rc == -1:
                    read_error(s, k, err)
                    failed |= j.groups
                elif rc != PARSE_OK:
                    parse_error(s, k)
                    failed |= j.groups
                continue
            if j.kind == K_BLKIO:
                # cAdvisor's blkio file groups: the first group whose probe file has
                # device rows wins; later files of that group stop at the first empty one.
                if chosen < 0 or (chosen > 0 and j.bgroup != chosen) or (chosen == 0 and not j.probe):
                    continue
            n = self._read(j, &err)
            if n < 0:
                if vanished_errno(err):
                    return self._vanish(s, row)
                read_error(s, k, err)
                failed |= j.groups
                continue
            rc = PARSE_OK
            if j.kind == K_SINGLE:
                rc = single_value(self.buf, n, <uint64_t *>(<char *>row + j.offset))
            elif j.kind == K_KEYED:
                rc = flat_keyed(self.buf, n, &self.tables[j.table], <char *>row, &seen)
                if self.presence[j.table] >= 0 and seen & ((<uint64_t>1) << self.presence[j.table]):
                    inactive_seen = 1
            elif j.kind == K_PROCS:
                rc = count_pids(self.buf, n, &row.process_count)
                if rc == PARSE_OK and s.flags & F_COUNT_FDS:
                    rc = self._per_process(j, s, row, n)
            elif j.kind == K_SCHEDSTAT:
                rc = self._per_process(j, s, row, n)
                if rc < 0 and rc != PARSE_MALFORMED:
                    read_error(s, k, -rc)
                    failed |= j.groups
                    continue
            elif j.kind == K_PERCPU:
                rc = cpuacct_usage_percpu(self.buf, n, percpu, self.C, &row.cpu_percpu_count, &ignored)
                if ignored:
                    # More CPUs than the array holds (the Python side sizes it from
                    # the file when the slot is made): not collected, never truncated.
                    rc = PARSE_MALFORMED
            elif j.kind == K_IOSTAT:
                rc = io_stat(self.buf, n, &sink)
            elif j.kind == K_BLKIO:
                if chosen == 0:
                    mark = sink.count + sink.overflow
                    rc = blkio_rwstat(self.buf, n, j.blist, &sink)
                    if rc == PARSE_OK and sink.count + sink.overflow == mark:
                        continue          # no device rows (empty, or only "Total 0"): next group
                    chosen = j.bgroup
                elif n == 0:
                    chosen = -1
                    continue
                else:
                    rc = blkio_rwstat(self.buf, n, j.blist, &sink)
            if rc != PARSE_OK:
                parse_error(s, k)
                failed |= j.groups
        clock_gettime(CLOCK_REALTIME, &ts)
        row.timestamp_ns = <int64_t>ts.tv_sec * 1000000000 + ts.tv_nsec
        row.diskio_count = sink.count
        row.diskio_overflow = sink.overflow
        if s.netns >= 0:
            valid |= self._network(s, row, t, due & ~off, &failed)
        if valid & CGS_MEMORY:
            if s.flags & F_EMULATE_USAGE:
                row.memory_usage = row.memory_rss + row.memory_cache
            if not inactive_seen:
                row.memory_working_set = row.memory_usage
            elif row.memory_inactive_file < row.memory_usage:
                row.memory_working_set = row.memory_usage - row.memory_inactive_file
        if failed:
            # A group that failed keeps nothing: zero its columns, not half of them.
            for g in range(NGROUPS):
                if failed & ((<uint64_t>1) << g):
                    for c in range(self.group_ncols[g]):
                        (<uint64_t *>(<char *>row + self.group_cols[g][c]))[0] = 0
        row.valid = valid & ~failed & ~off
        row.fresh = valid & ~off
        for g in range(NGROUPS):
            if (row.fresh >> g) & 1:
                row.group_timestamp_ns[g] = row.timestamp_ns
                if self._interval(s, g):
                    if self._interval(s, g) > INT64_MAX - now_mono:
                        s.next_due[g] = INT64_MAX       # "never again" without overflowing
                    else:
                        s.next_due[g] = now_mono + self._interval(s, g)
        # Groups not read this sweep (not due) keep their previous values.
        carried = prev.valid & ~valid & ~off
        if carried:
            self._carry(row, &prev, carried, t, prev_t, s.col)
        return 0

    cdef void _carry(self, cgs_row *row, cgs_row *prev, uint64_t carried, Py_ssize_t t,
                     Py_ssize_t prev_t, Py_ssize_t col) noexcept nogil:
        """Copies the carried groups' columns, valid bits and timestamps (and
        their side-array blocks) from the previous sample."""
        cdef int g, c
        cdef uint32_t off
        for g in range(NGROUPS):
            if not (carried >> g) & 1:
                continue
            for c in range(self.group_ncols[g]):
                off = self.group_cols[g][c]
                (<uint64_t *>(<char *>row + off))[0] = (<uint64_t *>(<char *>prev + off))[0]
            row.group_timestamp_ns[g] = prev.group_timestamp_ns[g]
        row.valid |= carried
        if t != prev_t:
            if carried & CGS_PERCPU:
                memcpy(self.percpu_base + (t * self.N + col) * self.C,
                       self.percpu_base + (prev_t * self.N + col) * self.C, self.C * sizeof(uint64_t))
            if carried & CGS_DISKIO:
                memcpy(self.disk_base + (t * self.N + col) * self.D,
                       self.disk_base + (prev_t * self.N + col) * self.D, self.D * sizeof(cgs_disk_entry))
            if carried & CGS_NETWORK:
                memcpy(self.iface_base + (t * self.N + col) * self.NI,
                       self.iface_base + (prev_t * self.N + col) * self.NI, self.NI * sizeof(NetDevIface))

    def sweep(self, Py_ssize_t t):
        """One sweep of every active slot into row t. Returns how many vanished."""
        if self.stats_base == NULL:
            raise RuntimeError("bind() the history arrays first")
        if not 0 <= t < self.T:
            raise IndexError("row out of range")
        cdef Py_ssize_t i
        cdef int gone = 0
        cdef Slot *s
        cdef timespec mono
        self.swept = True
        self.sweep_no += 1
        with nogil:
            clock_gettime(CLOCK_MONOTONIC, &mono)
            for i in range(self.nslots):
                s = &self.slots[i]
                if s.state == SLOT_ACTIVE:
                    if self._sweep_slot(s, t, <int64_t>mono.tv_sec * 1000000000 + mono.tv_nsec):
                        gone += 1
                elif s.state != SLOT_FREE:
                    # A vanished container keeps its column (its history stays
                    # readable) but gets no new samples.
                    memset(self.stats_base + (t * self.N + s.col) * self.itemsize, 0, sizeof(cgs_row))
        if gone:
            for i in range(self.nslots):
                if self.slots[i].state == SLOT_VANISHED and i not in self._vanished:
                    self._vanished.append(i)
                    self.slots[i].state = SLOT_VANISHED + 1   # reported
        return gone

    def read_only_sweep(self):
        """The kernel floor: reads exactly the files the last sweep read (not the
        blkio groups it skipped), the same way, without parsing or storing
        anything. Returns bytes read."""
        cdef Py_ssize_t i, n, total = 0
        cdef int k, err = 0
        cdef Slot *s
        if not self.swept:
            raise RuntimeError("read_only_sweep() repeats the last sweep's reads: call sweep() first")
        with nogil:
            for i in range(self.nslots):
                s = &self.slots[i]
                if s.state == SLOT_ACTIVE:
                    for k in range(s.njobs):
                        if s.jobs[k].was_read and s.jobs[k].kind != K_TASKSTATS:
                            n = self._read(&s.jobs[k], &err)
                            if n > 0:
                                total += n
        return total

    def row_layout(self):
        """Byte offsets of the native row fields, for checking schema.py."""
        cdef cgs_row r
        base = <size_t>&r
        return {"itemsize": sizeof(cgs_row), "disk_itemsize": sizeof(cgs_disk_entry),
                "timestamp_ns": <size_t>&r.timestamp_ns - base,
                "valid": <size_t>&r.valid - base,
                "fresh": <size_t>&r.fresh - base,
                "group_timestamp_ns": <size_t>&r.group_timestamp_ns[0] - base,
                "cpu_usage_total": <size_t>&r.cpu_usage_total - base,
                "cpu_percpu_count": <size_t>&r.cpu_percpu_count - base,
                "memory_usage": <size_t>&r.memory_usage - base,
                "memory_cache": <size_t>&r.memory_cache - base,
                "memory_rss": <size_t>&r.memory_rss - base,
                "memory_working_set": <size_t>&r.memory_working_set - base,
                "memory_inactive_file": <size_t>&r.memory_inactive_file - base,
                "diskio_count": <size_t>&r.diskio_count - base,
                "diskio_overflow": <size_t>&r.diskio_overflow - base,
                "process_count": <size_t>&r.process_count - base,
                "process_fd_count": <size_t>&r.process_fd_count - base,
                "schedstat_run_time": <size_t>&r.schedstat_run_time - base,
                "load_nr_sleeping": <size_t>&r.load_nr_sleeping - base,
                "load_average": <size_t>&r.load_average - base,
                "network_iface_count": <size_t>&r.network_iface_count - base,
                "tcp": <size_t>&r.tcp[0] - base,
                "tcp6": <size_t>&r.tcp6[0] - base,
                "udp": <size_t>&r.udp[0] - base,
                "udp6": <size_t>&r.udp6[0] - base}
