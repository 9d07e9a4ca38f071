"""The netlink socket-state path (native sockdiag.pyx) against the /proc tables
(procnet.tcp_states / udp_stats) and against the sockets this test makes.

Real namespaces: two network namespaces of our own (cgs-t-a, cgs-t-b) joined by
a veth pair with 10.213.0.1/30 (a) and 10.213.0.2/30 (b); no address outside
them is ever used, so no packet leaves the pair. A `sleep` runs in each (its
/proc/<pid>/net/* and /proc/<pid>/ns/net are how the namespace is read). The
test process makes its sockets inside a namespace by entering it on its own
thread for the socket() call only (a socket stays in the namespace it was made
in), then drives them from the host side.

TCP states made in namespace a (IPv4), each by a kernel mechanism that holds it:
  LISTEN      2: a plain listener, and one with TCP_DEFER_ACCEPT
  ESTABLISHED 6: 3 accepted from b, 2 connected to b, 1 that filled a backlog-0 listener in b
  SYN_SENT    1: a connect to b's backlog-0 listener whose accept queue is full (SYN dropped)
  SYN_RECV    2: b connects to the TCP_DEFER_ACCEPT listener and sends nothing, so a's
                 request sockets wait for data (the bare ACK is ignored)
  FIN_WAIT1   1: shutdown(SHUT_WR) with unsent data behind b's zero window (FIN cannot go out)
  FIN_WAIT2   1: shutdown(SHUT_WR), b acks the FIN and never closes
  TIME_WAIT   2: active close, then b closes
  CLOSE_WAIT  1: b shuts down its write side, a does nothing
  LAST_ACK    1: CLOSE_WAIT, then shutdown(SHUT_WR) with unsent data behind b's zero window
  CLOSING     1: FIN_WAIT1 as above, then b's FIN arrives (simultaneous close)
  CLOSE       0: the kernel unhashes a socket as it enters CLOSE, so no table lists one
IPv6 (tcp6): 1 LISTEN (dual-stack [::]) and 1 ESTABLISHED (an IPv4-mapped connection from b).
UDP (udp): 3 sockets, one with 3 unread datagrams, one with drops (tiny receive buffer
flooded), one connected; udp6: 1 socket."""
import ctypes
import os
import shutil
import socket
import subprocess
import time
from contextlib import contextmanager

import pytest

from cgsampler._native import procnet, sockdiag

NS_A, NS_B, NS_C = "cgs-t-a", "cgs-t-b", "cgs-t-c"
ADDR_A, ADDR_B = "10.213.0.1", "10.213.0.2"
STATES = procnet.TCP_STATES
TCP_DEFER_ACCEPT = 9


def tcp(**counts):
    return {s: counts.get(s, 0) for s in STATES}


def skip_reason():
    if os.geteuid() != 0:
        return "needs root (ip netns add, setns)"
    if shutil.which("ip") is None:
        return "needs `ip` (iproute2)"
    return None


needs_netns = pytest.mark.skipif(skip_reason() is not None, reason=skip_reason() or "")

_libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNET = 0x40000000


def setns(fd):
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))


@contextmanager
def inside(ns):
    """The calling thread in namespace `ns` for the block (sockets made there stay there)."""
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    target = os.open(f"/run/netns/{ns}", os.O_RDONLY)
    try:
        setns(target)
        try:
            yield
        finally:
            setns(own)
    finally:
        os.close(own)
        os.close(target)


def ip(*args, check=True):
    return subprocess.run(["ip", *args], check=check, capture_output=True, text=True)


def delete_ns(*names):
    for n in names:
        if os.path.exists(f"/run/netns/{n}"):
            ip("netns", "delete", n, check=False)


