/* A small fake libnvidia-ml.so.1 for the test suite, written from the documented
 * NVML facts (../shared/reference/peers-and-anchors.md section 6). The test
 * suite compiles it (variants by -D: FAKE_NO_INIT_V2, FAKE_NO_MEMORY_V2,
 * FAKE_LEGACY_PROCESSES) and points cgsampler's loader at it.
 *
 * Configuration: a text file named by $FAKE_NVML_CONFIG, read at each
 * nvmlInit_v2 that takes the init count from 0 to 1 and at fake_nvml_reload().
 * One setting per line, "key value"; per-device keys are "<device>.<key>":
 *
 *   count 2                      physical GPUs (devices 0..count-1)
 *   init_error 9                 nvmlInit_v2 returns this code
 *   init_hang_ms 3000            nvmlInit_v2 sleeps this long first
 *   count_error 15               nvmlDeviceGetCount_v2 returns this code
 *   hang_file /tmp/x             memory and process-list calls block while this file
 *                                exists (a GPU fallen off the bus)
 *   0.name NVIDIA H200           (rest of the line)
 *   0.name_unterminated 1        nvmlDeviceGetName fills the whole buffer, no NUL
 *   0.uuid GPU-...
 *   0.minor 3
 *   0.memory_total / 0.memory_used / 0.memory_reserved   bytes (v2 view; the
 *                                unversioned call reports used + reserved)
 *   0.util_gpu 37 / 0.util_memory 5
 *   0.proc PID BYTES             a compute process (repeat the line)
 *   0.gproc PID BYTES            a graphics process
 *   0.proc_need N                the process lists answer INSUFFICIENT_SIZE asking for N
 *   0.err.handle|name|uuid|minor|memory|utilization|processes CODE
 *   0.err.memory_v2 CODE         only nvmlDeviceGetMemoryInfo_v2 fails (an old driver: 25)
 *   0.mig_mode 1                 MIG enabled (else nvmlDeviceGetMigMode: NOT_SUPPORTED)
 *   4.parent 0                   device 4 (>= count) is a MIG instance of GPU 0,
 *                                found by nvmlDeviceGetMigDeviceHandleByIndex in order
 *
 * Exported test hooks: fake_nvml_reload(), fake_nvml_init_count(), fake_nvml_inits_total(),
 * fake_nvml_calls(), fake_nvml_set_u64(dev, key, value). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef int ret_t;
enum {
    OK = 0, E_UNINIT = 1, E_INVALID = 2, E_NOT_SUPPORTED = 3, E_NO_PERMISSION = 4,
    E_NOT_FOUND = 6, E_INSUFFICIENT_SIZE = 7, E_DRIVER = 9, E_GPU_LOST = 15,
    E_VERSION = 25, E_UNKNOWN = 999,
};

#define MAXDEV 320                /* "count" above this is cut to it */
#define MAXPROC 512

typedef struct { unsigned int pid; unsigned long long mem; } proc_t;

typedef struct fake_dev {
    int used;
    char name[128];
    int name_unterminated;
    char uuid[128];
    unsigned int minor;
    int has_minor;
    unsigned long long total, mem_used, reserved;
    unsigned int util_gpu, util_mem;
    proc_t procs[MAXPROC];
    unsigned int nprocs;
    proc_t gprocs[MAXPROC];
    unsigned int ngprocs;
    ret_t err_handle, err_name, err_uuid, err_minor, err_memory, err_memory_v2, err_util, err_procs;
    unsigned int mig_mode;
    int parent;                  /* -1: a physical GPU */
    unsigned int proc_need;
} fake_dev;

static fake_dev devs[MAXDEV];
static unsigned int count;
static ret_t init_error, count_error;
static long init_hang_ms;
static char hang_file[512];
static int init_count;
static int inits_total;          /* successful inits ever */
static unsigned long long calls;

static void reset(void) {
    memset(devs, 0, sizeof(devs));
    for (int i = 0; i < MAXDEV; i++) devs[i].parent = -1;
    count = 0;
    init_error = count_error = OK;
    init_hang_ms = 0;
    hang_file[0] = '\0';
}

static void hang_while_the_file_exists(void) {
    while (hang_file[0] && access(hang_file, F_OK) == 0) {
        struct timespec ts = {0, 10000000L};
        nanosleep(&ts, NULL);
    }
}

static void chomp(char *s) {
    size_t n = strlen(s);
    while (n && (s[n - 1] == '\n' || s[n - 1] == '\r')) s[--n] = '\0';
}

