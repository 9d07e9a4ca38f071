"""Socket-state counts of one network namespace through NETLINK_SOCK_DIAG
(sock_diag(7)), the binary path that ss and node_exporter's tcpstat use, as
the fast alternative to parsing /proc/<pid>/net/{tcp,tcp6,udp,udp6}
(procnet.pyx). Same results, same structs: TcpStat (11 states in kernel order)
and UdpStat (listen = sockets, rx/tx_queued = the kernel's rx/tx queue, dropped
= SK_MEMINFO_DROPS, the value /proc/net/udp prints in its drops column).

Which records the kernel sends, and why the counts equal the /proc tables':

* TCP is asked for states 1..11 (TCPF_ESTABLISHED..TCPF_CLOSING). The kernel
  adds request sockets (NEW_SYN_RECV) itself when SYN_RECV is asked for and
  reports them with state SYN_RECV, as /proc/net/tcp prints them; TIME_WAIT
  sockets come from the established hash with their substate (TIME_WAIT, or
  FIN_WAIT2 for a FIN_WAIT2 timewait socket), as /proc prints tw_substate.
  Not the "all states" mask ~0: since Linux 6.5 its bit 13
  (TCP_BOUND_INACTIVE) also dumps bound sockets that neither listen nor
  connect, reported with state CLOSE (7), which /proc/net/tcp does not list
  (tests/test_sockdiag.py shows it). Bits 1..11 never select them.
* UDP is asked for every state, with INET_DIAG_SKMEMINFO for the drops.
  A kernel whose meminfo has no drops slot counts the socket in no_drops.
* AF_INET and AF_INET6 are told apart by each record's idiag_family;
  IPv4-mapped sockets are AF_INET6 sockets, in tcp6/udp6 like in the files.
* TCP of both families comes from ONE dump: the old TCPDIAG_GETSOCK request
  (struct inet_diag_req), which the kernel still serves as an AF_UNSPEC dump.
  Each TCP dump walks the whole established hash (262,144 buckets on a
  typical host, however few sockets the namespace has), so one walk instead of
  two halves the cost. A kernel that refuses it gets two SOCK_DIAG_BY_FAMILY
  dumps instead (NetnsSocket.sample falls back, and remembers). UDP has no such
  request: two dumps, each a walk of the (small) UDP hash.

A NetnsSocket is created inside the target namespace (setns on the calling
thread, socket(), setns back) and dumps that namespace for as long as it is
open, even after every process in it has exited: it pins the namespace, so its
owner must close() it when the container retires."""
import os
from libc.errno cimport errno, EINTR, EAGAIN
from libc.stdint cimport uint8_t, uint16_t, uint32_t, int32_t, uint64_t
from libc.stdlib cimport malloc, free
from libc.string cimport memset, memcpy
from posix.fcntl cimport open as c_open, O_RDONLY, O_CLOEXEC
from posix.unistd cimport close as c_close
from posix.time cimport clock_gettime, timespec, CLOCK_MONOTONIC
from posix.stat cimport struct_stat, fstat

cdef extern from "<sys/socket.h>" nogil:
    int AF_NETLINK, AF_INET, AF_INET6, SOCK_DGRAM, SOCK_CLOEXEC, MSG_TRUNC, MSG_DONTWAIT
    int socket(int domain, int type, int protocol)
    ssize_t send(int fd, const void *buf, size_t n, int flags)
    ssize_t recv(int fd, void *buf, size_t n, int flags)

cdef extern from "<sched.h>" nogil:       # _GNU_SOURCE comes with Python.h
    int CLONE_NEWNET
    int setns(int fd, int nstype)


# --- the kernel's netlink and inet_diag layouts (linux/netlink.h, linux/sock_diag.h,
#     linux/inet_diag.h), written out; natural alignment gives the kernel's layout --

