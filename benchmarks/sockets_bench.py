"""Per-namespace socket-state sampling: netlink sock_diag against /proc/<pid>/net/tcp.

Makes its network namespaces with the test rig (tests/netns_rig.py; every
connection here is 127.0.0.1 -> 127.0.0.1 inside namespace a), a helper in it
whose /proc/<pid>/net/* are the /proc path's files, and N TCP sockets in it
(held by child processes: each a listener and up to 8,000 connections to it,
both ends kept open), for
N = 10, 1,000 and 100,000 by default. For each N, per namespace:

* floor: the raw read of /proc/<pid>/net/tcp and tcp6 through kept fds, the
  engine's pread loop (benchmarks/parse_procfs.py: preads from offset 0 until
  one returns 0, or one short first read), timed in a C loop;
* parse: procnet.tcp_states on the bytes of one such read (nogil C loop);
  parse / floor is what parsing adds (target: at most 10 %);
* /proc: floor + parse, the whole cost of the /proc path;
* netlink: NetnsSocket.time_dump("tcp46"): tcp and tcp6 from one dump (one
  walk of the socket hashes, the TCPDIAG_GETSOCK request) on a socket made in
  the namespace, records counted in place; and "per family": one
  SOCK_DIAG_BY_FAMILY dump for each of tcp and tcp6 (two walks);
* all four: /proc tcp, tcp6, udp, udp6 read + parsed, against NetnsSocket's
  sample() (4 dumps);
* psutil: psutil.net_connections("tcp") and net_connections("inet") (tcp,
  tcp6, udp, udp6: against "all 4 tables") run with this thread inside the
  namespace (psutil reads /proc/net/* of that namespace, parses it in Python,
  and maps inodes to pids through every /proc/*/fd).

Also checks, at each N, that both paths count the same sockets per state.
Needs root (namespaces, setns, RLIMIT_NOFILE). psutil is optional, for its
columns only (`pip install psutil`; not a dependency of cgsampler); without it
they show "-".

    python benchmarks/sockets_bench.py
    python benchmarks/sockets_bench.py --sizes 10 1000 --seconds 0.2
"""
from __future__ import annotations

import argparse
import ctypes
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "tests"))
sys.path.insert(0, os.environ.get("PYTHONPATH") or os.path.join(HERE, "..", "src"))

from parse_procfs import MULTI, load_read_loop  # noqa: E402

from netns_rig import NetnsRig, skip_reason  # noqa: E402

from cgsampler._native import procnet, sockdiag  # noqa: E402


CHILD = r"""
import resource, socket, sys
pairs, port = int(sys.argv[1]), int(sys.argv[2])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
lst = socket.socket()
lst.bind(("127.0.0.1", port))
lst.listen(4096)
kept = [lst]
for _ in range(pairs):
    c = socket.create_connection(("127.0.0.1", port))
    s, _ = lst.accept()
    kept += [c, s]
print("ready", flush=True)
sys.stdin.read()
"""
PER_CHILD = 8000        # connections per holder process: 16,001 fds, under a 20,000 hard RLIMIT_NOFILE


