/* Our own declarations of the few NVML types and functions cgsampler uses, and a
 * run-time loader for libnvidia-ml.so.1 (dlopen + dlsym of each versioned
 * symbol). Nothing links against NVML: the extension imports and runs on machines
 * without a driver. Written from the documented facts in
 * ../shared/reference/peers-and-anchors.md section 6, not from nvml.h.
 *
 * Three parts:
 *   - the ABI: return codes, opaque device handle, the structs (sizes checked
 *     by static asserts below and by tests/test_nvml.py);
 *   - the loader: cgs_nvml_open() resolves symbols; cgs_nvml_start() runs
 *     nvmlInit_v2 and the device enumeration in a helper thread and gives up
 *     after a timeout (an init that hangs never hangs the caller);
 *   - the hot path: cgs_nvml_sample() fills one cgs_nvml_row per device, no
 *     allocation, errors as NVML return codes per device. */
#ifndef CGS_NVML_H
#define CGS_NVML_H
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- the ABI --------------------------------------------------------------------- */

/* nvmlReturn_t values (a C enum: 4 bytes). */
enum {
    CGS_NVML_SUCCESS = 0,
    CGS_NVML_ERROR_UNINITIALIZED = 1,
    CGS_NVML_ERROR_INVALID_ARGUMENT = 2,
    CGS_NVML_ERROR_NOT_SUPPORTED = 3,
    CGS_NVML_ERROR_NO_PERMISSION = 4,
    CGS_NVML_ERROR_NOT_FOUND = 6,
    CGS_NVML_ERROR_INSUFFICIENT_SIZE = 7,
    CGS_NVML_ERROR_DRIVER_NOT_LOADED = 9,
    CGS_NVML_ERROR_TIMEOUT = 10,
    CGS_NVML_ERROR_LIBRARY_NOT_FOUND = 12,
    CGS_NVML_ERROR_FUNCTION_NOT_FOUND = 13,
    CGS_NVML_ERROR_GPU_IS_LOST = 15,
    CGS_NVML_ERROR_ARGUMENT_VERSION_MISMATCH = 25,
    CGS_NVML_ERROR_UNKNOWN = 999,
};

typedef int cgs_nvml_return;                 /* nvmlReturn_t */
typedef struct cgs_nvml_device_st *cgs_nvml_device;   /* nvmlDevice_t: opaque pointer */

typedef struct {                             /* nvmlMemory_t: 24 bytes */
    unsigned long long total;
    unsigned long long free;
    unsigned long long used;                 /* includes reserved memory */
} cgs_nvml_memory_v1;

typedef struct {                             /* nvmlMemory_v2_t: 40 bytes */
    unsigned int version;                    /* CGS_NVML_MEMORY_V2_VERSION; 4 bytes of padding follow */
    unsigned long long total;
    unsigned long long reserved;
    unsigned long long free;
    unsigned long long used;                 /* excludes reserved */
} cgs_nvml_memory_v2;
#define CGS_NVML_MEMORY_V2_VERSION ((unsigned int)(sizeof(cgs_nvml_memory_v2) | (2u << 24)))

typedef struct {                             /* nvmlUtilization_t: 8 bytes */
    unsigned int gpu;                        /* percent of the last sample period the GPU was busy */
    unsigned int memory;                     /* percent of it device memory was read or written */
} cgs_nvml_utilization;

typedef struct {                             /* process info of the _v2/_v3 calls: 24 bytes */
    unsigned int pid;                        /* a host pid */
    unsigned long long used_gpu_memory;      /* all ones when NVML cannot tell */
    unsigned int gpu_instance_id;            /* all ones when not MIG */
    unsigned int compute_instance_id;
} cgs_nvml_process;

typedef struct {                             /* process info of the unversioned call: 16 bytes */
    unsigned int pid;
    unsigned long long used_gpu_memory;
} cgs_nvml_process_v1;

_Static_assert(sizeof(cgs_nvml_memory_v1) == 24, "nvmlMemory_t is 24 bytes");
_Static_assert(sizeof(cgs_nvml_memory_v2) == 40, "nvmlMemory_v2_t is 40 bytes");
_Static_assert(sizeof(cgs_nvml_utilization) == 8, "nvmlUtilization_t is 8 bytes");
_Static_assert(sizeof(cgs_nvml_process) == 24, "nvmlProcessInfo_t is 24 bytes");
_Static_assert(sizeof(cgs_nvml_process_v1) == 16, "legacy nvmlProcessInfo_t is 16 bytes");

