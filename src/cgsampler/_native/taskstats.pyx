"""Task-state counts of one cgroup (cAdvisor's LoadStats, cAdvisor-v1-spec
section 7), two ways:

* Taskstats: netlink generic family "TASKSTATS", command CGROUPSTATS_CMD_GET
  with the cgroup directory's fd; the kernel's cgroupstats_build walks the
  tasks (threads) attached to that directory itself, not its descendants.
  cgroup v1 only: a cgroup2 directory is answered with EINVAL. The family is
  reachable only from the initial network namespace.
* count_task_states: the same counts from /proc/<tid>/stat of every tid of
  cgroup.threads (for cgroup v2), with the kernel's state mapping.

Kernel behaviour the code rests on:

* The request is sent with NLM_F_ACK. cgroupstats_user_cmd answers an fd it
  cannot resolve (closed fd, O_PATH fd) with NOTHING: it returns 0 without a
  reply. Without the ack that is a silent wait until the receive timeout;
  with it the ack (error 0) arrives alone, which is reported as -EBADF.
  A successful request gets the reply, then the ack: two datagrams.
* Genetlink handles the request inside send(), so both datagrams are queued
  when send() returns; SO_RCVTIMEO (1 s) only guards against the unexpected.
* Replies of an earlier request (one that returned early) carry an older
  sequence number and are dropped.
"""
import os
from libc.errno cimport errno, EINTR, ENOENT, ESRCH, EBADF
from libc.stdint cimport uint8_t, uint16_t, uint32_t, int32_t, uint64_t
from libc.string cimport memset, memcpy, strerror
from posix.fcntl cimport openat, O_RDONLY, O_CLOEXEC, O_DIRECTORY
from posix.unistd cimport close as c_close, read as c_read
from posix.time cimport clock_gettime, timespec, CLOCK_MONOTONIC
from cgsampler._native.formats cimport PARSE_OK
from cgsampler._native.procpid cimport PidStat, pid_stat

cdef extern from "<sys/socket.h>" nogil:
    int AF_NETLINK, SOCK_DGRAM, SOCK_CLOEXEC, SOL_SOCKET, SO_RCVTIMEO, MSG_TRUNC
    struct sockaddr:
        pass
    ctypedef unsigned int socklen_t
    int socket(int domain, int type, int protocol)
    int bind(int fd, const sockaddr *addr, socklen_t len)
    int setsockopt(int fd, int level, int name, const void *val, socklen_t len)
    ssize_t send(int fd, const void *buf, size_t n, int flags)
    ssize_t recv(int fd, void *buf, size_t n, int flags)

cdef extern from "<sys/time.h>" nogil:
    struct timeval:
        long tv_sec
        long tv_usec

cdef extern from "<linux/netlink.h>" nogil:
    struct sockaddr_nl:
        unsigned short nl_family
        uint32_t nl_pid
        uint32_t nl_groups


# --- the kernel's generic netlink layouts (linux/netlink.h, linux/genetlink.h,
#     linux/taskstats.h, linux/cgroupstats.h), written out -------------------------

cdef enum:
    NETLINK_GENERIC_PROTO = 16
    NLMSG_ERROR = 2
    NLM_F_REQUEST = 0x1
    NLM_F_ACK = 0x4
    GENL_ID_CTRL = 0x10
    CTRL_CMD_GETFAMILY = 3
    CTRL_ATTR_FAMILY_ID = 1          # u16
    CTRL_ATTR_FAMILY_NAME = 2        # NUL-terminated string
    CGROUPSTATS_CMD_GET = 4          # after TASKSTATS_CMD_{UNSPEC,GET,NEW} and CGROUPSTATS_CMD_UNSPEC
    CGROUPSTATS_CMD_ATTR_FD = 1      # u32
    CGROUPSTATS_TYPE_CGROUP_STATS = 1
    NLA_TYPE_MASK = 0x3FFF           # without NLA_F_NESTED / NLA_F_NET_BYTEORDER
    NLMSG_HDRLEN = 16
    GENL_HDRLEN = 4
    NLA_HDRLEN = 4
    REPLY_BUF = 1024                 # replies are 64 bytes (stats) or 36-48 (ack / error)

