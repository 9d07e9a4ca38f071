# One network namespace as the sweep samples it: interfaces from net/dev and
# socket-state counts, read at most once per sweep however many containers share it.
from libc.stdint cimport uint32_t, uint64_t
from cgsampler._native.procnet cimport NetDevIface
from cgsampler._native.sockdiag cimport SockCounts

cdef struct NetnsState:
    int dev_fd                  # <proc>/<pid>/net/dev, kept open (it pins the namespace)
    int diag_fd                 # a NETLINK_SOCK_DIAG socket made inside the namespace, or -1 ...
    int table_fds[4]            # ... then <proc>/<pid>/net/{tcp,tcp6,udp,udp6}, kept open
                                # (TABLE_ABSENT: the file does not exist, a kernel without IPv6)
    uint32_t seq
    int no_tcp46
    int dev_err                 # last result of each read: 0, -errno, or a parse error
    int sock_err
    uint64_t dev_sweep          # sweep number of the last read; 0 = never
    uint64_t tcp_sweep          # (per table group: a sweep that needs only UDP dumps only UDP)
    uint64_t udp_sweep
    NetDevIface *ifaces
    uint64_t iface_cap
    uint64_t iface_count
    uint64_t iface_overflow
    int dev_ok
    int sock_valid              # SOCKDIAG_VALID_* of the tables read
    SockCounts socks
    char *diag_buf

cdef enum:
    TABLE_ABSENT = -2

cdef NetnsState *netns_new(int dev_fd, int diag_fd, int *table_fds, uint64_t iface_cap) noexcept nogil
cdef void netns_free(NetnsState *ns) noexcept nogil
cdef int netns_read_dev(NetnsState *ns, uint64_t sweep, char **buf, Py_ssize_t *cap) noexcept nogil
cdef int netns_read_sockets(NetnsState *ns, uint64_t sweep, int tables, char **buf, Py_ssize_t *cap) noexcept nogil
