"""Parsers of a process's /proc/<pid>/stat and /proc/<pid>/schedstat (proc(5);
cAdvisor-v1-spec sections 6.3 and 7)."""
from libc.stdint cimport uint32_t, uint64_t, UINT32_MAX
from libc.string cimport memset
from posix.time cimport clock_gettime, timespec, CLOCK_MONOTONIC
from cgsampler._native.formats cimport PARSE_OK, PARSE_MALFORMED, CGS_NUM_OK, cgs_line_end, cgs_token_end

cdef extern from "string.h" nogil:
    void *memrchr(const void *s, int c, size_t n)

cdef extern from "cgs_parse.h":
    int cgs_parse_dec_u64(const char *p, const char *end, uint64_t *out) noexcept nogil
    const char *cgs_skip_ws(const char *p, const char *end) noexcept nogil

cdef enum:
    LAST_FIELD = 22          # starttime: the last field read


cdef inline bint is_digit(char c) noexcept nogil:
    return <unsigned int>(<unsigned char>c) - 48 <= 9


cdef inline bint signed_dec(const char *p, const char *end) noexcept nogil:
    """A field printed with %d/%ld: an optional '-' and at least one digit."""
    if p < end and p[0] == b'-':
        p += 1
    if p >= end:
        return False
    while p < end:
        if not is_digit(p[0]):
            return False
        p += 1
    return True


cdef inline const char *skip_blanks(const char *p, const char *end) noexcept nogil:
    while p < end and (p[0] == b' ' or p[0] == b'\t'):
        p += 1
    return p


cdef int pid_stat(const char *buf, Py_ssize_t n, PidStat *out) noexcept nogil:
    """/proc/<pid>/stat: "PID (COMM) STATE field4 ... field52".

    COMM may hold spaces, parentheses and (on kernels that do not escape it) a
    newline, so it runs from the '(' after the pid to the LAST ')' of the
    buffer; fields are numbered from there. Fields 4-22 must be integers (the
    ones read, unsigned); what follows field 22 is not read, so the shorter
    lines of emulations (44 fields on SmartOS LX) are fine. Malformed: *out
    all zero."""
    cdef const char *p = buf
    cdef const char *end = buf + n
    cdef const char *te
    cdef const char *close
    cdef uint64_t *dst
    cdef PidStat s
    cdef int field
    memset(out, 0, sizeof(PidStat))
    memset(&s, 0, sizeof(PidStat))
    if n > UINT32_MAX:
        return PARSE_MALFORMED       # comm offsets are 32-bit; a stat line is < 1 KiB
    te = p
    while te < end and is_digit(te[0]):
        te += 1
    if cgs_parse_dec_u64(p, te, &s.pid) != CGS_NUM_OK or end - te < 2 or te[0] != b' ' or te[1] != b'(':
        return PARSE_MALFORMED
    p = te + 2
    close = <const char *>memrchr(p, b')', end - p)
    if close == NULL:
        return PARSE_MALFORMED
    s.comm_start = <uint32_t>(p - buf)
    s.comm_len = <uint32_t>(close - p)
    p = close + 1
    # " S " then field 4
    if end - p < 3 or p[0] != b' ' or p[2] != b' ' \
            or not (b'A' <= p[1] <= b'Z' or b'a' <= p[1] <= b'z'):
        return PARSE_MALFORMED
    s.state = p[1]
    p += 3
    for field in range(4, LAST_FIELD + 1):
        p = skip_blanks(p, end)
        te = cgs_token_end(p, end)
        if field == 4:
            dst = &s.ppid
        elif field == 14:
            dst = &s.utime
        elif field == 15:
            dst = &s.stime
        elif field == 20:
            dst = &s.num_threads
        elif field == 22:
            dst = &s.starttime
        else:
            dst = NULL
        if dst != NULL:
            if cgs_parse_dec_u64(p, te, dst) != CGS_NUM_OK:
                return PARSE_MALFORMED
        elif not signed_dec(p, te):
            return PARSE_MALFORMED
        p = te
    out[0] = s
    return PARSE_OK


cdef int pid_schedstat(const char *buf, Py_ssize_t n, Schedstat *out) noexcept nogil:
    """/proc/<pid>/schedstat: exactly three decimal numbers on one line
    ("%llu %llu %lu\\n"); anything else is malformed (*out all zero)."""
    cdef const char *p = buf
    cdef const char *end = buf + n
    cdef const char *eol = cgs_line_end(p, end)
    cdef const char *te
    cdef uint64_t v[3]
    cdef int i = 0
    memset(out, 0, sizeof(Schedstat))
    p = cgs_skip_ws(p, eol)
    while p < eol:
        if i == 3:
            return PARSE_MALFORMED
        te = cgs_token_end(p, eol)
        if cgs_parse_dec_u64(p, te, &v[i]) != CGS_NUM_OK:
            return PARSE_MALFORMED
        i += 1
        p = cgs_skip_ws(te, eol)
    if i != 3 or cgs_skip_ws(eol, end) != end:
        return PARSE_MALFORMED
    out.run_time = v[0]
    out.runqueue_time = v[1]
    out.run_periods = v[2]
    return PARSE_OK


# --- Python entry points, for tests and tools (not used on the hot path) --------------

def parse_pid_stat(bytes data):
    """{pid, comm (bytes), state (str), ppid, utime, stime, num_threads, starttime};
    ValueError if malformed."""
    cdef PidStat s
    if pid_stat(data, len(data), &s) != PARSE_OK:
        raise ValueError("malformed /proc/<pid>/stat")
    return dict(pid=s.pid, comm=data[s.comm_start:s.comm_start + s.comm_len], state=chr(s.state),
                ppid=s.ppid, utime=s.utime, stime=s.stime, num_threads=s.num_threads,
                starttime=s.starttime)


def parse_pid_schedstat(bytes data):
    """{run_time, runqueue_time, run_periods}; ValueError if malformed."""
    cdef Schedstat s
    if pid_schedstat(data, len(data), &s) != PARSE_OK:
        raise ValueError("malformed /proc/<pid>/schedstat")
    return dict(run_time=s.run_time, runqueue_time=s.runqueue_time, run_periods=s.run_periods)


def time_parse(str which, bytes data, Py_ssize_t reps):
    """Nanoseconds for `reps` parses of `data` by "stat" or "schedstat", in a
    nogil C loop (benchmarks/parse_procfs.py); ValueError if it does not parse."""
    cdef const char *buf = data
    cdef Py_ssize_t n = len(data), r
    cdef PidStat ps
    cdef Schedstat ss
    cdef timespec t0, t1
    cdef int kind = {"stat": 0, "schedstat": 1}[which]
    cdef int rc = PARSE_OK
    with nogil:
        clock_gettime(CLOCK_MONOTONIC, &t0)
        for r in range(reps):
            if kind == 0:
                rc |= pid_stat(buf, n, &ps)
            else:
                rc |= pid_schedstat(buf, n, &ss)
        clock_gettime(CLOCK_MONOTONIC, &t1)
    if rc != PARSE_OK:
        raise ValueError(f"{which}: data does not parse")
    return (t1.tv_sec - t0.tv_sec) * 1000000000 + (t1.tv_nsec - t0.tv_nsec)
