/* The kernel floor of a cgsampler sweep: read each given file from offset 0 the
 * way cgsampler's Engine._read does (src/cgsampler/_native/sweep.pyx, commit
 * 567fdaa), with no parsing and nothing stored:
 *   - a kept fd: pread(fd, buf + total, cap - total, total);
 *   - a file the engine opens for each read (v1 cgroup.procs): openat() on the
 *     kept O_PATH directory fd of its cgroup, the reads, close; without a
 *     directory fd (slots past the fd budget): open(path) + fstat (the engine's
 *     inode check) + the reads + close;
 *   - single-record files: stop at the first read shorter than what was asked;
 *   - multi-record files (cgroup.procs): stop at a read of 0, or after the first
 *     read when max_record > 0 and n + max_record < page size (seq_file stops a
 *     read only when the next record does not fit in its page: so short a first
 *     read is the whole file, and the engine skips the EOF read);
 *   - a file longer than the buffer doubles it and goes on (the engine keeps
 *     the grown buffer; so does this file, in a static buffer of its own).
 *
 * Two builds:
 *   - a shared object for benchmarks/floor.py (ctypes): cgs_floor_sweep() over
 *     fds the caller holds (compare.py passes the sampler's own kept fds and
 *     directory fds, so the floor reads the very same kernel files);
 *   - with -DFLOOR_MAIN a standalone program for perf/callgrind:
 *       floor LISTFILE ITERS    LISTFILE lines: "FLAGS PATH"; FLAGS: m multi-record,
 *                               a number = its max_record, r opened each read by
 *                               openat() on a kept O_PATH fd of its directory,
 *                               R opened each read by path (+ fstat), "-" none
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

#define INITIAL_BUFFER 65536    /* the engine's INITIAL_BUFFER */

static char *g_buf;
static long g_cap;
static long g_page;

/* Modes for the EOF rule of multi-record files. */
enum { FLOOR_ENGINE = 0,        /* the engine's rule (EOF read skipped when short) */
       FLOOR_ONE_READ = 1,      /* one pread per file, whatever it returned */
       FLOOR_UNTIL_ZERO = 2 };  /* multi-record files read until 0 (before 567fdaa) */

static int ensure_buf(void)
{
    if (!g_buf) {
        g_buf = malloc(INITIAL_BUFFER);
        if (!g_buf)
            return -ENOMEM;
        g_cap = INITIAL_BUFFER;
        g_page = sysconf(_SC_PAGESIZE);
    }
    return 0;
}

/* Reads n files; entry i is fds[i] if >= 0, else openat(dirfds[i], names[i]) if
 * dirfds[i] >= 0, else open(paths[i]) + fstat. multi[i]: multi-record file;
 * max_record[i]: its longest record (0: always read to EOF). Returns bytes read
 * in total, or -errno of the first failure. */
long long cgs_floor_sweep(const int *fds, const int *dirfds, const char *const *paths,
                          const char *const *names, const unsigned char *multi,
                          const unsigned int *max_record, long n, int mode)
{
    long long all = 0;
    int e = ensure_buf();
    if (e)
        return e;
    for (long i = 0; i < n; i++) {
        int fd = fds[i];
        int opened = 0;
        if (fd < 0) {
            if (dirfds[i] >= 0) {
                fd = openat(dirfds[i], names[i], O_RDONLY | O_CLOEXEC);
                if (fd < 0)
                    return -(long long)errno;
            } else {
                struct stat st;
                fd = open(paths[i], O_RDONLY | O_CLOEXEC);
                if (fd < 0)
                    return -(long long)errno;
                if (fstat(fd, &st) != 0) {
                    e = errno;
                    close(fd);
                    return -(long long)e;
                }
            }
            opened = 1;
        }
        long total = 0;
        for (;;) {
            ssize_t r = pread(fd, g_buf + total, (size_t)(g_cap - total), total);
            if (r < 0) {
                if (errno == EINTR)
                    continue;
                e = errno;
                if (opened)
                    close(fd);
                return -(long long)e;
            }
            total += r;
            if (r == 0 || (total < g_cap && !multi[i]) || mode == FLOOR_ONE_READ)
                break;
            if (mode == FLOOR_ENGINE && total == r && max_record[i] && r + (long)max_record[i] < g_page)
                break;
            if (total == g_cap) {
                char *grown = realloc(g_buf, g_cap * 2);
                if (!grown) {
                    if (opened)
                        close(fd);
                    return -ENOMEM;
                }
                g_buf = grown;
                g_cap *= 2;
            }
        }
        if (opened)
            close(fd);
        all += total;
    }
    return all;
}

#ifdef FLOOR_MAIN
int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s LISTFILE ITERS   (LISTFILE lines: \"FLAGS PATH\", FLAGS: m multi, "
                        "NUMBER max_record, r openat on a kept dir fd, R open by path, -)\n", argv[0]);
        return 2;
    }
    FILE *f = fopen(argv[1], "r");
    if (!f) {
        perror(argv[1]);
        return 1;
    }
    long iters = atol(argv[2]);
    long n = 0, capn = 1024;
    int *fds = malloc(capn * sizeof(int)), *dirfds = malloc(capn * sizeof(int));
    char **paths = malloc(capn * sizeof(char *)), **names = malloc(capn * sizeof(char *));
    unsigned char *multi = malloc(capn);
    unsigned int *maxrec = malloc(capn * sizeof(unsigned int));
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
            dirfds = realloc(dirfds, capn * sizeof(int));
            paths = realloc(paths, capn * sizeof(char *));
            names = realloc(names, capn * sizeof(char *));
            multi = realloc(multi, capn);
            maxrec = realloc(maxrec, capn * sizeof(unsigned int));
        }
        paths[n] = strdup(sp + 1);
        char *slash = strrchr(paths[n], '/');
        names[n] = slash ? slash + 1 : paths[n];
        multi[n] = strchr(line, 'm') != NULL;
        maxrec[n] = 0;
        for (char *c = line; *c; c++)
            if (*c >= '0' && *c <= '9') {
                maxrec[n] = (unsigned int)strtoul(c, NULL, 10);
                break;
            }
        fds[n] = dirfds[n] = -1;
        if (strchr(line, 'r')) {
            char *dir = strdup(paths[n]);
            char *s = strrchr(dir, '/');
            if (s)
                *s = 0;
            dirfds[n] = open(s ? dir : ".", O_RDONLY | O_CLOEXEC | O_DIRECTORY | O_PATH);
            if (dirfds[n] < 0) {
                perror(dir);
                return 1;
            }
            free(dir);
        } else if (!strchr(line, 'R')) {
            fds[n] = open(paths[n], O_RDONLY | O_CLOEXEC);
            if (fds[n] < 0) {
                perror(paths[n]);
                return 1;
            }
        }
        n++;
    }
    fclose(f);
    struct timespec a, b;
    long long bytes = cgs_floor_sweep(fds, dirfds, (const char *const *)paths, (const char *const *)names,
                                      multi, maxrec, n, FLOOR_ENGINE);  /* warm up */
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (long k = 0; k < iters; k++)
        bytes = cgs_floor_sweep(fds, dirfds, (const char *const *)paths, (const char *const *)names,
                                multi, maxrec, n, FLOOR_ENGINE);
    clock_gettime(CLOCK_MONOTONIC, &b);
    double ns = (double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec);
    fprintf(stderr, "floor files %ld bytes %lld ns-per-sweep %.0f ns-per-file %.1f\n",
            n, bytes, ns / iters, ns / iters / n);
    return bytes < 0;
}
#endif
