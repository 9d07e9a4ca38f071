"""A network namespace as the sweep samples it. The sampler makes one
NetnsState per namespace that some container lives in, and the sweep reads
it for the first container that needs it in that sweep; the others copy.

Interfaces come from <proc>/<pid>/net/dev of a process in the namespace (the
kept fd reads that namespace even after the process exits). Socket states come
from NETLINK_SOCK_DIAG where the kernel serves it (sockdiag.pyx: one hash walk
instead of the /proc table's formatting), else from the /proc tables."""
from libc.stdint cimport uint32_t, uint64_t
from libc.stdlib cimport malloc, calloc, free
from libc.string cimport memset
from posix.unistd cimport close

from cgsampler._native.formats cimport PARSE_OK, read_seq_file
from cgsampler._native.procnet cimport NetDevIface, net_dev, tcp_states, udp_stats, NET_DEV_SKIP_VIRTUAL
from cgsampler._native.sockdiag cimport (SockCounts, sockdiag_sample, SOCKDIAG_BUF, SOCKDIAG_VALID_TCP,
                                         SOCKDIAG_VALID_TCP6, SOCKDIAG_VALID_UDP, SOCKDIAG_VALID_UDP6)


cdef NetnsState *netns_new(int dev_fd, int diag_fd, int *table_fds, uint64_t iface_cap) noexcept nogil:
    """Takes ownership of the fds (closed by netns_free). NULL if out of memory."""
    cdef NetnsState *ns = <NetnsState *>calloc(1, sizeof(NetnsState))
    cdef int i
    if ns == NULL:
        return NULL
    ns.dev_fd = dev_fd
    ns.diag_fd = diag_fd
    for i in range(4):
        ns.table_fds[i] = table_fds[i] if table_fds != NULL else -1
    ns.iface_cap = iface_cap
    ns.ifaces = <NetDevIface *>calloc(iface_cap if iface_cap else 1, sizeof(NetDevIface))
    if diag_fd >= 0:
        ns.diag_buf = <char *>malloc(SOCKDIAG_BUF)
    if ns.ifaces == NULL or (diag_fd >= 0 and ns.diag_buf == NULL):
        free(ns.ifaces)
        free(ns.diag_buf)
        free(ns)
        return NULL
    return ns


cdef void netns_free(NetnsState *ns) noexcept nogil:
    cdef int i
    if ns == NULL:
        return
    if ns.dev_fd >= 0:
        close(ns.dev_fd)
    if ns.diag_fd >= 0:
        close(ns.diag_fd)
    for i in range(4):
        if ns.table_fds[i] >= 0:
            close(ns.table_fds[i])
    free(ns.ifaces)
    free(ns.diag_buf)
    free(ns)


cdef enum:
    MAX_NET_FILE = 64 << 20     # net/dev of 300,000 interfaces; a longer "file" (a fake root's
                                # /dev/zero) fails with EFBIG instead of taking all memory
    MAX_SOCKET_TABLE = 1 << 30  # /proc/net/tcp6 of 6 million sockets (178 bytes a line); the
                                # /proc fallback only: sock_diag streams its answer


cdef int netns_read_dev(NetnsState *ns, uint64_t sweep, char **buf, Py_ssize_t *cap) noexcept nogil:
    """Interfaces of the namespace into ns.ifaces (cAdvisor's skip list applied),
    once per sweep number. Returns 0 or the error."""
    cdef Py_ssize_t n
    if ns.dev_sweep == sweep:
        return ns.dev_err
    ns.dev_sweep = sweep
    ns.iface_count = ns.iface_overflow = 0
    n = read_seq_file(ns.dev_fd, buf, cap, MAX_NET_FILE)
    if n < 0:
        ns.dev_err = <int>n
    else:
        ns.dev_err = net_dev(buf[0], n, ns.ifaces, ns.iface_cap, &ns.iface_count, &ns.iface_overflow,
                             NET_DEV_SKIP_VIRTUAL)
    return ns.dev_err


cdef int netns_read_sockets(NetnsState *ns, uint64_t sweep, int tables, char **buf, Py_ssize_t *cap) noexcept nogil:
    """Socket-state counts of the tables asked for (SOCKDIAG_VALID_* bits: TCP
    means tcp + tcp6, UDP udp + udp6) into ns.socks, each table group at most
    once per sweep number. Returns the SOCKDIAG_VALID_* bits of the tables that
    hold this sweep's counts (a failed table is all zero)."""
    cdef Py_ssize_t n
    cdef int i, rc, want = 0, got
    cdef int bits[4]
    if tables & (SOCKDIAG_VALID_TCP | SOCKDIAG_VALID_TCP6) and ns.tcp_sweep != sweep:
        want |= SOCKDIAG_VALID_TCP | SOCKDIAG_VALID_TCP6
        ns.tcp_sweep = sweep
        ns.sock_valid &= ~(SOCKDIAG_VALID_TCP | SOCKDIAG_VALID_TCP6)
        memset(&ns.socks.tcp, 0, sizeof(ns.socks.tcp))
        memset(&ns.socks.tcp6, 0, sizeof(ns.socks.tcp6))
    if tables & (SOCKDIAG_VALID_UDP | SOCKDIAG_VALID_UDP6) and ns.udp_sweep != sweep:
        want |= SOCKDIAG_VALID_UDP | SOCKDIAG_VALID_UDP6
        ns.udp_sweep = sweep
        ns.sock_valid &= ~(SOCKDIAG_VALID_UDP | SOCKDIAG_VALID_UDP6)
        memset(&ns.socks.udp, 0, sizeof(ns.socks.udp))
        memset(&ns.socks.udp6, 0, sizeof(ns.socks.udp6))
    if want == 0:
        return ns.sock_valid
    if ns.diag_fd >= 0:
        got = sockdiag_sample(ns.diag_fd, ns.diag_buf, SOCKDIAG_BUF, &ns.seq, &ns.no_tcp46,
                              &ns.sock_err, &ns.socks, want)
        ns.sock_valid |= got & want
        return ns.sock_valid
    bits[0], bits[1], bits[2], bits[3] = (SOCKDIAG_VALID_TCP, SOCKDIAG_VALID_TCP6,
                                          SOCKDIAG_VALID_UDP, SOCKDIAG_VALID_UDP6)
    for i in range(4):
        if not want & bits[i]:
            continue
        if ns.table_fds[i] == TABLE_ABSENT:
            ns.sock_valid |= bits[i]         # no IPv6 in this kernel: no such sockets (counts stay 0)
            continue
        if ns.table_fds[i] < 0:
            continue
        n = read_seq_file(ns.table_fds[i], buf, cap, MAX_SOCKET_TABLE)
        if n < 0:
            ns.sock_err = <int>n
            continue
        if i == 0:
            rc = tcp_states(buf[0], n, &ns.socks.tcp)
        elif i == 1:
            rc = tcp_states(buf[0], n, &ns.socks.tcp6)
        elif i == 2:
            rc = udp_stats(buf[0], n, &ns.socks.udp)
        else:
            rc = udp_stats(buf[0], n, &ns.socks.udp6)
        if rc == PARSE_OK:
            ns.sock_valid |= bits[i]
        else:
            ns.sock_err = rc
    return ns.sock_valid