#define CGS_NVML_NAME_LEN 96                 /* NVML_DEVICE_NAME_V2_BUFFER_SIZE */
#define CGS_NVML_UUID_LEN 96                 /* NVML_DEVICE_UUID_V2_BUFFER_SIZE */
#define CGS_NVML_MIG_ENABLE 1u               /* nvmlDeviceGetMigMode's "enabled" */
#define CGS_NVML_MAX_DEVICES 256             /* physical GPUs plus their MIG instances */
#define CGS_NVML_NONE 0xFFFFFFFFu            /* no minor / no parent */

typedef cgs_nvml_return (*cgs_fn_void)(void);
typedef const char *(*cgs_fn_error_string)(cgs_nvml_return);
typedef cgs_nvml_return (*cgs_fn_uint_ptr)(unsigned int *);
typedef cgs_nvml_return (*cgs_fn_handle_by_index)(unsigned int, cgs_nvml_device *);
typedef cgs_nvml_return (*cgs_fn_dev_str)(cgs_nvml_device, char *, unsigned int);
typedef cgs_nvml_return (*cgs_fn_dev_uint)(cgs_nvml_device, unsigned int *);
typedef cgs_nvml_return (*cgs_fn_dev_2uint)(cgs_nvml_device, unsigned int *, unsigned int *);
typedef cgs_nvml_return (*cgs_fn_dev_index_dev)(cgs_nvml_device, unsigned int, cgs_nvml_device *);
typedef cgs_nvml_return (*cgs_fn_memory_v1)(cgs_nvml_device, cgs_nvml_memory_v1 *);
typedef cgs_nvml_return (*cgs_fn_memory_v2)(cgs_nvml_device, cgs_nvml_memory_v2 *);
typedef cgs_nvml_return (*cgs_fn_utilization)(cgs_nvml_device, cgs_nvml_utilization *);
typedef cgs_nvml_return (*cgs_fn_processes)(cgs_nvml_device, unsigned int *, void *);

/* Process-list call flavours: element layout of what was resolved. */
enum { CGS_NVML_PROCS_NONE = 0, CGS_NVML_PROCS_V1 = 1, CGS_NVML_PROCS_V2 = 2 };

typedef struct {
    void *dl;
    /* required */
    cgs_fn_void init_v2;                     /* nvmlInit_v2 */
    cgs_fn_void shutdown;                    /* nvmlShutdown */
    cgs_fn_error_string error_string;        /* nvmlErrorString */
    cgs_fn_uint_ptr device_count;            /* nvmlDeviceGetCount_v2 */
    cgs_fn_handle_by_index handle_by_index;  /* nvmlDeviceGetHandleByIndex_v2 */
    /* one of the two is required */
    cgs_fn_memory_v2 memory_v2;              /* nvmlDeviceGetMemoryInfo_v2 */
    cgs_fn_memory_v1 memory_v1;              /* nvmlDeviceGetMemoryInfo */
    /* optional: a missing one reads as FUNCTION_NOT_FOUND where it is used */
    cgs_fn_dev_str name;                     /* nvmlDeviceGetName */
    cgs_fn_dev_str uuid;                     /* nvmlDeviceGetUUID */
    cgs_fn_dev_uint minor;                   /* nvmlDeviceGetMinorNumber */
    cgs_fn_utilization utilization;          /* nvmlDeviceGetUtilizationRates */
    cgs_fn_processes compute_procs;          /* _v3, else _v2, else unversioned */
    cgs_fn_processes graphics_procs;
    int compute_procs_layout;                /* CGS_NVML_PROCS_* */
    int graphics_procs_layout;
    cgs_fn_dev_2uint mig_mode;               /* nvmlDeviceGetMigMode */
    cgs_fn_dev_uint max_mig_count;           /* nvmlDeviceGetMaxMigDeviceCount */
    cgs_fn_dev_index_dev mig_by_index;       /* nvmlDeviceGetMigDeviceHandleByIndex */
} cgs_nvml_lib;