int fake_nvml_reload(void) {
    reset();
    const char *path = getenv("FAKE_NVML_CONFIG");
    if (path == NULL) return -1;
    FILE *f = fopen(path, "r");
    if (f == NULL) return -1;
    char line[1024];
    while (fgets(line, sizeof(line), f)) {
        chomp(line);
        char *sp = strchr(line, ' ');
        if (sp == NULL) continue;
        *sp = '\0';
        char *key = line, *val = sp + 1;
        unsigned long long v = strtoull(val, NULL, 0);
        if (!strcmp(key, "count")) { count = v > MAXDEV ? MAXDEV : (unsigned)v; continue; }
        if (!strcmp(key, "init_error")) { init_error = (ret_t)v; continue; }
        if (!strcmp(key, "init_hang_ms")) { init_hang_ms = (long)v; continue; }
        if (!strcmp(key, "count_error")) { count_error = (ret_t)v; continue; }
        if (!strcmp(key, "hang_file")) { snprintf(hang_file, sizeof(hang_file), "%s", val); continue; }
        char *dot = strchr(key, '.');
        if (dot == NULL) continue;
        int i = atoi(key);
        if (i < 0 || i >= MAXDEV) continue;
        fake_dev *d = &devs[i];
        d->used = 1;
        const char *k = dot + 1;
        if (!strcmp(k, "name")) snprintf(d->name, sizeof(d->name), "%s", val);
        else if (!strcmp(k, "name_unterminated")) d->name_unterminated = (int)v;
        else if (!strcmp(k, "uuid")) snprintf(d->uuid, sizeof(d->uuid), "%s", val);
        else if (!strcmp(k, "minor")) { d->minor = (unsigned)v; d->has_minor = 1; }
        else if (!strcmp(k, "memory_total")) d->total = v;
        else if (!strcmp(k, "memory_used")) d->mem_used = v;
        else if (!strcmp(k, "memory_reserved")) d->reserved = v;
        else if (!strcmp(k, "util_gpu")) d->util_gpu = (unsigned)v;
        else if (!strcmp(k, "util_memory")) d->util_mem = (unsigned)v;
        else if (!strcmp(k, "mig_mode")) d->mig_mode = (unsigned)v;
        else if (!strcmp(k, "parent")) d->parent = (int)v;
        else if (!strcmp(k, "proc_need")) d->proc_need = (unsigned)v;
        else if (!strcmp(k, "proc") || !strcmp(k, "gproc")) {
            char *end;
            unsigned long pid = strtoul(val, &end, 0);
            unsigned long long mem = strtoull(end, NULL, 0);
            if (k[0] == 'p' && d->nprocs < MAXPROC) d->procs[d->nprocs++] = (proc_t){(unsigned)pid, mem};
            if (k[0] == 'g' && d->ngprocs < MAXPROC) d->gprocs[d->ngprocs++] = (proc_t){(unsigned)pid, mem};
        }
        else if (!strcmp(k, "err.handle")) d->err_handle = (ret_t)v;
        else if (!strcmp(k, "err.name")) d->err_name = (ret_t)v;
        else if (!strcmp(k, "err.uuid")) d->err_uuid = (ret_t)v;
        else if (!strcmp(k, "err.minor")) d->err_minor = (ret_t)v;
        else if (!strcmp(k, "err.memory")) d->err_memory = (ret_t)v;
        else if (!strcmp(k, "err.memory_v2")) d->err_memory_v2 = (ret_t)v;
        else if (!strcmp(k, "err.utilization")) d->err_util = (ret_t)v;
        else if (!strcmp(k, "err.processes")) d->err_procs = (ret_t)v;
    }
    fclose(f);
    return 0;
}

int fake_nvml_init_count(void) { return init_count; }
int fake_nvml_inits_total(void) { return inits_total; }
unsigned long long fake_nvml_calls(void) { return calls; }

/* Changes one value between samples: key 0 memory_used, 1 util_gpu, 2 err.memory, 3 err.utilization. */
int fake_nvml_set_u64(int dev, int key, unsigned long long value) {
    if (dev < 0 || dev >= MAXDEV) return -1;
    switch (key) {
    case 0: devs[dev].mem_used = value; return 0;
    case 1: devs[dev].util_gpu = (unsigned)value; return 0;
    case 2: devs[dev].err_memory = (ret_t)value; return 0;
    case 3: devs[dev].err_util = (ret_t)value; return 0;
    }
    return -1;
}

/* A handle is a pointer to the fake device; anything else is INVALID_ARGUMENT. */
static fake_dev *dev_of(void *h, ret_t *r) {
    calls++;
    if (init_count <= 0) { *r = E_UNINIT; return NULL; }
    fake_dev *d = (fake_dev *)h;
    if (d < devs || d >= devs + MAXDEV) { *r = E_INVALID; return NULL; }
    *r = OK;
    return d;
}

