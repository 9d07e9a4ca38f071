/* The C view of one history row (schema.STATS_DTYPE) and one disk entry
 * (schema.DISK_ENTRY_DTYPE). Field order and types must match schema.py exactly;
 * tests/test_schema.py compares every offset. All fields are 8-byte integers so
 * the layout has no padding. */
#ifndef CGS_LAYOUT_H
#define CGS_LAYOUT_H
#include <stdint.h>

typedef struct {
    int64_t  timestamp_ns;
    uint64_t valid;
    uint64_t fresh;                     /* groups read in this sweep; the others were carried */
    int64_t  group_timestamp_ns[16];     /* per group bit: when its values were read */
    uint64_t cpu_usage_total;
    uint64_t cpu_user;
    uint64_t cpu_system;
    uint64_t cpu_cfs_periods;
    uint64_t cpu_cfs_throttled_periods;
    uint64_t cpu_cfs_throttled_time;
    uint64_t cpu_percpu_count;
    uint64_t memory_usage;
    uint64_t memory_max_usage;
    uint64_t memory_cache;
    uint64_t memory_rss;
    uint64_t memory_swap;
    uint64_t memory_mapped_file;
    uint64_t memory_working_set;
    uint64_t memory_failcnt;
    uint64_t memory_inactive_file;
    uint64_t memory_pgfault;
    uint64_t memory_pgmajfault;
    uint64_t diskio_count;
    uint64_t diskio_overflow;
    uint64_t process_count;
    uint64_t process_fd_count;
    uint64_t process_fd_skipped;
    uint64_t schedstat_run_time;
    uint64_t schedstat_runqueue_time;
    uint64_t schedstat_run_periods;
    uint64_t schedstat_exited;
    uint64_t load_nr_sleeping;
    uint64_t load_nr_running;
    uint64_t load_nr_stopped;
    uint64_t load_nr_uninterruptible;
    uint64_t load_nr_io_wait;
    uint64_t load_average;
    uint64_t load_d_average;
    uint64_t network_iface_count;
    uint64_t network_iface_overflow;
    uint64_t tcp[11];                   /* TcpStat of net/tcp, kernel state order (01..0B) */
    uint64_t tcp6[11];
    uint64_t udp[4];                    /* UdpStat: listen, dropped, rx_queued, tx_queued */
    uint64_t udp6[4];
} cgs_row;

typedef struct {
    uint32_t major;
    uint32_t minor;
    uint16_t list;   /* CGS_LIST_* : which DiskIoStats list */
    uint16_t op;     /* CGS_OP_* : which key of PerDiskStats.stats */
    uint32_t pad;
    uint64_t value;
} cgs_disk_entry;

/* Groups: one valid bit each in cgs_row.valid. */
enum {
    CGS_CPU = 1, CGS_CFS = 2, CGS_PERCPU = 4, CGS_MEMORY = 8,
    CGS_DISKIO = 16, CGS_PROCESSES = 32, CGS_SCHEDSTAT = 64, CGS_LOAD = 128,
    CGS_NETWORK = 256, CGS_TCP = 512, CGS_UDP = 1024,
};
#define CGS_NGROUPS 16

/* DiskIoStats lists, in the seed's field order. */
enum {
    CGS_LIST_SERVICE_BYTES = 0, CGS_LIST_SERVICED, CGS_LIST_QUEUED, CGS_LIST_SECTORS,
    CGS_LIST_SERVICE_TIME, CGS_LIST_WAIT_TIME, CGS_LIST_MERGED, CGS_LIST_TIME,
};

/* Operation keys; CGS_OP_COUNT is the kernel's op-less value, named "Count" by cAdvisor. */
enum {
    CGS_OP_COUNT = 0, CGS_OP_READ, CGS_OP_WRITE, CGS_OP_SYNC, CGS_OP_ASYNC,
    CGS_OP_DISCARD, CGS_OP_TOTAL,
};

#endif
