"""FsSampler: statfs() of the host's filesystems and /proc/diskstats, one ring
row per sample, in one nogil block. Semantics: ../shared/reference/
cadvisor-v1-spec.md 11.1 (FsStats of the root container) and 11.4 (diskstats);
record layouts: cgsampler.filesystems (FS_DTYPE, DISKSTAT_DTYPE)."""
import os

cimport numpy as cnp
import numpy as np
from libc.errno cimport errno
from libc.stdint cimport uint32_t, uint64_t
from libc.stdlib cimport malloc, calloc, free
from libc.string cimport memcpy, memset
from posix.fcntl cimport open as c_open, O_RDONLY, O_CLOEXEC
from posix.unistd cimport close
from posix.time cimport clock_gettime, timespec, CLOCK_MONOTONIC

from cgsampler._native.diskstats cimport DiskStat, diskstats
from cgsampler._native.formats cimport PARSE_OK, read_seq_file
from cgsampler.filesystems import FS_DTYPE, DISKSTAT_DTYPE, FS_STATFS as _FS_STATFS, FS_DISKSTATS as _FS_DISKSTATS

cnp.import_array()

cdef extern from "<sys/vfs.h>" nogil:
    # Linux statfs(2); field widths differ per ABI, the C compiler knows them.
    ctypedef struct struct_statfs "struct statfs":
        unsigned long long f_bsize
        unsigned long long f_blocks
        unsigned long long f_bfree
        unsigned long long f_bavail
        unsigned long long f_files
        unsigned long long f_ffree
        unsigned long long f_frsize
    int c_statfs "statfs"(const char *path, struct_statfs *buf)

cdef extern from "<sys/stat.h>" nogil:
    ctypedef struct struct_stat "struct stat":
        unsigned long long st_dev
    int c_stat "stat"(const char *path, struct_stat *buf)

cdef extern from "<sys/sysmacros.h>" nogil:
    unsigned int dev_major "major"(unsigned long long dev)
    unsigned int dev_minor "minor"(unsigned long long dev)

cdef enum:
    NIO = FS_NIO
    FS_STATFS = 1
    FS_DISKSTATS = 2
    INITIAL_BUF = 16384
    MAX_DISKSTATS_BYTES = 64 << 20   # 400,000 lines: past it the file is not diskstats (a fake
                                     # root's /dev/zero would otherwise take every byte of memory)

assert FS_STATFS == _FS_STATFS and FS_DISKSTATS == _FS_DISKSTATS

