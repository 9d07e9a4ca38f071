"""Parser of /proc/diskstats: one DiskStat per line, whatever the kernel's
field-count variant. Semantics: ../shared/reference/cadvisor-v1-spec.md 11.4;
columns: the kernel's Documentation/admin-guide/iostats.rst."""
from libc.stdint cimport uint32_t, uint64_t, UINT32_MAX
from libc.string cimport memcpy, memset
from libc.stdlib cimport malloc, free
from posix.time cimport clock_gettime, timespec, CLOCK_MONOTONIC
from cgsampler._native.formats cimport PARSE_OK, PARSE_MALFORMED, CGS_NUM_OK, cgs_line_end, cgs_token_end

cdef extern from "cgs_parse.h":
    int cgs_parse_dec_u64(const char *p, const char *end, uint64_t *out) noexcept nogil
    const char *cgs_skip_ws(const char *p, const char *end) noexcept nogil
    const char *cgs_scan_dec_u64(const char *p, const char *end, uint64_t *out) noexcept nogil

cdef enum:
    DISK_NAME_MAX = 31           # DISK_NAME_LEN - 1
    LXCFS_DISCARD = 0x7000       # discards_merged, sectors_discarded, discard_time


cdef inline bint is_digit(char c) noexcept nogil:
    return <unsigned int>(<unsigned char>c) - 48 <= 9


cdef inline const char *dec_u32(const char *p, const char *eol, uint32_t *out) noexcept nogil:
    """The decimal token at p (after blanks) into *out; the byte after it, or NULL."""
    cdef const char *te
    cdef uint64_t v
    p = cgs_skip_ws(p, eol)
    te = cgs_token_end(p, eol)
    if cgs_parse_dec_u64(p, te, &v) != CGS_NUM_OK or v > UINT32_MAX:
        return NULL
    out[0] = <uint32_t>v
    return te


cdef int diskstats(const char *buf, Py_ssize_t n, DiskStat *out, uint64_t cap,
                   uint64_t *count, uint64_t *overflow) noexcept nogil:
    """/proc/diskstats: "MAJOR MINOR NAME counters..." per line; blank lines are
    skipped (some samples end with one). The counters go to their columns by
    how many the line has:

    * 4: a partition line of kernels 2.6.0-2.6.24 (reads, sectors read, writes,
      sectors written);
    * 11 (up to 4.17), 15 (4.18+, discard), 17 (5.5+, flush), more (a later
      kernel appends): the kernel's order, extra columns ignored;
    * 14: lxcfs 4.0.5-5.0.3, which printed the discard group without its first
      column (discards completed; lxc/lxcfs#589);
    * 12, 13, 16: no known writer, so only the 11 classic columns are trusted.

    Absent counters are 0 with their `present` bit clear. Fewer than 4, or 5 to
    10 counters, a name over 31 bytes, or a token that is not a decimal
    number is malformed. Lines past `cap` count in *overflow. On error *count
    and *overflow are 0."""
    cdef const char *p = buf
    cdef const char *end = buf + n
    cdef const char *eol
    cdef const char *t
    cdef const char *te
    cdef const char *name
    cdef uint64_t *c
    cdef uint64_t tmp
    cdef uint64_t stored = 0, over = 0
    cdef uint32_t major, minor, present
    cdef Py_ssize_t namelen, k
    cdef int nc
    cdef DiskStat *e
    cdef DiskStat scratch
    count[0] = 0
    overflow[0] = 0
    while p < end:
        eol = cgs_line_end(p, end)
        t = cgs_skip_ws(p, eol)
        p = eol + 1
        if t == eol:
            continue
        t = dec_u32(t, eol, &major)
        if t == NULL:
            return PARSE_MALFORMED
        t = dec_u32(t, eol, &minor)
        if t == NULL:
            return PARSE_MALFORMED
        name = cgs_skip_ws(t, eol)
        t = cgs_token_end(name, eol)
        namelen = t - name
        if namelen == 0 or namelen > DISK_NAME_MAX:
            return PARSE_MALFORMED
        for k in range(namelen):
            if name[k] == 0:
                return PARSE_MALFORMED
        # Counters go straight into their entry (a scratch one past `cap`),
        # in column order, then move to where a short variant's columns belong.
        e = &out[stored] if stored < cap else &scratch
        c = &e.reads_completed
        nc = 0
        t = cgs_skip_ws(t, eol)
        while t < eol:
            te = cgs_scan_dec_u64(t, eol, &c[nc] if nc < DISK_COUNTERS else &tmp)
            if te == NULL:
                return PARSE_MALFORMED
            nc += 1
            if te + 1 < eol and te[0] == b' ' and is_digit(te[1]):
                t = te + 1                  # the kernel's one-space separator
                continue
            t = cgs_skip_ws(te, eol)
            if t == te and t < eol:
                return PARSE_MALFORMED      # digits followed by something else
        if nc == 4:
            present = DISK_SHORT_PARTITION
            c[6] = c[3]         # reads, sectors read, writes, sectors written
            c[4] = c[2]
            c[2] = c[1]
            c[1] = c[3] = c[5] = 0
            k = 7
        elif nc == 14:
            present = DISK_CLASSIC | LXCFS_DISCARD
            c[14] = c[13]       # merged, sectors, time of discards; no "completed"
            c[13] = c[12]
            c[12] = c[11]
            c[11] = 0
            k = 15
        elif nc == 11 or nc == 12 or nc == 13 or nc == 16:
            present = DISK_CLASSIC
            k = 11
        elif nc == 15:
            present = DISK_CLASSIC | DISK_DISCARD
            k = 15
        elif nc >= 17:
            present = DISK_CLASSIC | DISK_DISCARD | DISK_FLUSH
            k = 17
        else:
            return PARSE_MALFORMED
        while k < DISK_COUNTERS:
            c[k] = 0
            k += 1
        if stored == cap:
            over += 1
            continue
        e.major = major
        e.minor = minor
        e.present = present
        e.pad = 0
        memset(e.name, 0, sizeof(e.name))
        memcpy(e.name, name, namelen)
        stored += 1
    count[0] = stored
    overflow[0] = over
    return PARSE_OK