cdef enum:
    NETLINK_SOCK_DIAG_PROTO = 4
    SOCK_DIAG_BY_FAMILY = 20
    TCPDIAG_GETSOCK = 18           # the pre-3.3 request: struct inet_diag_req, TCP, both families
    NLMSG_ERROR = 2
    NLMSG_DONE = 3
    NLM_F_REQUEST = 0x1
    NLM_F_DUMP = 0x300             # NLM_F_ROOT | NLM_F_MATCH
    IPPROTO_TCP_ = 6
    IPPROTO_UDP_ = 17
    INET_DIAG_SKMEMINFO = 7        # attribute: u32[SK_MEMINFO_VARS] (NONE, MEMINFO, INFO, VEGASINFO, CONG, TOS, TCLASS, SKMEMINFO)
    SK_MEMINFO_DROPS = 8           # index of sk_drops in it (Linux >= 4.x)
    TCP_STATES_MASK = 0xFFE        # 1 << 1 (ESTABLISHED) .. 1 << 11 (CLOSING)
    ALL_STATES_MASK = -1           # every bit (~0 as u32)
    NLMSG_HDRLEN = 16
    RTA_HDRLEN = 4

cdef struct nl_msghdr:             # struct nlmsghdr
    uint32_t nlmsg_len
    uint16_t nlmsg_type
    uint16_t nlmsg_flags
    uint32_t nlmsg_seq
    uint32_t nlmsg_pid

cdef struct diag_sockid:           # struct inet_diag_sockid (ports and addresses big-endian)
    uint16_t idiag_sport
    uint16_t idiag_dport
    uint32_t idiag_src[4]
    uint32_t idiag_dst[4]
    uint32_t idiag_if
    uint32_t idiag_cookie[2]

cdef struct diag_req_v2:           # struct inet_diag_req_v2
    uint8_t sdiag_family
    uint8_t sdiag_protocol
    uint8_t idiag_ext              # bit (attribute - 1) asks for that attribute
    uint8_t pad
    uint32_t idiag_states          # bit s asks for state s
    diag_sockid id

cdef struct diag_req_compat:       # struct inet_diag_req (TCPDIAG_GETSOCK); the kernel dumps
    uint8_t idiag_family           # every family for it (sdiag_family = AF_UNSPEC), so one walk
    uint8_t idiag_src_len          # of the socket hashes serves tcp and tcp6 alike
    uint8_t idiag_dst_len
    uint8_t idiag_ext
    diag_sockid id
    uint32_t idiag_states
    uint32_t idiag_dbs

cdef struct diag_msg:              # struct inet_diag_msg, one per socket
    uint8_t idiag_family
    uint8_t idiag_state
    uint8_t idiag_timer
    uint8_t idiag_retrans
    diag_sockid id
    uint32_t idiag_expires
    uint32_t idiag_rqueue
    uint32_t idiag_wqueue
    uint32_t idiag_uid
    uint32_t idiag_inode

cdef struct rt_attr:               # struct rtattr (= struct nlattr)
    uint16_t rta_len
    uint16_t rta_type

cdef struct diag_request:          # what one dump sends
    nl_msghdr nlh
    diag_req_v2 req

cdef struct diag_request_compat:
    nl_msghdr nlh
    diag_req_compat req

# Layout checks, at import (a wrong layout would miscount silently).
assert sizeof(nl_msghdr) == 16 and sizeof(diag_sockid) == 48 and sizeof(diag_req_v2) == 56
assert sizeof(diag_msg) == 72 and sizeof(rt_attr) == 4 and sizeof(diag_request) == 72
assert sizeof(diag_req_compat) == 60 and sizeof(diag_request_compat) == 76


cdef inline uint32_t align4(uint32_t n) noexcept nogil:
    return (n + 3) & ~(<uint32_t>3)


# Accumulator of one dump: records per family (0: AF_INET, 1: AF_INET6) and
# state value, records of any other family, and the UDP sums.
cdef struct DumpAcc:
    uint64_t states[2][256]
    uint64_t other_family
    uint64_t rqueue
    uint64_t wqueue
    uint64_t drops
    uint64_t no_drops
    uint64_t records


cdef inline void udp_record(const char *attrs, const char *end, const diag_msg *m,
                            DumpAcc *acc) noexcept nogil:
    cdef const rt_attr *a
    cdef bint found = False
    acc.rqueue += m.idiag_rqueue
    acc.wqueue += m.idiag_wqueue
    while end - attrs >= RTA_HDRLEN:
        a = <const rt_attr *>attrs
        if a.rta_len < RTA_HDRLEN or a.rta_len > end - attrs:
            break
        if a.rta_type == INET_DIAG_SKMEMINFO and a.rta_len >= RTA_HDRLEN + (SK_MEMINFO_DROPS + 1) * 4:
            acc.drops += (<const uint32_t *>(attrs + RTA_HDRLEN))[SK_MEMINFO_DROPS]
            found = True
            break
        attrs += align4(a.rta_len)
    if not found:
        acc.no_drops += 1


