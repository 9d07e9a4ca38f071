# Parsers of a process's /proc/<pid>/stat and /proc/<pid>/schedstat.
from libc.stdint cimport uint32_t, uint64_t

# The fields of /proc/<pid>/stat that task-state counting and the process
# group need (numbers as the kernel prints them: times in clock ticks, USER_HZ).
cdef struct PidStat:
    uint64_t pid            # field 1
    uint64_t ppid           # 4
    uint64_t utime          # 14  ticks
    uint64_t stime          # 15  ticks
    uint64_t num_threads    # 20
    uint64_t starttime      # 22  ticks after boot
    uint32_t comm_start     # comm (field 2) is buf[comm_start : comm_start + comm_len],
    uint32_t comm_len       # without its parentheses
    char state              # field 3: R S D Z T t X I ...

# /proc/<pid>/schedstat (cAdvisor's CpuSchedstat, per process).
cdef struct Schedstat:
    uint64_t run_time       # ns on a CPU
    uint64_t runqueue_time  # ns waiting on a run queue
    uint64_t run_periods    # timeslices run

cdef int pid_stat(const char *buf, Py_ssize_t n, PidStat *out) noexcept nogil
cdef int pid_schedstat(const char *buf, Py_ssize_t n, Schedstat *out) noexcept nogil