cdef struct nl_msghdr:               # struct nlmsghdr
    uint32_t nlmsg_len
    uint16_t nlmsg_type
    uint16_t nlmsg_flags
    uint32_t nlmsg_seq
    uint32_t nlmsg_pid

cdef struct genl_request:            # nlmsghdr + genlmsghdr + one attribute of <= 16 bytes
    nl_msghdr nlh
    uint8_t cmd
    uint8_t version
    uint16_t reserved
    uint16_t nla_len
    uint16_t nla_type
    char payload[16]

assert sizeof(nl_msghdr) == NLMSG_HDRLEN and sizeof(genl_request) == 40
assert sizeof(CgroupStats) == 40


cdef inline uint32_t align4(uint32_t n) noexcept nogil:
    return (n + 3) & ~(<uint32_t>3)


cdef int genl_send(int fd, uint16_t msgtype, uint16_t flags, uint32_t seq, uint8_t cmd,
                   uint16_t attr, const void *val, uint16_t vlen) noexcept nogil:
    """Sends one generic netlink request with one attribute (vlen <= 16); 0 or -errno."""
    cdef genl_request rq
    memset(&rq, 0, sizeof(rq))
    rq.nla_len = NLA_HDRLEN + vlen
    rq.nlh.nlmsg_len = NLMSG_HDRLEN + GENL_HDRLEN + align4(rq.nla_len)
    rq.nlh.nlmsg_type = msgtype
    rq.nlh.nlmsg_flags = NLM_F_REQUEST | flags
    rq.nlh.nlmsg_seq = seq
    rq.cmd = cmd
    rq.version = 1
    rq.nla_type = attr
    memcpy(rq.payload, val, vlen)
    while send(fd, &rq, rq.nlh.nlmsg_len, 0) < 0:
        if errno != EINTR:
            return -errno
    return 0


cdef ssize_t genl_recv(int fd, uint32_t seq, char *buf, size_t cap) noexcept nogil:
    """The next datagram of request `seq` (others are stale: dropped): its
    length, with a sane nlmsghdr at buf, or -errno (-EAGAIN: timed out) /
    TASKSTATS_MALFORMED. An NLMSG_ERROR is returned as is (see nl_error)."""
    cdef ssize_t n
    cdef const nl_msghdr *h = <const nl_msghdr *>buf
    while True:
        n = recv(fd, buf, cap, MSG_TRUNC)
        if n < 0:
            if errno == EINTR:
                continue
            return -errno
        if n < NLMSG_HDRLEN or h.nlmsg_len < NLMSG_HDRLEN or h.nlmsg_len > n:
            return TASKSTATS_MALFORMED       # also a datagram longer than cap (MSG_TRUNC)
        if h.nlmsg_seq == seq:
            return n


cdef inline int nl_error(const char *buf) noexcept nogil:
    """The error of an NLMSG_ERROR message at buf: 0 (an ack) or a negative errno."""
    cdef int32_t err
    if (<const nl_msghdr *>buf).nlmsg_len < NLMSG_HDRLEN + 4:
        return TASKSTATS_MALFORMED
    memcpy(&err, buf + NLMSG_HDRLEN, 4)
    return err if err <= 0 else -err


cdef const char *find_attr(const char *buf, uint16_t attr, uint16_t minlen) noexcept nogil:
    """The payload of the first attribute `attr` (at least minlen bytes) of the
    generic netlink message at buf, or NULL."""
    cdef const char *p = buf + NLMSG_HDRLEN + GENL_HDRLEN
    cdef const char *end = buf + (<const nl_msghdr *>buf).nlmsg_len
    cdef uint16_t alen, atype
    while end - p >= NLA_HDRLEN:
        memcpy(&alen, p, 2)
        memcpy(&atype, p + 2, 2)
        if alen < NLA_HDRLEN or alen > end - p:
            return NULL
        if atype & NLA_TYPE_MASK == attr:
            return p + NLA_HDRLEN if alen >= NLA_HDRLEN + minlen else NULL
        p += align4(alen)
    return NULL