/* Results of cgs_nvml_open / cgs_nvml_start (not NVML codes). */
enum {
    CGS_NVML_OPEN_OK = 0,
    CGS_NVML_OPEN_NOT_FOUND = 1,             /* dlopen failed; detail = dlerror() */
    CGS_NVML_OPEN_MISSING_SYMBOL = 2,        /* detail = the symbol's name */
    CGS_NVML_START_OK = 0,
    CGS_NVML_START_INIT_FAILED = 3,          /* init_ret holds nvmlInit_v2's code */
    CGS_NVML_START_COUNT_FAILED = 4,         /* count_ret holds nvmlDeviceGetCount_v2's code */
    CGS_NVML_START_TIMED_OUT = 5,
    CGS_NVML_START_NO_THREAD = 6,
};

static inline void *cgs_nvml_sym(void *dl, const char *name) {
    dlerror();
    return dlsym(dl, name);
}

/* dlopen(path) and resolve every symbol. On failure everything is closed again
 * and `detail` says why. */
static int cgs_nvml_open(const char *path, cgs_nvml_lib *lib, char *detail, size_t detail_len) {
    memset(lib, 0, sizeof(*lib));
    detail[0] = '\0';
    dlerror();
    void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (dl == NULL) {
        const char *e = dlerror();
        snprintf(detail, detail_len, "%s", e ? e : path);
        return CGS_NVML_OPEN_NOT_FOUND;
    }
    lib->dl = dl;
#define CGS_REQUIRE(field, type, name)                                    \
    do {                                                                  \
        lib->field = (type)cgs_nvml_sym(dl, name);                        \
        if (lib->field == NULL) {                                         \
            snprintf(detail, detail_len, "%s", name);                     \
            dlclose(dl);                                                  \
            memset(lib, 0, sizeof(*lib));                                 \
            return CGS_NVML_OPEN_MISSING_SYMBOL;                          \
        }                                                                 \
    } while (0)
    CGS_REQUIRE(init_v2, cgs_fn_void, "nvmlInit_v2");
    CGS_REQUIRE(shutdown, cgs_fn_void, "nvmlShutdown");
    CGS_REQUIRE(error_string, cgs_fn_error_string, "nvmlErrorString");
    CGS_REQUIRE(device_count, cgs_fn_uint_ptr, "nvmlDeviceGetCount_v2");
    CGS_REQUIRE(handle_by_index, cgs_fn_handle_by_index, "nvmlDeviceGetHandleByIndex_v2");
#undef CGS_REQUIRE
    lib->memory_v2 = (cgs_fn_memory_v2)cgs_nvml_sym(dl, "nvmlDeviceGetMemoryInfo_v2");
    lib->memory_v1 = (cgs_fn_memory_v1)cgs_nvml_sym(dl, "nvmlDeviceGetMemoryInfo");
    if (lib->memory_v2 == NULL && lib->memory_v1 == NULL) {
        snprintf(detail, detail_len, "nvmlDeviceGetMemoryInfo");
        dlclose(dl);
        memset(lib, 0, sizeof(*lib));
        return CGS_NVML_OPEN_MISSING_SYMBOL;
    }
    lib->name = (cgs_fn_dev_str)cgs_nvml_sym(dl, "nvmlDeviceGetName");
    lib->uuid = (cgs_fn_dev_str)cgs_nvml_sym(dl, "nvmlDeviceGetUUID");
    lib->minor = (cgs_fn_dev_uint)cgs_nvml_sym(dl, "nvmlDeviceGetMinorNumber");
    lib->utilization = (cgs_fn_utilization)cgs_nvml_sym(dl, "nvmlDeviceGetUtilizationRates");
    static const char *const compute[3] = {
        "nvmlDeviceGetComputeRunningProcesses_v3", "nvmlDeviceGetComputeRunningProcesses_v2",
        "nvmlDeviceGetComputeRunningProcesses"};
    static const char *const graphics[3] = {
        "nvmlDeviceGetGraphicsRunningProcesses_v3", "nvmlDeviceGetGraphicsRunningProcesses_v2",
        "nvmlDeviceGetGraphicsRunningProcesses"};
    for (int i = 0; i < 3 && lib->compute_procs == NULL; i++) {
        lib->compute_procs = (cgs_fn_processes)cgs_nvml_sym(dl, compute[i]);
        lib->compute_procs_layout = lib->compute_procs ? (i < 2 ? CGS_NVML_PROCS_V2 : CGS_NVML_PROCS_V1) : 0;
    }
    for (int i = 0; i < 3 && lib->graphics_procs == NULL; i++) {
        lib->graphics_procs = (cgs_fn_processes)cgs_nvml_sym(dl, graphics[i]);
        lib->graphics_procs_layout = lib->graphics_procs ? (i < 2 ? CGS_NVML_PROCS_V2 : CGS_NVML_PROCS_V1) : 0;
    }
    lib->mig_mode = (cgs_fn_dev_2uint)cgs_nvml_sym(dl, "nvmlDeviceGetMigMode");
    lib->max_mig_count = (cgs_fn_dev_uint)cgs_nvml_sym(dl, "nvmlDeviceGetMaxMigDeviceCount");
    lib->mig_by_index = (cgs_fn_dev_index_dev)cgs_nvml_sym(dl, "nvmlDeviceGetMigDeviceHandleByIndex");
    return CGS_NVML_OPEN_OK;
}