cdef void drain(int fd, char *buf, size_t cap, uint32_t seq) noexcept nogil:
    """Reads, without blocking, what is left of dump `seq` after an aborted
    parse, so the socket's next dump is not refused with EBUSY."""
    cdef ssize_t n
    cdef size_t p
    cdef const nl_msghdr *h
    while True:
        n = recv(fd, buf, cap, MSG_DONTWAIT)
        if n <= 0:
            if n < 0 and errno == EINTR:
                continue
            return
        p = 0
        while <size_t>n - p >= NLMSG_HDRLEN:
            h = <const nl_msghdr *>(buf + p)
            if h.nlmsg_len < NLMSG_HDRLEN or h.nlmsg_len > <size_t>n - p:
                break
            if h.nlmsg_seq == seq and (h.nlmsg_type == NLMSG_DONE or h.nlmsg_type == NLMSG_ERROR):
                return
            p += align4(h.nlmsg_len)


cdef int dump(int fd, uint16_t msgtype, uint8_t family, uint8_t protocol, uint8_t ext, uint32_t states,
              char *buf, size_t cap, uint32_t seq, DumpAcc *acc) noexcept nogil:
    """One dump into *acc (zeroed here): SOCK_DIAG_BY_FAMILY (one family and
    protocol), or TCPDIAG_GETSOCK (TCP, every family; `family` and `protocol`
    unused). Records of another seq (the tail of an earlier, aborted dump)
    are skipped."""
    cdef diag_request rq
    cdef diag_request_compat rqc
    cdef const void *msg = &rq
    cdef size_t msglen = sizeof(rq)
    cdef ssize_t n
    cdef size_t p
    cdef const nl_msghdr *h
    cdef const diag_msg *m
    cdef const char *payload
    cdef int32_t err
    cdef bint udp = protocol == IPPROTO_UDP_
    cdef int result = SOCKDIAG_OK
    memset(acc, 0, sizeof(DumpAcc))
    memset(&rq, 0, sizeof(rq))
    rq.nlh.nlmsg_len = sizeof(rq)
    rq.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY
    rq.nlh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP
    rq.nlh.nlmsg_seq = seq
    rq.req.sdiag_family = family
    rq.req.sdiag_protocol = protocol
    rq.req.idiag_ext = ext
    rq.req.idiag_states = states
    if msgtype == TCPDIAG_GETSOCK:
        memset(&rqc, 0, sizeof(rqc))
        rqc.nlh = rq.nlh
        rqc.nlh.nlmsg_len = sizeof(rqc)
        rqc.nlh.nlmsg_type = TCPDIAG_GETSOCK
        rqc.req.idiag_family = AF_INET
        rqc.req.idiag_ext = ext
        rqc.req.idiag_states = states
        msg = &rqc
        msglen = sizeof(rqc)
    while send(fd, msg, msglen, 0) < 0:
        if errno != EINTR:
            return -errno
    while True:
        n = recv(fd, buf, cap, MSG_TRUNC)
        if n < 0:
            if errno == EINTR:
                continue
            return -errno
        if <size_t>n > cap:
            drain(fd, buf, cap, seq)
            return SOCKDIAG_TRUNCATED
        p = 0
        while <size_t>n - p >= NLMSG_HDRLEN:
            h = <const nl_msghdr *>(buf + p)
            if h.nlmsg_len < NLMSG_HDRLEN or h.nlmsg_len > <size_t>n - p:
                drain(fd, buf, cap, seq)
                return SOCKDIAG_MALFORMED
            payload = buf + p + NLMSG_HDRLEN
            if h.nlmsg_seq == seq:
                if h.nlmsg_type == msgtype:     # records come with the request's type
                    if h.nlmsg_len < NLMSG_HDRLEN + sizeof(diag_msg):
                        result = SOCKDIAG_MALFORMED
                    else:
                        m = <const diag_msg *>payload
                        if m.idiag_family == AF_INET:
                            acc.states[0][m.idiag_state] += 1
                        elif m.idiag_family == AF_INET6:
                            acc.states[1][m.idiag_state] += 1
                        else:
                            acc.other_family += 1
                        acc.records += 1
                        if udp:
                            udp_record(payload + sizeof(diag_msg), buf + p + h.nlmsg_len, m, acc)
                elif h.nlmsg_type == NLMSG_DONE:
                    # The dump's status follows the header (0, or a negative errno).
                    if h.nlmsg_len >= NLMSG_HDRLEN + 4:
                        memcpy(&err, payload, 4)
                        if err < 0 and result == SOCKDIAG_OK:
                            result = err
                    return result
                elif h.nlmsg_type == NLMSG_ERROR:
                    # struct nlmsgerr: int error, then the request's header.
                    if h.nlmsg_len >= NLMSG_HDRLEN + 4:
                        memcpy(&err, payload, 4)
                        if err < 0:
                            return err
                    return result if result != SOCKDIAG_OK else SOCKDIAG_MALFORMED
            p += align4(h.nlmsg_len)


