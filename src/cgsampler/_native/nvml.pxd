# The NVML layer's C view (csrc/cgs_nvml.h) and the Nvml class, for modules that
# sample accelerators inside their own nogil sweep.
from libc.stdint cimport uint32_t, int32_t, uint64_t

cdef extern from "cgs_nvml.h":
    ctypedef struct cgs_nvml_device_st
    ctypedef cgs_nvml_device_st *cgs_nvml_device
    ctypedef struct cgs_nvml_lib:
        void *dl
        void *shutdown
        void *compute_procs
        void *graphics_procs
    ctypedef struct cgs_nvml_dev:
        cgs_nvml_device handle
        int handle_error
        unsigned int index, minor, parent, flags
        int memory_v1
        int name_error, uuid_error, minor_error, mig_error
        char name[96]
        char uuid[96]
    ctypedef struct cgs_nvml_row:
        uint32_t index
        uint32_t minor
        uint32_t parent
        uint32_t flags
        uint64_t memory_total
        uint64_t memory_used
        uint64_t memory_free
        uint64_t memory_reserved
        uint32_t duty_cycle
        uint32_t memory_duty_cycle
        uint32_t valid
        int32_t memory_error
        int32_t utilization_error
        uint32_t pad
    ctypedef struct cgs_nvml_process:
        unsigned int pid
        unsigned long long used_gpu_memory
        unsigned int gpu_instance_id
        unsigned int compute_instance_id

cdef extern from "<pthread.h>" nogil:
    ctypedef struct pthread_mutex_t:
        pass
    int pthread_mutex_init(pthread_mutex_t *m, const void *attr)
    int pthread_mutex_lock(pthread_mutex_t *m)
    int pthread_mutex_unlock(pthread_mutex_t *m)
    int pthread_mutex_destroy(pthread_mutex_t *m)


cdef class Nvml:
    cdef cgs_nvml_lib lib
    cdef pthread_mutex_t mu          # held by load, close, sample, processes: never taken with the GIL
    cdef cgs_nvml_dev *devs
    cdef unsigned int ndev
    cdef bint initialized
    cdef bint leaked                 # an init thread was abandoned: never dlclose
    cdef cgs_nvml_process *procbuf
    cdef unsigned int proccap
    cdef readonly str status
    cdef readonly str detail
    cdef readonly str path
    cdef readonly int init_return
    cdef readonly list names
    cdef readonly list uuids
    cdef readonly list minors

    cdef void _release(self)
    cdef void _lock(self)
    cdef void _unlock(self)
    # sample_into / processes_into do not lock: a caller using them directly
    # (the Sampler's own nogil sweep) must not run them concurrently with
    # load() or close().
    cdef int sample_into(self, cgs_nvml_row *rows, Py_ssize_t cap) noexcept nogil
    cdef int processes_into(self, unsigned int device, bint graphics, unsigned int *count) noexcept nogil
