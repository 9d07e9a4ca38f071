# Socket-state counts of one network namespace through NETLINK_SOCK_DIAG
# (what ss and node_exporter's tcpstat use), into procnet's TcpStat / UdpStat.
from libc.stdint cimport uint8_t, uint32_t, uint64_t
from cgsampler._native.procnet cimport TcpStat, UdpStat

# Results of one dump: SOCKDIAG_OK, a negative errno (a syscall failed or the
# kernel answered NLMSG_ERROR), or one of these (outside the errno range).
cdef enum:
    SOCKDIAG_OK = 0
    SOCKDIAG_MALFORMED = -4096     # a record shorter than inet_diag_msg, or a TCP state outside 1..11
    SOCKDIAG_TRUNCATED = -4097     # a datagram longer than the buffer (cannot happen with 64 KiB)
    SOCKDIAG_CLOSED = -4098        # the NetnsSocket was closed

# The four tables of one namespace, in the order of the valid bits below.
cdef struct SockCounts:
    TcpStat tcp
    TcpStat tcp6
    UdpStat udp
    UdpStat udp6

cdef enum:
    SOCKDIAG_VALID_TCP = 1
    SOCKDIAG_VALID_TCP6 = 2
    SOCKDIAG_VALID_UDP = 4
    SOCKDIAG_VALID_UDP6 = 8
    SOCKDIAG_VALID_ALL = 15

# One dump over a NETLINK_SOCK_DIAG socket `fd`, parsed in `buf` (cap bytes,
# at least 32 KiB + a page). `seq` must differ from the previous dump's.
# On any result but SOCKDIAG_OK, *out is all zero.
cdef int sockdiag_tcp(int fd, uint8_t family, char *buf, size_t cap, uint32_t seq,
                      TcpStat *out) noexcept nogil
cdef int sockdiag_tcp46(int fd, char *buf, size_t cap, uint32_t seq,
                        TcpStat *v4, TcpStat *v6) noexcept nogil      # both families, one walk
cdef int sockdiag_udp(int fd, uint8_t family, char *buf, size_t cap, uint32_t seq,
                      UdpStat *out) noexcept nogil

# The tables named by `tables` (default all four; see NetnsSocket.sample), for
# callers that own the socket fd.
cdef int sockdiag_sample(int fd, char *buf, size_t cap, uint32_t *seq, int *no_tcp46, int *err,
                         SockCounts *out, int tables=*) noexcept nogil

cdef enum:
    SOCKDIAG_BUF = 65536          # the dump buffer sockdiag_sample needs: > the 32 KiB of one datagram

cdef class NetnsSocket:
    """A NETLINK_SOCK_DIAG socket bound for life to one network namespace, and
    the buffer its dumps are parsed in. It pins the namespace: close() it when
    the container retires."""
    cdef int fd
    cdef char *buf
    cdef size_t cap
    cdef uint32_t seq
    cdef int no_tcp46             # the kernel refused the one-walk TCP request: per family
    cdef int err                  # the last failing dump's result (0 if none)
    cdef readonly object netns    # what it was opened on (path, or None for the caller's namespace)

    # All four tables into *out; returns the SOCKDIAG_VALID_* bits of the tables
    # that were read (a failing table is all zero and leaves its bit clear).
    # One thread at a time per NetnsSocket.
    cdef int sample(self, SockCounts *out) noexcept nogil
