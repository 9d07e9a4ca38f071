/* The floor of the sweep's groups that are not cgroup files (benchmarks/full_sweep.py,
 * benchmarks/defaults.py): the same syscalls the sampler makes, with no parsing
 * and nothing stored. Built as a shared object and called through ctypes.
 *
 *   ff_proc       per process of a container (pid list fixed at set-up: its
 *                 parse is not floor): fstatat(proc, "<pid>/fd") (processes'
 *                 fd count; Linux >= 6.2 gives the count as the size) and/or
 *                 openat(proc, "<pid>/schedstat") + one pread + close (schedstat);
 *                 with FF_PROC_STAT also openat "<pid>/stat" + pread + close (the
 *                 per-thread read of the load group counted from /proc);
 *   ff_taskstats  per cgroup: CGROUPSTATS_CMD_GET on a kept NETLINK_GENERIC
 *                 socket with a kept O_RDONLY directory fd, then recv of the
 *                 reply and of the ack (the sampler asks NLM_F_ACK);
 *   ff_read_all   a /proc seq_file read to EOF (net/dev, diskstats): preads
 *                 from offset 0, each where the last ended, until one returns 0;
 *   ff_sockdiag   the sampler's socket dumps of one namespace: TCPDIAG_GETSOCK
 *                 (TCP of both families in one hash walk) and/or
 *                 SOCK_DIAG_BY_FAMILY for UDP and UDP6 with INET_DIAG_SKMEMINFO;
 *                 each dump is sent and received until NLMSG_DONE (walking the
 *                 message headers only: that is how the end is found);
 *   ff_statfs     stat() and statfs() of each path (the filesystems group: the
 *                 stat checks the mount point still shows its device).
 * Each returns a count (bytes, messages) or -errno.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <linux/genetlink.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <linux/taskstats.h>
#include <linux/cgroupstats.h>

#define FF_PROC_FD 1
#define FF_PROC_SCHEDSTAT 2
#define FF_PROC_STAT 4

#define BUF 65536
static char g_buf[BUF];

long long ff_proc(int proc_dirfd, const unsigned *pids, long n, int what)
{
    char path[40];
    char small[1024];
    struct stat st;
    long long total = 0;
    for (long i = 0; i < n; i++) {
        if (what & FF_PROC_FD) {
            snprintf(path, sizeof path, "%u/fd", pids[i]);
            if (fstatat(proc_dirfd, path, &st, 0) == 0)
                total += st.st_size;
        }
        if (what & FF_PROC_SCHEDSTAT) {
            snprintf(path, sizeof path, "%u/schedstat", pids[i]);
            int fd = openat(proc_dirfd, path, O_RDONLY | O_CLOEXEC);
            if (fd >= 0) {
                ssize_t r = pread(fd, small, 96, 0);
                total += r > 0 ? r : 0;
                close(fd);
            }
        }
        if (what & FF_PROC_STAT) {
            snprintf(path, sizeof path, "%u/stat", pids[i]);
            int fd = openat(proc_dirfd, path, O_RDONLY | O_CLOEXEC);
            if (fd >= 0) {
                ssize_t r = pread(fd, small, sizeof small, 0);
                total += r > 0 ? r : 0;
                close(fd);
            }
        }
    }
    return total;
}

/* --- taskstats ------------------------------------------------------------------- */

struct genl_req {
    struct nlmsghdr nlh;
    struct genlmsghdr g;
    struct nlattr a;
    char payload[16];
};

static int genl_send(int fd, uint16_t type, uint16_t flags, uint32_t seq, uint8_t cmd,
                     uint16_t attr, const void *val, uint16_t vlen)
{
    struct genl_req rq;
    memset(&rq, 0, sizeof rq);
    rq.a.nla_len = NLA_HDRLEN + vlen;
    rq.nlh.nlmsg_len = NLMSG_HDRLEN + GENL_HDRLEN + NLA_ALIGN(rq.a.nla_len);
    rq.nlh.nlmsg_type = type;
    rq.nlh.nlmsg_flags = NLM_F_REQUEST | flags;
    rq.nlh.nlmsg_seq = seq;
    rq.g.cmd = cmd;
    rq.g.version = 1;
    rq.a.nla_type = attr;
    memcpy(rq.payload, val, vlen);
    return send(fd, &rq, rq.nlh.nlmsg_len, 0) < 0 ? -errno : 0;
}