cdef int sockdiag_tcp(int fd, uint8_t family, char *buf, size_t cap, uint32_t seq,
                      TcpStat *out) noexcept nogil:
    """TCP sockets of `family` per state (procnet's TcpStat, kernel order)."""
    cdef DumpAcc acc
    cdef int rc, f = 1 if family == AF_INET6 else 0
    memset(out, 0, sizeof(TcpStat))
    rc = dump(fd, SOCK_DIAG_BY_FAMILY, family, IPPROTO_TCP_, 0, TCP_STATES_MASK, buf, cap, seq, &acc)
    if rc != SOCKDIAG_OK:
        return rc
    if acc.other_family or acc.records != acc_tcp_states(&acc, f):
        return SOCKDIAG_MALFORMED           # another family, or a state the mask did not ask for
    memcpy(out, &acc.states[f][1], sizeof(TcpStat))
    return SOCKDIAG_OK


cdef inline uint64_t acc_tcp_states(const DumpAcc *acc, int f) noexcept nogil:
    """Records of family index f in states 1..11."""
    cdef uint64_t n = 0
    cdef int s
    for s in range(1, 12):
        n += acc.states[f][s]
    return n


cdef int sockdiag_tcp46(int fd, char *buf, size_t cap, uint32_t seq,
                        TcpStat *v4, TcpStat *v6) noexcept nogil:
    """TCP sockets of AF_INET and AF_INET6 per state in ONE walk of the socket
    hashes (the TCPDIAG_GETSOCK request): half the cost of two per-family dumps
    on a host whose established hash is large. A kernel that refuses it answers
    an error; use sockdiag_tcp per family then."""
    cdef DumpAcc acc
    cdef int rc
    memset(v4, 0, sizeof(TcpStat))
    memset(v6, 0, sizeof(TcpStat))
    rc = dump(fd, TCPDIAG_GETSOCK, AF_INET, IPPROTO_TCP_, 0, TCP_STATES_MASK, buf, cap, seq, &acc)
    if rc != SOCKDIAG_OK:
        return rc
    if acc.other_family or acc.records != acc_tcp_states(&acc, 0) + acc_tcp_states(&acc, 1):
        return SOCKDIAG_MALFORMED
    memcpy(v4, &acc.states[0][1], sizeof(TcpStat))
    memcpy(v6, &acc.states[1][1], sizeof(TcpStat))
    return SOCKDIAG_OK


cdef int sockdiag_udp(int fd, uint8_t family, char *buf, size_t cap, uint32_t seq,
                      UdpStat *out) noexcept nogil:
    """UDP sockets of `family`: count, queue sums, drops (UdpStat meanings of procnet)."""
    cdef DumpAcc acc
    cdef int rc
    memset(out, 0, sizeof(UdpStat))
    rc = dump(fd, SOCK_DIAG_BY_FAMILY, family, IPPROTO_UDP_, 1 << (INET_DIAG_SKMEMINFO - 1),
              <uint32_t>ALL_STATES_MASK, buf, cap, seq, &acc)
    if rc != SOCKDIAG_OK:
        return rc
    if acc.other_family:
        return SOCKDIAG_MALFORMED
    out.listen = acc.records
    out.dropped = acc.drops
    out.rx_queued = acc.rqueue
    out.tx_queued = acc.wqueue
    out.no_drops = acc.no_drops
    return SOCKDIAG_OK


# --- opening a socket inside another namespace -----------------------------------------