/* ---- devices and start-up --------------------------------------------------------- */

/* Device flags. */
enum { CGS_NVML_F_MIG_ENABLED = 1, CGS_NVML_F_MIG_INSTANCE = 2 };

typedef struct {
    cgs_nvml_device handle;                  /* NULL when handle_error != SUCCESS */
    cgs_nvml_return handle_error;
    unsigned int index;                      /* NVML index (for a MIG instance: its MIG index) */
    unsigned int minor;                      /* CGS_NVML_NONE when unknown */
    unsigned int parent;                     /* row of the parent GPU for a MIG instance, else CGS_NVML_NONE */
    unsigned int flags;
    int memory_v1;                           /* the _v2 memory call is refused: use the old one */
    cgs_nvml_return name_error, uuid_error, minor_error, mig_error;
    char name[CGS_NVML_NAME_LEN];
    char uuid[CGS_NVML_UUID_LEN];
} cgs_nvml_dev;

typedef struct {
    cgs_nvml_lib lib;                        /* a copy: the thread never touches caller memory */
    cgs_nvml_return init_ret, count_ret;
    unsigned int count;                      /* physical GPUs */
    unsigned int ndev;                       /* entries of devs[] (GPUs, then MIG instances after each) */
    cgs_nvml_dev devs[CGS_NVML_MAX_DEVICES];
    int done, abandoned;
    pthread_mutex_t mu;
    pthread_cond_t cv;
} cgs_nvml_start_job;

static void cgs_nvml_describe(const cgs_nvml_lib *lib, cgs_nvml_dev *d, cgs_nvml_device h) {
    d->name_error = lib->name ? lib->name(h, d->name, CGS_NVML_NAME_LEN) : CGS_NVML_ERROR_FUNCTION_NOT_FOUND;
    if (d->name_error != CGS_NVML_SUCCESS) d->name[0] = '\0';
    d->name[CGS_NVML_NAME_LEN - 1] = '\0';
    d->uuid_error = lib->uuid ? lib->uuid(h, d->uuid, CGS_NVML_UUID_LEN) : CGS_NVML_ERROR_FUNCTION_NOT_FOUND;
    if (d->uuid_error != CGS_NVML_SUCCESS) d->uuid[0] = '\0';
    d->uuid[CGS_NVML_UUID_LEN - 1] = '\0';
    unsigned int minor = CGS_NVML_NONE;
    d->minor_error = lib->minor ? lib->minor(h, &minor) : CGS_NVML_ERROR_FUNCTION_NOT_FOUND;
    d->minor = d->minor_error == CGS_NVML_SUCCESS ? minor : CGS_NVML_NONE;
    if (lib->memory_v2 != NULL) {
        cgs_nvml_memory_v2 m;
        memset(&m, 0, sizeof(m));
        m.version = CGS_NVML_MEMORY_V2_VERSION;
        cgs_nvml_return r = lib->memory_v2(h, &m);
        d->memory_v1 = (r == CGS_NVML_ERROR_ARGUMENT_VERSION_MISMATCH ||
                        r == CGS_NVML_ERROR_FUNCTION_NOT_FOUND) && lib->memory_v1 != NULL;
    } else {
        d->memory_v1 = 1;
    }
}