cdef class FsSampler:
    """Samples F filesystems and /proc/diskstats into rings of `history` rows.

    Arrays (row t is written by sample(t)):
      fs             [T, F] FS_DTYPE, entry i for mount point i
      diskstats      [T, K] DISKSTAT_DTYPE, the first disk_count[t] entries valid
      disk_count     [T] u8
      disk_overflow  [T] u8: lines past K (raise max_disks)
    Entry i takes the counters of the first stored diskstats line with its
    major:minor (FS_DISKSTATS set); none (overlay, tmpfs, btrfs, or a line past
    K) leaves them 0. A failed statfs zeroes that entry's statfs values and
    clears its FS_STATFS bit only; so does a mount point whose st_dev is no
    longer the partition's major:minor (unmounted, or another mount on top
    since the table was read: its statfs would describe another filesystem;
    check_devices=False turns that check off, for tests that statfs one real
    mount point under made-up device numbers).
    Counters: read_errors / parse_errors (diskstats reads that failed / files
    that did not parse: that row has no disks), statfs_errors, moved_errors
    (mount points that showed another device); diskstats_errno
    is the errno of the last failed open or read of the diskstats file (0: none).
    Not for concurrent use: one sample() (or timing loop) at a time.
    """
    def __cinit__(self):
        self.fd = -1

    def __init__(self, mountpoints, majors, minors, Py_ssize_t history,
                 diskstats_path="/proc/diskstats", Py_ssize_t max_disks=256, bint check_devices=True):
        cdef Py_ssize_t i
        cdef FsEntry probe
        if self._paths is not None:
            raise RuntimeError("FsSampler is already initialised")
        if FS_DTYPE.itemsize != sizeof(FsEntry) or DISKSTAT_DTYPE.itemsize != sizeof(DiskStat):
            raise RuntimeError("FS_DTYPE / DISKSTAT_DTYPE do not match the C structs")
        if (FS_DTYPE.fields["valid"][1] != <char *>&probe.valid - <char *>&probe
                or FS_DTYPE.fields["reads_completed"][1] != <char *>&probe.io[0] - <char *>&probe):
            raise RuntimeError("FS_DTYPE field offsets do not match FsEntry")
        paths = [os.fsencode(p) for p in mountpoints]
        majors, minors = list(majors), list(minors)
        if not (len(paths) == len(majors) == len(minors)):
            raise ValueError("mountpoints, majors and minors must have the same length")
        if history < 1 or max_disks < 1:
            raise ValueError("history and max_disks must be >= 1")
        for p in paths:
            if not p or b"\0" in p:
                raise ValueError(f"bad mount point {p!r}")
        self.nfs, self.ndisk, self.history = len(paths), max_disks, history
        self.check_devices = check_devices
        self._paths = paths
        self.mountpoints = tuple(paths)
        n = max(self.nfs, 1)
        self.paths = <const char **>calloc(n, sizeof(char *))
        self.majors = <uint32_t *>calloc(n, sizeof(uint32_t))
        self.minors = <uint32_t *>calloc(n, sizeof(uint32_t))
        self.hint = <Py_ssize_t *>calloc(n, sizeof(Py_ssize_t))
        self.buf = <char *>malloc(INITIAL_BUF)
        if not (self.paths and self.majors and self.minors and self.hint and self.buf):
            raise MemoryError()
        self.bufcap = INITIAL_BUF
        for i in range(self.nfs):
            self.paths[i] = <bytes>paths[i]
            self.majors[i] = majors[i]
            self.minors[i] = minors[i]

        self.fs = np.zeros((history, self.nfs), dtype=FS_DTYPE)
        self.diskstats = np.zeros((history, max_disks), dtype=DISKSTAT_DTYPE)
        self.disk_count = np.zeros(history, dtype=np.uint64)
        self.disk_overflow = np.zeros(history, dtype=np.uint64)
        self.fs_data = <FsEntry *>cnp.PyArray_DATA(self.fs)
        self.ds_data = <DiskStat *>cnp.PyArray_DATA(self.diskstats)
        self.count_data = <uint64_t *>cnp.PyArray_DATA(self.disk_count)
        self.over_data = <uint64_t *>cnp.PyArray_DATA(self.disk_overflow)

        # A missing diskstats file is "not collected" (no disks in any row), not an error.
        cdef bytes dpath = os.fsencode(diskstats_path)
        self.fd = c_open(dpath, O_RDONLY | O_CLOEXEC)
        if self.fd < 0:
            self.diskstats_errno = errno

    def __dealloc__(self):
        if self.fd >= 0:
            close(self.fd)
        free(self.paths)
        free(self.majors)
        free(self.minors)
        free(self.hint)
        free(self.buf)

    @property
    def max_disks(self):
        """Diskstats lines kept per sample (more are counted in disk_overflow)."""
        return self.ndisk

    @property
    def diskstats_open(self):
        """True while the diskstats fd is held (also after a failed read)."""
        return self.fd >= 0

    def close(self):
        """Closes the diskstats fd; later samples have no disks."""
        self._enter()
        if self.fd >= 0:
            close(self.fd)
            self.fd = -1
        self.busy = False

    cdef _enter(self):
        # Under the GIL, so two Python threads cannot both pass.
        if self.paths == NULL:
            raise RuntimeError("FsSampler is not initialised")
        if self.busy:
            raise RuntimeError("FsSampler is already sampling in another thread")
        self.busy = True

    cdef Py_ssize_t read_diskstats(self) noexcept nogil:
        """Bytes of the diskstats file into buf (grown to fit), or -errno
        (-EFBIG past MAX_DISKSTATS_BYTES)."""
        return read_seq_file(self.fd, &self.buf, &self.bufcap, MAX_DISKSTATS_BYTES)

    cdef Py_ssize_t sample_row(self, Py_ssize_t t) noexcept nogil:
        """Row t of every array; returns the filesystems whose statfs worked."""
        cdef FsEntry *row = self.fs_data + t * self.nfs
        cdef FsEntry *e
        cdef DiskStat *ds = self.ds_data + t * self.ndisk
        cdef DiskStat *d
        cdef uint64_t count = 0, over = 0, frsize
        cdef Py_ssize_t n, i, j, ok = 0
        cdef struct_statfs s
        cdef struct_stat st
        if self.fd >= 0:
            n = self.read_diskstats()
            if n < 0:
                self.read_errors += 1
                self.diskstats_errno = <int>-n
            elif diskstats(self.buf, n, ds, <uint64_t>self.ndisk, &count, &over) != PARSE_OK:
                self.parse_errors += 1
        self.count_data[t] = count
        self.over_data[t] = over
        for i in range(self.nfs):
            e = row + i
            e.valid = 0
            if self.check_devices and c_stat(self.paths[i], &st) == 0 and (dev_major(st.st_dev) != self.majors[i]
                                                    or dev_minor(st.st_dev) != self.minors[i]):
                e.capacity = e.usage = e.available = e.inodes = e.inodes_free = 0
                self.moved_errors += 1
            elif c_statfs(self.paths[i], &s) == 0:
                # f_frsize is 0 on kernels before 2.6; f_bsize is then the unit.
                frsize = s.f_frsize if s.f_frsize else s.f_bsize
                e.capacity = s.f_blocks * frsize
                e.usage = (s.f_blocks - s.f_bfree) * frsize
                e.available = s.f_bavail * frsize
                e.inodes = s.f_files
                e.inodes_free = s.f_ffree
                e.valid = FS_STATFS
                ok += 1
            else:
                e.capacity = e.usage = e.available = e.inodes = e.inodes_free = 0
                self.statfs_errors += 1
            # Join on major:minor; the line found last time is tried first.
            j = self.hint[i]
            if not (j < <Py_ssize_t>count and ds[j].major == self.majors[i] and ds[j].minor == self.minors[i]):
                j = 0
                while j < <Py_ssize_t>count and not (ds[j].major == self.majors[i] and ds[j].minor == self.minors[i]):
                    j += 1
            if j < <Py_ssize_t>count:
                self.hint[i] = j
                memcpy(e.io, &ds[j].reads_completed, NIO * sizeof(uint64_t))
                e.valid |= FS_DISKSTATS
            else:
                memset(e.io, 0, NIO * sizeof(uint64_t))
        return ok

    def sample(self, Py_ssize_t t):
        """Fills row t (0 <= t < history) of fs, diskstats, disk_count and
        disk_overflow; returns how many filesystems statfs() answered for."""
        cdef Py_ssize_t ok
        if t < 0 or t >= self.history:
            raise IndexError(f"row {t} is outside the history of {self.history} rows")
        self._enter()
        with nogil:
            ok = self.sample_row(t)
        self.busy = False
        return ok

    def time_sample(self, Py_ssize_t reps):
        """Nanoseconds for `reps` samples (rows 0, 1, ... cyclically) in a nogil loop."""
        cdef timespec t0, t1
        cdef Py_ssize_t r
        self._enter()
        with nogil:
            clock_gettime(CLOCK_MONOTONIC, &t0)
            for r in range(reps):
                self.sample_row(r % self.history)
            clock_gettime(CLOCK_MONOTONIC, &t1)
        self.busy = False
        return (t1.tv_sec - t0.tv_sec) * 1000000000 + (t1.tv_nsec - t0.tv_nsec)

    def time_floor(self, Py_ssize_t reps):
        """Nanoseconds for `reps` rounds of the same syscalls sample() makes
        (pread of diskstats to the end, stat and statfs of every mount point)
        with no parsing, joining or stores: the floor sample() is measured against."""
        cdef timespec t0, t1
        cdef Py_ssize_t r, i
        cdef struct_statfs s
        cdef struct_stat st
        self._enter()
        with nogil:
            clock_gettime(CLOCK_MONOTONIC, &t0)
            for r in range(reps):
                if self.fd >= 0:
                    self.read_diskstats()
                for i in range(self.nfs):
                    if self.check_devices:
                        c_stat(self.paths[i], &st)
                    c_statfs(self.paths[i], &s)
            clock_gettime(CLOCK_MONOTONIC, &t1)
        self.busy = False
        return (t1.tv_sec - t0.tv_sec) * 1000000000 + (t1.tv_nsec - t0.tv_nsec)
