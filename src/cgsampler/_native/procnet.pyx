"""Parsers of a network namespace's files under /proc/<pid>/net: dev, tcp and
tcp6, udp and udp6. Each takes what one full read of the file gave (header
first, last newline optional) and writes C structs; a line that is not what the
kernel prints makes the whole file malformed, so no count is ever built from a
misread column. Semantics: ../shared/reference/cadvisor-v1-spec.md section 10."""
from libc.stdint cimport uint64_t
from libc.string cimport memchr, memcpy, memset
from libc.stdlib cimport malloc, free
from posix.time cimport clock_gettime, timespec, CLOCK_MONOTONIC
from cgsampler._native.formats cimport (
    PARSE_OK, PARSE_MALFORMED, CGS_NUM_OK, CGS_U64_MAX, cgs_is_space, cgs_line_end, cgs_token_end,
)

cdef extern from "string.h" nogil:
    void *memrchr(const void *s, int c, size_t n)

cdef extern from "cgs_parse.h":
    int cgs_parse_dec_u64(const char *p, const char *end, uint64_t *out) noexcept nogil
    int cgs_parse_hex_u64(const char *p, const char *end, uint64_t *out) noexcept nogil
    int cgs_has_prefix_ci(const char *p, const char *end, const char *prefix, size_t plen) noexcept nogil
    const char *cgs_skip_ws(const char *p, const char *end) noexcept nogil
    const char *cgs_scan_dec_u64(const char *p, const char *end, uint64_t *out) noexcept nogil

cdef enum:
    IFNAME_MAX = 15            # IFNAMSIZ - 1
    NET_DEV_COUNTERS = 16


# --- net/dev ---------------------------------------------------------------------------

cdef inline bint virtual_iface(const char *p, const char *end) noexcept nogil:
    """cAdvisor's skip list: a prefix match on the lower-cased name ("lo" also
    drops "lowpan0", "docker" drops "docker_gwbridge")."""
    return (cgs_has_prefix_ci(p, end, b"lo", 2) or cgs_has_prefix_ci(p, end, b"veth", 4)
            or cgs_has_prefix_ci(p, end, b"docker", 6) or cgs_has_prefix_ci(p, end, b"nerdctl", 7))


cdef int net_dev(const char *buf, Py_ssize_t n, NetDevIface *out, uint64_t cap,
                 uint64_t *count, uint64_t *overflow, int flags) noexcept nogil:
    """net/dev: two header lines, then "NAME: 16 counters" per interface.

    The name is everything before the LAST colon of the line: counters never
    hold one, while old kernels' alias names do ("bond0:1:"), and a counter
    wider than its column is glued to that colon ("eth0:48211190034",
    "eth2:0:4046496815"). Exactly 16 decimal counters must follow. Interfaces
    past `cap` are counted in *overflow; with NET_DEV_SKIP_VIRTUAL the skip-list
    names are validated but not stored. On error *count and *overflow are 0."""
    cdef const char *p = buf
    cdef const char *end = buf + n
    cdef const char *eol
    cdef const char *name
    cdef const char *colon
    cdef const char *t
    cdef const char *te
    cdef uint64_t v[NET_DEV_COUNTERS]
    cdef uint64_t stored = 0, over = 0
    cdef Py_ssize_t namelen, k
    cdef int nc, h
    cdef NetDevIface *e
    count[0] = 0
    overflow[0] = 0
    # Both header lines hold '|' (between the Receive and Transmit groups).
    # Checking it keeps a read that lost its header from having its first two
    # interfaces skipped as if they were the header.
    for h in range(2):
        if p >= end:
            return PARSE_MALFORMED
        eol = cgs_line_end(p, end)
        if memchr(p, b'|', eol - p) == NULL:
            return PARSE_MALFORMED
        p = eol + 1
    while p < end:
        eol = cgs_line_end(p, end)
        name = cgs_skip_ws(p, eol)
        p = eol + 1
        if name == eol:
            continue
        colon = <const char *>memrchr(name, b':', eol - name)
        if colon == NULL:
            return PARSE_MALFORMED
        namelen = colon - name
        if namelen == 0 or namelen > IFNAME_MAX:
            return PARSE_MALFORMED
        for k in range(namelen):
            if name[k] == 0 or cgs_is_space(name[k]):
                return PARSE_MALFORMED
        nc = 0
        t = cgs_skip_ws(colon + 1, eol)
        while t < eol:
            if nc == NET_DEV_COUNTERS:
                return PARSE_MALFORMED
            te = cgs_scan_dec_u64(t, eol, &v[nc])
            if te == NULL:
                return PARSE_MALFORMED
            t = cgs_skip_ws(te, eol)
            if t == te and t < eol:
                return PARSE_MALFORMED      # digits followed by something else
            nc += 1
        if nc != NET_DEV_COUNTERS:
            return PARSE_MALFORMED
        if (flags & NET_DEV_SKIP_VIRTUAL) and virtual_iface(name, colon):
            continue
        if stored == cap:
            over += 1
            continue
        e = &out[stored]
        memset(e.name, 0, sizeof(e.name))
        memcpy(e.name, name, namelen)
        # Columns: rx bytes packets errs drop fifo frame compressed multicast,
        # then tx bytes packets errs drop fifo colls carrier compressed.
        e.rx_bytes = v[0]
        e.rx_packets = v[1]
        e.rx_errors = v[2]
        e.rx_dropped = v[3]
        e.tx_bytes = v[8]
        e.tx_packets = v[9]
        e.tx_errors = v[10]
        e.tx_dropped = v[11]
        stored += 1
    count[0] = stored
    overflow[0] = over
    return PARSE_OK