static ret_t do_init(void) {
    if (init_count == 0) fake_nvml_reload();
    if (init_hang_ms > 0) {
        struct timespec ts = {init_hang_ms / 1000, (init_hang_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    if (init_error != OK) return init_error;
    init_count++;
    inits_total++;
    return OK;
}

#ifndef FAKE_NO_INIT_V2
ret_t nvmlInit_v2(void) { return do_init(); }
#endif
ret_t nvmlInit(void) { return do_init(); }
ret_t nvmlInitWithFlags(unsigned int flags) { (void)flags; return do_init(); }

ret_t nvmlShutdown(void) {
    if (init_count <= 0) return E_UNINIT;
    init_count--;
    return OK;
}

const char *nvmlErrorString(ret_t r) {
    switch (r) {
    case OK: return "Success";
    case E_UNINIT: return "Uninitialized";
    case E_INVALID: return "Invalid Argument";
    case E_NOT_SUPPORTED: return "Not Supported";
    case E_NO_PERMISSION: return "Insufficient Permissions";
    case E_NOT_FOUND: return "Not Found";
    case E_INSUFFICIENT_SIZE: return "Insufficient Size";
    case E_DRIVER: return "Driver Not Loaded";
    case E_GPU_LOST: return "GPU is lost";
    case E_VERSION: return "Argument Version Mismatch";
    }
    return "Unknown Error";
}

ret_t nvmlDeviceGetCount_v2(unsigned int *n) {
    calls++;
    if (init_count <= 0) return E_UNINIT;
    if (n == NULL) return E_INVALID;
    if (count_error != OK) return count_error;
    *n = count;
    return OK;
}

ret_t nvmlDeviceGetHandleByIndex_v2(unsigned int i, void **h) {
    calls++;
    if (init_count <= 0) return E_UNINIT;
    if (i >= count || h == NULL) return E_INVALID;
    if (devs[i].err_handle != OK) return devs[i].err_handle;
    *h = &devs[i];
    return OK;
}

static ret_t copy_str(const char *s, char *buf, unsigned int len) {
    if (buf == NULL) return E_INVALID;
    if (strlen(s) + 1 > len) return E_INSUFFICIENT_SIZE;
    memcpy(buf, s, strlen(s) + 1);
    return OK;
}

ret_t nvmlDeviceGetName(void *h, char *buf, unsigned int len) {
    ret_t r; fake_dev *d = dev_of(h, &r); if (!d) return r;
    if (d->err_name) return d->err_name;
    if (d->name_unterminated && buf != NULL) { memset(buf, 'N', len); return OK; }
    return copy_str(d->name, buf, len);
}

ret_t nvmlDeviceGetUUID(void *h, char *buf, unsigned int len) {
    ret_t r; fake_dev *d = dev_of(h, &r); if (!d) return r;
    if (d->err_uuid) return d->err_uuid;
    return copy_str(d->uuid, buf, len);
}

ret_t nvmlDeviceGetMinorNumber(void *h, unsigned int *m) {
    ret_t r; fake_dev *d = dev_of(h, &r); if (!d) return r;
    if (d->err_minor) return d->err_minor;
    if (d->parent >= 0 || !d->has_minor) return E_NOT_SUPPORTED;
    *m = d->minor;
    return OK;
}

typedef struct { unsigned long long total, free, used; } mem_v1_t;
typedef struct { unsigned int version; unsigned long long total, reserved, free, used; } mem_v2_t;

ret_t nvmlDeviceGetMemoryInfo(void *h, mem_v1_t *m) {
    hang_while_the_file_exists();
    ret_t r; fake_dev *d = dev_of(h, &r); if (!d) return r;
    if (d->err_memory) return d->err_memory;
    if (m == NULL) return E_INVALID;
    m->total = d->total;
    m->used = d->mem_used + d->reserved;
    m->free = d->total - m->used;
    return OK;
}

#ifndef FAKE_NO_MEMORY_V2
ret_t nvmlDeviceGetMemoryInfo_v2(void *h, mem_v2_t *m) {
    hang_while_the_file_exists();
    ret_t r; fake_dev *d = dev_of(h, &r); if (!d) return r;
    if (d->err_memory) return d->err_memory;
    if (m == NULL) return E_INVALID;
    if (d->err_memory_v2) return d->err_memory_v2;
    if (m->version != (40u | (2u << 24))) return E_VERSION;
    m->total = d->total;
    m->reserved = d->reserved;
    m->used = d->mem_used;
    m->free = d->total - d->mem_used - d->reserved;
    return OK;
}
#endif

typedef struct { unsigned int gpu, memory; } util_t;

ret_t nvmlDeviceGetUtilizationRates(void *h, util_t *u) {
    ret_t r; fake_dev *d = dev_of(h, &r); if (!d) return r;
    if (d->err_util) return d->err_util;
    if (d->parent >= 0 || d->mig_mode) return E_NOT_SUPPORTED;   /* as on MIG */
    if (u == NULL) return E_INVALID;
    u->gpu = d->util_gpu;
    u->memory = d->util_mem;
    return OK;
}

/* The two-call protocol: too small a *n (or a NULL buffer with processes
 * running) answers INSUFFICIENT_SIZE with the count needed. */
typedef struct { unsigned int pid; unsigned long long mem; unsigned int gi, ci; } proc_v2_t;
typedef struct { unsigned int pid; unsigned long long mem; } proc_v1_t;

static ret_t procs(void *h, unsigned int *n, void *out, int graphics, int legacy) {
    ret_t r; fake_dev *d = dev_of(h, &r); if (!d) return r;
    hang_while_the_file_exists();
    if (d->err_procs) return d->err_procs;
    if (n == NULL) return E_INVALID;
    if (d->proc_need && *n < d->proc_need) { *n = d->proc_need; return E_INSUFFICIENT_SIZE; }
    const proc_t *src = graphics ? d->gprocs : d->procs;
    unsigned int have = graphics ? d->ngprocs : d->nprocs;
    if (*n < have || (have > 0 && out == NULL)) { *n = have; return E_INSUFFICIENT_SIZE; }
    for (unsigned int i = 0; i < have; i++) {
        if (legacy) {
            proc_v1_t *o = (proc_v1_t *)out + i;
            o->pid = src[i].pid; o->mem = src[i].mem;
        } else {
            proc_v2_t *o = (proc_v2_t *)out + i;
            o->pid = src[i].pid; o->mem = src[i].mem;
            o->gi = d->parent >= 0 ? 1u : 0xFFFFFFFFu;
            o->ci = d->parent >= 0 ? 0u : 0xFFFFFFFFu;
        }
    }
    *n = have;
    return OK;
}

#ifndef FAKE_LEGACY_PROCESSES
ret_t nvmlDeviceGetComputeRunningProcesses_v3(void *h, unsigned int *n, void *o) { return procs(h, n, o, 0, 0); }
ret_t nvmlDeviceGetComputeRunningProcesses_v2(void *h, unsigned int *n, void *o) { return procs(h, n, o, 0, 0); }
ret_t nvmlDeviceGetGraphicsRunningProcesses_v3(void *h, unsigned int *n, void *o) { return procs(h, n, o, 1, 0); }
ret_t nvmlDeviceGetGraphicsRunningProcesses_v2(void *h, unsigned int *n, void *o) { return procs(h, n, o, 1, 0); }
#endif
ret_t nvmlDeviceGetComputeRunningProcesses(void *h, unsigned int *n, void *o) { return procs(h, n, o, 0, 1); }
ret_t nvmlDeviceGetGraphicsRunningProcesses(void *h, unsigned int *n, void *o) { return procs(h, n, o, 1, 1); }

ret_t nvmlDeviceGetMigMode(void *h, unsigned int *cur, unsigned int *pending) {
    ret_t r; fake_dev *d = dev_of(h, &r); if (!d) return r;
    if (d->parent >= 0) return E_NOT_SUPPORTED;
    if (!d->mig_mode) return E_NOT_SUPPORTED;
    if (cur == NULL || pending == NULL) return E_INVALID;
    *cur = *pending = d->mig_mode;
    return OK;
}

static unsigned int mig_children(fake_dev *d, int *idx) {
    unsigned int n = 0;
    int self = (int)(d - devs);
    for (int i = 0; i < MAXDEV; i++)
        if (devs[i].used && devs[i].parent == self) { if (idx) idx[n] = i; n++; }
    return n;
}

ret_t nvmlDeviceGetMaxMigDeviceCount(void *h, unsigned int *n) {
    ret_t r; fake_dev *d = dev_of(h, &r); if (!d) return r;
    if (!d->mig_mode) return E_NOT_SUPPORTED;
    *n = 7;                      /* slots; the unpopulated ones answer NOT_FOUND */
    return OK;
}

ret_t nvmlDeviceGetMigDeviceHandleByIndex(void *h, unsigned int k, void **out) {
    ret_t r; fake_dev *d = dev_of(h, &r); if (!d) return r;
    if (!d->mig_mode) return E_NOT_SUPPORTED;
    int idx[MAXDEV];
    unsigned int n = mig_children(d, idx);
    if (k >= 7) return E_INVALID;
    if (k >= n) return E_NOT_FOUND;
    *out = &devs[idx[k]];
    return OK;
}
