"""A real network-namespace rig for tests and benchmarks (needs root and iproute2).

    from netns_rig import NetnsRig, netns_rig      # netns_rig: a module-scoped pytest fixture

    with NetnsRig() as rig:                        # or: def test_x(netns_rig): ...
        h = rig.start_helper(rig.a, cgroup="/sys/fs/cgroup/.../x")   # "the container"
        rig.listen(2); rig.established(3); rig.time_wait(1); rig.syn_sent(1)
        rig.expected(rig.a)      # {"tcp": {state: n}, "tcp6": ..., "udp": n, "udp6": n}
        d = rig.send_udp(10, 1000)                 # exact counter deltas of the veth ends

What it guarantees:

* Two namespaces of its own, `cgs-<6 hex>-a` and `-b` (rig.a, rig.b), joined by
  one veth pair (rig.iface(ns): `cgs<hex>a` / `cgs<hex>b`, no "veth" prefix, so
  cAdvisor's skip list keeps them) with 192.0.2.1/30 + 2001:db8::1/64 (a) and
  192.0.2.2/30 + 2001:db8::2/64 (b), IPv6 `nodad`; lo up. No default route, no
  link to the host: no packet leaves the pair.
* The veth is silent: static (permanent) neighbour entries, no IPv6 link-local
  address (so no DAD, router or neighbour solicitation) and the unsolicited MLD
  reports of the address are sent during setup, which waits until the link is
  quiet. Its counters then move only with the rig's cross-namespace traffic:
  send_udp / send_tcp and makers called with peer=the other namespace. lo
  carries every same-namespace connection and the SYN retransmits of
  syn_sent() (so compare lo only when it is at rest: at_rest()).
* Socket makers (listen, established, time_wait, close_wait, syn_sent, udp,
  udp_queued, udp_drops) make real sockets in a namespace (this process enters
  it on the calling thread for socket() only; the socket stays there), keep
  them open until close(), add what they made to rig.expected(), and return
  only once `ss` (an independent reader) shows exactly rig.expected() in every
  namespace touched. TIME_WAIT sockets live 60 s, SYN_SENT ones ~127 s
  (tcp_syn_retries 6): a test that needs them exact must finish sooner.
* A helper (start_helper) is a Python process already inside the namespace
  (setns before exec) and, if asked, already in a cgroup (its pid written to
  <dir>/cgroup.procs before exec): /proc/<pid>/ns/net and /proc/<pid>/net/*
  are the namespace's from the first instant. It mounts its own sysfs, so
  helper.read("/sys/class/net/...") reads the namespace's devices.
* close() (also on a failed setup, and at the end of the fixture) closes the
  sockets, kills every process it started and deletes both namespaces.
"""
from __future__ import annotations

import ctypes
import json
import os
import re
import secrets
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time
from contextlib import contextmanager

A4, B4 = "192.0.2.1", "192.0.2.2"
A6, B6 = "2001:db8::1", "2001:db8::2"
BLACKHOLE4 = "198.51.100.1"       # TEST-NET-2, routed into lo of a namespace that asks: SYNs vanish
TCP_STATES = ("established", "syn_sent", "syn_recv", "fin_wait1", "fin_wait2", "time_wait",
              "close", "close_wait", "last_ack", "listen", "closing")   # kernel order, 1..11
SS_STATES = {"ESTAB": "established", "SYN-SENT": "syn_sent", "SYN-RECV": "syn_recv",
             "FIN-WAIT-1": "fin_wait1", "FIN-WAIT-2": "fin_wait2", "TIME-WAIT": "time_wait",
             "UNCONN": "close", "CLOSE-WAIT": "close_wait", "LAST-ACK": "last_ack",
             "LISTEN": "listen", "CLOSING": "closing"}
CLONE_NEWNET = 0x40000000
SO_RCVBUFFORCE = 33
_libc = ctypes.CDLL(None, use_errno=True)


def skip_reason():
    """Why the rig cannot run here, or None."""
    if os.geteuid() != 0:
        return "needs root (ip netns add, setns)"
    if shutil.which("ip") is None or shutil.which("ss") is None:
        return "needs `ip` and `ss` (iproute2)"
    return None


