/* The floor for benchmarks/nvml_bench.py: the same NVML calls cgsampler makes
 * per sample (nvmlDeviceGetMemoryInfo_v2, else nvmlDeviceGetMemoryInfo, and
 * nvmlDeviceGetUtilizationRates on every device), in a plain C loop, through
 * dlopen of the same library. Prints "devices iterations ns_total".
 * Usage: nvml_floor LIBRARY ITERATIONS */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

typedef int (*fn_void)(void);
typedef int (*fn_count)(unsigned int *);
typedef int (*fn_handle)(unsigned int, void **);
typedef int (*fn_dev_ptr)(void *, void *);

typedef struct { unsigned long long total, free, used; } mem_v1;
typedef struct { unsigned int version; unsigned long long total, reserved, free, used; } mem_v2;
typedef struct { unsigned int gpu, memory; } util;

int main(int argc, char **argv) {
    if (argc != 3) { fprintf(stderr, "usage: %s LIBRARY ITERATIONS\n", argv[0]); return 2; }
    long iterations = atol(argv[2]);
    void *dl = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!dl) { fprintf(stderr, "%s\n", dlerror()); return 1; }
    fn_void init = (fn_void)dlsym(dl, "nvmlInit_v2");
    fn_void shutdown = (fn_void)dlsym(dl, "nvmlShutdown");
    fn_count count = (fn_count)dlsym(dl, "nvmlDeviceGetCount_v2");
    fn_handle handle = (fn_handle)dlsym(dl, "nvmlDeviceGetHandleByIndex_v2");
    fn_dev_ptr memory2 = (fn_dev_ptr)dlsym(dl, "nvmlDeviceGetMemoryInfo_v2");
    fn_dev_ptr memory1 = (fn_dev_ptr)dlsym(dl, "nvmlDeviceGetMemoryInfo");
    fn_dev_ptr utilization = (fn_dev_ptr)dlsym(dl, "nvmlDeviceGetUtilizationRates");
    if (!init || !shutdown || !count || !handle || !(memory1 || memory2) || !utilization) {
        fprintf(stderr, "missing symbol\n");
        return 1;
    }
    if (init() != 0) { fprintf(stderr, "init failed\n"); return 1; }
    unsigned int n = 0;
    if (count(&n) != 0 || n == 0 || n > 64) { fprintf(stderr, "no devices\n"); return 1; }
    void *h[64];
    for (unsigned int i = 0; i < n; i++)
        if (handle(i, &h[i]) != 0) { fprintf(stderr, "handle %u failed\n", i); return 1; }
    static volatile unsigned long long sink[64][4];
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (long it = 0; it < iterations; it++) {
        for (unsigned int i = 0; i < n; i++) {
            util u;
            if (memory2) {
                mem_v2 m;
                m.version = 40u | (2u << 24);
                if (memory2(h[i], &m) == 0) { sink[i][0] = m.total; sink[i][1] = m.used; }
            } else {
                mem_v1 m;
                if (memory1(h[i], &m) == 0) { sink[i][0] = m.total; sink[i][1] = m.used; }
            }
            if (utilization(h[i], &u) == 0) { sink[i][2] = u.gpu; sink[i][3] = u.memory; }
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long long ns = (long long)(t1.tv_sec - t0.tv_sec) * 1000000000LL + (t1.tv_nsec - t0.tv_nsec);
    printf("%u %ld %lld\n", n, iterations, ns);
    shutdown();
    return 0;
}
