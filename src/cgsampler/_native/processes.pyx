"""Readers of a cgroup's processes' /proc files, for the sweep: the pid list of
cgroup.procs, the number of open fds of each process (ProcessStats.fd_count),
and schedstat summed over the processes with the departed ones kept
(CpuSchedstat). Files are opened relative to a kept fd of the proc root.

Semantics: ../shared/reference/cadvisor-v1-spec.md 6.3 and 12.1."""
from libc.errno cimport errno, ENOENT, ESRCH, EINTR
from libc.stdint cimport uint32_t, uint64_t, UINT32_MAX
from libc.stdlib cimport malloc, realloc, free, qsort
from libc.string cimport memset
from libc.stdio cimport snprintf, sscanf
from posix.unistd cimport getpid
from posix.fcntl cimport openat, O_RDONLY, O_CLOEXEC, O_DIRECTORY
from posix.unistd cimport close, pread
from posix.stat cimport struct_stat

from cgsampler._native.formats cimport (PARSE_OK, PARSE_MALFORMED, CGS_NUM_OK, CGS_U64_MAX,
                                        cgs_parse_u64, cgs_line_end, cgs_skip_spaces, cgs_token_end)
from cgsampler._native.procpid cimport Schedstat, pid_schedstat

cdef extern from "<sys/stat.h>" nogil:
    int fstatat(int dirfd, const char *path, struct_stat *buf, int flags)

cdef extern from "<dirent.h>" nogil:
    pass

cdef extern from "<sys/vfs.h>" nogil:
    struct statfs:
        long f_type
    int fstatfs(int fd, statfs *buf)

cdef extern from "<sys/utsname.h>" nogil:
    struct utsname:
        char release[65]
    int uname(utsname *buf)

cdef extern from "<sys/syscall.h>" nogil:
    long SYS_getdents64

cdef extern from "<unistd.h>" nogil:
    long syscall(long number, ...)

cdef enum:
    SCHEDSTAT_MAX = 96          # three u64 and blanks
    DIRENT_BUF = 4096
    PROC_SUPER_MAGIC = 0x9fa0   # statfs f_type of procfs


cdef inline bint gone(int e) noexcept nogil:
    return e == ENOENT or e == ESRCH


cdef int pid_list(const char *buf, Py_ssize_t n, PidList *out) noexcept nogil:
    """cgroup.procs / cgroup.threads text -> out.pids (grown as needed). Any line
    that is not a pid is malformed; -2 when memory runs out."""
    cdef const char *p = buf
    cdef const char *end = buf + n
    cdef const char *eol
    cdef const char *t
    cdef uint64_t pid
    cdef uint32_t *grown
    out.n = 0
    while p < end:
        eol = cgs_line_end(p, end)
        p = cgs_skip_spaces(p, eol)
        if p != eol:
            t = cgs_token_end(p, eol)
            if p[0] == b'-' or cgs_parse_u64(p, t, &pid) != CGS_NUM_OK or pid > UINT32_MAX \
                    or cgs_skip_spaces(t, eol) != eol:
                return PARSE_MALFORMED
            if out.n == out.cap:
                grown = <uint32_t *>realloc(out.pids, (out.cap * 2 + 64) * sizeof(uint32_t))
                if grown == NULL:
                    return -2
                out.pids = grown
                out.cap = out.cap * 2 + 64
            out.pids[out.n] = <uint32_t>pid
            out.n += 1
        p = eol + 1
    return PARSE_OK


cdef uint64_t fd_dir_entries(int dirfd) noexcept nogil:
    """Entries of an open /proc/<pid>/fd directory, by getdents64 (kernels before
    6.2, whose stat() of the directory has size 0)."""
    cdef char buf[DIRENT_BUF]
    cdef long got
    cdef long off
    cdef uint64_t n = 0
    cdef unsigned short reclen
    cdef const char *name
    while True:
        got = syscall(SYS_getdents64, dirfd, buf, DIRENT_BUF)
        if got <= 0:
            break
        off = 0
        while off < got:
            reclen = (<unsigned short *>(buf + off + 16))[0]   # struct linux_dirent64: d_ino, d_off, d_reclen
            name = buf + off + 19
            if not (name[0] == b'.' and (name[1] == 0 or (name[1] == b'.' and name[2] == 0))):
                n += 1
            off += reclen
    return n