# --- tcp, tcp6, udp, udp6 ---------------------------------------------------------------

cdef inline bint is_digit(char c) noexcept nogil:
    return <unsigned int>(<unsigned char>c) - 48 <= 9


cdef inline bint all_hex(const char *p, const char *end) noexcept nogil:
    while p < end:
        if not (is_digit(p[0]) or <unsigned int>(<unsigned char>p[0] | 0x20) - 97 <= 5):   # a-f, A-F
            return False
        p += 1
    return True


cdef inline bint endpoint(const char *p, const char *end) noexcept nogil:
    """ADDR:PORT as the kernel prints it: 8 (IPv4) or 32 (IPv6, also IPv4-mapped)
    hex digits, a colon, 4 hex digits."""
    cdef Py_ssize_t n = end - p
    if n != 13 and n != 37:
        return False
    return p[n - 5] == b':' and all_hex(p, end - 5) and all_hex(end - 4, end)


cdef inline bint sl_token(const char *p, const char *end) noexcept nogil:
    """The slot number "N:" (5 digits or more on busy hosts, so not aligned)."""
    if end - p < 2 or (end - 1)[0] != b':':
        return False
    end -= 1
    while p < end:
        if not is_digit(p[0]):
            return False
        p += 1
    return True


cdef inline const char *table_body(const char *buf, const char *end) noexcept nogil:
    """Past the header of a tcp/udp table (its first line starts with the column
    name "sl"), or NULL if the file is empty or has no such header."""
    cdef const char *eol
    cdef const char *t
    if buf >= end:
        return NULL
    eol = cgs_line_end(buf, end)
    t = cgs_skip_ws(buf, eol)
    if not (cgs_token_end(t, eol) - t == 2 and t[0] == b's' and t[1] == b'l'):
        return NULL
    return eol + 1


# Per line, the first five columns of every socket table: "sl local remote st
# tx_queue:rx_queue" (then tr:tm->when, retrnsmt, uid, timeout, inode, ...).
# Returns the byte after them, or NULL if they are not the kernel's.
cdef const char *socket_head(const char *p, const char *eol, uint64_t *state,
                             uint64_t *txq, uint64_t *rxq) noexcept nogil:
    cdef const char *te
    cdef const char *colon
    te = cgs_token_end(p, eol)
    if not sl_token(p, te):
        return NULL
    p = cgs_skip_ws(te, eol)
    te = cgs_token_end(p, eol)
    if not endpoint(p, te):
        return NULL
    p = cgs_skip_ws(te, eol)
    te = cgs_token_end(p, eol)
    if not endpoint(p, te):
        return NULL
    p = cgs_skip_ws(te, eol)
    te = cgs_token_end(p, eol)
    if te - p != 2 or cgs_parse_hex_u64(p, te, state) != CGS_NUM_OK:
        return NULL
    p = cgs_skip_ws(te, eol)
    te = cgs_token_end(p, eol)
    colon = <const char *>memchr(p, b':', te - p)
    if colon == NULL or cgs_parse_hex_u64(p, colon, txq) != CGS_NUM_OK \
            or cgs_parse_hex_u64(colon + 1, te, rxq) != CGS_NUM_OK:
        return NULL
    return te


