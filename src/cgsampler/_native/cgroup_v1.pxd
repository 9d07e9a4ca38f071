from libc.stdint cimport uint16_t, uint64_t
from cgsampler._native.formats cimport DiskSink

cdef int cpuacct_usage_percpu(const char *buf, Py_ssize_t n, uint64_t *out, uint64_t cap,
                              uint64_t *count, uint64_t *overflow) noexcept nogil
cdef int blkio_rwstat(const char *buf, Py_ssize_t n, uint16_t lst, DiskSink *sink) noexcept nogil