class Holder:
    """The rig's namespace a, its helper, and the processes that hold the sockets:
    each (started in a by the rig, its soft RLIMIT_NOFILE raised to the hard
    limit) opens a listener on 127.0.0.1 and up to PER_CHILD connections to it,
    keeping both ends."""

    def __init__(self):
        self.rig = NetnsRig().__enter__()
        try:
            self.pid = self.rig.start_helper(self.rig.a).pid
        except BaseException:
            self.rig.close()
            raise
        self.children = []
        self.sockets = 0

    def inside(self):
        return self.rig.inside(self.rig.a)

    def grow_to(self, n):
        """At least n TCP sockets in the namespace (each child: 2 per connection + its listener)."""
        while self.sockets < n:
            pairs = min(PER_CHILD, max(1, (n - self.sockets - 1) // 2))
            child = self.rig.popen([sys.executable, "-c", CHILD, str(pairs), str(5000 + len(self.children))],
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            self.children.append(child)
            if child.stdout.readline().strip() != "ready":
                raise RuntimeError("a socket holder failed")
            self.sockets += 2 * pairs + 1

    def close(self):
        self.rig.close()             # kills the holders and the helper, deletes the namespaces


def calibrate(run, seconds):
    reps = 1
    while True:
        ns = run(reps)
        if ns >= seconds * 1e9 / 10 or reps >= 1 << 24:
            return max(1, int(reps * seconds * 1e9 / max(ns, 1)))
        reps *= 10


def median_ns(run, rounds, seconds):
    reps = calibrate(run, seconds)
    return statistics.median(run(reps) / reps for _ in range(rounds))


class ProcFile:
    """A kept fd on /proc/<pid>/net/<name> and a buffer the whole file fits in."""

    def __init__(self, lib, pid, name):
        self.lib = lib
        self.fd = os.open(f"/proc/{pid}/net/{name}", os.O_RDONLY)
        self.cap = 1 << 16
        self.last = ctypes.c_long()
        while True:
            self.buf = ctypes.create_string_buffer(self.cap)
            rc = lib.read_loop(self.fd, self.buf, self.cap, 1, MULTI, ctypes.byref(self.last))
            if rc == -2 or self.last.value > self.cap // 2:
                self.cap *= 4
                continue
            if rc < 0:
                raise OSError(f"read_loop failed on {name}")
            break

    def read_ns(self, reps):
        ns = self.lib.read_loop(self.fd, self.buf, self.cap, reps, MULTI, ctypes.byref(self.last))
        if ns < 0:
            raise OSError(f"read_loop failed ({ns})")
        return ns

    def data(self):
        self.read_ns(1)
        return self.buf.raw[:self.last.value]

    def close(self):
        os.close(self.fd)


def fmt(ns):
    if ns >= 1e6:
        return f"{ns / 1e6:,.2f} ms"
    return f"{ns / 1e3:,.1f} µs"


def measure(lib, holder, nl, n, rounds, seconds, psutil_mod):
    files = {t: ProcFile(lib, holder.pid, t) for t in ("tcp", "tcp6", "udp", "udp6")}
    try:
        # Both paths count the same sockets (nothing changes while we measure).
        via_proc = {t: procnet.parse_tcp_states(files[t].data()) for t in ("tcp", "tcp6")}
        via_proc.update({t: procnet.parse_udp_stats(files[t].data()) for t in ("udp", "udp6")})
        valid, via_nl = nl.sample_all()
        for t in ("udp", "udp6"):
            via_nl[t]["no_drops"] = via_proc[t]["no_drops"] = 0
        same = valid == sockdiag.VALID_ALL and via_proc == via_nl
        sockets = sum(via_proc["tcp"].values()) + sum(via_proc["tcp6"].values())
        row = {"n": n, "sockets": sockets, "same": same,
               "bytes": len(files["tcp"].data()) + len(files["tcp6"].data())}
        floor = parse = 0.0
        for t in ("tcp", "tcp6"):
            data = files[t].data()
            floor += median_ns(files[t].read_ns, rounds, seconds)
            parse += median_ns(lambda r, d=data: procnet.time_parse("tcp", d, r), rounds, seconds)
        row.update(floor=floor, parse=parse, proc=floor + parse,
                   netlink=median_ns(lambda r: nl.time_dump("tcp46", r), rounds, seconds),
                   netlink2=median_ns(lambda r: nl.time_dump("tcp", r), rounds, seconds)
                   + median_ns(lambda r: nl.time_dump("tcp6", r), rounds, seconds))
        all_proc = floor + parse
        for t in ("udp", "udp6"):
            data = files[t].data()
            all_proc += median_ns(files[t].read_ns, rounds, seconds)
            all_proc += median_ns(lambda r, d=data: procnet.time_parse("udp", d, r), rounds, seconds)
        row.update(all_proc=all_proc, all_netlink=median_ns(lambda r: nl.time_dump("all", r), rounds, seconds))
        if psutil_mod is not None:
            for kind in ("tcp", "inet"):
                times = []
                for _ in range(max(1, min(rounds, 3) if n >= 100000 else rounds)):
                    with holder.inside():
                        t0 = time.perf_counter_ns()
                        conns = psutil_mod.net_connections(kind)
                        times.append(time.perf_counter_ns() - t0)
                row[f"psutil_{kind}"] = statistics.median(times)
                row[f"psutil_{kind}_n"] = len(conns)
        return row
    finally:
        for f in files.values():
            f.close()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10, 1000, 100000])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=0.3, help="length of one timed loop")
    args = ap.parse_args(argv)
    if skip_reason():
        sys.exit(skip_reason())
    try:
        import psutil
    except ImportError:
        psutil = None
    lib = load_read_loop()
    holder = Holder()
    rows = []
    try:
        nl = sockdiag.NetnsSocket.for_pid(holder.pid)
        for n in sorted(args.sizes):
            t0 = time.monotonic()
            holder.grow_to(n)
            print(f"# {n} sockets made in {time.monotonic() - t0:.1f} s", file=sys.stderr, flush=True)
            rows.append(measure(lib, holder, nl, n, args.rounds, args.seconds, psutil))
        nl.close()
    finally:
        holder.close()
    ehash = open("/proc/sys/net/ipv4/tcp_ehash_entries").read().strip() \
        if os.path.exists("/proc/sys/net/ipv4/tcp_ehash_entries") else "?"
    print(f"kernel {os.uname().release}, {os.cpu_count()} CPUs, tcp_ehash_entries {ehash}; "
          f"psutil {psutil.__version__ if psutil else 'missing'}; median of {args.rounds} rounds; "
          f"TCP = tcp + tcp6 of the namespace")
    print()
    print("| sockets | tcp+tcp6 bytes | /proc floor (read) | parse | parse / floor | /proc read+parse "
          "| netlink (one walk) | netlink per family | /proc ÷ netlink | all 4 tables: /proc | all 4: netlink "
          "| psutil ('tcp') | psutil ('tcp') ÷ netlink | psutil ('inet') | psutil ('inet') ÷ all 4 netlink | same counts |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|:-:|")

    def ps(r, kind, base):
        t = r.get(f"psutil_{kind}")
        return ("-", "-") if t is None else (fmt(t), f"{t / r[base]:,.0f}×")
    for r in rows:
        pt, ptr = ps(r, "tcp", "netlink")
        pi, pir = ps(r, "inet", "all_netlink")
        print(f"| {r['sockets']:,} | {r['bytes']:,} | {fmt(r['floor'])} | {fmt(r['parse'])} | "
              f"{100 * r['parse'] / r['floor']:.1f} % | {fmt(r['proc'])} | {fmt(r['netlink'])} | {fmt(r['netlink2'])} | "
              f"{r['proc'] / r['netlink']:.1f}× | {fmt(r['all_proc'])} | {fmt(r['all_netlink'])} | {pt} | {ptr} | "
              f"{pi} | {pir} | {'yes' if r['same'] else 'NO'} |")


if __name__ == "__main__":
    main()