cdef class Taskstats:
    """A NETLINK_GENERIC socket resolved to the TASKSTATS family, for
    CGROUPSTATS_CMD_GET. Raises OSError if the socket cannot be made or the
    family is not there (kernel without CONFIG_TASKSTATS, or a network
    namespace other than the initial one, where the family is not registered).

    timeout_s: SO_RCVTIMEO of the socket, so that a kernel that does not answer
    costs at most that per request, never a hung sweep."""

    def __cinit__(self):
        self.fd = -1

    def __init__(self, double timeout_s=1.0):
        cdef sockaddr_nl addr
        cdef timeval tv
        cdef char buf[REPLY_BUF]
        cdef ssize_t n
        cdef int rc
        cdef const char *fam
        cdef const char *name = b"TASKSTATS"     # sent with its NUL: 10 bytes
        cdef int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_GENERIC_PROTO)
        if fd < 0:
            _raise(errno, "taskstats: socket(AF_NETLINK, NETLINK_GENERIC) failed")
        self.fd = fd
        if not timeout_s > 0:
            self.close()
            raise ValueError("timeout_s must be > 0 (0 would mean: wait forever)")
        memset(&addr, 0, sizeof(addr))
        addr.nl_family = AF_NETLINK
        if bind(fd, <sockaddr *>&addr, sizeof(addr)) < 0:
            self.close()
            _raise(errno, "taskstats: bind of the netlink socket failed")
        tv.tv_sec = <long>timeout_s
        tv.tv_usec = <long>((timeout_s - tv.tv_sec) * 1e6)
        if setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0:
            self.close()
            _raise(errno, "taskstats: setsockopt(SO_RCVTIMEO) failed")
        self.seq = 1
        rc = genl_send(fd, GENL_ID_CTRL, 0, self.seq, CTRL_CMD_GETFAMILY, CTRL_ATTR_FAMILY_NAME, name, 10)
        n = genl_recv(fd, self.seq, buf, REPLY_BUF) if rc == 0 else rc
        if n >= 0 and (<nl_msghdr *>buf).nlmsg_type == NLMSG_ERROR:
            n = nl_error(buf)
            if n == 0:
                n = TASKSTATS_MALFORMED      # an ack instead of the reply
        if n < 0:
            self.close()
            if n == -ENOENT:
                _raise(ENOENT, "taskstats: the kernel has no TASKSTATS generic netlink family "
                               "(CONFIG_TASKSTATS off, or not in the initial network namespace)")
            _raise(-n, "taskstats: resolving the TASKSTATS generic netlink family failed")
        fam = find_attr(buf, CTRL_ATTR_FAMILY_ID, 2)
        if fam == NULL:
            self.close()
            raise OSError(0, "taskstats: CTRL_CMD_GETFAMILY reply without CTRL_ATTR_FAMILY_ID")
        memcpy(&self.family_id, fam, 2)

    cdef int cgroupstats(self, int dirfd, CgroupStats *out) noexcept nogil:
        """CGROUPSTATS_CMD_GET for the cgroup directory open as `dirfd`.

        dirfd must be opened O_RDONLY | O_DIRECTORY: the kernel's fdget()
        refuses O_PATH fds, and it answers an unresolvable fd with nothing
        (seen here as the lone ack: -EBADF). A cgroup2 directory (or any
        non-cgroup-v1 directory) is answered -EINVAL. Counts threads of that
        directory only. 0 with *out filled, or a negative errno / TASKSTATS_*
        code with *out all zero."""
        cdef char buf[REPLY_BUF]
        cdef uint32_t v = <uint32_t>dirfd
        cdef ssize_t n
        cdef const char *p
        cdef bint got = False
        cdef int rc
        memset(out, 0, sizeof(CgroupStats))
        if self.fd < 0:
            return TASKSTATS_CLOSED
        self.seq += 1
        rc = genl_send(self.fd, self.family_id, NLM_F_ACK, self.seq, CGROUPSTATS_CMD_GET,
                       CGROUPSTATS_CMD_ATTR_FD, &v, 4)
        if rc < 0:
            return rc
        while True:                      # the reply (if any), then the ack
            n = genl_recv(self.fd, self.seq, buf, REPLY_BUF)
            if n < 0:
                memset(out, 0, sizeof(CgroupStats))
                return <int>n
            if (<nl_msghdr *>buf).nlmsg_type == NLMSG_ERROR:
                rc = nl_error(buf)
                if rc == 0 and not got:
                    rc = -EBADF          # ack alone: the kernel could not resolve the fd
                if rc != 0:
                    memset(out, 0, sizeof(CgroupStats))
                return rc
            if (<nl_msghdr *>buf).nlmsg_type != self.family_id or got:
                memset(out, 0, sizeof(CgroupStats))
                return TASKSTATS_MALFORMED
            p = find_attr(buf, CGROUPSTATS_TYPE_CGROUP_STATS, sizeof(CgroupStats))
            if p == NULL:
                return TASKSTATS_MALFORMED
            memcpy(out, p, sizeof(CgroupStats))   # the payload is only 4-byte aligned
            got = True

    # --- Python entry points, for tests and tools --------------------------------------

    def cgroup_stats(self, path):
        """{nr_sleeping, nr_running, nr_stopped, nr_uninterruptible, nr_io_wait}
        of the cgroup v1 directory `path`. OSError with the kernel's errno
        (EINVAL: a cgroup2 directory)."""
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            return self.cgroup_stats_fd(fd, path)
        finally:
            os.close(fd)

    def cgroup_stats_fd(self, int fd, path=None):
        """Same, for a directory fd the caller holds (no check of what it is)."""
        cdef CgroupStats s
        cdef int rc
        with nogil:
            rc = self.cgroupstats(fd, &s)
        _check(rc, path)
        return _stats_dict(&s)

    def time_cgroupstats(self, path, Py_ssize_t reps):
        """Nanoseconds for `reps` requests on one kept-open directory fd, in a
        nogil C loop (benchmarks)."""
        cdef CgroupStats s
        cdef int rc = 0, v
        cdef int fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        cdef timespec t0, t1
        cdef Py_ssize_t r
        try:
            with nogil:
                clock_gettime(CLOCK_MONOTONIC, &t0)
                for r in range(reps):
                    v = self.cgroupstats(fd, &s)
                    if v != 0:
                        rc = v
                clock_gettime(CLOCK_MONOTONIC, &t1)
        finally:
            os.close(fd)
        _check(rc, path)
        return (t1.tv_sec - t0.tv_sec) * 1000000000 + (t1.tv_nsec - t0.tv_nsec)

    def close(self):
        """Closes the socket; idempotent."""
        if self.fd >= 0:
            c_close(self.fd)
            self.fd = -1

    def __dealloc__(self):
        if self.fd >= 0:
            c_close(self.fd)

    @property
    def closed(self):
        return self.fd < 0

    def fileno(self):
        return self.fd

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return f"Taskstats(family_id={self.family_id}{', closed' if self.fd < 0 else ''})"


