from cgsampler._native.formats cimport DiskSink

cdef int io_stat(const char *buf, Py_ssize_t n, DiskSink *sink) noexcept nogil
