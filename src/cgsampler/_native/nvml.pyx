# distutils: libraries = dl pthread
"""NVIDIA GPUs through the NVML C API, loaded at run time (never linked).

    nv = Nvml()
    if nv.load():                     # path: argument, else $CGSAMPLER_NVML_LIBRARY, else libnvidia-ml.so.1
        out = np.zeros(nv.device_count, ACCELERATOR_DTYPE)
        nv.sample(out)                # nogil inside; no Python object per sample
        nv.processes(0)               # PROCESS_DTYPE array: pid, used_gpu_memory, ...
    nv.status                         # "ok", "not found", "missing symbol X", "init timed out", ...
    nv.close()                        # nvmlShutdown

Init (nvmlInit_v2, device count, handles, names, UUIDs, minors, MIG instances)
runs once in a helper thread with a timeout. Each sample row carries the NVML
return code of each call, so a lost GPU or an unsupported query reads as a code
in that device's row, never as an exception or a crash. Facts:
../shared/reference/peers-and-anchors.md section 6."""
import os

import numpy as np
cimport numpy as cnp
from libc.stdlib cimport free, realloc
from libc.stdint cimport uint32_t, int32_t, uint64_t
from libc.string cimport memcpy

cnp.import_array()

cdef extern from "cgs_nvml.h" nogil:
    enum:
        CGS_NVML_SUCCESS
        CGS_NVML_ERROR_UNINITIALIZED
        CGS_NVML_ERROR_INVALID_ARGUMENT
        CGS_NVML_ERROR_NOT_SUPPORTED
        CGS_NVML_ERROR_NO_PERMISSION
        CGS_NVML_ERROR_INSUFFICIENT_SIZE
        CGS_NVML_ERROR_DRIVER_NOT_LOADED
        CGS_NVML_ERROR_LIBRARY_NOT_FOUND
        CGS_NVML_ERROR_FUNCTION_NOT_FOUND
        CGS_NVML_ERROR_GPU_IS_LOST
        CGS_NVML_OPEN_OK
        CGS_NVML_OPEN_NOT_FOUND
        CGS_NVML_OPEN_MISSING_SYMBOL
        CGS_NVML_START_OK
        CGS_NVML_START_INIT_FAILED
        CGS_NVML_START_COUNT_FAILED
        CGS_NVML_START_TIMED_OUT
        CGS_NVML_START_NO_THREAD
        CGS_NVML_F_MIG_ENABLED
        CGS_NVML_F_MIG_INSTANCE
        CGS_NVML_V_MEMORY
        CGS_NVML_V_MEMORY_V2
        CGS_NVML_V_UTILIZATION
        CGS_NVML_MAX_DEVICES
        CGS_NVML_PROCS_NONE
        CGS_NVML_PROCS_V1
        CGS_NVML_PROCS_V2
    unsigned int CGS_NVML_NONE
    ctypedef struct cgs_nvml_start_job:
        cgs_nvml_lib lib
        int init_ret, count_ret
        unsigned int count
        unsigned int ndev
        cgs_nvml_dev devs[1]
    int cgs_nvml_open(const char *path, cgs_nvml_lib *lib, char *detail, size_t detail_len)
    int cgs_nvml_start(const cgs_nvml_lib *lib, long timeout_ms, cgs_nvml_start_job **out)
    int cgs_nvml_sample(const cgs_nvml_lib *lib, const cgs_nvml_dev *devs, unsigned int n,
                        cgs_nvml_row *rows)
    int cgs_nvml_processes(const cgs_nvml_lib *lib, cgs_nvml_device h, int graphics,
                           cgs_nvml_process *buf, unsigned int cap, unsigned int *count)
    const char *cgs_nvml_error_string "cgs_nvml_error_string_of"(const cgs_nvml_lib *lib, int code)
    int cgs_nvml_call_shutdown(const cgs_nvml_lib *lib)
    void cgs_nvml_close_dl(cgs_nvml_lib *lib)
    int cgs_nvml_procs_layout(const cgs_nvml_lib *lib, int graphics)