cdef int sockdiag_sample(int fd, char *buf, size_t cap, uint32_t *seq, int *no_tcp46, int *err,
                         SockCounts *out, int tables=SOCKDIAG_VALID_ALL) noexcept nogil:
    """The tables named by `tables` (SOCKDIAG_VALID_* bits; TCP and TCP6 go
    together, as do UDP and UDP6) of the namespace of socket `fd` into *out: TCP
    of both families in one walk (per family where the kernel refuses that,
    remembered in *no_tcp46), UDP and UDP6 in a dump each. Returns the
    SOCKDIAG_VALID_* bits of the tables read; *err is the last failing dump's
    result."""
    cdef int valid = 0, rc, v6
    cdef uint8_t family
    if tables & (SOCKDIAG_VALID_TCP | SOCKDIAG_VALID_TCP6) and not no_tcp46[0]:
        seq[0] += 1
        if sockdiag_tcp46(fd, buf, cap, seq[0], &out.tcp, &out.tcp6) == SOCKDIAG_OK:
            valid |= SOCKDIAG_VALID_TCP | SOCKDIAG_VALID_TCP6
    for v6 in range(2):
        family = AF_INET6 if v6 else AF_INET
        if tables & (SOCKDIAG_VALID_TCP | SOCKDIAG_VALID_TCP6) and not valid & SOCKDIAG_VALID_TCP6:
            seq[0] += 1
            rc = sockdiag_tcp(fd, family, buf, cap, seq[0], &out.tcp6 if v6 else &out.tcp)
            if rc != SOCKDIAG_OK:
                err[0] = rc
            elif v6:
                valid |= SOCKDIAG_VALID_TCP6
            else:
                valid |= SOCKDIAG_VALID_TCP
                no_tcp46[0] = 1    # per family works where the one-walk request did not
        if tables & (SOCKDIAG_VALID_UDP | SOCKDIAG_VALID_UDP6):
            seq[0] += 1
            rc = sockdiag_udp(fd, family, buf, cap, seq[0], &out.udp6 if v6 else &out.udp)
            if rc != SOCKDIAG_OK:
                err[0] = rc
            else:
                valid |= SOCKDIAG_VALID_UDP6 if v6 else SOCKDIAG_VALID_UDP
    return valid


cdef int diag_socket() noexcept nogil:
    cdef int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG_PROTO)
    return fd if fd >= 0 else -errno


cdef int same_file(int a, int b) noexcept nogil:
    cdef struct_stat sa, sb
    if fstat(a, &sa) < 0 or fstat(b, &sb) < 0:
        return 0
    return sa.st_dev == sb.st_dev and sa.st_ino == sb.st_ino


cdef int raise_errno(int e) except -1:
    raise OSError(e, os.strerror(e))


class NamespaceRestoreError(RuntimeError):
    """setns back to the caller's own network namespace failed: the calling
    thread is left in the target namespace. (Never seen; raised rather than
    ignored because every later network call of that thread would be wrong.)"""