/* A NETLINK_GENERIC socket; *family = the TASKSTATS family id. fd or -errno. */
int ff_taskstats_open(int *family)
{
    struct sockaddr_nl addr = {.nl_family = AF_NETLINK};
    struct timeval tv = {.tv_sec = 1};
    int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_GENERIC);
    if (fd < 0)
        return -errno;
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    int rc = genl_send(fd, GENL_ID_CTRL, 0, 1, CTRL_CMD_GETFAMILY, CTRL_ATTR_FAMILY_NAME,
                       TASKSTATS_GENL_NAME, sizeof TASKSTATS_GENL_NAME);
    ssize_t n = rc ? rc : recv(fd, g_buf, BUF, 0);
    if (n < (ssize_t)(NLMSG_HDRLEN + GENL_HDRLEN)) {
        close(fd);
        return -ENOENT;
    }
    char *p = g_buf + NLMSG_HDRLEN + GENL_HDRLEN, *end = g_buf + ((struct nlmsghdr *)g_buf)->nlmsg_len;
    while (p + NLA_HDRLEN <= end) {
        struct nlattr *a = (struct nlattr *)p;
        if ((a->nla_type & NLA_TYPE_MASK) == CTRL_ATTR_FAMILY_ID) {
            memcpy(family, p + NLA_HDRLEN, 2);
            *family &= 0xffff;
            return fd;
        }
        if (a->nla_len < NLA_HDRLEN)
            break;
        p += NLA_ALIGN(a->nla_len);
    }
    close(fd);
    return -ENOENT;
}

/* One CGROUPSTATS_CMD_GET per dirfd: send, recv the reply, recv the ack. */
long long ff_taskstats(int fd, int family, const int *dirfds, long n, unsigned *seq)
{
    long long msgs = 0;
    for (long i = 0; i < n; i++) {
        uint32_t v = (uint32_t)dirfds[i];
        *seq += 1;
        int rc = genl_send(fd, (uint16_t)family, NLM_F_ACK, *seq, CGROUPSTATS_CMD_GET,
                           CGROUPSTATS_CMD_ATTR_FD, &v, 4);
        if (rc)
            return rc;
        for (;;) {
            ssize_t r = recv(fd, g_buf, BUF, 0);
            if (r < 0)
                return -errno;
            msgs++;
            struct nlmsghdr *h = (struct nlmsghdr *)g_buf;
            if (h->nlmsg_seq == *seq && h->nlmsg_type == NLMSG_ERROR)
                break;
        }
    }
    return msgs;
}

/* --- files ----------------------------------------------------------------------- */

long long ff_read_all(int fd)
{
    long total = 0;
    for (;;) {
        ssize_t r = pread(fd, g_buf + total, BUF - total, total);
        if (r < 0)
            return -errno;
        if (r == 0)
            return total;
        total += r;
        if (total == BUF)
            return -EFBIG;
    }
}

long long ff_statfs(const char *const *paths, long n)
{
    struct statfs s;
    struct stat st;
    long long ok = 0;
    for (long i = 0; i < n; i++)
        ok += stat(paths[i], &st) == 0 && statfs(paths[i], &s) == 0;
    return ok;
}

/* --- sock_diag ------------------------------------------------------------------- */

/* A NETLINK_SOCK_DIAG socket inside the network namespace at nspath (setns on
 * this thread and back). fd or -errno. */