cdef extern from *:
    """
    static const char *cgs_nvml_error_string_of(const cgs_nvml_lib *lib, int code) {
        const char *s = lib->error_string ? lib->error_string(code) : NULL;
        return s ? s : "";
    }
    static int cgs_nvml_call_shutdown(const cgs_nvml_lib *lib) {
        return lib->shutdown ? lib->shutdown() : CGS_NVML_ERROR_UNINITIALIZED;
    }
    static void cgs_nvml_close_dl(cgs_nvml_lib *lib) {
        if (lib->dl) dlclose(lib->dl);
        memset(lib, 0, sizeof(*lib));
    }
    static int cgs_nvml_procs_layout(const cgs_nvml_lib *lib, int graphics) {
        return graphics ? lib->graphics_procs_layout : lib->compute_procs_layout;
    }
    """

DEFAULT_LIBRARY = "libnvidia-ml.so.1"
LIBRARY_ENV = "CGSAMPLER_NVML_LIBRARY"

# nvmlReturn_t codes used in rows and exceptions.
SUCCESS = 0
ERROR_UNINITIALIZED = 1
ERROR_INVALID_ARGUMENT = 2
ERROR_NOT_SUPPORTED = 3
ERROR_NO_PERMISSION = 4
ERROR_NOT_FOUND = 6
ERROR_INSUFFICIENT_SIZE = 7
ERROR_DRIVER_NOT_LOADED = 9
ERROR_TIMEOUT = 10
ERROR_LIBRARY_NOT_FOUND = 12
ERROR_FUNCTION_NOT_FOUND = 13
ERROR_GPU_IS_LOST = 15
ERROR_ARGUMENT_VERSION_MISMATCH = 25
ERROR_UNKNOWN = 999

# Bits of ACCELERATOR_DTYPE["valid"].
VALID_MEMORY = CGS_NVML_V_MEMORY           # memory_total/used/free hold this sample's values
VALID_MEMORY_V2 = CGS_NVML_V_MEMORY_V2     # ... from nvmlDeviceGetMemoryInfo_v2 (used excludes reserved)
VALID_UTILIZATION = CGS_NVML_V_UTILIZATION # duty_cycle / memory_duty_cycle hold this sample's values
# Bits of ACCELERATOR_DTYPE["flags"].
FLAG_MIG_ENABLED = CGS_NVML_F_MIG_ENABLED   # a GPU in MIG mode (its instances follow it)
FLAG_MIG_INSTANCE = CGS_NVML_F_MIG_INSTANCE # a MIG instance; "parent" is its GPU's row
NONE = CGS_NVML_NONE                        # no minor / no parent

# One device's sample: the layout of cgs_nvml_row (csrc/cgs_nvml.h), 72 bytes.
ACCELERATOR_DTYPE = np.dtype([
    ("index", np.uint32),              # NVML index (a MIG instance: its index under the GPU)
    ("minor", np.uint32),              # N of /dev/nvidiaN (the devices-cgroup "c 195:N"); NONE if unknown
    ("parent", np.uint32),             # MIG instance: row of its GPU; else NONE
    ("flags", np.uint32),              # FLAG_*
    ("memory_total", np.uint64),       # bytes
    ("memory_used", np.uint64),        # bytes; _v2: excludes reserved (see VALID_MEMORY_V2)
    ("memory_free", np.uint64),        # bytes
    ("memory_reserved", np.uint64),    # bytes; 0 without _v2
    ("duty_cycle", np.uint32),         # utilization.gpu: percent busy over NVML's last window
    ("memory_duty_cycle", np.uint32),  # utilization.memory, percent
    ("valid", np.uint32),              # VALID_*
    ("memory_error", np.int32),        # NVML code of the memory call, 0 = ok
    ("utilization_error", np.int32),   # NVML code of the utilization call, 0 = ok
    ("pad", np.uint32),
])