cdef class NetnsSocket:
    """NetnsSocket(netns=None, one_walk_tcp=True): a NETLINK_SOCK_DIAG socket of
    one network namespace.

    netns: None for the calling thread's namespace, or the path of a namespace
    file (/proc/<pid>/ns/net, /run/netns/<name>). one_walk_tcp=False makes
    sample() dump tcp and tcp6 separately (what it falls back to by itself on a
    kernel that refuses the one-walk request). Opening another namespace
    needs CAP_SYS_ADMIN (setns); the calling thread enters it only for the
    socket() call. The socket dumps that namespace until close(), and keeps it
    alive until then. One thread at a time per NetnsSocket."""

    def __cinit__(self):
        self.fd = -1
        self.buf = NULL
        self.cap = SOCKDIAG_BUF
        self.seq = 0
        self.err = 0
        self.no_tcp46 = False

    def __init__(self, netns=None, bint one_walk_tcp=True):
        cdef int target = -1, own = -1, fd = -1, restore = 0
        cdef bytes path
        self.netns = netns
        self.no_tcp46 = not one_walk_tcp
        self.buf = <char *>malloc(self.cap)
        if self.buf == NULL:
            raise MemoryError()
        if netns is None:
            fd = diag_socket()
            if fd < 0:
                raise_errno(-fd)
            self.fd = fd
            return
        path = netns.encode() if isinstance(netns, str) else bytes(netns)
        target = c_open(path, O_RDONLY | O_CLOEXEC)
        if target < 0:
            raise_errno(errno)
        try:
            own = c_open(b"/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)
            if own < 0:
                raise_errno(errno)
            if same_file(target, own):
                fd = diag_socket()
            else:
                with nogil:
                    if setns(target, CLONE_NEWNET) < 0:
                        fd = -errno
                    else:
                        fd = diag_socket()
                        if setns(own, CLONE_NEWNET) < 0:
                            restore = errno
            if restore:
                if fd >= 0:
                    c_close(fd)
                raise NamespaceRestoreError(
                    f"setns back to the caller's network namespace failed (errno {restore}); "
                    f"this thread is left in {netns!r}")
            if fd < 0:
                raise_errno(-fd)
            self.fd = fd
        finally:
            c_close(target)
            if own >= 0:
                c_close(own)

    @classmethod
    def for_pid(cls, pid, proc_root="/proc", **kw):
        """The namespace of process `pid` (its <proc_root>/<pid>/ns/net)."""
        return cls(f"{proc_root}/{int(pid)}/ns/net", **kw)

    def __dealloc__(self):
        if self.fd >= 0:
            c_close(self.fd)
        free(self.buf)

    def close(self):
        """Closes the socket (releasing the namespace); idempotent."""
        if self.fd >= 0:
            c_close(self.fd)
            self.fd = -1

    @property
    def closed(self):
        return self.fd < 0

    @property
    def last_error(self):
        """The result of the last failing dump: a negative errno or SOCKDIAG_* code, 0 if none."""
        return self.err

    def fileno(self):
        return self.fd

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return f"NetnsSocket({self.netns!r}{', closed' if self.fd < 0 else ''})"

    cdef int sample(self, SockCounts *out) noexcept nogil:
        if self.fd < 0:
            memset(out, 0, sizeof(SockCounts))
            self.err = SOCKDIAG_CLOSED
            return 0
        return sockdiag_sample(self.fd, self.buf, self.cap, &self.seq, &self.no_tcp46, &self.err, out)

    # --- Python entry points, for tests and tools (the sweep calls sample()) -----------

    def tcp_states(self, int family=AF_INET):
        """{state name: count} of the TCP sockets of `family` (socket.AF_INET or AF_INET6),
        the names of procnet.TCP_STATES."""
        cdef TcpStat s
        cdef uint64_t *c = <uint64_t *>&s
        cdef int rc
        if self.fd < 0:
            check(self, SOCKDIAG_CLOSED)
        self.seq += 1
        with nogil:
            rc = sockdiag_tcp(self.fd, <uint8_t>family, self.buf, self.cap, self.seq, &s)
        check(self, rc)
        return {TCP_STATES[i]: c[i] for i in range(11)}

    def udp_stats(self, int family=AF_INET):
        """{listen, dropped, rx_queued, tx_queued, no_drops} of the UDP sockets of `family`."""
        cdef UdpStat s
        cdef int rc
        if self.fd < 0:
            check(self, SOCKDIAG_CLOSED)
        self.seq += 1
        with nogil:
            rc = sockdiag_udp(self.fd, <uint8_t>family, self.buf, self.cap, self.seq, &s)
        check(self, rc)
        return dict(listen=s.listen, dropped=s.dropped, rx_queued=s.rx_queued,
                    tx_queued=s.tx_queued, no_drops=s.no_drops)

    def tcp_states46(self):
        """({state: count} of AF_INET, same of AF_INET6) from one TCPDIAG_GETSOCK
        dump (one walk for both families; what sample() uses)."""
        cdef TcpStat v4, v6
        cdef int rc
        if self.fd < 0:
            check(self, SOCKDIAG_CLOSED)
        self.seq += 1
        with nogil:
            rc = sockdiag_tcp46(self.fd, self.buf, self.cap, self.seq, &v4, &v6)
        check(self, rc)
        return _tcp_dict(&v4), _tcp_dict(&v6)

    @property
    def one_walk_tcp(self):
        """False once this kernel refused the one-walk TCP request (sample() then
        dumps tcp and tcp6 separately)."""
        return not self.no_tcp46

    def state_records(self, int family, int protocol, states=None):
        """{idiag_state: records} of one raw SOCK_DIAG_BY_FAMILY dump (`states`:
        the idiag_states mask, default every bit). A diagnostic: shows what the
        kernel sends."""
        cdef DumpAcc acc
        cdef int rc, i
        cdef int f = 1 if family == AF_INET6 else 0
        cdef uint32_t mask = 0xFFFFFFFF if states is None else <uint32_t>states
        if self.fd < 0:
            check(self, SOCKDIAG_CLOSED)
        self.seq += 1
        with nogil:
            rc = dump(self.fd, SOCK_DIAG_BY_FAMILY, <uint8_t>family, <uint8_t>protocol, 0, mask,
                      self.buf, self.cap, self.seq, &acc)
        check(self, rc)
        return {i: acc.states[f][i] for i in range(256) if acc.states[f][i]}

    def sample_all(self):
        """(valid bits, {"tcp": ..., "tcp6": ..., "udp": ..., "udp6": ...}) from one sample()."""
        cdef SockCounts c
        cdef int valid
        with nogil:
            valid = self.sample(&c)
        return valid, {"tcp": _tcp_dict(&c.tcp), "tcp6": _tcp_dict(&c.tcp6),
                       "udp": _udp_dict(&c.udp), "udp6": _udp_dict(&c.udp6)}

    def time_dump(self, str which, Py_ssize_t reps):
        """Nanoseconds for `reps` dumps of one table ("tcp", "tcp6", "udp", "udp6"),
        of tcp and tcp6 in one walk ("tcp46"), or of all four ("all", i.e.
        sample()), in a nogil C loop (benchmarks)."""
        cdef int kind = {"tcp": 0, "tcp6": 1, "udp": 2, "udp6": 3, "all": 4, "tcp46": 5}[which]
        cdef TcpStat ts6
        cdef TcpStat ts
        cdef UdpStat us
        cdef SockCounts sc
        cdef timespec t0, t1
        cdef Py_ssize_t r
        cdef int rc = SOCKDIAG_OK, v
        if self.fd < 0:
            check(self, SOCKDIAG_CLOSED)
        with nogil:
            clock_gettime(CLOCK_MONOTONIC, &t0)
            for r in range(reps):
                self.seq += 1
                if kind == 0:
                    v = sockdiag_tcp(self.fd, AF_INET, self.buf, self.cap, self.seq, &ts)
                elif kind == 1:
                    v = sockdiag_tcp(self.fd, AF_INET6, self.buf, self.cap, self.seq, &ts)
                elif kind == 2:
                    v = sockdiag_udp(self.fd, AF_INET, self.buf, self.cap, self.seq, &us)
                elif kind == 3:
                    v = sockdiag_udp(self.fd, AF_INET6, self.buf, self.cap, self.seq, &us)
                elif kind == 5:
                    v = sockdiag_tcp46(self.fd, self.buf, self.cap, self.seq, &ts, &ts6)
                else:
                    v = SOCKDIAG_OK if self.sample(&sc) == SOCKDIAG_VALID_ALL else self.err
                if v != SOCKDIAG_OK:
                    rc = v
            clock_gettime(CLOCK_MONOTONIC, &t1)
        check(self, rc)
        return (t1.tv_sec - t0.tv_sec) * 1000000000 + (t1.tv_nsec - t0.tv_nsec)


cdef int check(NetnsSocket self, int rc) except -1:
    if rc == SOCKDIAG_OK:
        return 0
    self.err = rc
    if rc == SOCKDIAG_CLOSED:
        raise ValueError("NetnsSocket is closed")
    if rc <= SOCKDIAG_MALFORMED:
        raise ValueError({SOCKDIAG_MALFORMED: "malformed sock_diag reply",
                          SOCKDIAG_TRUNCATED: "sock_diag datagram longer than the buffer"}[rc])
    raise_errno(-rc)


cdef dict _tcp_dict(const TcpStat *s):
    cdef const uint64_t *c = <const uint64_t *>s
    return {TCP_STATES[i]: c[i] for i in range(11)}


cdef dict _udp_dict(const UdpStat *s):
    return dict(listen=s.listen, dropped=s.dropped, rx_queued=s.rx_queued, tx_queued=s.tx_queued,
                no_drops=s.no_drops)


TCP_STATES = ("established", "syn_sent", "syn_recv", "fin_wait1", "fin_wait2", "time_wait",
              "close", "close_wait", "last_ack", "listen", "closing")
VALID_TCP, VALID_TCP6, VALID_UDP, VALID_UDP6 = (SOCKDIAG_VALID_TCP, SOCKDIAG_VALID_TCP6,
                                                SOCKDIAG_VALID_UDP, SOCKDIAG_VALID_UDP6)
VALID_ALL = SOCKDIAG_VALID_ALL
TCP_STATES_MASK_USED = TCP_STATES_MASK
