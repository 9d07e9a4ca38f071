"""Parsers of cgroup v1 files whose format is their own. The flat keyed v1 files
(cpuacct.stat, cpu.stat, memory.stat) and single values use formats.pyx with the
key tables of schema.py."""
from libc.stdint cimport uint16_t, uint32_t, uint64_t
from libc.string cimport memcmp
from libc.stdlib cimport malloc, free
from cgsampler._native.formats cimport (
    DiskSink, cgs_disk_entry, PARSE_OK, PARSE_MALFORMED, CGS_NUM_OK, CGS_OP_COUNT, CGS_OP_READ,
    CGS_OP_WRITE, CGS_OP_SYNC, CGS_OP_ASYNC, CGS_OP_DISCARD, CGS_OP_TOTAL,
    cgs_parse_u64, cgs_line_end, cgs_skip_spaces, cgs_token_end, disk_append, disk_sink_for, parse_devnum,
)


cdef int cpuacct_usage_percpu(const char *buf, Py_ssize_t n, uint64_t *out, uint64_t cap,
                              uint64_t *count, uint64_t *overflow) noexcept nogil:
    """cpuacct.usage_percpu: one ns counter per possible CPU, space separated.
    Values past `cap` are counted in `overflow`, not stored."""
    cdef const char *p = buf
    cdef const char *end = buf + n
    cdef const char *t
    cdef uint64_t v
    cdef uint64_t i = 0
    overflow[0] = 0
    while True:
        p = cgs_skip_spaces(p, end)
        while p < end and p[0] == b'\n':
            p = cgs_skip_spaces(p + 1, end)
        if p >= end:
            break
        t = cgs_token_end(p, end)
        if cgs_parse_u64(p, t, &v) != CGS_NUM_OK:
            return PARSE_MALFORMED
        if i < cap:
            out[i] = v
            i += 1
        else:
            overflow[0] += 1
        p = t
    count[0] = i
    if i == 0 and overflow[0] == 0:
        return PARSE_MALFORMED      # the kernel prints at least one CPU
    return PARSE_OK


cdef inline int op_code(const char *p, Py_ssize_t n) noexcept nogil:
    if n == 4 and memcmp(p, b"Read", 4) == 0:
        return CGS_OP_READ
    if n == 5 and memcmp(p, b"Write", 5) == 0:
        return CGS_OP_WRITE
    if n == 4 and memcmp(p, b"Sync", 4) == 0:
        return CGS_OP_SYNC
    if n == 5 and memcmp(p, b"Async", 5) == 0:
        return CGS_OP_ASYNC
    if n == 7 and memcmp(p, b"Discard", 7) == 0:
        return CGS_OP_DISCARD
    if n == 5 and memcmp(p, b"Total", 5) == 0:
        return CGS_OP_TOTAL
    return -1


cdef int blkio_rwstat(const char *buf, Py_ssize_t n, uint16_t lst, DiskSink *sink) noexcept nogil:
    """blkio.* per-device files: "MAJ:MIN OP VALUE" (rwstat) or "MAJ:MIN VALUE"
    (sectors, time: op Count). The device-less summary "Total N" is skipped, and
    so are rows whose device is not MAJ:MIN (e.g. "(unknown)" on NVMe multipath
    hosts). Any other shape, or a bad number on a device row, is malformed."""
    cdef const char *p = buf
    cdef const char *end = buf + n
    cdef const char *eol
    cdef const char *tok[4]
    cdef const char *tend[4]
    cdef int ntok, op
    cdef uint32_t major, minor
    cdef uint64_t v
    while p < end:
        eol = cgs_line_end(p, end)
        ntok = 0
        p = cgs_skip_spaces(p, eol)
        while p < eol:
            if ntok == 4:
                return PARSE_MALFORMED
            tok[ntok] = p
            tend[ntok] = cgs_token_end(p, eol)
            p = cgs_skip_spaces(tend[ntok], eol)
            ntok += 1
        p = eol + 1
        if ntok == 0:
            continue
        if ntok == 2 and tend[0] - tok[0] == 5 and memcmp(tok[0], b"Total", 5) == 0:
            continue
        if ntok < 2:
            return PARSE_MALFORMED
        if parse_devnum(tok[0], tend[0], &major, &minor) != 0:
            if ntok <= 3 and tok[0][0] == b'(':
                continue
            return PARSE_MALFORMED
        if ntok == 2:
            op = CGS_OP_COUNT
        elif ntok == 3:
            op = op_code(tok[1], tend[1] - tok[1])
            if op < 0:
                continue       # an op the kernel may add later: not ours to name
        else:
            return PARSE_MALFORMED
        if cgs_parse_u64(tok[ntok - 1], tend[ntok - 1], &v) != CGS_NUM_OK:
            return PARSE_MALFORMED
        disk_append(sink, major, minor, lst, <uint16_t>op, v)
    return PARSE_OK


# Python entry points, for tests and tools.

def parse_usage_percpu(bytes data):
    cdef uint64_t cap = len(data) // 2 + 1
    cdef uint64_t *vals = <uint64_t *>malloc(cap * sizeof(uint64_t))
    cdef uint64_t count = 0, overflow = 0
    if vals == NULL:
        raise MemoryError()
    try:
        if cpuacct_usage_percpu(data, len(data), vals, cap, &count, &overflow) != PARSE_OK:
            raise ValueError("malformed cpuacct.usage_percpu")
        return [vals[i] for i in range(count)]
    finally:
        free(vals)


def parse_blkio(bytes data):
    """[(major, minor, op, value), ...] in file order (op: schema.DISK_OPS index);
    ValueError if malformed."""
    cdef DiskSink sink
    cdef cgs_disk_entry *entries = disk_sink_for(data, &sink)
    try:
        if blkio_rwstat(data, len(data), 0, &sink) != PARSE_OK:
            raise ValueError("malformed blkio file")
        return [(entries[i].major, entries[i].minor, entries[i].op, entries[i].value)
                for i in range(sink.count)]
    finally:
        free(entries)