# --- task states from /proc ---------------------------------------------------------

cdef inline bint is_digit(char c) noexcept nogil:
    return <unsigned int>(<unsigned char>c) - 48 <= 9


cdef int count_task_states(const char *buf, Py_ssize_t n, int proc_dirfd, char *scratch, size_t cap,
                           CgroupStats *out, uint64_t *vanished) noexcept nogil:
    """See taskstats.pxd. State letters as /proc prints them (the kernel's
    task_state_index): R running, S sleeping, D uninterruptible, T (stopped)
    and t (traced) stopped; Z, X, I (idle kernel threads, TASK_IDLE), P, K, W
    nowhere. nr_io_wait stays 0: in_iowait is not in /proc/<tid>/stat."""
    cdef const char *p = buf
    cdef const char *end = buf + n
    cdef char path[32]                   # "<tid>/stat\0": tids are < 2^22
    cdef int len, fd, err
    cdef ssize_t got
    cdef PidStat st
    memset(out, 0, sizeof(CgroupStats))
    vanished[0] = 0
    while p < end:
        if p[0] == b'\n':
            p += 1
            continue
        len = 0
        while p < end and p[0] != b'\n':
            if not is_digit(p[0]) or len == 19:
                memset(out, 0, sizeof(CgroupStats))
                return TASKSTATS_BAD_TID
            path[len] = p[0]
            len += 1
            p += 1
        memcpy(path + len, b"/stat\0", 6)
        fd = openat(proc_dirfd, path, O_RDONLY | O_CLOEXEC)
        if fd < 0:
            err = errno
            if err == ENOENT or err == ESRCH:
                vanished[0] += 1         # exited after the list was read
                continue
            memset(out, 0, sizeof(CgroupStats))
            return -err
        while True:
            got = c_read(fd, scratch, cap)
            if got >= 0 or errno != EINTR:
                break
        err = errno
        c_close(fd)
        if got < 0:
            if err == ESRCH or err == ENOENT:
                vanished[0] += 1         # exited between open and read
                continue
            memset(out, 0, sizeof(CgroupStats))
            return -err
        if pid_stat(scratch, got, &st) != PARSE_OK:
            memset(out, 0, sizeof(CgroupStats))
            return TASKSTATS_BAD_STAT
        if st.state == b'R':
            out.nr_running += 1
        elif st.state == b'S':
            out.nr_sleeping += 1
        elif st.state == b'D':
            out.nr_uninterruptible += 1
        elif st.state == b'T' or st.state == b't':
            out.nr_stopped += 1
    return 0