/* Everything slow, in order: init, count, handles, names, UUIDs, minors, MIG
 * instances. Runs in the helper thread. */
static void cgs_nvml_enumerate(cgs_nvml_start_job *j) {
    const cgs_nvml_lib *lib = &j->lib;
    j->init_ret = lib->init_v2();
    if (j->init_ret != CGS_NVML_SUCCESS) return;
    unsigned int count = 0;
    j->count_ret = lib->device_count(&count);
    if (j->count_ret != CGS_NVML_SUCCESS) return;
    j->count = count;
    for (unsigned int i = 0; i < count && j->ndev < CGS_NVML_MAX_DEVICES; i++) {
        unsigned int row = j->ndev++;
        cgs_nvml_dev *d = &j->devs[row];
        memset(d, 0, sizeof(*d));
        d->index = i;
        d->minor = CGS_NVML_NONE;
        d->parent = CGS_NVML_NONE;
        cgs_nvml_device h = NULL;
        d->handle_error = lib->handle_by_index(i, &h);
        if (d->handle_error != CGS_NVML_SUCCESS) {
            d->name_error = d->uuid_error = d->minor_error = d->mig_error = d->handle_error;
            continue;
        }
        d->handle = h;
        cgs_nvml_describe(lib, d, h);
        /* MIG: a GPU in MIG mode is listed, then one entry per MIG instance. */
        unsigned int cur = 0, pending = 0, max = 0;
        d->mig_error = lib->mig_mode ? lib->mig_mode(h, &cur, &pending) : CGS_NVML_ERROR_FUNCTION_NOT_FOUND;
        if (d->mig_error != CGS_NVML_SUCCESS || cur != CGS_NVML_MIG_ENABLE) continue;
        d->flags |= CGS_NVML_F_MIG_ENABLED;
        if (lib->max_mig_count == NULL || lib->mig_by_index == NULL) {
            d->mig_error = CGS_NVML_ERROR_FUNCTION_NOT_FOUND;
            continue;
        }
        d->mig_error = lib->max_mig_count(h, &max);
        if (d->mig_error != CGS_NVML_SUCCESS) continue;
        for (unsigned int k = 0; k < max && j->ndev < CGS_NVML_MAX_DEVICES; k++) {
            cgs_nvml_device mh = NULL;
            cgs_nvml_return r = lib->mig_by_index(h, k, &mh);
            if (r == CGS_NVML_ERROR_NOT_FOUND) continue;        /* slot not populated */
            cgs_nvml_dev *m = &j->devs[j->ndev++];
            memset(m, 0, sizeof(*m));
            m->index = k;
            m->parent = row;
            m->flags = CGS_NVML_F_MIG_INSTANCE;
            m->minor = CGS_NVML_NONE;
            m->handle_error = r;
            if (r != CGS_NVML_SUCCESS) {
                m->name_error = m->uuid_error = m->minor_error = r;
                continue;
            }
            m->handle = mh;
            cgs_nvml_describe(lib, m, mh);
            m->minor = d->minor;             /* a MIG instance lives behind its GPU's /dev/nvidiaN */
            m->mig_error = CGS_NVML_ERROR_NOT_SUPPORTED;
        }
    }
}

static void *cgs_nvml_start_thread(void *arg) {
    cgs_nvml_start_job *j = (cgs_nvml_start_job *)arg;
    cgs_nvml_enumerate(j);
    pthread_mutex_lock(&j->mu);
    j->done = 1;
    int abandoned = j->abandoned;
    pthread_cond_signal(&j->cv);
    pthread_mutex_unlock(&j->mu);
    if (abandoned) {
        /* The caller gave up waiting: balance a late successful init and free
         * the job. The library stays mapped (the caller never dlcloses it). */
        if (j->init_ret == CGS_NVML_SUCCESS) j->lib.shutdown();
        pthread_cond_destroy(&j->cv);
        pthread_mutex_destroy(&j->mu);
        free(j);
    }
    return NULL;
}

