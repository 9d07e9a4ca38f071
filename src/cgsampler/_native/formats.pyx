"""Generic kernel text formats shared by many files: a single value, flat
"key value" lines, and newline-separated lists. Pure functions of the bytes."""
from libc.errno cimport errno, EINTR, ENOMEM, EFBIG
from libc.string cimport memcmp
from libc.stdlib cimport calloc, malloc, realloc, free
from posix.unistd cimport pread
from libc.stdint cimport uint16_t, uint32_t, uint64_t, UINT32_MAX


cdef int single_value(const char *buf, Py_ssize_t n, uint64_t *out) noexcept nogil:
    """A file holding one number ("123\\n", "max\\n", "-1\\n"); empty is malformed."""
    cdef const char *p = buf
    cdef const char *end = buf + n
    while p < end and cgs_is_space(p[0]):
        p += 1
    while end > p and cgs_is_space((end - 1)[0]):
        end -= 1
    if cgs_parse_u64(p, end, out) != CGS_NUM_OK:
        return PARSE_MALFORMED
    return PARSE_OK


cdef int flat_keyed(const char *buf, Py_ssize_t n, const KeyTable *table, char *row,
                    uint64_t *seen) noexcept nogil:
    """Lines of "key value": known keys (table) are written to their columns,
    scaled, and bit i of *seen is set for table entry i (i < 64); unknown keys
    are skipped. A line without a value, a value that is not a number (known key
    or not, as runc rules), or a file with no line at all (the kernel never
    prints these files empty) is malformed. Blank lines and a missing final
    newline are fine."""
    cdef const char *p = buf
    cdef const char *end = buf + n
    cdef const char *eol
    cdef const char *k_end
    cdef const char *v
    cdef const char *v_end
    cdef Py_ssize_t klen
    cdef uint64_t value
    cdef int i, lines = 0
    cdef const KeyEntry *e
    seen[0] = 0
    while p < end:
        eol = cgs_line_end(p, end)
        p = cgs_skip_spaces(p, eol)
        if p == eol:
            p = eol + 1
            continue
        k_end = cgs_token_end(p, eol)
        v = cgs_skip_spaces(k_end, eol)
        if v == eol:
            return PARSE_MALFORMED
        v_end = cgs_token_end(v, eol)
        if cgs_parse_u64(v, v_end, &value) != CGS_NUM_OK or cgs_skip_spaces(v_end, eol) != eol:
            return PARSE_MALFORMED
        lines += 1
        klen = k_end - p
        for i in range(table.n):
            e = &table.entries[i]
            if e.keylen == klen and memcmp(e.key, p, klen) == 0:
                (<uint64_t *>(row + e.offset))[0] = cgs_scale(value, e.scale)
                if i < 64:
                    seen[0] |= (<uint64_t>1) << i
                break
        p = eol + 1
    if lines == 0:
        return PARSE_MALFORMED
    return PARSE_OK


cdef int count_pids(const char *buf, Py_ssize_t n, uint64_t *count) noexcept nogil:
    """cgroup.procs: one decimal pid per line (last newline optional; empty = no
    process). A line that is not a pid is malformed."""
    cdef const char *p = buf
    cdef const char *end = buf + n
    cdef const char *eol
    cdef const char *t
    cdef uint64_t pid, lines = 0
    while p < end:
        eol = cgs_line_end(p, end)
        p = cgs_skip_spaces(p, eol)
        if p != eol:
            t = cgs_token_end(p, eol)
            if p[0] == b'-' or cgs_parse_u64(p, t, &pid) != CGS_NUM_OK or pid == CGS_U64_MAX \
                    or cgs_skip_spaces(t, eol) != eol:
                return PARSE_MALFORMED
            lines += 1
        p = eol + 1
    count[0] = lines
    return PARSE_OK


cdef cgs_disk_entry *disk_sink_for(bytes data, DiskSink *sink) except NULL:
    """For the Python entry points: a malloc'ed sink big enough for every entry
    `data` can hold (one per line for blkio, one per key=value for io.stat).
    The caller frees the returned entries."""
    cdef uint64_t cap = <uint64_t>(data.count(b"\n") + data.count(b"=") + 1)
    cdef cgs_disk_entry *entries = <cgs_disk_entry *>malloc(cap * sizeof(cgs_disk_entry))
    if entries == NULL:
        raise MemoryError()
    disk_sink_init(sink, entries, cap)
    return entries