cdef int count_fds(int proc_dirfd, int sizes_are_counts, const PidList *pids, uint64_t *fds,
                   uint64_t *skipped) noexcept nogil:
    """Sum of open fds over the processes. Since Linux 6.2 the size that stat()
    gives for procfs' /proc/<pid>/fd is the number of open fds (one syscall, no
    listing; 0 for a kernel thread): the caller says whether the proc root is
    such a procfs (fd_sizes_are_counts). Otherwise (an older kernel, or a
    fixture tree, where a directory's size is its allocation) each directory
    is listed. A process whose directory cannot be read (it exited, or no
    permission) counts in *skipped, never as 0 fds."""
    cdef char path[32]
    cdef struct_stat st
    cdef uint64_t i, total = 0, miss = 0
    cdef int dfd
    for i in range(pids.n):
        snprintf(path, sizeof(path), "%u/fd", pids.pids[i])
        if sizes_are_counts:
            if fstatat(proc_dirfd, path, &st, 0) != 0:
                miss += 1
            else:
                total += <uint64_t>st.st_size
            continue
        dfd = openat(proc_dirfd, path, O_RDONLY | O_CLOEXEC | O_DIRECTORY)
        if dfd < 0:
            miss += 1
            continue
        total += fd_dir_entries(dfd)
        close(dfd)
    fds[0] = total
    skipped[0] = miss
    return PARSE_OK


cdef int fd_sizes_are_counts(int proc_dirfd) noexcept nogil:
    """Whether stat() sizes of <proc_dirfd>/<pid>/fd are fd counts: procfs on
    Linux >= 6.2. Tested on the proc root's own view of this process where it
    has one (its fd directory holds at least the proc root's fd, so its size
    is > 0 exactly when sizes are counts), else on the kernel's release."""
    cdef statfs sfs
    cdef struct_stat st
    cdef char path[32]
    cdef utsname u
    cdef int major = 0, minor = 0
    if fstatfs(proc_dirfd, &sfs) != 0 or sfs.f_type != PROC_SUPER_MAGIC:
        return 0
    snprintf(path, sizeof(path), "%d/fd", getpid())
    if fstatat(proc_dirfd, path, &st, 0) == 0:
        return st.st_size > 0
    if uname(&u) != 0 or sscanf(u.release, "%d.%d", &major, &minor) != 2:
        return 0
    return major > 6 or (major == 6 and minor >= 2)


cdef int cmp_u32(const void *a, const void *b) noexcept nogil:
    cdef uint32_t x = (<const uint32_t *>a)[0], y = (<const uint32_t *>b)[0]
    return (x > y) - (x < y)


cdef inline void sched_add(Schedstat *acc, const Schedstat *v) noexcept nogil:
    acc.run_time += v.run_time
    acc.runqueue_time += v.runqueue_time
    acc.run_periods += v.run_periods


cdef int read_schedstat(int proc_dirfd, uint32_t pid, Schedstat *out) noexcept nogil:
    """0, 1 if the process is gone, or PARSE_MALFORMED / -errno."""
    cdef char path[32]
    cdef char buf[SCHEDSTAT_MAX]
    cdef int fd
    cdef Py_ssize_t n
    snprintf(path, sizeof(path), "%u/schedstat", pid)
    fd = openat(proc_dirfd, path, O_RDONLY | O_CLOEXEC)
    if fd < 0:
        return 1 if gone(errno) else -errno
    while True:
        n = pread(fd, buf, SCHEDSTAT_MAX, 0)
        if n >= 0 or errno != EINTR:
            break
    if n < 0:
        n = errno
        close(fd)
        return 1 if gone(<int>n) else -<int>n
    close(fd)
    if n == SCHEDSTAT_MAX:
        return PARSE_MALFORMED
    return pid_schedstat(buf, n, out)