int ff_diag_socket(const char *nspath)
{
    int own = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    int target = open(nspath, O_RDONLY | O_CLOEXEC);
    int fd = -1, e = 0;
    if (own < 0 || target < 0) {
        e = errno;
        goto out;
    }
    if (setns(target, CLONE_NEWNET) < 0) {
        e = errno;
        goto out;
    }
    fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
    if (fd < 0)
        e = errno;
    if (setns(own, CLONE_NEWNET) < 0) {
        e = errno;        /* cannot come back: fail loudly */
        if (fd >= 0)
            close(fd);
        fd = -1;
    }
out:
    if (own >= 0)
        close(own);
    if (target >= 0)
        close(target);
    return fd >= 0 ? fd : -e;
}

static long long dump(int fd, const void *req, size_t len, uint32_t seq)
{
    long long msgs = 0;
    if (send(fd, req, len, 0) < 0)
        return -errno;
    for (;;) {
        ssize_t r = recv(fd, g_buf, BUF, 0);
        if (r < 0)
            return -errno;
        for (struct nlmsghdr *h = (struct nlmsghdr *)g_buf; NLMSG_OK(h, r); h = NLMSG_NEXT(h, r)) {
            if (h->nlmsg_seq != seq)
                continue;
            if (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR)
                return msgs;
            msgs++;
        }
    }
}

#define FF_TCP 1
#define FF_UDP 2

/* The dumps the sampler makes per namespace: TCP (one walk, both families), UDP, UDP6. */
long long ff_sockdiag(int fd, int what, unsigned *seq)
{
    long long msgs = 0, r;
    if (what & FF_TCP) {
        struct {
            struct nlmsghdr nlh;
            struct inet_diag_req r;
        } rq;
        memset(&rq, 0, sizeof rq);
        rq.nlh.nlmsg_len = sizeof rq;
        rq.nlh.nlmsg_type = TCPDIAG_GETSOCK;
        rq.nlh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
        rq.nlh.nlmsg_seq = ++*seq;
        rq.r.idiag_family = AF_INET;
        rq.r.idiag_states = 0xFFE;
        if ((r = dump(fd, &rq, sizeof rq, *seq)) < 0)
            return r;
        msgs += r;
    }
    if (what & FF_UDP) {
        for (int k = 0; k < 2; k++) {
            struct {
                struct nlmsghdr nlh;
                struct inet_diag_req_v2 r;
            } rq;
            memset(&rq, 0, sizeof rq);
            rq.nlh.nlmsg_len = sizeof rq;
            rq.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
            rq.nlh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
            rq.nlh.nlmsg_seq = ++*seq;
            rq.r.sdiag_family = k ? AF_INET6 : AF_INET;
            rq.r.sdiag_protocol = IPPROTO_UDP;
            rq.r.idiag_ext = 1 << (INET_DIAG_SKMEMINFO - 1);
            rq.r.idiag_states = 0xFFFFFFFFu;
            if ((r = dump(fd, &rq, sizeof rq, *seq)) < 0)
                return r;
            msgs += r;
        }
    }
    return msgs;
}

/* open(dirfd, name) + reads to EOF + close: a file the sampler opens for each read
 * (v1 tasks / cgroup.procs). Bytes or -errno. */
long long ff_openat_read(int dirfd, const char *name)
{
    int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    long long r = ff_read_all(fd);
    close(fd);
    return r;
}

/* reps single preads of a kept fd from offset 0 (a single-record file such as
 * memory.stat); returns the thread CPU time they took in ns (CLOCK_THREAD_CPUTIME_ID:
 * time spent preempted by other processes on this shared machine is left out), or
 * -errno. *last = bytes of the last read. */
long long ff_pread_cpu(int fd, long reps, long *last)
{
    struct timespec a, b;
    ssize_t r = 0;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a);
    for (long i = 0; i < reps; i++) {
        r = pread(fd, g_buf, BUF, 0);
        if (r < 0)
            return -errno;
    }
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b);
    *last = r;
    return (long long)(b.tv_sec - a.tv_sec) * 1000000000LL + (b.tv_nsec - a.tv_nsec);
}