cdef int tcp_states(const char *buf, Py_ssize_t n, TcpStat *out) noexcept nogil:
    """tcp and tcp6: the number of sockets in each state of the `st` column
    (IPv4-mapped rows of tcp6 are tcp6 sockets like any other). A state outside
    01..0B, or a row whose first five columns are not the kernel's, makes the
    file malformed (*out all zero), as cAdvisor leaves TcpStat zero then."""
    cdef const char *p = buf
    cdef const char *end = buf + n
    cdef const char *eol
    cdef uint64_t counts[11]
    cdef uint64_t state, txq, rxq
    memset(out, 0, sizeof(TcpStat))
    memset(counts, 0, sizeof(counts))
    p = table_body(buf, end)
    if p == NULL:
        return PARSE_MALFORMED
    while p < end:
        eol = cgs_line_end(p, end)
        p = cgs_skip_ws(p, eol)
        if p != eol:
            if socket_head(p, eol, &state, &txq, &rxq) == NULL or state < 1 or state > 11:
                return PARSE_MALFORMED
            counts[state - 1] += 1
        p = eol + 1
    memcpy(out, counts, sizeof(TcpStat))
    return PARSE_OK


cdef inline bint add_u64(uint64_t *acc, uint64_t v) noexcept nogil:
    if acc[0] > CGS_U64_MAX - v:
        return False
    acc[0] += v
    return True


cdef int udp_stats(const char *buf, Py_ssize_t n, UdpStat *out) noexcept nogil:
    """udp and udp6 into UdpStat with each column's documented meaning:
    listen = every socket line, dropped = sum of `drops`, rx_queued = sum of the
    kernel's rx_queue, tx_queued = sum of its tx_queue (cAdvisor swaps these
    two: docs/compat.md). A line needs the kernel's first five columns and at
    least 12 columns in all; the 13th is `drops` when the line has exactly 13
    (older kernels print 12, without it); any other line counts in no_drops.
    Malformed: *out all zero."""
    cdef const char *p = buf
    cdef const char *end = buf + n
    cdef const char *eol
    cdef const char *t
    cdef const char *te
    cdef const char *drops = NULL
    cdef const char *drops_end = NULL
    cdef uint64_t state, txq, rxq, d
    cdef UdpStat acc
    cdef int ncol
    memset(out, 0, sizeof(UdpStat))
    memset(&acc, 0, sizeof(UdpStat))
    p = table_body(buf, end)
    if p == NULL:
        return PARSE_MALFORMED
    while p < end:
        eol = cgs_line_end(p, end)
        p = cgs_skip_ws(p, eol)
        if p == eol:
            p = eol + 1
            continue
        t = socket_head(p, eol, &state, &txq, &rxq)
        if t == NULL:
            return PARSE_MALFORMED
        ncol = 5
        t = cgs_skip_ws(t, eol)
        while t < eol:
            te = cgs_token_end(t, eol)
            ncol += 1
            if ncol == 13:
                drops, drops_end = t, te
            t = cgs_skip_ws(te, eol)
        if ncol < 12:
            return PARSE_MALFORMED
        if ncol == 13:
            if cgs_parse_dec_u64(drops, drops_end, &d) != CGS_NUM_OK or not add_u64(&acc.dropped, d):
                return PARSE_MALFORMED
        else:
            acc.no_drops += 1
        if not add_u64(&acc.rx_queued, rxq) or not add_u64(&acc.tx_queued, txq):
            return PARSE_MALFORMED
        acc.listen += 1
        p = eol + 1
    out[0] = acc
    return PARSE_OK


# --- Python entry points, for tests and tools (not used on the hot path) --------------

# Struct sizes, for the numpy dtypes that mirror them (schema.py).
NET_DEV_IFACE_SIZE = sizeof(NetDevIface)
TCP_STAT_SIZE = sizeof(TcpStat)
UDP_STAT_SIZE = sizeof(UdpStat)

TCP_STATES = ("established", "syn_sent", "syn_recv", "fin_wait1", "fin_wait2", "time_wait",
              "close", "close_wait", "last_ack", "listen", "closing")


