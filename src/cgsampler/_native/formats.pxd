# Shared declarations of the native layer: the row layout (csrc/cgs_layout.h),
# key tables, the disk-entry sink, and the generic kernel text formats.
from libc.stdint cimport uint16_t, uint32_t, uint64_t, int64_t

cdef extern from "cgs_layout.h":
    ctypedef struct cgs_row:
        int64_t timestamp_ns
        uint64_t valid
        uint64_t fresh
        int64_t group_timestamp_ns[16]
        uint64_t cpu_usage_total
        uint64_t cpu_percpu_count
        uint64_t memory_usage
        uint64_t memory_max_usage
        uint64_t memory_cache
        uint64_t memory_rss
        uint64_t memory_working_set
        uint64_t memory_inactive_file
        uint64_t diskio_count
        uint64_t diskio_overflow
        uint64_t process_count
        uint64_t process_fd_count
        uint64_t process_fd_skipped
        uint64_t schedstat_run_time
        uint64_t schedstat_runqueue_time
        uint64_t schedstat_run_periods
        uint64_t schedstat_exited
        uint64_t load_nr_sleeping
        uint64_t load_nr_running
        uint64_t load_nr_stopped
        uint64_t load_nr_uninterruptible
        uint64_t load_nr_io_wait
        uint64_t load_average
        uint64_t load_d_average
        uint64_t network_iface_count
        uint64_t network_iface_overflow
        uint64_t tcp[11]
        uint64_t tcp6[11]
        uint64_t udp[4]
        uint64_t udp6[4]
    ctypedef struct cgs_disk_entry:
        uint32_t major
        uint32_t minor
        uint16_t list "list"
        uint16_t op
        uint32_t pad
        uint64_t value
    enum:
        CGS_CPU, CGS_CFS, CGS_PERCPU, CGS_MEMORY, CGS_DISKIO, CGS_PROCESSES, CGS_SCHEDSTAT, CGS_LOAD,
        CGS_NETWORK, CGS_TCP, CGS_UDP, CGS_NGROUPS
    enum:
        CGS_LIST_SERVICE_BYTES, CGS_LIST_SERVICED
    enum:
        CGS_OP_COUNT, CGS_OP_READ, CGS_OP_WRITE, CGS_OP_SYNC, CGS_OP_ASYNC, CGS_OP_DISCARD, CGS_OP_TOTAL

cdef extern from "cgs_parse.h":
    uint64_t CGS_U64_MAX
    int CGS_NUM_OK
    int cgs_parse_u64(const char *p, const char *end, uint64_t *out) noexcept nogil
    int cgs_is_space(char c) noexcept nogil
    uint64_t cgs_scale(uint64_t v, uint64_t scale) noexcept nogil
    const char *cgs_line_end(const char *p, const char *end) noexcept nogil
    const char *cgs_skip_spaces(const char *p, const char *end) noexcept nogil
    const char *cgs_token_end(const char *p, const char *end) noexcept nogil

# Parser results.
cdef enum:
    PARSE_OK = 0
    PARSE_MALFORMED = -1

# One "key value" line of a flat keyed file mapped to a row column.
cdef struct KeyEntry:
    const char *key
    Py_ssize_t keylen
    uint32_t offset        # byte offset of the uint64 column in the row
    uint64_t scale         # unit conversion applied once, here (1 = none)

cdef struct KeyTable:
    KeyEntry *entries
    int n

# Where per-device parsers append their entries (one container's block of a row).
cdef struct DiskSink:
    cgs_disk_entry *entries
    uint64_t cap
    uint64_t count
    uint64_t overflow

cdef int single_value(const char *buf, Py_ssize_t n, uint64_t *out) noexcept nogil
cdef int flat_keyed(const char *buf, Py_ssize_t n, const KeyTable *table, char *row,
                    uint64_t *seen) noexcept nogil
cdef int count_pids(const char *buf, Py_ssize_t n, uint64_t *count) noexcept nogil
cdef inline void disk_sink_init(DiskSink *sink, cgs_disk_entry *entries, uint64_t cap) noexcept nogil:
    sink.entries = entries
    sink.cap = cap
    sink.count = 0
    sink.overflow = 0

cdef cgs_disk_entry *disk_sink_for(bytes data, DiskSink *sink) except NULL
cdef void disk_append(DiskSink *sink, uint32_t major, uint32_t minor, uint16_t lst,
                      uint16_t op, uint64_t value) noexcept nogil
cdef int parse_devnum(const char *p, const char *end, uint32_t *major, uint32_t *minor) noexcept nogil

# I/O shared by the /proc readers outside the engine (namespaces, diskstats).
cdef Py_ssize_t read_seq_file(int fd, char **buf, Py_ssize_t *cap, Py_ssize_t limit) noexcept nogil