cdef void disk_append(DiskSink *sink, uint32_t major, uint32_t minor, uint16_t lst,
                      uint16_t op, uint64_t value) noexcept nogil:
    cdef cgs_disk_entry *e
    if sink.count >= sink.cap:
        sink.overflow += 1
        return
    e = &sink.entries[sink.count]
    e.major = major
    e.minor = minor
    e.list = lst
    e.op = op
    e.pad = 0
    e.value = value
    sink.count += 1


cdef int parse_devnum(const char *p, const char *end, uint32_t *major, uint32_t *minor) noexcept nogil:
    """"MAJ:MIN" -> 0, anything else -> -1."""
    cdef const char *colon = p
    cdef uint64_t a, b
    while colon < end and colon[0] != b':':
        colon += 1
    if colon == end or colon == p or colon + 1 == end or p[0] == b'-' or colon[1] == b'-':
        return -1
    if cgs_parse_u64(p, colon, &a) != CGS_NUM_OK or cgs_parse_u64(colon + 1, end, &b) != CGS_NUM_OK:
        return -1
    if a > UINT32_MAX or b > UINT32_MAX:
        return -1
    major[0] = <uint32_t>a
    minor[0] = <uint32_t>b
    return 0


cdef Py_ssize_t read_seq_file(int fd, char **buf, Py_ssize_t *cap, Py_ssize_t limit) noexcept nogil:
    """The whole of a /proc seq_file through a kept fd, into *buf (grown by
    doubling, *cap updated): one pread returns what fits, so read on until a
    pread returns 0. Bytes read, or -errno; -EFBIG once *cap would pass `limit`
    (a fake root's /dev/zero must not take all memory)."""
    cdef Py_ssize_t total = 0, n
    cdef char *grown
    while True:
        if total == cap[0]:
            if cap[0] >= limit:
                return -EFBIG
            grown = <char *>realloc(buf[0], cap[0] * 2)
            if grown == NULL:
                return -ENOMEM
            buf[0] = grown
            cap[0] *= 2
        n = pread(fd, buf[0] + total, cap[0] - total, total)
        if n > 0:
            total += n
        elif n == 0:
            return total
        elif errno != EINTR:
            return -errno


# Python entry points, for tests and tools (not used on the hot path).

def parse_single_value(bytes data):
    """Value of a single-number file, or ValueError if malformed."""
    cdef uint64_t v
    if single_value(data, len(data), &v) != PARSE_OK:
        raise ValueError(f"not a cgroup number: {data[:64]!r}")
    return v


def parse_pid_count(bytes data):
    """Number of pids in a cgroup.procs file; ValueError if malformed."""
    cdef uint64_t count = 0
    if count_pids(data, len(data), &count) != PARSE_OK:
        raise ValueError("malformed cgroup.procs")
    return count


def parse_keyed(bytes data, keys):
    """{key: value} for the given keys of a flat "key value" file (absent keys
    are left out); ValueError if malformed."""
    cdef Py_ssize_t n = len(keys)
    if n > 64:
        raise ValueError("at most 64 keys")
    cdef KeyEntry *entries = <KeyEntry *>calloc(max(n, 1), sizeof(KeyEntry))
    cdef uint64_t *values = <uint64_t *>calloc(max(n, 1), sizeof(uint64_t))
    cdef uint64_t seen = 0
    cdef KeyTable table
    cdef Py_ssize_t i
    encoded = [k.encode() if isinstance(k, str) else bytes(k) for k in keys]
    try:
        for i in range(n):
            entries[i].key = <const char *>(<bytes>encoded[i])
            entries[i].keylen = len(encoded[i])
            entries[i].offset = <uint32_t>(i * sizeof(uint64_t))
            entries[i].scale = 1
        table.entries = entries
        table.n = <int>n
        if flat_keyed(data, len(data), &table, <char *>values, &seen) != PARSE_OK:
            raise ValueError("malformed key-value file")
        return {keys[i]: values[i] for i in range(n) if seen & ((<uint64_t>1) << i)}
    finally:
        free(entries)
        free(values)