def wait_for(pred, timeout=10.0, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def sleeper_in(ns):
    """`sleep` in namespace ns, returned once it is there (ip netns exec enters, then execs)."""
    p = subprocess.Popen(["ip", "netns", "exec", ns, "sleep", "3600"])
    want = os.stat(f"/run/netns/{ns}").st_ino

    def entered():
        try:
            return os.stat(f"/proc/{p.pid}/ns/net").st_ino == want
        except OSError:
            return False
    wait_for(entered, what=f"the sleeper to enter {ns}")
    return p


def proc_table(pid, name):
    with open(f"/proc/{pid}/net/{name}", "rb") as f:
        return f.read()


def proc_counts(pid):
    return {"tcp": procnet.parse_tcp_states(proc_table(pid, "tcp")),
            "tcp6": procnet.parse_tcp_states(proc_table(pid, "tcp6")),
            "udp": procnet.parse_udp_stats(proc_table(pid, "udp")),
            "udp6": procnet.parse_udp_stats(proc_table(pid, "udp6"))}


class Pair:
    """Namespaces a and b, a veth between them, a sleeper in each, and the sockets made."""

    def __init__(self):
        self.sleepers = {}
        self.kept = []

    def setup(self):
        delete_ns(NS_A, NS_B)
        ip("netns", "add", NS_A)
        ip("netns", "add", NS_B)
        ip("link", "add", "cgs-t-va", "netns", NS_A, "type", "veth", "peer", "name", "cgs-t-vb", "netns", NS_B)
        for ns, dev, addr in ((NS_A, "cgs-t-va", ADDR_A), (NS_B, "cgs-t-vb", ADDR_B)):
            ip("-n", ns, "addr", "add", f"{addr}/30", "dev", dev)
            ip("-n", ns, "link", "set", dev, "up")
            ip("-n", ns, "link", "set", "lo", "up")
            self.sleepers[ns] = sleeper_in(ns)

    def pid(self, ns):
        return self.sleepers[ns].pid

    def sock(self, ns, family=socket.AF_INET, kind=socket.SOCK_STREAM):
        with inside(ns):
            s = socket.socket(family, kind)
        self.kept.append(s)
        return s

    def listener(self, ns, addr, port, backlog=16, family=socket.AF_INET, rcvbuf=None, defer=None):
        s = self.sock(ns, family)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if rcvbuf:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        if defer:
            s.setsockopt(socket.IPPROTO_TCP, TCP_DEFER_ACCEPT, defer)
        s.bind((addr, port))
        s.listen(backlog)
        return s

    def connect(self, ns, addr, port, family=socket.AF_INET):
        c = self.sock(ns, family)
        c.settimeout(5)
        c.connect((addr, port))
        return c

    def accept(self, lst):
        lst.settimeout(5)
        s, _ = lst.accept()
        self.kept.append(s)
        return s

    def teardown(self):
        for s in self.kept:
            try:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            except OSError:
                pass
            s.close()
        for p in self.sleepers.values():
            p.kill()
            p.wait()
        delete_ns(NS_A, NS_B)


def fill(s):
    """Writes into a non-blocking socket until its send buffer is full."""
    s.setblocking(False)
    chunk = b"x" * 65536
    total = 0
    while True:
        try:
            total += s.send(chunk)
        except BlockingIOError:
            return total


@pytest.fixture(scope="module")
def pair():
    p = Pair()
    try:
        p.setup()
        yield p
    finally:
        p.teardown()


@pytest.fixture(scope="module")
def made(pair):
    """Makes the sockets of the module docstring; returns the pid whose namespace holds them."""
    p = pair
    # LISTEN (2) in a; ESTABLISHED: 3 accepted from b.
    l1 = p.listener(NS_A, ADDR_A, 5000)
    ldefer = p.listener(NS_A, ADDR_A, 5002, defer=30)
    for _ in range(3):
        p.connect(NS_B, ADDR_A, 5000)
        p.accept(l1)
    # tcp6: a dual-stack listener and one IPv4-mapped connection accepted on it.
    l6 = p.listener(NS_A, "::", 5001, family=socket.AF_INET6)
    p.connect(NS_B, ADDR_A, 5001)
    p.accept(l6)
    # b's listeners: a plain one, one with a tiny receive buffer (inherited by the
    # accepted sockets: the zero window that holds a's FIN back), one with backlog 0.
    lb = p.listener(NS_B, ADDR_B, 7000)
    lsmall = p.listener(NS_B, ADDR_B, 7001, rcvbuf=4096)
    lzero = p.listener(NS_B, ADDR_B, 7002, backlog=0)
    # ESTABLISHED: 2 connected to b.
    for _ in range(2):
        p.connect(NS_A, ADDR_B, 7000)
        p.accept(lb)
    # TIME_WAIT (2): a closes first, then b.
    for _ in range(2):
        c = p.connect(NS_A, ADDR_B, 7000)
        b = p.accept(lb)
        p.kept.remove(c)
        c.close()
        assert b.recv(10) == b""
        b.close()
    # FIN_WAIT2 (1): a shuts down writing; b acks and keeps its side open.
    c = p.connect(NS_A, ADDR_B, 7000)
    b = p.accept(lb)
    c.shutdown(socket.SHUT_WR)
    assert b.recv(10) == b""
    # CLOSE_WAIT (1): b shuts down writing.
    c = p.connect(NS_A, ADDR_B, 7000)
    b = p.accept(lb)
    b.shutdown(socket.SHUT_WR)
    assert c.recv(10) == b""
    # FIN_WAIT1 (1): a's FIN queued behind data that b's zero window holds back.
    c = p.connect(NS_A, ADDR_B, 7001)
    p.accept(lsmall)
    fill(c)
    c.shutdown(socket.SHUT_WR)
    # CLOSING (1): the same, then b's FIN arrives.
    c = p.connect(NS_A, ADDR_B, 7001)
    b = p.accept(lsmall)
    fill(c)
    c.shutdown(socket.SHUT_WR)
    b.shutdown(socket.SHUT_WR)
    # LAST_ACK (1): b shuts down writing (a in CLOSE_WAIT), then a's FIN is held back.
    c = p.connect(NS_A, ADDR_B, 7001)
    b = p.accept(lsmall)
    b.shutdown(socket.SHUT_WR)
    assert c.recv(10) == b""
    fill(c)
    c.shutdown(socket.SHUT_WR)
    # ESTABLISHED (1) filling b's backlog-0 listener (never accepted), then SYN_SENT (1).
    p.connect(NS_A, ADDR_B, 7002)
    time.sleep(0.2)                        # the final ACK reaches b: its accept queue is full
    c = p.sock(NS_A)
    c.setblocking(False)
    assert c.connect_ex((ADDR_B, 7002)) == 115   # EINPROGRESS: the SYN is dropped by b
    # SYN_RECV (2): b connects to the TCP_DEFER_ACCEPT listener and sends nothing.
    for _ in range(2):
        p.connect(NS_B, ADDR_A, 5002)
    # UDP in a: 3 unread datagrams; drops; a connected socket. udp6: one socket.
    uq = p.sock(NS_A, kind=socket.SOCK_DGRAM)
    uq.bind((ADDR_A, 6000))
    udrop = p.sock(NS_A, kind=socket.SOCK_DGRAM)
    udrop.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
    udrop.bind((ADDR_A, 6001))
    uc = p.sock(NS_A, kind=socket.SOCK_DGRAM)
    uc.connect((ADDR_B, 6100))
    u6 = p.sock(NS_A, socket.AF_INET6, socket.SOCK_DGRAM)
    u6.bind(("::", 6002))
    sender = p.sock(NS_B, kind=socket.SOCK_DGRAM)
    for _ in range(3):
        sender.sendto(b"y" * 100, (ADDR_A, 6000))
    for _ in range(200):
        sender.sendto(b"z" * 1000, (ADDR_A, 6001))
    return p.pid(NS_A)


EXPECTED_TCP = tcp(listen=2, established=6, syn_sent=1, syn_recv=2, fin_wait1=1, fin_wait2=1,
                   time_wait=2, close_wait=1, last_ack=1, closing=1)
EXPECTED_TCP6 = tcp(listen=1, established=1)


def settled(nl, want_tcp):
    """Waits until the transitions the test started (FINs, ACKs over the veth) are done."""
    try:
        return wait_for(lambda: nl.tcp_states(socket.AF_INET) == want_tcp and
                        nl.udp_stats(socket.AF_INET)["dropped"] > 0 and
                        nl.udp_stats(socket.AF_INET)["rx_queued"] > 0,
                        what="the socket states the test made")
    except AssertionError as e:
        got = {s: n for s, n in nl.tcp_states(socket.AF_INET).items() if n}
        raise AssertionError(f"{e}: tcp {got}, udp {nl.udp_stats(socket.AF_INET)}") from None


@needs_netns
def test_tcp_state_counts_match_proc_and_the_states_made(made):
    with sockdiag.NetnsSocket.for_pid(made) as nl:
        settled(nl, EXPECTED_TCP)
        valid, via_netlink = nl.sample_all()
        via_proc = proc_counts(made)
        assert valid == sockdiag.VALID_ALL
        assert via_netlink["tcp"] == EXPECTED_TCP
        assert via_proc["tcp"] == EXPECTED_TCP
        assert via_netlink["tcp6"] == EXPECTED_TCP6
        assert via_proc["tcp6"] == EXPECTED_TCP6
        # sample() read both families in one walk; per-family dumps say the same.
        assert nl.one_walk_tcp
        assert nl.tcp_states46() == (EXPECTED_TCP, EXPECTED_TCP6)
        assert nl.tcp_states(socket.AF_INET) == EXPECTED_TCP
        assert nl.tcp_states(socket.AF_INET6) == EXPECTED_TCP6


@needs_netns
def test_per_family_tcp_dumps_give_the_same_sample(made):
    """sample() without the one-walk request (its fallback): tcp and tcp6 dumped
    separately, same counts."""
    with sockdiag.NetnsSocket.for_pid(made, one_walk_tcp=False) as nl:
        settled(nl, EXPECTED_TCP)
        assert not nl.one_walk_tcp
        valid, via_netlink = nl.sample_all()
        assert valid == sockdiag.VALID_ALL
        assert via_netlink["tcp"] == EXPECTED_TCP
        assert via_netlink["tcp6"] == EXPECTED_TCP6
        assert via_netlink["udp"] == procnet.parse_udp_stats(proc_table(made, "udp"))


@needs_netns
def test_udp_counts_queues_and_drops_match_proc(made):
    with sockdiag.NetnsSocket.for_pid(made) as nl:
        settled(nl, EXPECTED_TCP)
        via_netlink = {"udp": nl.udp_stats(socket.AF_INET), "udp6": nl.udp_stats(socket.AF_INET6)}
        via_proc = proc_counts(made)
    assert via_netlink["udp"] == via_proc["udp"]
    assert via_netlink["udp6"] == via_proc["udp6"]
    u = via_netlink["udp"]
    assert u["listen"] == 3 and u["no_drops"] == 0
    # 3 datagrams of 100 bytes plus what fit of the flood: memory charged, not payload bytes.
    assert u["rx_queued"] >= 300
    assert u["tx_queued"] == 0
    # SO_RCVBUF 1024 (doubled to 2304 minimum) holds a few of 200 datagrams of 1000 bytes.
    assert 100 <= u["dropped"] < 200
    assert via_netlink["udp6"] == {"listen": 1, "dropped": 0, "rx_queued": 0, "tx_queued": 0, "no_drops": 0}


@needs_netns
def test_each_socket_is_counted_in_its_own_namespace(pair, made):
    """b's tables, read the same two ways, agree with each other, and a's sockets
    are not in them (b holds the peers: its listeners are 3)."""
    pid_b = pair.pid(NS_B)
    with sockdiag.NetnsSocket.for_pid(pid_b) as nl:
        settled_a = sockdiag.NetnsSocket.for_pid(made)
        settled(settled_a, EXPECTED_TCP)
        settled_a.close()
        assert nl.tcp_states(socket.AF_INET) == procnet.parse_tcp_states(proc_table(pid_b, "tcp"))
        assert nl.tcp_states(socket.AF_INET)["listen"] == 3
        assert nl.udp_stats(socket.AF_INET) == procnet.parse_udp_stats(proc_table(pid_b, "udp"))
        assert nl.udp_stats(socket.AF_INET)["listen"] == 1


@needs_netns
def test_request_and_timewait_sockets_come_with_the_kernel_state_proc_prints(made):
    """The raw dump with every state bit set (~0): request sockets come as
    SYN_RECV (3), never NEW_SYN_RECV (12); TIME_WAIT sockets as 6. And since
    Linux 6.5 bit 13 (TCP_BOUND_INACTIVE) also dumps bound sockets that neither
    listen nor connect, reported with their sk_state CLOSE (7) -- sockets that
    /proc/net/tcp does not list. Hence tcp_states asks for bits 1..11 only."""
    with inside(NS_A):
        bound = socket.socket()
    try:
        bound.bind((ADDR_A, 5099))
        with sockdiag.NetnsSocket.for_pid(made) as nl:
            settled(nl, EXPECTED_TCP)
            raw = nl.state_records(socket.AF_INET, socket.IPPROTO_TCP)
            assert raw.get(12) is None
            assert raw[3] == 2 and raw[6] == 2
            release = tuple(int(x) for x in os.uname().release.split(".")[:2] if x.isdigit())
            bound_inactive = 1 if release >= (6, 5) else 0
            assert raw.get(7, 0) == bound_inactive
            assert nl.state_records(socket.AF_INET, socket.IPPROTO_TCP, 1 << 13).get(7, 0) == bound_inactive
            assert {s: n for s, n in raw.items() if s != 7} == \
                {i + 1: n for i, n in enumerate(EXPECTED_TCP.values()) if n}
            assert nl.tcp_states(socket.AF_INET) == EXPECTED_TCP
            assert procnet.parse_tcp_states(proc_table(made, "tcp")) == EXPECTED_TCP
    finally:
        bound.close()


def test_own_namespace_by_default():
    """NetnsSocket() reads the caller's namespace: same counts as /proc/self/net."""
    with socket.socket() as lst:
        lst.bind(("127.0.0.1", 0))
        lst.listen(1)
        with sockdiag.NetnsSocket() as nl:
            assert nl.tcp_states() == procnet.parse_tcp_states(proc_table("self", "tcp"))
            assert nl.tcp_states()["listen"] >= 1


def test_closed_socket_raises_and_samples_nothing():
    nl = sockdiag.NetnsSocket()
    nl.close()
    nl.close()
    assert nl.closed
    with pytest.raises(ValueError, match="closed"):
        nl.tcp_states()
    valid, counts = nl.sample_all()
    assert valid == 0 and counts["tcp"] == tcp()


def test_missing_namespace_is_an_oserror():
    with pytest.raises(FileNotFoundError):
        sockdiag.NetnsSocket("/run/netns/cgs-t-does-not-exist")


@needs_netns
def test_the_socket_pins_the_namespace_until_close(pair):
    """A namespace whose only process exited and whose name was deleted lives on
    while a NetnsSocket made in it is open (a veth end in it keeps its peer in b
    alive); close() lets the kernel free it, and the peer goes with it."""
    delete_ns(NS_C)
    ip("netns", "add", NS_C)
    try:
        ip("link", "add", "cgs-t-vc", "netns", NS_C, "type", "veth", "peer", "name", "cgs-t-vx", "netns", NS_B)
        with inside(NS_C):
            held = socket.socket()
            held.bind(("127.0.0.1", 0))
            held.listen(1)                     # a LISTEN socket to see through the netlink socket
        sleeper = sleeper_in(NS_C)
        nl = sockdiag.NetnsSocket.for_pid(sleeper.pid)
        assert nl.tcp_states()["listen"] == 1
    finally:
        if "sleeper" in locals():
            sleeper.kill()
            sleeper.wait()
        if "held" in locals():
            held.close()
        delete_ns(NS_C)
    try:
        time.sleep(1.0)                        # namespace cleanup runs asynchronously
        assert ip("-n", NS_B, "link", "show", "cgs-t-vx", check=False).returncode == 0, \
            "the namespace went away while the netlink socket was open"
        assert nl.tcp_states() == tcp()        # still dumping it: a zombie namespace, empty
        nl.close()
        wait_for(lambda: ip("-n", NS_B, "link", "show", "cgs-t-vx", check=False).returncode != 0,
                 timeout=30, what="the closed socket's namespace to be freed (its veth peer gone)")
    finally:
        nl.close()
        ip("-n", NS_B, "link", "del", "cgs-t-vx", check=False)
