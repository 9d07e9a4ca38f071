# LoadStats (cAdvisor-v1-spec section 7): task-state counts of one cgroup, from
# netlink taskstats CGROUPSTATS_CMD_GET (cgroup v1) or from /proc/<tid>/stat of
# the tids in cgroup.threads (cgroup v2, where the kernel refuses taskstats),
# and the load smoothing of section 7.2.
from libc.stdint cimport uint16_t, uint32_t, uint64_t

cdef extern from "<math.h>" nogil:
    double exp(double x)

# The kernel's struct cgroupstats (linux/cgroupstats.h), same order and size.
cdef struct CgroupStats:
    uint64_t nr_sleeping
    uint64_t nr_running
    uint64_t nr_stopped
    uint64_t nr_uninterruptible
    uint64_t nr_io_wait

# Results: 0, a negative errno (a syscall failed, or the kernel answered
# NLMSG_ERROR), or one of these (outside the errno range).
cdef enum:
    TASKSTATS_OK = 0
    TASKSTATS_MALFORMED = -4096     # a netlink reply with bad lengths or without CGROUPSTATS_TYPE_CGROUP_STATS
    TASKSTATS_CLOSED = -4098        # the Taskstats socket was closed
    TASKSTATS_BAD_TID = -4099       # a cgroup.threads / tasks line that is not a decimal tid
    TASKSTATS_BAD_STAT = -4100      # a /proc/<tid>/stat that pid_stat refuses


cdef class Taskstats:
    """One NETLINK_GENERIC socket speaking to the TASKSTATS family. One thread
    at a time per Taskstats (the sequence number is not atomic)."""
    cdef int fd
    cdef readonly uint16_t family_id
    cdef uint32_t seq

    # CGROUPSTATS_CMD_GET for the cgroup directory open as `dirfd` (O_RDONLY |
    # O_DIRECTORY; the kernel refuses O_PATH fds). 0 and *out filled, or a
    # negative errno / TASKSTATS_* code with *out all zero.
    cdef int cgroupstats(self, int dirfd, CgroupStats *out) noexcept nogil


# Task states of the tids listed in buf[:n] (the text of cgroup.threads, or of
# a v1 "tasks" file: one decimal tid per line), each read from
# <proc_dirfd>/<tid>/stat into scratch (cap bytes, 1 KiB is plenty) and mapped
# like the kernel's cgroupstats_build. nr_io_wait is always 0 (not in /proc
# stat). A tid gone before its stat was read is counted in *vanished, not an
# error. 0, TASKSTATS_BAD_TID / TASKSTATS_BAD_STAT, or a negative errno of
# open/read (e.g. -EMFILE); on error *out is all zero. The list must be fresh:
# a v1 tasks fd kept open and re-read within a second serves a stale list
# (the v1 pidlist cache); v2's cgroup.threads is rebuilt on every read.
# Unlike taskstats, a thread sleeping in TASK_INTERRUPTIBLE|TASK_FREEZABLE
# (nanosleep, futex waits since Linux 6.1) is counted sleeping: /proc masks
# the freezable bit, cgroupstats_build compares the whole state and skips it.
cdef int count_task_states(const char *buf, Py_ssize_t n, int proc_dirfd, char *scratch, size_t cap,
                           CgroupStats *out, uint64_t *vanished) noexcept nogil


# Load smoothing (spec 7.2), an exponential moving average over samples taken
# elapsed_s apart (cAdvisor uses the CONFIGURED housekeeping interval, not the
# measured one, and computes d once per container):
#     d = load_decay(interval_s)            # exp(-interval_s / 10); 1 s -> 0.904837
#     first sample:  avg = n
#     then:          avg = avg * d + n * (1 - d)
#     LoadAverage  = int32(avg * 1000)      # truncation toward zero
# with n = nr_running (LoadAverage) or nr_uninterruptible (LoadDAverage).
cdef inline double load_decay(double elapsed_s) noexcept nogil:
    return exp(-elapsed_s / 10.0)