def count_task_states_text(bytes threads, proc_root="/proc"):
    """({nr_sleeping, ...}, vanished) for the tid list `threads` (the text of a
    cgroup.threads or tasks file), read against proc_root."""
    cdef CgroupStats s
    cdef uint64_t vanished
    cdef char scratch[4096]
    cdef const char *b = threads
    cdef Py_ssize_t n = len(threads)
    cdef int rc
    cdef int pfd = os.open(proc_root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        with nogil:
            rc = count_task_states(b, n, pfd, scratch, sizeof(scratch), &s, &vanished)
    finally:
        os.close(pfd)
    _check(rc, proc_root)
    return _stats_dict(&s), vanished


def threads_file(cgroup_dir):
    """The tid list of a cgroup directory: cgroup.threads (v2), else tasks (v1)."""
    p = os.path.join(cgroup_dir, "cgroup.threads")
    return p if os.path.exists(p) else os.path.join(cgroup_dir, "tasks")


def count_task_states_in(cgroup_dir, proc_root="/proc"):
    """({nr_sleeping, ...}, vanished) of the threads of one cgroup directory
    (its cgroup.threads, or a v1 directory's tasks), from <proc_root>/<tid>/stat."""
    with open(threads_file(cgroup_dir), "rb") as f:
        return count_task_states_text(f.read(), proc_root)


def time_count_task_states(cgroup_dir, Py_ssize_t reps, proc_root="/proc", bint reopen=True):
    """Nanoseconds for `reps` countings of one cgroup as a sweep would do them,
    in a nogil C loop (benchmarks): read the tid list (reopen: openat on the
    kept directory fd, read, close; else pread of a kept fd), then open, read
    and close each /proc stat. v1's tasks file needs reopen: a kept fd re-read
    within a second keeps serving its first pid list (cgroup v1 pidlist cache,
    benchmarks/procs_staleness.py); v2's cgroup.threads does not."""
    cdef CgroupStats s
    cdef uint64_t vanished
    cdef char scratch[4096]
    cdef char *lst
    cdef Py_ssize_t n, cap = 1 << 20
    cdef int rc = 0, v, f
    cdef int dfd, lfd, pfd
    cdef timespec t0, t1
    cdef Py_ssize_t r
    cdef bytearray lbuf = bytearray(cap)
    cdef bytes name = os.path.basename(threads_file(cgroup_dir)).encode()
    cdef const char *cname = name
    lst = lbuf
    dfd = os.open(cgroup_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    lfd = os.open(name, os.O_RDONLY | os.O_CLOEXEC, dir_fd=dfd)
    pfd = os.open(proc_root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        with nogil:
            clock_gettime(CLOCK_MONOTONIC, &t0)
            for r in range(reps):
                if reopen:
                    f = openat(dfd, cname, O_RDONLY | O_CLOEXEC)
                    if f < 0:
                        rc = -errno
                        break
                    n = c_read(f, lst, cap)
                    c_close(f)
                else:
                    n = pread(lfd, lst, cap, 0)
                if n < 0:
                    rc = -errno
                    break
                v = count_task_states(lst, n, pfd, scratch, sizeof(scratch), &s, &vanished)
                if v != 0:
                    rc = v
            clock_gettime(CLOCK_MONOTONIC, &t1)
    finally:
        os.close(lfd)
        os.close(dfd)
        os.close(pfd)
    _check(rc, cgroup_dir)
    return (t1.tv_sec - t0.tv_sec) * 1000000000 + (t1.tv_nsec - t0.tv_nsec)


cdef extern from "<unistd.h>" nogil:
    ssize_t pread(int fd, void *buf, size_t n, long offset)


# --- load smoothing ----------------------------------------------------------------

def decay(double interval_s):
    """load_decay(interval_s) = exp(-interval_s / 10)."""
    return load_decay(interval_s)


def smooth_load(samples, double interval_s):
    """The LoadAverage after each of `samples` (task counts taken interval_s
    apart), by the rule of spec 7.2: first avg = n, then avg = avg*d + n*(1-d),
    reported as int32(avg * 1000), truncated toward zero."""
    cdef double d = load_decay(interval_s), avg = 0.0
    cdef bint first = True
    out = []
    for n in samples:
        avg = <double>n if first else avg * d + <double>n * (1.0 - d)
        first = False
        out.append(<int>(avg * 1000.0))    # C conversion truncates toward zero
    return out


# --- shared helpers --------------------------------------------------------------------

cdef dict _stats_dict(const CgroupStats *s):
    return dict(nr_sleeping=s.nr_sleeping, nr_running=s.nr_running, nr_stopped=s.nr_stopped,
                nr_uninterruptible=s.nr_uninterruptible, nr_io_wait=s.nr_io_wait)


cdef int _raise(int err, str what) except -1:
    raise OSError(err, f"{what}: {os.strerror(err)}")


cdef int _check(int rc, path) except -1:
    if rc == 0:
        return 0
    if rc == TASKSTATS_CLOSED:
        raise ValueError("Taskstats is closed")
    if rc <= TASKSTATS_MALFORMED:
        raise ValueError({TASKSTATS_MALFORMED: "malformed taskstats reply",
                          TASKSTATS_BAD_TID: "a tid list line that is not a decimal tid",
                          TASKSTATS_BAD_STAT: "a /proc/<tid>/stat that does not parse"}[rc])
    raise OSError(-rc, os.strerror(-rc), path)


OK, MALFORMED, CLOSED, BAD_TID, BAD_STAT = (TASKSTATS_OK, TASKSTATS_MALFORMED, TASKSTATS_CLOSED,
                                            TASKSTATS_BAD_TID, TASKSTATS_BAD_STAT)
