# Readers of a cgroup's processes' /proc files: fd counts and schedstat sums.
from libc.stdint cimport uint32_t, uint64_t
from cgsampler._native.procpid cimport Schedstat

# One process's last schedstat, kept between sweeps so that a process that
# leaves (exits, or moves to another cgroup) keeps its share in the sums.
cdef struct SchedEntry:
    uint32_t pid
    uint32_t pad
    Schedstat last

cdef struct SchedCache:
    SchedEntry *entries          # sorted by pid
    SchedEntry *spare            # the next sweep's entries (swapped): no allocation in steady state
    uint64_t n
    uint64_t cap                 # of both arrays
    Schedstat exited             # sums of the processes that left
    uint64_t nexited

cdef struct PidList:
    uint32_t *pids
    uint64_t n
    uint64_t cap

cdef int pid_list(const char *buf, Py_ssize_t n, PidList *out) noexcept nogil
cdef int count_fds(int proc_dirfd, int sizes_are_counts, const PidList *pids, uint64_t *fds,
                   uint64_t *skipped) noexcept nogil
cdef int fd_sizes_are_counts(int proc_dirfd) noexcept nogil
cdef int schedstat_sum(int proc_dirfd, const PidList *pids, SchedCache *cache, Schedstat *out) noexcept nogil
cdef void sched_cache_free(SchedCache *cache) noexcept nogil
