"""Parsers of cgroup v2 files whose format is their own. cpu.stat, memory.stat,
memory.current and friends use formats.pyx with the key tables of schema.py."""
from libc.stdint cimport uint16_t, uint32_t, uint64_t
from libc.stdlib cimport free
from libc.string cimport memcmp, memchr
from cgsampler._native.formats cimport (
    DiskSink, cgs_disk_entry, PARSE_OK, PARSE_MALFORMED, CGS_NUM_OK, CGS_OP_READ, CGS_OP_WRITE,
    CGS_LIST_SERVICE_BYTES, CGS_LIST_SERVICED,
    cgs_parse_u64, cgs_skip_spaces, cgs_token_end, cgs_is_space, disk_append, disk_sink_for, parse_devnum,
)


cdef int io_stat(const char *buf, Py_ssize_t n, DiskSink *sink) noexcept nogil:
    """io.stat: "MAJ:MIN key=value ...". Parsed as a token stream, not per line:
    some kernels print a bare "MAJ:MIN " for a device without stats and no
    newline, so several ids can precede one device's counters; the counters
    belong to the last id before them, the others have none. rbytes/wbytes go to
    io_service_bytes, rios/wios to io_serviced (Read/Write); other keys are
    skipped. Counters after a token that is neither an id nor key=value belong
    to no device. A known key with a non-numeric value, or an id like "8:x", is
    malformed."""
    cdef const char *p = buf
    cdef const char *end = buf + n
    cdef const char *t
    cdef const char *eq
    cdef uint32_t major = 0, minor = 0, mj, mn
    cdef int have_dev = 0
    cdef uint64_t v
    cdef Py_ssize_t klen
    cdef int lst, op
    while True:
        while p < end and cgs_is_space(p[0]):
            p += 1
        if p >= end:
            break
        t = cgs_token_end(p, end)
        eq = p
        while eq < t and eq[0] != b'=':
            eq += 1
        if eq == t:
            if parse_devnum(p, t, &mj, &mn) == 0:
                major, minor, have_dev = mj, mn, 1
            elif memchr(p, b':', t - p) != NULL:
                return PARSE_MALFORMED          # "8:x": a device id that does not parse
            else:
                have_dev = 0                    # some other token: what follows is nobody's
            p = t
            continue
        if not have_dev:
            p = t
            continue
        klen = eq - p
        lst = -1
        if klen == 6 and memcmp(p, b"rbytes", 6) == 0:
            lst, op = CGS_LIST_SERVICE_BYTES, CGS_OP_READ
        elif klen == 6 and memcmp(p, b"wbytes", 6) == 0:
            lst, op = CGS_LIST_SERVICE_BYTES, CGS_OP_WRITE
        elif klen == 4 and memcmp(p, b"rios", 4) == 0:
            lst, op = CGS_LIST_SERVICED, CGS_OP_READ
        elif klen == 4 and memcmp(p, b"wios", 4) == 0:
            lst, op = CGS_LIST_SERVICED, CGS_OP_WRITE
        if lst >= 0:
            if cgs_parse_u64(eq + 1, t, &v) != CGS_NUM_OK:
                return PARSE_MALFORMED
            disk_append(sink, major, minor, <uint16_t>lst, <uint16_t>op, v)
        p = t
    return PARSE_OK


def parse_io_stat(bytes data):
    """[(major, minor, list, op, value), ...] in file order; ValueError if malformed."""
    cdef DiskSink sink
    cdef cgs_disk_entry *entries = disk_sink_for(data, &sink)
    try:
        if io_stat(data, len(data), &sink) != PARSE_OK:
            raise ValueError("malformed io.stat")
        return [(entries[i].major, entries[i].minor, entries[i].list, entries[i].op, entries[i].value)
                for i in range(sink.count)]
    finally:
        free(entries)
