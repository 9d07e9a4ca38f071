# Parser of /proc/diskstats.
from libc.stdint cimport uint32_t, uint64_t

# One line of /proc/diskstats. 184 bytes, no padding. The 17 counters are
# consecutive uint64 fields in the kernel's column order (the parser indexes
# them from &reads_completed); bit i of `present` is set when the line printed
# counter i (DISK_* below), so an absent counter (null) is told from a 0.
cdef struct DiskStat:
    uint32_t major
    uint32_t minor
    uint32_t present
    uint32_t pad
    char name[32]                 # DISK_NAME_LEN: at most 31 bytes, NUL-padded
    uint64_t reads_completed      # 0
    uint64_t reads_merged         # 1
    uint64_t sectors_read         # 2   512-byte sectors
    uint64_t read_time            # 3   ms
    uint64_t writes_completed     # 4
    uint64_t writes_merged        # 5
    uint64_t sectors_written      # 6
    uint64_t write_time           # 7   ms
    uint64_t io_in_progress       # 8   gauge
    uint64_t io_time              # 9   ms
    uint64_t weighted_io_time     # 10  ms
    uint64_t discards_completed   # 11  (4.18+)
    uint64_t discards_merged      # 12
    uint64_t sectors_discarded    # 13
    uint64_t discard_time         # 14  ms
    uint64_t flushes_completed    # 15  (5.5+)
    uint64_t flush_time           # 16  ms

cdef enum:
    DISK_COUNTERS = 17
    DISK_CLASSIC = 0x7FF          # the 11 counters every whole-disk line has had since 2.6
    DISK_SHORT_PARTITION = 0x55   # 2.6.0-2.6.24 partition lines: reads, sectors read, writes, sectors written
    DISK_DISCARD = 0x7800         # 4.18+
    DISK_FLUSH = 0x18000          # 5.5+

cdef int diskstats(const char *buf, Py_ssize_t n, DiskStat *out, uint64_t cap,
                   uint64_t *count, uint64_t *overflow) noexcept nogil
