/* The kernel floor of a cgsampler sweep: read each given file from offset 0 the
 * way cgsampler's Engine._read does (src/cgsampler/_native/sweep.pyx), with no
 * parsing and nothing stored:
 *   - single-record files: one pread; a read shorter than the buffer is the end;
 *   - multi-record files (cgroup.procs): pread at increasing offsets until 0;
 *   - a file given with fd -1 is opened by path, fstat'ed (the engine checks
 *     the inode to tell a re-created cgroup), read, and closed: what the engine
 *     does for files it does not keep open (v1 cgroup.procs, fd budget).
 *
 * Two builds:
 *   - a shared object for benchmarks/floor.py (ctypes): cgs_floor_sweep() over
 *     fds the caller holds (compare.py passes the sampler's own kept fds, so the
 *     floor reads the very same kernel files);
 *   - with -DFLOOR_MAIN a standalone program for perf/callgrind:
 *       floor LISTFILE ITERS    LISTFILE lines: "FLAGS PATH"; FLAGS has m for a
 *                               multi-record file, r to re-open it every sweep
 *                               ("-" for neither)
 *     opens the kept files once, runs ITERS sweeps, prints ns per sweep on stderr.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Returns bytes read in total, or -errno of the first failure. `cap` is the
 * buffer size (cgsampler uses 64 KiB); a file longer than cap keeps being read
 * into the same buffer (the bytes are not kept). one_read: one pread per file,
 * no EOF read even for multi-record files (to measure what the EOF read costs). */
long long cgs_floor_sweep(const int *fds, const char *const *paths, const unsigned char *multi,
                          long n, char *buf, long cap, int one_read)
{
    long long all = 0;
    for (long i = 0; i < n; i++) {
        int fd = fds[i];
        int opened = 0;
        if (fd < 0) {
            struct stat st;
            fd = open(paths[i], O_RDONLY | O_CLOEXEC);
            if (fd < 0)
                return -(long long)errno;
            opened = 1;
            if (fstat(fd, &st) != 0) {
                int e = errno;
                close(fd);
                return -(long long)e;
            }
        }
        long long off = 0;
        for (;;) {
            ssize_t r = pread(fd, buf, (size_t)cap, off);
            if (r < 0) {
                if (errno == EINTR)
                    continue;
                int e = errno;
                if (opened)
                    close(fd);
                return -(long long)e;
            }
            off += r;
            if (one_read || r == 0 || (r < cap && !multi[i]))
                break;
        }
        if (opened)
            close(fd);
        all += off;
    }
    return all;
}

/* open relative to a kept directory fd (openat, no fstat: a kept directory fd of
 * a removed cgroup answers ENOENT, so a re-created cgroup cannot be mistaken
 * for it), read until 0, close: a cheaper way to re-open per sweep. */
long long cgs_openat_sweep(const int *dirfds, const char *name, long n, char *buf, long cap)
{
    long long all = 0;
    for (long i = 0; i < n; i++) {
        int fd = openat(dirfds[i], name, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            return -(long long)errno;
        long long off = 0;
        for (;;) {
            ssize_t r = pread(fd, buf, (size_t)cap, off);
            if (r < 0) {
                if (errno == EINTR)
                    continue;
                int e = errno;
                close(fd);
                return -(long long)e;
            }
            off += r;
            if (r == 0)
                break;
        }
        close(fd);
        all += off;
    }
    return all;
}

#ifdef FLOOR_MAIN
int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s LISTFILE ITERS   (LISTFILE lines: \"FLAGS PATH\", FLAGS: m multi, r reopen, -)\n",
                argv[0]);
        return 2;
    }
    FILE *f = fopen(argv[1], "r");
    if (!f) {
        perror(argv[1]);
        return 1;
    }
    long iters = atol(argv[2]);
    long n = 0, capn = 1024;
    int *fds = malloc(capn * sizeof(int));
    char **paths = malloc(capn * sizeof(char *));
    unsigned char *multi = malloc(capn);
    char line[4096];
    while (fgets(line, sizeof line, f)) {
        size_t len = strlen(line);
        if (len && line[len - 1] == '\n')
            line[--len] = 0;
        char *sp = strchr(line, ' ');
        if (!sp)
            continue;
        *sp = 0;
        if (n == capn) {
            capn *= 2;
            fds = realloc(fds, capn * sizeof(int));
            paths = realloc(paths, capn * sizeof(char *));
            multi = realloc(multi, capn);
        }
        paths[n] = strdup(sp + 1);
        multi[n] = strchr(line, 'm') != NULL;
        fds[n] = -1;
        if (!strchr(line, 'r')) {
            fds[n] = open(paths[n], O_RDONLY | O_CLOEXEC);
            if (fds[n] < 0) {
                perror(paths[n]);
                return 1;
            }
        }
        n++;
    }
    fclose(f);
    long cap = 65536;
    char *buf = malloc(cap);
    struct timespec a, b;
    long long bytes = cgs_floor_sweep(fds, (const char *const *)paths, multi, n, buf, cap, 0);  /* warm up */
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (long k = 0; k < iters; k++)
        bytes = cgs_floor_sweep(fds, (const char *const *)paths, multi, n, buf, cap, 0);
    clock_gettime(CLOCK_MONOTONIC, &b);
    double ns = (double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec);
    fprintf(stderr, "floor files %ld bytes %lld ns-per-sweep %.0f ns-per-file %.1f\n",
            n, bytes, ns / iters, ns / iters / n);
    return bytes < 0;
}
#endif