def setns(fd):
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))


def wait_for(pred, timeout=10.0, what="condition"):
    """pred()'s first truthy value, polled every 10 ms; AssertionError after timeout s."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def at_rest(first, other, tries=50):
    """(x, y): y = other() taken between two calls of first() that returned the
    same x, so both describe one moment of whatever first() reads. Retries while
    first() moves; AssertionError after `tries`."""
    for _ in range(tries):
        x = first()
        y = other()
        if first() == x:
            return x, y
        time.sleep(0.02)
    raise AssertionError(f"{first} never at rest in {tries} tries")


def ip(*args, check=True):
    r = subprocess.run(["ip", *args], capture_output=True, text=True)
    if check and r.returncode:
        raise RuntimeError(f"ip {' '.join(args)}: {r.stderr.strip()}")
    return r


# The helper: enters a mount namespace of its own with a fresh sysfs (so
# /sys/class/net is its network namespace's), then answers one JSON line per
# request line: {"read": [path, ...]} -> {"data": [latin-1 text, ...]}.
HELPER = r"""
import ctypes, json, sys
libc = ctypes.CDLL(None, use_errno=True)
ok = (libc.unshare(0x20000) == 0 and libc.mount(b"none", b"/", None, 0x4000 | 0x80000, None) == 0
      and libc.mount(b"sysfs", b"/sys", b"sysfs", 0, None) == 0)
print(json.dumps({"ready": True, "sysfs": ok, "errno": ctypes.get_errno()}), flush=True)
for line in sys.stdin:
    req = json.loads(line)
    try:
        out = {"data": [open(p, "rb").read().decode("latin-1") for p in req["read"]]}
    except OSError as e:
        out = {"error": str(e)}
    print(json.dumps(out), flush=True)