cdef int schedstat_sum(int proc_dirfd, const PidList *pids, SchedCache *cache, Schedstat *out) noexcept nogil:
    """Sum of <proc>/<pid>/schedstat over `pids` (sorted here, in place), plus the
    last values of every process seen in earlier sweeps that is no longer
    listed (cAdvisor keeps them so the sums do not drop when a process exits).
    A process that exits between the listing and its read counts as gone with
    the values seen before. A pid reused by a new process (its counters went
    backwards) retires the old one first. Returns 0, PARSE_MALFORMED, or -errno
    (the sums are then not valid)."""
    cdef SchedEntry *fresh
    cdef SchedEntry *old
    cdef SchedEntry *grown
    cdef uint64_t i, j = 0, k = 0
    cdef Schedstat v, departed
    cdef uint64_t ndeparted = 0
    cdef int rc
    memset(&departed, 0, sizeof(Schedstat))
    if pids.n > cache.cap:
        grown = <SchedEntry *>realloc(cache.spare, pids.n * 2 * sizeof(SchedEntry))
        if grown == NULL:
            return -12
        cache.spare = grown
        grown = <SchedEntry *>realloc(cache.entries, pids.n * 2 * sizeof(SchedEntry))
        if grown == NULL:
            return -12
        cache.entries = grown
        cache.cap = pids.n * 2
    old = cache.entries
    fresh = cache.spare
    qsort(<void *>pids.pids, pids.n, sizeof(uint32_t), cmp_u32)
    memset(out, 0, sizeof(Schedstat))
    for i in range(pids.n):
        if i and pids.pids[i] == pids.pids[i - 1]:
            continue
        # Departed processes listed before this pid.
        while j < cache.n and old[j].pid < pids.pids[i]:
            sched_add(&departed, &old[j].last)
            ndeparted += 1
            j += 1
        rc = read_schedstat(proc_dirfd, pids.pids[i], &v)
        if rc < 0:
            return rc               # the cache is left as it was: nothing counted twice
        if j < cache.n and old[j].pid == pids.pids[i]:
            if rc == 1:
                v = old[j].last                  # gone since the listing: its last values
            elif v.run_time < old[j].last.run_time or v.run_periods < old[j].last.run_periods:
                sched_add(&departed, &old[j].last)     # pid reuse
                ndeparted += 1
            j += 1
        elif rc == 1:
            continue                             # came and went unseen: nothing to keep
        fresh[k].pid = pids.pids[i]
        fresh[k].pad = 0
        fresh[k].last = v
        sched_add(out, &v)
        k += 1
    while j < cache.n:
        sched_add(&departed, &old[j].last)
        ndeparted += 1
        j += 1
    sched_add(&cache.exited, &departed)
    cache.nexited += ndeparted
    cache.spare = old
    cache.entries = fresh
    cache.n = k
    sched_add(out, &cache.exited)
    return PARSE_OK


cdef void sched_cache_free(SchedCache *cache) noexcept nogil:
    free(cache.entries)
    free(cache.spare)
    memset(cache, 0, sizeof(SchedCache))


# --- Python entry points, for tests and tools -------------------------------------------

def parse_pid_list(bytes data):
    """[pid, ...] of a cgroup.procs / cgroup.threads text; ValueError if malformed."""
    cdef PidList pl
    memset(&pl, 0, sizeof(PidList))
    try:
        rc = pid_list(data, len(data), &pl)
        if rc != PARSE_OK:
            raise ValueError("malformed pid list")
        return [pl.pids[i] for i in range(pl.n)]
    finally:
        free(pl.pids)