# One running process, the layout of the _v2/_v3 process calls (24 bytes).
PROCESS_DTYPE = np.dtype({
    "names": ["pid", "used_gpu_memory", "gpu_instance_id", "compute_instance_id"],
    "formats": [np.uint32, np.uint64, np.uint32, np.uint32],
    "offsets": [0, 8, 16, 20],
    "itemsize": 24,
})
VALUE_NOT_AVAILABLE = 0xFFFFFFFFFFFFFFFF    # used_gpu_memory NVML could not tell
MAX_PROCESSES = 1 << 16     # a process list asking more room than this is an error, not an allocation

_INIT_STATUS = {
    CGS_NVML_ERROR_DRIVER_NOT_LOADED: "driver not loaded",
    CGS_NVML_ERROR_NO_PERMISSION: "no permission",
    CGS_NVML_ERROR_LIBRARY_NOT_FOUND: "not found",
}


cdef object _text(char *s, int err):
    return s.decode("utf-8", "replace") if err == CGS_NVML_SUCCESS else None


class NvmlError(Exception):
    """An NVML call off the hot path failed; .code is the nvmlReturn_t."""

    def __init__(self, code, message):
        super().__init__(f"{message} (NVML error {code})")
        self.code = code


def row_layout():
    """Byte offsets of cgs_nvml_row's fields, to check ACCELERATOR_DTYPE against."""
    cdef cgs_nvml_row r
    cdef cgs_nvml_process p
    base = <size_t>&r
    return {
        "itemsize": sizeof(cgs_nvml_row),
        "process_itemsize": sizeof(cgs_nvml_process),
        "index": <size_t>&r.index - base, "minor": <size_t>&r.minor - base,
        "parent": <size_t>&r.parent - base, "flags": <size_t>&r.flags - base,
        "memory_total": <size_t>&r.memory_total - base, "memory_used": <size_t>&r.memory_used - base,
        "memory_free": <size_t>&r.memory_free - base, "memory_reserved": <size_t>&r.memory_reserved - base,
        "duty_cycle": <size_t>&r.duty_cycle - base, "memory_duty_cycle": <size_t>&r.memory_duty_cycle - base,
        "valid": <size_t>&r.valid - base, "memory_error": <size_t>&r.memory_error - base,
        "utilization_error": <size_t>&r.utilization_error - base, "pad": <size_t>&r.pad - base,
        "pid": <size_t>&p.pid - <size_t>&p,
        "used_gpu_memory": <size_t>&p.used_gpu_memory - <size_t>&p,
        "gpu_instance_id": <size_t>&p.gpu_instance_id - <size_t>&p,
        "compute_instance_id": <size_t>&p.compute_instance_id - <size_t>&p,
    }