def parse_net_dev_into(bytes data, Py_ssize_t capacity, bint skip_virtual=False):
    """([interface dict, ...], overflow) with room for `capacity` interfaces;
    ValueError if malformed."""
    if capacity < 0:
        raise ValueError("capacity must be >= 0")
    cdef NetDevIface *ifs = <NetDevIface *>malloc(max(capacity, 1) * sizeof(NetDevIface))
    cdef uint64_t count = 0, over = 0
    cdef uint64_t i
    cdef int rc
    cdef const char *buf = data
    cdef Py_ssize_t n = len(data)
    if ifs == NULL:
        raise MemoryError()
    try:
        with nogil:
            rc = net_dev(buf, n, ifs, <uint64_t>capacity, &count, &over,
                         NET_DEV_SKIP_VIRTUAL if skip_virtual else NET_DEV_ALL)
        if rc != PARSE_OK:
            raise ValueError("malformed net/dev")
        return [dict(name=(<char *>ifs[i].name)[:16].rstrip(b"\0").decode("utf-8", "surrogateescape"),
                     rx_bytes=ifs[i].rx_bytes, rx_packets=ifs[i].rx_packets,
                     rx_errors=ifs[i].rx_errors, rx_dropped=ifs[i].rx_dropped,
                     tx_bytes=ifs[i].tx_bytes, tx_packets=ifs[i].tx_packets,
                     tx_errors=ifs[i].tx_errors, tx_dropped=ifs[i].tx_dropped)
                for i in range(count)], over
    finally:
        free(ifs)


def parse_net_dev(bytes data, bint skip_virtual=False):
    """[{name, rx_bytes, ..., tx_dropped}, ...] in file order; ValueError if malformed."""
    return parse_net_dev_into(data, data.count(b"\n") + 1, skip_virtual)[0]


def parse_tcp_states(bytes data):
    """{state name: socket count} for a tcp or tcp6 table; ValueError if malformed."""
    cdef TcpStat s
    cdef uint64_t *c = <uint64_t *>&s
    cdef Py_ssize_t i
    if tcp_states(data, len(data), &s) != PARSE_OK:
        raise ValueError("malformed tcp table")
    result = {}
    for i in range(11):
        result[TCP_STATES[i]] = c[i]
    return result


def parse_udp_stats(bytes data):
    """{listen, dropped, rx_queued, tx_queued, no_drops} for a udp or udp6 table;
    ValueError if malformed."""
    cdef UdpStat s
    if udp_stats(data, len(data), &s) != PARSE_OK:
        raise ValueError("malformed udp table")
    return dict(listen=s.listen, dropped=s.dropped, rx_queued=s.rx_queued,
                tx_queued=s.tx_queued, no_drops=s.no_drops)


def time_parse(str which, bytes data, Py_ssize_t reps):
    """Nanoseconds for `reps` parses of `data` by one parser ("net_dev", "tcp",
    "udp"), in a nogil C loop (benchmarks/parse_procfs.py); ValueError if the
    data does not parse."""
    cdef const char *buf = data
    cdef Py_ssize_t n = len(data), r
    cdef Py_ssize_t cap = data.count(b"\n") + 1
    cdef NetDevIface *ifs = <NetDevIface *>malloc(cap * sizeof(NetDevIface))
    cdef uint64_t count = 0, over = 0
    cdef TcpStat ts
    cdef UdpStat us
    cdef timespec t0, t1
    cdef int kind = {"net_dev": 0, "tcp": 1, "udp": 2}[which]
    cdef int rc = PARSE_OK
    if ifs == NULL:
        raise MemoryError()
    try:
        with nogil:
            clock_gettime(CLOCK_MONOTONIC, &t0)
            for r in range(reps):
                if kind == 0:
                    rc |= net_dev(buf, n, ifs, <uint64_t>cap, &count, &over, NET_DEV_ALL)
                elif kind == 1:
                    rc |= tcp_states(buf, n, &ts)
                else:
                    rc |= udp_stats(buf, n, &us)
            clock_gettime(CLOCK_MONOTONIC, &t1)
        if rc != PARSE_OK:
            raise ValueError(f"{which}: data does not parse")
        return (t1.tv_sec - t0.tv_sec) * 1000000000 + (t1.tv_nsec - t0.tv_nsec)
    finally:
        free(ifs)