/* Runs the enumeration in a helper thread and waits at most timeout_ms. On
 * CGS_NVML_START_TIMED_OUT the job belongs to the thread (*out is NULL) and the
 * library must stay loaded; otherwise *out is the finished job (the caller frees
 * it with free()). */
static int cgs_nvml_start(const cgs_nvml_lib *lib, long timeout_ms, cgs_nvml_start_job **out) {
    *out = NULL;
    cgs_nvml_start_job *j = (cgs_nvml_start_job *)calloc(1, sizeof(*j));
    if (j == NULL) return CGS_NVML_START_NO_THREAD;
    j->lib = *lib;
    j->init_ret = j->count_ret = CGS_NVML_ERROR_UNINITIALIZED;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&j->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&j->mu, NULL);
    pthread_t tid;
    if (pthread_create(&tid, NULL, cgs_nvml_start_thread, j) != 0) {
        pthread_cond_destroy(&j->cv);
        pthread_mutex_destroy(&j->mu);
        free(j);
        return CGS_NVML_START_NO_THREAD;
    }
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += timeout_ms / 1000;
    deadline.tv_nsec += (timeout_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) { deadline.tv_sec++; deadline.tv_nsec -= 1000000000L; }
    pthread_mutex_lock(&j->mu);
    while (!j->done) {
        if (pthread_cond_timedwait(&j->cv, &j->mu, &deadline) == ETIMEDOUT && !j->done) break;
    }
    if (!j->done) {
        j->abandoned = 1;
        pthread_mutex_unlock(&j->mu);
        pthread_detach(tid);
        return CGS_NVML_START_TIMED_OUT;
    }
    pthread_mutex_unlock(&j->mu);
    pthread_join(tid, NULL);
    pthread_cond_destroy(&j->cv);
    pthread_mutex_destroy(&j->mu);
    *out = j;
    if (j->init_ret != CGS_NVML_SUCCESS) return CGS_NVML_START_INIT_FAILED;
    if (j->count_ret != CGS_NVML_SUCCESS) return CGS_NVML_START_COUNT_FAILED;
    return CGS_NVML_START_OK;
}

/* ---- the hot path ----------------------------------------------------------------- */

/* One device's sample: the C view of nvml.ACCELERATOR_DTYPE (72 bytes, no
 * implicit padding). */
typedef struct {
    uint32_t index;
    uint32_t minor;
    uint32_t parent;
    uint32_t flags;
    uint64_t memory_total;
    uint64_t memory_used;
    uint64_t memory_free;
    uint64_t memory_reserved;
    uint32_t duty_cycle;                     /* utilization.gpu, percent */
    uint32_t memory_duty_cycle;              /* utilization.memory, percent */
    uint32_t valid;                          /* CGS_NVML_V_* */
    int32_t memory_error;                    /* NVML code of the memory call (0 = ok) */
    int32_t utilization_error;               /* NVML code of the utilization call */
    uint32_t pad;
} cgs_nvml_row;
_Static_assert(sizeof(cgs_nvml_row) == 72, "cgs_nvml_row is 72 bytes");

enum { CGS_NVML_V_MEMORY = 1, CGS_NVML_V_MEMORY_V2 = 2, CGS_NVML_V_UTILIZATION = 4 };

/* Samples memory and utilization of n devices into rows[0..n). Returns how many
 * rows are fully valid. No allocation; never fails as a whole. */