# --- Python entry points, for tests and tools (not used on the hot path) --------------

DISK_STAT_SIZE = sizeof(DiskStat)       # for the numpy dtype that mirrors it (schema.py)

COUNTERS = ("reads_completed", "reads_merged", "sectors_read", "read_time", "writes_completed",
            "writes_merged", "sectors_written", "write_time", "io_in_progress", "io_time",
            "weighted_io_time", "discards_completed", "discards_merged", "sectors_discarded",
            "discard_time", "flushes_completed", "flush_time")


def parse_diskstats_into(bytes data, Py_ssize_t capacity):
    """([device dict, ...], overflow) with room for `capacity` devices; a counter
    the line did not print is None. ValueError if malformed."""
    if capacity < 0:
        raise ValueError("capacity must be >= 0")
    cdef DiskStat *ds = <DiskStat *>malloc(max(capacity, 1) * sizeof(DiskStat))
    cdef uint64_t count = 0, over = 0
    cdef uint64_t i
    cdef int j, rc
    cdef uint64_t *c
    cdef const char *buf = data
    cdef Py_ssize_t n = len(data)
    if ds == NULL:
        raise MemoryError()
    try:
        with nogil:
            rc = diskstats(buf, n, ds, <uint64_t>capacity, &count, &over)
        if rc != PARSE_OK:
            raise ValueError("malformed /proc/diskstats")
        result = []
        for i in range(count):
            c = &ds[i].reads_completed
            d = dict(major=ds[i].major, minor=ds[i].minor,
                     name=(<char *>ds[i].name)[:32].rstrip(b"\0").decode("utf-8", "surrogateescape"))
            for j in range(DISK_COUNTERS):
                d[COUNTERS[j]] = c[j] if ds[i].present & ((<uint32_t>1) << j) else None
            result.append(d)
        return result, over
    finally:
        free(ds)


def parse_diskstats(bytes data):
    """[{major, minor, name, reads_completed, ..., flush_time}, ...] in file order;
    ValueError if malformed."""
    return parse_diskstats_into(data, data.count(b"\n") + 1)[0]


def time_parse(bytes data, Py_ssize_t reps):
    """Nanoseconds for `reps` parses of `data` in a nogil C loop
    (benchmarks/parse_procfs.py); ValueError if the data does not parse."""
    cdef const char *buf = data
    cdef Py_ssize_t n = len(data), r
    cdef Py_ssize_t cap = data.count(b"\n") + 1
    cdef DiskStat *ds = <DiskStat *>malloc(cap * sizeof(DiskStat))
    cdef uint64_t count = 0, over = 0
    cdef timespec t0, t1
    cdef int rc = PARSE_OK
    if ds == NULL:
        raise MemoryError()
    try:
        with nogil:
            clock_gettime(CLOCK_MONOTONIC, &t0)
            for r in range(reps):
                rc |= diskstats(buf, n, ds, <uint64_t>cap, &count, &over)
            clock_gettime(CLOCK_MONOTONIC, &t1)
        if rc != PARSE_OK:
            raise ValueError("diskstats: data does not parse")
        return (t1.tv_sec - t0.tv_sec) * 1000000000 + (t1.tv_nsec - t0.tv_nsec)
    finally:
        free(ds)
