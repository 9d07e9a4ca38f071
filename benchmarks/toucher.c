/* A process for memory-charge benchmarks (benchmarks/defaults.py): joins the
 * cgroups whose cgroup.procs files are given, then touches MIB mebibytes of
 * anonymous memory (one write per page, so every page is charged there), says
 * "ok" on stdout and sleeps until killed. It dies with its parent
 * (PR_SET_PDEATHSIG), so a killed benchmark leaves no toucher behind.
 *
 *     toucher MIB PROCS_FILE...
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s MIB PROCS_FILE...\n", argv[0]);
        return 2;
    }
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() == 1)
        return 1;
    for (int i = 2; i < argc; i++) {
        FILE *f = fopen(argv[i], "w");
        if (!f || fprintf(f, "%d\n", (int)getpid()) < 0 || fclose(f) != 0) {
            perror(argv[i]);
            return 1;
        }
    }
    size_t len = (size_t)atol(argv[1]) << 20;
    long page = sysconf(_SC_PAGESIZE);
    char *p = len ? mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) : NULL;
    if (p == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    for (size_t off = 0; off < len; off += page)
        p[off] = 1;
    printf("ok\n");
    fflush(stdout);
    for (;;)
        pause();
}