static inline int cgs_nvml_sample(const cgs_nvml_lib *lib, const cgs_nvml_dev *devs, unsigned int n,
                                  cgs_nvml_row *rows) {
    /* The function pointers in locals: the calls could change any memory, so
     * reading them through lib would reload them every call. */
    const cgs_fn_memory_v2 memory_v2 = lib->memory_v2;
    const cgs_fn_memory_v1 memory_v1 = lib->memory_v1;
    const cgs_fn_utilization utilization = lib->utilization;
    int complete = 0;
    for (unsigned int i = 0; i < n; i++) {
        const cgs_nvml_dev *d = &devs[i];
        cgs_nvml_row *r = &rows[i];
        cgs_nvml_device h = d->handle;
        uint32_t valid = 0;
        r->index = d->index;
        r->minor = d->minor;
        r->parent = d->parent;
        r->flags = d->flags;
        r->pad = 0;
        if (h == NULL) {
            r->memory_total = r->memory_used = r->memory_free = r->memory_reserved = 0;
            r->duty_cycle = r->memory_duty_cycle = 0;
            r->valid = 0;
            r->memory_error = r->utilization_error = d->handle_error;
            continue;
        }
        if (!d->memory_v1) {
            cgs_nvml_memory_v2 m;
            m.version = CGS_NVML_MEMORY_V2_VERSION;
            cgs_nvml_return e = memory_v2(h, &m);
            r->memory_error = e;
            if (e == CGS_NVML_SUCCESS) {
                r->memory_total = m.total;
                r->memory_used = m.used;
                r->memory_free = m.free;
                r->memory_reserved = m.reserved;
                valid = CGS_NVML_V_MEMORY | CGS_NVML_V_MEMORY_V2;
            }
        } else {
            cgs_nvml_memory_v1 m;
            cgs_nvml_return e = memory_v1(h, &m);
            r->memory_error = e;
            if (e == CGS_NVML_SUCCESS) {
                r->memory_total = m.total;
                r->memory_used = m.used;
                r->memory_free = m.free;
                r->memory_reserved = 0;
                valid = CGS_NVML_V_MEMORY;
            }
        }
        if (!valid) r->memory_total = r->memory_used = r->memory_free = r->memory_reserved = 0;
        if (utilization != NULL) {
            cgs_nvml_utilization u;
            cgs_nvml_return e = utilization(h, &u);
            r->utilization_error = e;
            if (e == CGS_NVML_SUCCESS) {
                r->duty_cycle = u.gpu;
                r->memory_duty_cycle = u.memory;
                valid |= CGS_NVML_V_UTILIZATION;
            } else {
                r->duty_cycle = r->memory_duty_cycle = 0;
            }
        } else {
            r->utilization_error = CGS_NVML_ERROR_FUNCTION_NOT_FOUND;
            r->duty_cycle = r->memory_duty_cycle = 0;
        }
        r->valid = valid;
        complete += (valid & (CGS_NVML_V_MEMORY | CGS_NVML_V_UTILIZATION)) ==
                    (CGS_NVML_V_MEMORY | CGS_NVML_V_UTILIZATION);
    }
    return complete;
}

/* One process-list query into buf (cap elements of the 24-byte layout). Returns
 * the NVML code; *count is the number stored, or the number needed on
 * INSUFFICIENT_SIZE. The unversioned call's 16-byte elements are widened in
 * place (buf is sized for 24-byte elements, so walking backwards is safe). */
static int cgs_nvml_processes(const cgs_nvml_lib *lib, cgs_nvml_device h, int graphics,
                              cgs_nvml_process *buf, unsigned int cap, unsigned int *count) {
    cgs_fn_processes fn = graphics ? lib->graphics_procs : lib->compute_procs;
    int layout = graphics ? lib->graphics_procs_layout : lib->compute_procs_layout;
    *count = 0;
    if (fn == NULL) return CGS_NVML_ERROR_FUNCTION_NOT_FOUND;
    if (h == NULL) return CGS_NVML_ERROR_INVALID_ARGUMENT;
    unsigned int n = cap;
    cgs_nvml_return r = fn(h, &n, cap ? (void *)buf : NULL);
    if (r == CGS_NVML_ERROR_INSUFFICIENT_SIZE) { *count = n; return r; }
    if (r != CGS_NVML_SUCCESS) return r;
    if (n > cap) n = cap;
    if (layout == CGS_NVML_PROCS_V1) {
        const cgs_nvml_process_v1 *old = (const cgs_nvml_process_v1 *)(void *)buf;
        for (unsigned int i = n; i-- > 0;) {
            cgs_nvml_process_v1 e;
            memcpy(&e, &old[i], sizeof(e));
            cgs_nvml_process *w = &buf[i];
            w->pid = e.pid;
            w->used_gpu_memory = e.used_gpu_memory;
            w->gpu_instance_id = CGS_NVML_NONE;
            w->compute_instance_id = CGS_NVML_NONE;
        }
    }
    *count = n;
    return r;
}

#endif