cdef class Nvml:
    """One loaded NVML: status, cached device handles, and the sample calls."""

    def __cinit__(self):
        pthread_mutex_init(&self.mu, NULL)
        self.devs = NULL
        self.ndev = 0
        self.initialized = False
        self.leaked = False
        self.procbuf = NULL
        self.proccap = 0
        self.status = "not loaded"
        self.detail = ""
        self.path = None
        self.init_return = -1
        self.names = []
        self.uuids = []
        self.minors = []

    def __dealloc__(self):
        self._release()
        pthread_mutex_destroy(&self.mu)

    cdef void _lock(self):
        """Takes the mutex with the GIL released (so a holder that needs the
        GIL back never deadlocks with a waiter)."""
        with nogil:
            pthread_mutex_lock(&self.mu)

    cdef void _unlock(self):
        pthread_mutex_unlock(&self.mu)

    cdef void _release(self):
        if self.initialized:
            cgs_nvml_call_shutdown(&self.lib)
            self.initialized = False
        if self.lib.dl != NULL and not self.leaked:
            cgs_nvml_close_dl(&self.lib)
        if self.devs != NULL:
            free(self.devs)
            self.devs = NULL
        self.ndev = 0
        if self.procbuf != NULL:
            free(self.procbuf)
            self.procbuf = NULL
        self.proccap = 0

    @property
    def available(self):
        """True when NVML is initialized and has at least one device to sample."""
        return self.initialized and self.ndev > 0

    @property
    def device_count(self):
        """Rows a sample fills: the GPUs, each followed by its MIG instances."""
        return self.ndev

    @property
    def process_capacity(self):
        """Entries the process buffer holds now (it grows off the hot path)."""
        return self.proccap

    def load(self, path=None, double timeout_s=10.0, unsigned int process_capacity=64):
        """Loads and initializes NVML; returns self.available. Never raises for
        a missing library, a missing symbol, an init error or a hung init:
        self.status says which ("not found", "missing symbol nvmlInit_v2",
        "driver not loaded", "no permission", "init timed out", "init failed",
        "device count failed", "no devices"), self.detail the text behind it."""
        self._lock()
        try:
            return self._load_locked(path, timeout_s, process_capacity)
        finally:
            self._unlock()

    def _load_locked(self, path, double timeout_s, unsigned int process_capacity):
        cdef char detail[512]
        cdef int rc
        cdef long timeout_ms
        cdef cgs_nvml_start_job *job = NULL
        cdef bytes bpath
        cdef const char *cpath
        self._close_locked()
        if path is None:
            path = os.environ.get(LIBRARY_ENV) or DEFAULT_LIBRARY
        self.path = os.fspath(path)
        bpath = os.fsencode(self.path)
        cpath = bpath
        self.leaked = False
        self.init_return = -1
        with nogil:
            rc = cgs_nvml_open(cpath, &self.lib, detail, sizeof(detail))
        if rc == CGS_NVML_OPEN_NOT_FOUND:
            return self._fail("not found", detail.decode("utf-8", "replace"))
        if rc == CGS_NVML_OPEN_MISSING_SYMBOL:
            return self._fail("missing symbol " + detail.decode("ascii", "replace"),
                              self.path)
        timeout_ms = <long>(min(max(timeout_s, 0.0), 86400.0) * 1000.0)
        with nogil:
            rc = cgs_nvml_start(&self.lib, timeout_ms, &job)
        if rc == CGS_NVML_START_TIMED_OUT:
            # The helper thread still runs inside the library: keep it mapped.
            self.leaked = True
            return self._fail("init timed out", f"nvmlInit_v2 and device enumeration took over {timeout_s:g} s")
        if rc == CGS_NVML_START_NO_THREAD:
            return self._fail("init failed", "could not start the init thread")
        try:
            self.init_return = job.init_ret
            if rc == CGS_NVML_START_INIT_FAILED:
                return self._fail(_INIT_STATUS.get(job.init_ret, "init failed"),
                                  self.error_string(job.init_ret))
            self.initialized = True
            if rc == CGS_NVML_START_COUNT_FAILED:
                return self._fail("device count failed", self.error_string(job.count_ret))
            if job.ndev == 0:
                return self._fail("no devices", "nvmlDeviceGetCount_v2 returned 0")
            self.devs = <cgs_nvml_dev *>realloc(NULL, job.ndev * sizeof(cgs_nvml_dev))
            if self.devs == NULL:
                raise MemoryError()
            memcpy(self.devs, job.devs, job.ndev * sizeof(cgs_nvml_dev))
            self.ndev = job.ndev
        finally:
            free(job)
        self._grow_processes(process_capacity)
        self.names = [_text(self.devs[i].name, self.devs[i].name_error) for i in range(self.ndev)]
        self.uuids = [_text(self.devs[i].uuid, self.devs[i].uuid_error) for i in range(self.ndev)]
        self.minors = [None if self.devs[i].minor == CGS_NVML_NONE else self.devs[i].minor
                       for i in range(self.ndev)]
        self.status = "ok"
        self.detail = ""
        return True

    def _fail(self, status, detail):
        self._release()
        self.status = status
        self.detail = detail
        return False

    def error_string(self, int code):
        """nvmlErrorString(code) of the loaded library ("" when none is loaded)."""
        if self.lib.dl == NULL:
            return ""
        return cgs_nvml_error_string(&self.lib, code).decode("utf-8", "replace")

    @property
    def devices(self):
        """What load() found, one dict per row: index, minor, parent, flags,
        name, uuid, and the NVML code of each load-time query."""
        out = []
        self._lock()
        try:
            self._devices_locked(out)
        finally:
            self._unlock()
        return out

    def _devices_locked(self, list out):
        cdef cgs_nvml_dev *d
        for i in range(self.ndev):
            d = &self.devs[i]
            out.append({
                "row": i, "index": d.index, "minor": self.minors[i],
                "parent": None if d.parent == CGS_NVML_NONE else d.parent,
                "flags": d.flags, "mig_enabled": bool(d.flags & CGS_NVML_F_MIG_ENABLED),
                "mig_instance": bool(d.flags & CGS_NVML_F_MIG_INSTANCE),
                "name": self.names[i], "uuid": self.uuids[i],
                "handle_error": d.handle_error, "name_error": d.name_error,
                "uuid_error": d.uuid_error, "minor_error": d.minor_error, "mig_error": d.mig_error,
                "memory_call": "nvmlDeviceGetMemoryInfo" if d.memory_v1 else "nvmlDeviceGetMemoryInfo_v2",
            })

    cdef int sample_into(self, cgs_nvml_row *rows, Py_ssize_t cap) noexcept nogil:
        """Fills rows[0 .. min(cap, device_count)); returns how many rows got
        both memory and utilization. For a caller's own nogil sweep."""
        cdef unsigned int n = self.ndev
        if not self.initialized or n == 0:
            return 0
        if cap < n:
            n = <unsigned int>cap
        return cgs_nvml_sample(&self.lib, self.devs, n, rows)

    def sample(self, cnp.ndarray out not None):
        """Samples every device into out[:device_count] (out: C-contiguous, of
        ACCELERATOR_DTYPE, at least device_count entries, any shape). Returns how
        many rows got both memory and utilization; 0 when NVML is not loaded."""
        cdef cgs_nvml_row *rows
        cdef Py_ssize_t cap
        cdef int ok
        if <object>cnp.PyArray_DESCR(out) is not ACCELERATOR_DTYPE and out.dtype != ACCELERATOR_DTYPE:
            raise TypeError("out must be an array of nvml.ACCELERATOR_DTYPE")
        if not cnp.PyArray_IS_C_CONTIGUOUS(out) or not cnp.PyArray_ISWRITEABLE(out):
            raise ValueError("out must be a writeable C-contiguous array")
        cap = cnp.PyArray_SIZE(out)
        if cap < self.ndev:
            raise ValueError("out holds fewer entries than device_count")
        rows = <cgs_nvml_row *>cnp.PyArray_DATA(out)
        with nogil:
            pthread_mutex_lock(&self.mu)
            ok = self.sample_into(rows, cap)
            pthread_mutex_unlock(&self.mu)
        return ok

    def bench_loop(self, cnp.ndarray out not None, Py_ssize_t iterations):
        """Runs sample_into `iterations` times in one nogil loop (what a sweep
        does) and returns the elapsed nanoseconds. For benchmarks."""
        from time import perf_counter_ns
        self.sample(out)
        cdef cgs_nvml_row *rows = <cgs_nvml_row *>cnp.PyArray_DATA(out)
        cdef Py_ssize_t cap = cnp.PyArray_SIZE(out), i
        with nogil:
            pthread_mutex_lock(&self.mu)
        try:
            t0 = perf_counter_ns()
            with nogil:
                for i in range(iterations):
                    self.sample_into(rows, cap)
            return perf_counter_ns() - t0
        finally:
            self._unlock()

    cdef int processes_into(self, unsigned int device, bint graphics, unsigned int *count) noexcept nogil:
        """One process-list query of row `device` into the process buffer.
        Returns the NVML code; on INSUFFICIENT_SIZE *count is what is needed
        and the caller grows the buffer (with the GIL, off the hot path)."""
        count[0] = 0
        if not self.initialized or device >= self.ndev:
            return CGS_NVML_ERROR_UNINITIALIZED if not self.initialized else CGS_NVML_ERROR_INVALID_ARGUMENT
        if self.devs[device].handle == NULL:
            return self.devs[device].handle_error
        return cgs_nvml_processes(&self.lib, self.devs[device].handle, graphics,
                                  self.procbuf, self.proccap, count)

    def _grow_processes(self, unsigned int n):
        cdef cgs_nvml_process *p
        if n <= self.proccap:
            return
        p = <cgs_nvml_process *>realloc(self.procbuf, n * sizeof(cgs_nvml_process))
        if p == NULL:
            raise MemoryError()
        self.procbuf = p
        self.proccap = n

    def processes(self, unsigned int device, bint graphics=False):
        """The processes running on row `device` (compute ones, or graphics ones)
        as a PROCESS_DTYPE array: host pid, used_gpu_memory (VALUE_NOT_AVAILABLE
        when NVML cannot tell), MIG instance ids (NONE when not MIG). The buffer
        grows when NVML answers INSUFFICIENT_SIZE (to 2n+5, as the list can grow
        between the calls). Raises NvmlError with the NVML code otherwise."""
        self._lock()
        try:
            return self._processes_locked(device, graphics)
        finally:
            self._unlock()

    def _processes_locked(self, unsigned int device, bint graphics):
        cdef unsigned int count = 0
        cdef int rc = CGS_NVML_SUCCESS, attempt
        if not self.initialized:
            raise NvmlError(CGS_NVML_ERROR_UNINITIALIZED, f"NVML is not loaded ({self.status})")
        if device >= self.ndev:
            raise IndexError(f"device row {device} out of range (device_count {self.ndev})")
        for attempt in range(5):
            with nogil:
                rc = self.processes_into(device, graphics, &count)
            if rc != CGS_NVML_ERROR_INSUFFICIENT_SIZE:
                break
            if count > MAX_PROCESSES:
                kind = "graphics" if graphics else "compute"
                raise NvmlError(rc, f"{kind} processes of device row {device}: NVML asks room "
                                f"for {count}, over the {MAX_PROCESSES} this reader holds")
            self._grow_processes(2 * count + 5)
        if rc != CGS_NVML_SUCCESS:
            kind = "graphics" if graphics else "compute"
            raise NvmlError(rc, f"{kind} processes of device row {device}: {self.error_string(rc)}")
        out = np.empty(count, PROCESS_DTYPE)
        if count:
            memcpy(cnp.PyArray_DATA(out), self.procbuf, count * sizeof(cgs_nvml_process))
        return out

    def processes_call(self, bint graphics=False):
        """Which NVML symbol the process query uses: "versioned" (_v3,
        else _v2: 24-byte entries), "unversioned" (16-byte entries, widened), or None."""
        layout = cgs_nvml_procs_layout(&self.lib, graphics)
        if self.lib.dl == NULL or layout == CGS_NVML_PROCS_NONE:
            return None
        return "versioned" if layout == CGS_NVML_PROCS_V2 else "unversioned"

    def close(self):
        """nvmlShutdown (releases the driver: a held NVML blocks driver
        upgrades) and forget the devices. Safe to call twice."""
        self._lock()
        try:
            self._close_locked()
        finally:
            self._unlock()

    def _close_locked(self):
        was = self.initialized or self.lib.dl != NULL
        self._release()
        self.names, self.uuids, self.minors = [], [], []
        if was:
            self.status = "closed"
            self.detail = ""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return f"<Nvml {self.status!r} devices={self.ndev} path={self.path!r}>"
