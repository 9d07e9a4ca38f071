# FsSampler, shared so a sweep can call sample_row() inside its own nogil block.
from libc.stdint cimport uint32_t, uint64_t
from cgsampler._native.diskstats cimport DiskStat

cdef enum:
    FS_NIO = 11                 # the classic diskstats counters FsStats carries

# One filesystem in one sample; cgsampler.filesystems.FS_DTYPE mirrors it.
cdef struct FsEntry:
    uint64_t capacity
    uint64_t usage
    uint64_t available
    uint64_t inodes
    uint64_t inodes_free
    uint64_t io[FS_NIO]         # reads_completed ... weighted_io_time
    uint64_t valid              # FS_STATFS | FS_DISKSTATS


cdef class FsSampler:
    cdef int fd
    cdef char *buf
    cdef Py_ssize_t bufcap
    cdef Py_ssize_t nfs, ndisk, history
    cdef const char **paths
    cdef uint32_t *majors
    cdef uint32_t *minors
    cdef Py_ssize_t *hint          # index of each filesystem's diskstats line last time
    cdef FsEntry *fs_data
    cdef DiskStat *ds_data
    cdef uint64_t *count_data
    cdef uint64_t *over_data
    cdef bint busy
    cdef bint check_devices        # skip a mount point whose st_dev is not its partition's
    cdef object _paths             # the bytes objects `paths` points into
    cdef readonly object fs, diskstats, disk_count, disk_overflow, mountpoints
    cdef readonly uint64_t read_errors, parse_errors, statfs_errors, moved_errors
    cdef readonly int diskstats_errno

    cdef _enter(self)
    cdef Py_ssize_t read_diskstats(self) noexcept nogil
    # Row t (0 <= t < history, unchecked) of every array; the caller holds
    # `busy` (or the sweep's lock). Returns the filesystems statfs answered for.
    cdef Py_ssize_t sample_row(self, Py_ssize_t t) noexcept nogil