"""


class Helper:
    """A process in a namespace (and maybe a cgroup): .pid, .read(*paths), .stop()."""

    def __init__(self, proc, ns, cgroup):
        self.proc, self.ns, self.cgroup = proc, ns, cgroup
        self.pid = proc.pid
        hello = json.loads(proc.stdout.readline())
        self.own_sysfs = hello["sysfs"]

    def read(self, *paths):
        """The bytes of each path, read by the helper (one moment, its own /sys)."""
        self.proc.stdin.write(json.dumps({"read": list(paths)}) + "\n")
        self.proc.stdin.flush()
        out = json.loads(self.proc.stdout.readline())
        if "error" in out:
            raise OSError(out["error"])
        return [d.encode("latin-1") for d in out["data"]]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout):
            f.close()


class NetnsRig:
    """Two namespaces and a veth pair; see the module docstring."""

    def __init__(self):
        tag = secrets.token_hex(3)
        self.a, self.b = f"cgs-{tag}-a", f"cgs-{tag}-b"
        self._iface = {self.a: f"cgs{tag}a", self.b: f"cgs{tag}b"}
        self._addr4 = {self.a: A4, self.b: B4}
        self._addr6 = {self.a: A6, self.b: B6}
        self._sockets = []
        self._procs = []
        self._helpers = []
        self._blackholed = set()
        self._expected = {ns: {"tcp": dict.fromkeys(TCP_STATES, 0), "tcp6": dict.fromkeys(TCP_STATES, 0),
                               "udp": 0, "udp6": 0} for ns in (self.a, self.b)}

    # --- setup / teardown ------------------------------------------------------------

    def __enter__(self):
        reason = skip_reason()
        if reason:
            raise RuntimeError(reason)
        try:
            self._setup()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc):
        self.close()

    def _setup(self):
        a, b = self.a, self.b
        ip("netns", "add", a)
        ip("netns", "add", b)
        ip("link", "add", self._iface[a], "netns", a, "type", "veth", "peer", "name", self._iface[b], "netns", b)
        mac = {}
        for ns in (a, b):
            dev = self._iface[ns]
            ip("-n", ns, "link", "set", dev, "addrgenmode", "none")     # no link-local: no DAD/RS
            with self.inside(ns):
                with open(f"/proc/sys/net/ipv6/conf/{dev}/mldv2_unsolicited_report_interval", "w") as f:
                    f.write("0")                     # the address's MLD reports go out at once
            ip("-n", ns, "addr", "add", f"{self._addr4[ns]}/30", "dev", dev)
            ip("-n", ns, "addr", "add", f"{self._addr6[ns]}/64", "dev", dev, "nodad")
            ip("-n", ns, "link", "set", "lo", "up")
            mac[ns] = json.loads(ip("-j", "-n", ns, "link", "show", dev).stdout)[0]["address"]
        for ns, peer in ((a, b), (b, a)):
            for addr in (self._addr4[peer], self._addr6[peer]):
                ip("-n", ns, "neigh", "replace", addr, "lladdr", mac[peer], "dev", self._iface[ns], "nud", "permanent")
        for ns in (a, b):
            ip("-n", ns, "link", "set", self._iface[ns], "up")
        # Quiet: both ends UP (linkwatch has seen the carrier: the MLD reports it
        # triggers are out) and their counters unchanged for 300 ms.
        def state():
            links = [json.loads(ip("-s", "-j", "-n", ns, "link", "show", self._iface[ns]).stdout)[0]
                     for ns in (a, b)]
            return [(link["operstate"], link["stats64"]) for link in links]
        last, since = state(), time.monotonic()
        deadline = since + 10
        while not (all(op == "UP" for op, _ in last) and time.monotonic() - since >= 0.3):
            if time.monotonic() > deadline:
                raise RuntimeError(f"the veth never went quiet: {last}")
            time.sleep(0.02)
            now = state()
            if now != last:
                last, since = now, time.monotonic()

    def close(self):
        """Closes the sockets, kills the processes, deletes the namespaces; idempotent."""
        for s in self._sockets:
            try:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            except OSError:
                pass
            s.close()
        self._sockets.clear()
        for h in self._helpers:
            h.stop()
        self._helpers.clear()
        for p in self._procs:
            if p.poll() is None:
                p.kill()
            p.wait()
        self._procs.clear()
        for ns in (self.a, self.b):
            if os.path.exists(f"/run/netns/{ns}"):
                ip("netns", "delete", ns, check=False)

    # --- where things are ------------------------------------------------------------

    def iface(self, ns):
        """The veth end in namespace ns."""
        return self._iface[ns]

    def addr(self, ns, family=socket.AF_INET):
        return self._addr4[ns] if family == socket.AF_INET else self._addr6[ns]

    def other(self, ns):
        return self.b if ns == self.a else self.a

    @staticmethod
    def path(ns):
        """The namespace's bind mount (what setns and NetnsSocket(netns=) take)."""
        return f"/run/netns/{ns}"

    @contextmanager
    def inside(self, ns):
        """The calling thread in namespace ns for the block (sockets made there stay there)."""
        own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        target = os.open(self.path(ns), os.O_RDONLY)
        try:
            setns(target)
            try:
                yield
            finally:
                setns(own)
        finally:
            os.close(own)
            os.close(target)

    # --- processes -------------------------------------------------------------------

    def popen(self, argv, ns=None, cgroup=None, preexec=None, **kw):
        """subprocess.Popen(argv, **kw) of a process that is in namespace ns (default a)
        and, if given, cgroup directory `cgroup` before it execs; killed at close()."""
        fd = os.open(self.path(ns or self.a), os.O_RDONLY | os.O_CLOEXEC)

        def enter():
            setns(fd)
            if cgroup:
                with open(os.path.join(cgroup, "cgroup.procs"), "w") as f:
                    f.write(str(os.getpid()))
            if preexec:
                preexec()
        try:
            p = subprocess.Popen(argv, preexec_fn=enter, **kw)
        finally:
            os.close(fd)
        self._procs.append(p)
        return p

    def start_helper(self, ns=None, cgroup=None):
        """A long-lived Helper in namespace ns (default a), in `cgroup` if given."""
        p = self.popen([sys.executable, "-c", HELPER], ns=ns, cgroup=cgroup,
                       stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self._procs.remove(p)
        h = Helper(p, ns or self.a, cgroup)
        self._helpers.append(h)
        return h

    # --- expected counts and what ss says ---------------------------------------------

    def expected(self, ns):
        """What the makers made in ns: {"tcp": {state: n}, "tcp6": ..., "udp": sockets, "udp6": sockets}."""
        e = self._expected[ns]
        return {"tcp": dict(e["tcp"]), "tcp6": dict(e["tcp6"]), "udp": e["udp"], "udp6": e["udp6"]}

    def ss(self, ns):
        """The same shape as expected(ns), counted from `ss -N ns` output."""
        out = {"tcp": dict.fromkeys(TCP_STATES, 0), "tcp6": dict.fromkeys(TCP_STATES, 0), "udp": 0, "udp6": 0}
        for fam, suffix in (("-4", ""), ("-6", "6")):
            r = subprocess.run(["ss", "-N", ns, "-H", "-n", "-a", "-t", "-u", fam],
                               capture_output=True, text=True, check=True)
            for line in r.stdout.splitlines():
                netid, state = line.split()[:2]
                if netid == "udp":
                    out["udp" + suffix] += 1
                else:
                    out["tcp" + suffix][SS_STATES[state]] += 1
        return out

    def ss_udp_drops(self, ns, sock):
        """The drop count ss shows (skmem d) for the UDP socket `sock` of ns."""
        port = sock.getsockname()[1]
        r = subprocess.run(["ss", "-N", ns, "-H", "-n", "-a", "-u", "-m", f"sport = :{port}"],
                           capture_output=True, text=True, check=True)
        m = re.search(r"\bd(\d+)\)", r.stdout)
        return int(m.group(1)) if m else 0

    def settle(self, *namespaces, timeout=5.0):
        """Waits until ss shows exactly expected() in each namespace."""
        for ns in namespaces or (self.a, self.b):
            try:
                wait_for(lambda: self.ss(ns) == self.expected(ns), timeout, f"ss to show the sockets made in {ns}")
            except AssertionError:
                got, want = self.ss(ns), self.expected(ns)
                diff = {k: (got[k], want[k]) for k in got if got[k] != want[k]}
                raise AssertionError(f"{ns}: ss != expected (got, want): {diff}") from None

    def _count(self, ns, family, state, n=1):
        t = "tcp" if family == socket.AF_INET else "tcp6"
        self._expected[ns][t][state] += n

    def _count_udp(self, ns, family, n=1):
        self._expected[ns]["udp" if family == socket.AF_INET else "udp6"] += n

    # --- socket makers ---------------------------------------------------------------

    def sock(self, ns, family=socket.AF_INET, kind=socket.SOCK_STREAM, keep=True):
        """A socket made in ns (kept open until close() unless keep=False). Not counted."""
        with self.inside(ns):
            s = socket.socket(family, kind)
        if keep:
            self._sockets.append(s)
        return s

    def _listener(self, ns, family, addr=None, backlog=128, keep=True):
        s = self.sock(ns, family, keep=keep)
        if family == socket.AF_INET6:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        s.bind((addr if addr is not None else ("::" if family == socket.AF_INET6 else self.addr(ns)), 0))
        s.listen(backlog)
        return s

    def listen(self, n=1, ns=None, family=socket.AF_INET):
        """n listeners in ns (AF_INET6: dual-stack on [::]). Returns them."""
        ns = ns or self.a
        out = [self._listener(ns, family) for _ in range(n)]
        self._count(ns, family, "listen", n)
        self.settle(ns)
        return out

    def _pairs(self, m, ns, peer, family, mapped):
        """m connected (client in ns, server in peer) pairs through a temporary listener
        in peer. mapped: an AF_INET6 dual-stack server, AF_INET client (IPv4-mapped)."""
        peer = peer or ns
        sfam = socket.AF_INET6 if mapped else family
        lst = self._listener(peer, sfam, addr="::" if mapped else self.addr(peer, family), keep=False)
        lst.settimeout(5)
        port = lst.getsockname()[1]
        pairs = []
        try:
            for _ in range(m):
                c = self.sock(ns, family)
                c.settimeout(5)
                c.connect((self.addr(peer, family), port))
                s, _ = lst.accept()
                self._sockets.append(s)
                pairs.append((c, s))
        finally:
            lst.close()
        return pairs, peer, sfam

    def established(self, m=1, ns=None, peer=None, family=socket.AF_INET, mapped=False):
        """m ESTABLISHED connections from ns to peer (default: ns itself, over lo; the
        other namespace: across the veth). [(client, server), ...]."""
        ns = ns or self.a
        pairs, peer, sfam = self._pairs(m, ns, peer, family, mapped)
        self._count(ns, family, "established", m)
        self._count(peer, sfam, "established", m)
        self.settle(ns, peer)
        return pairs

    def time_wait(self, k=1, ns=None, peer=None, family=socket.AF_INET):
        """k TIME_WAIT sockets in ns: the client closes first, then the server."""
        ns = ns or self.a
        pairs, peer, _ = self._pairs(k, ns, peer, family, False)
        for c, s in pairs:
            self._sockets.remove(c)
            c.close()
            assert s.recv(1) == b""
            self._sockets.remove(s)
            s.close()
        self._count(ns, family, "time_wait", k)
        self.settle(ns, peer)

    def close_wait(self, k=1, ns=None, peer=None, family=socket.AF_INET):
        """k CLOSE_WAIT sockets in ns, and their k FIN_WAIT2 peers (the server shut
        down writing, the client has not) in peer (default ns). [(client, server), ...]."""
        ns = ns or self.a
        pairs, peer, _ = self._pairs(k, ns, peer, family, False)
        for c, s in pairs:
            s.shutdown(socket.SHUT_WR)
            assert c.recv(1) == b""
        self._count(ns, family, "close_wait", k)
        self._count(peer, family, "fin_wait2", k)
        self.settle(ns, peer)
        return pairs

    def syn_sent(self, k=1, ns=None):
        """k SYN_SENT sockets in ns: connects to BLACKHOLE4, which a route in ns sends
        into lo, where the SYNs (and their retransmits, ~127 s) are dropped silently."""
        ns = ns or self.a
        if ns not in self._blackholed:
            ip("-n", ns, "route", "add", f"{BLACKHOLE4}/32", "dev", "lo", "src", self.addr(ns))
            self._blackholed.add(ns)
        out = []
        for i in range(k):
            c = self.sock(ns)
            c.setblocking(False)
            assert c.connect_ex((BLACKHOLE4, 9)) == 115      # EINPROGRESS
            out.append(c)
        self._count(ns, socket.AF_INET, "syn_sent", k)
        self.settle(ns)
        return out

    def udp(self, n=1, ns=None, family=socket.AF_INET, connect=False):
        """n UDP sockets bound in ns (and connected to the other namespace's
        address, which sends nothing, if connect)."""
        ns = ns or self.a
        out = []
        for _ in range(n):
            u = self.sock(ns, family, socket.SOCK_DGRAM)
            u.bind((self.addr(ns, family), 0))
            if connect:
                u.connect((self.addr(self.other(ns), family), 9))
            out.append(u)
        self._count_udp(ns, family, n)
        self.settle(ns)
        return out

    def _receiver_and_sender(self, ns, family, rcvbuf=None):
        r = self.sock(ns, family, socket.SOCK_DGRAM)
        if rcvbuf is not None:
            r.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        r.bind((self.addr(ns, family), 0))
        s = self.sock(ns, family, socket.SOCK_DGRAM)
        s.bind((self.addr(ns, family), 0))
        return r, s

    def udp_queued(self, datagrams=3, size=100, ns=None, family=socket.AF_INET):
        """A bound UDP socket holding `datagrams` unread datagrams of `size` bytes
        (sent over lo by a second socket in ns). (receiver, sender); 2 sockets counted."""
        ns = ns or self.a
        r, s = self._receiver_and_sender(ns, family)
        for _ in range(datagrams):
            s.sendto(b"q" * size, r.getsockname())
        self._count_udp(ns, family, 2)
        self.settle(ns)
        wait_for(lambda: self._rx_bytes_waiting(ns, r) > 0, what="queued datagrams")
        return r, s

    def _rx_bytes_waiting(self, ns, sock):
        port = sock.getsockname()[1]
        r = subprocess.run(["ss", "-N", ns, "-H", "-n", "-a", "-u", f"sport = :{port}"],
                           capture_output=True, text=True, check=True)
        return int(r.stdout.split()[1]) if r.stdout.strip() else 0

    def udp_drops(self, sends=64, size=1000, ns=None, family=socket.AF_INET):
        """A UDP socket with the smallest receive buffer that `sends` datagrams
        overflowed (sent over lo). (receiver, sender, drops as ss counts them, > 0);
        2 sockets counted."""
        ns = ns or self.a
        r, s = self._receiver_and_sender(ns, family, rcvbuf=1)
        for _ in range(sends):
            s.sendto(b"d" * size, r.getsockname())
        self._count_udp(ns, family, 2)
        self.settle(ns)
        drops = wait_for(lambda: self.ss_udp_drops(ns, r), what="UDP drops")
        return r, s, drops

    # --- traffic across the veth -------------------------------------------------------

    def send_udp(self, count, size=1000, src=None, family=socket.AF_INET):
        """count datagrams of size bytes from src (default a) to the other namespace,
        all received there; the sockets are gone on return. The exact counter
        deltas: {"tx_packets", "tx_bytes"} of src's veth end = {"rx_packets",
        "rx_bytes"} of the other end (frame = payload + UDP/IP + 14 Ethernet)."""
        src = src or self.a
        dst = self.other(src)
        r = self.sock(dst, family, socket.SOCK_DGRAM, keep=False)
        s = self.sock(src, family, socket.SOCK_DGRAM, keep=False)
        try:
            r.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 1 << 24)
            r.bind((self.addr(dst, family), 0))
            r.settimeout(5)
            payload = b"u" * size
            for _ in range(count):
                s.sendto(payload, r.getsockname()[:2])
            for _ in range(count):
                assert len(r.recv(size + 1)) == size
        finally:
            r.close()
            s.close()
        frame = size + 8 + (20 if family == socket.AF_INET else 40) + 14
        return {"packets": count, "bytes": count * frame}

    def send_tcp(self, nbytes, src=None, family=socket.AF_INET):
        """One TCP connection from src (default a) to the other namespace carrying
        exactly nbytes, all read there, then reset (no socket left, no TIME_WAIT).
        Frames and their sizes depend on segmentation: the veth ends move by at
        least nbytes, and a's tx equals b's rx."""
        src = src or self.a
        dst = self.other(src)
        lst = self._listener(dst, family, addr=self.addr(dst, family), keep=False)
        c = self.sock(src, family, keep=False)
        try:
            lst.settimeout(5)
            c.settimeout(5)
            c.connect((self.addr(dst, family), lst.getsockname()[1]))
            s, _ = lst.accept()
            with s:
                got = []
                reader = threading.Thread(target=lambda: got.append(_read_exactly(s, nbytes)))
                reader.start()
                c.sendall(b"t" * nbytes)
                reader.join()
                assert got == [nbytes]
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        finally:
            lst.close()
            c.close()
        self.settle(src, dst)
        return nbytes


def _read_exactly(s, n):
    got = 0
    while got < n:
        chunk = s.recv(min(1 << 20, n - got))
        if not chunk:
            break
        got += len(chunk)
    return got


def netns_rig_fixture():
    """The pytest fixture's body (module scope): a NetnsRig, or a skip with the reason."""
    import pytest
    reason = skip_reason()
    if reason:
        pytest.skip(reason)
    with NetnsRig() as rig:
        yield rig


try:
    import pytest as _pytest
    netns_rig = _pytest.fixture(scope="module", name="netns_rig")(netns_rig_fixture)
except ImportError:          # benchmarks import the rig without pytest
    pass
