"""The Sampler's network groups ("network", "tcp", "udp") on real cgroups whose
processes live in a real network namespace (tests/netns_rig.py).

Every test gets a fresh rig: namespaces a and b joined by one silent veth pair,
so the veth end of a moves only with the traffic a test sends, and a's sockets
are exactly the ones a test makes (rig.expected). "The container" is a cgroup
made here with a rig helper process inside namespace a. Expected values come
from the rig's bookkeeping, the namespace's own sysfs (read by the helper),
`ss`, `ip -j link` and Debian's prometheus-node-exporter, never from cgsampler.
"""
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import uuid

import pytest

import cgsampler

from cgsampler import Sampler, schema
from conftest import make_cgroups, v1_available, v2_root
from netns_rig import NetnsRig, at_rest, ip, skip_reason

pytestmark = pytest.mark.real

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
G = schema.GROUPS
NET_GROUPS = G["network"] | G["tcp"] | G["udp"]
TCP_STATES = schema.TCP_STATES
COUNTERS = schema.IFACE_DTYPE.names[1:]       # rx_bytes ... tx_dropped
# /sys/class/net/<dev>/statistics files behind each /proc/net/dev column we keep
# ("drop" on receive is rx_dropped + rx_missed_errors).
SYSFS = ("rx_bytes", "rx_packets", "rx_errors", "rx_dropped", "rx_missed_errors",
         "tx_bytes", "tx_packets", "tx_errors", "tx_dropped")


# --- fixtures and helpers ----------------------------------------------------------------

@pytest.fixture
def rig():
    """A fresh NetnsRig for each test (0.5 s): its expected() counts and veth
    counters belong to that test alone, and no TIME_WAIT from another test expires
    in the middle of this one."""
    reason = skip_reason() or v1_available()
    if reason:
        pytest.skip(reason)
    with NetnsRig() as r:
        yield r


class Cgroups:
    """Cgroups made for one test (v1 in every controller, or v2 on the unified
    mount), removed at the end; `put` starts a rig helper inside one of them."""

    def __init__(self, rig):
        self.rig, self.made = rig, []

    def make(self, version=1):
        (cg,) = make_cgroups([f"/cgs-net-{uuid.uuid4().hex[:8]}"], version=version)
        self.made.append(cg)
        return cg

    def put(self, cg, ns):
        """A helper process in namespace ns and in every controller of cg."""
        first = next(iter(cg.dirs.values()))
        h = self.rig.start_helper(ns, cgroup=first)       # in ns and cg before it execs
        cg.add(h.pid)                                      # the other v1 controllers
        return h

    def remove(self):
        for cg in self.made:
            cg.remove()


@pytest.fixture
def cgroups(rig):
    c = Cgroups(rig)
    try:
        yield c
    finally:
        # The rig kills its processes after this; kill them here so that rmdir
        # of their cgroups can succeed.
        for h in rig._helpers:
            h.stop()
        rig._helpers.clear()
        for p in rig._procs:
            if p.poll() is None:
                p.kill()
            p.wait()
        c.remove()


def sampler(cg, version=1, **kw):
    root = v2_root() if version == 2 else None
    return Sampler(containers=[cg.name], cgroup_root=root, history=8, **kw)


def col(s, name):
    return s.names.index(name)


def row(s, name, i=-1):
    return s.stats[i][col(s, name)]


def ifaces(s, name, i=-1):
    """{name: {counter: value}} of the valid interface entries, in order (a list of pairs)."""
    r = row(s, name, i)
    out = []
    for e in s.interfaces[i][col(s, name)][:int(r["network_iface_count"])]:
        out.append((e["name"].decode(), {k: int(e[k]) for k in COUNTERS}))
    return out


def sysfs_counters(helper, dev):
    """The interface's counters as the namespace's own sysfs has them (one read)."""
    raw = helper.read(*(f"/sys/class/net/{dev}/statistics/{c}" for c in SYSFS))
    v = dict(zip(SYSFS, (int(x) for x in raw)))
    out = {k: v[k] for k in COUNTERS}
    out["rx_dropped"] = v["rx_dropped"] + v["rx_missed_errors"]
    return out


def tcp_row(r):
    return {"tcp": dict(zip(TCP_STATES, map(int, r["tcp"]))), "tcp6": dict(zip(TCP_STATES, map(int, r["tcp6"])))}


def udp_row(r):
    return {"udp": dict(zip(schema.UDP_FIELDS, map(int, r["udp"]))),
            "udp6": dict(zip(schema.UDP_FIELDS, map(int, r["udp6"])))}


def ss_udp(ns, family):
    """{"listen": sockets, "dropped": Σ skmem d, "rx_queued": Σ Recv-Q, "tx_queued": Σ Send-Q}
    of the UDP sockets of ns, as `ss` shows them."""
    r = subprocess.run(["ss", "-N", ns, "-H", "-n", "-a", "-u", "-m", "-4" if family == socket.AF_INET else "-6"],
                       capture_output=True, text=True, check=True)
    out = dict.fromkeys(schema.UDP_FIELDS, 0)
    # One socket per "UNCONN|ESTAB recvq sendq local peer" line, its skmem on the next one.
    for line in r.stdout.splitlines():
        f = line.split()
        if f and f[0] in ("UNCONN", "ESTAB"):
            out["listen"] += 1
            out["rx_queued"] += int(f[1])
            out["tx_queued"] += int(f[2])
        m = re.search(r"\bd(\d+)\)", line)
        if m:
            out["dropped"] += int(m.group(1))
    return out


def make_known_sockets(rig):
    """Sockets of every kind the rig makes, in namespace a; returns the drops
    that ss counted on the overflowed UDP socket."""
    rig.listen(3)
    rig.listen(1, family=socket.AF_INET6)
    rig.established(2)                            # over lo: both ends in a
    rig.established(1, peer=rig.b)                # across the veth: one end in a
    rig.time_wait(2)
    rig.close_wait(1)                             # and its FIN_WAIT2 peer, in a too
    rig.syn_sent(2)
    rig.udp(2)
    rig.udp(1, family=socket.AF_INET6)
    rig.udp_queued(3, 100)
    _, _, drops = rig.udp_drops()
    return drops


def tcp_expected(rig, ns):
    e = rig.expected(ns)
    return {"tcp": e["tcp"], "tcp6": e["tcp6"]}


# --- 1. interfaces ---------------------------------------------------------------------------

@pytest.mark.parametrize("version", [1, 2])
def test_interfaces_are_the_namespace_veth_and_move_by_exactly_the_traffic_sent(rig, cgroups, version):
    if version == 2 and v2_root() is None:
        pytest.skip("no cgroup2 mount on this machine")
    cg = cgroups.make(version)
    h = cgroups.put(cg, rig.a)
    assert h.own_sysfs
    veth = rig.iface(rig.a)
    with sampler(cg, version) as s:
        assert s.hierarchy.version == version
        s.sample()
        r0 = row(s, cg.name)
        assert r0["valid"] & NET_GROUPS == NET_GROUPS
        assert (r0["network_iface_count"], r0["network_iface_overflow"]) == (1, 0)   # lo skipped
        ((name, before),) = ifaces(s, cg.name)
        assert name == veth
        assert before == sysfs_counters(h, veth)          # the veth is silent: one moment
        assert rig.send_udp(10, 1000) == {"packets": 10, "bytes": 10 * 1042}
        s.sample()
        ((name, after),) = ifaces(s, cg.name)
        assert after == sysfs_counters(h, veth)
        assert {k: after[k] - before[k] for k in COUNTERS} == {
            "rx_bytes": 0, "rx_packets": 0, "rx_errors": 0, "rx_dropped": 0,
            "tx_bytes": 10420, "tx_packets": 10, "tx_errors": 0, "tx_dropped": 0}
        rig.send_udp(5, 500, src=rig.b, family=socket.AF_INET6)       # b -> a: 500 + 8 + 40 + 14
        s.sample()
        ((_, back),) = ifaces(s, cg.name)
        assert (back["rx_bytes"] - after["rx_bytes"], back["rx_packets"] - after["rx_packets"]) == (2810, 5)
        assert (back["tx_bytes"], back["tx_packets"]) == (after["tx_bytes"], after["tx_packets"])

        # The v1 view: interfaces, and the first one flattened into NetworkStats.
        info = s.container_info(cg.name)
        assert info.spec.has_network                 # a namespace of its own
        st = info.stats[-1]
        assert [i.name for i in st.network.interfaces] == [veth]
        first = st.network.interfaces[0]
        assert {k: getattr(first, k) for k in COUNTERS} == back
        assert st.network.name == veth
        assert {k: getattr(st.network, k) for k in COUNTERS} == back


# --- 2. socket states, by netlink and by the /proc tables -------------------------------------

def test_socket_states_by_sock_diag_and_by_proc_tables_equal_the_sockets_made(rig, cgroups, monkeypatch):
    cg = cgroups.make()
    cgroups.put(cg, rig.a)
    drops = make_known_sockets(rig)
    want_tcp = tcp_expected(rig, rig.a)
    assert want_tcp["tcp"] == dict.fromkeys(TCP_STATES, 0) | {
        "listen": 3, "established": 5, "time_wait": 2, "close_wait": 1, "fin_wait2": 1, "syn_sent": 2}
    assert want_tcp["tcp6"] == dict.fromkeys(TCP_STATES, 0) | {"listen": 1}
    want_udp = {"udp": ss_udp(rig.a, socket.AF_INET), "udp6": ss_udp(rig.a, socket.AF_INET6)}
    assert want_udp["udp"]["listen"] == rig.expected(rig.a)["udp"] == 6
    assert want_udp["udp6"] == {"listen": 1, "dropped": 0, "rx_queued": 0, "tx_queued": 0}
    assert want_udp["udp"]["dropped"] == drops > 0
    assert want_udp["udp"]["rx_queued"] >= 3 * 100 and want_udp["udp"]["tx_queued"] == 0

    rows = {}
    with sampler(cg, socket_interval=0) as s:
        s.sample()
        rows["netlink"] = row(s, cg.name)
        fds_netlink = s.container_fds
    monkeypatch.setattr("cgsampler.sampler.NetnsSocket", _no_sock_diag)
    with sampler(cg, socket_interval=0) as s:
        s.sample()
        rows["proc"] = row(s, cg.name)
        fds_proc = s.container_fds
    # One netlink socket, or the four /proc tables (tcp, tcp6, udp, udp6).
    assert fds_proc - fds_netlink == 3
    for path, r in rows.items():
        assert r["valid"] & NET_GROUPS == NET_GROUPS, path
        assert tcp_row(r) == want_tcp, path
        assert udp_row(r) == want_udp, path
    assert rig.ss(rig.a) == rig.expected(rig.a)           # nothing changed meanwhile


def _no_sock_diag(*args, **kw):
    raise OSError(93, "sock_diag refused (test)")


# --- 3. the command ------------------------------------------------------------------------------

def test_cgsampler_info_prints_the_veth_and_the_socket_states(rig, cgroups, request):
    cg = cgroups.make()
    h = cgroups.put(cg, rig.a)
    veth = rig.iface(rig.a)
    rig.listen(2)
    rig.established(1, peer=rig.b)        # a SYN, SYN-ACK, ACK on the veth
    rig.udp(1)
    counters = sysfs_counters(h, veth)
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(os.path.abspath(cgsampler.__file__))))   # the package under test
    p = subprocess.run([sys.executable, "-m", "cgsampler", "info", cg.name, "--num-stats", "2",
                        "--interval", "0.1"], capture_output=True, timeout=60, env=env, cwd=REPO)
    assert p.returncode == 0, p.stderr
    assert sysfs_counters(h, veth) == counters             # nothing moved while it ran
    text = p.stdout.decode().rstrip("\n")
    info = json.loads(text)
    assert len(info["stats"]) == 2
    for st in info["stats"]:
        net = st["network"]
        assert net["interfaces"] == [{"name": veth, **counters}]
        assert {k: net[k] for k in ("name", *COUNTERS)} == {"name": veth, **counters}
        assert counters["tx_packets"] >= 2 and counters["rx_packets"] >= 1
        go_names = dict(zip(TCP_STATES, ("Established", "SynSent", "SynRecv", "FinWait1", "FinWait2", "TimeWait",
                                         "Close", "CloseWait", "LastAck", "Listen", "Closing")))
        e = rig.expected(rig.a)
        assert net["tcp"] == {go_names[k]: v for k, v in e["tcp"].items()}
        assert net["tcp"]["Listen"] == 2 and net["tcp"]["Established"] == 1
        assert net["tcp6"] == {go: 0 for go in go_names.values()}
        assert net["udp"] == {"Listen": 1, "Dropped": 0, "RxQueued": 0, "TxQueued": 0}
    try:
        oracle = request.getfixturevalue("v1oracle")
    except pytest.skip.Exception as e:
        pytest.skip(f"JSON checked; no Go oracle for the round trip: {e}")
    assert oracle.roundtrip("info", text) == text


from go_oracle import v1oracle  # noqa: E402,F401  (session fixture, asked for by name above)


# --- 4. cadence -------------------------------------------------------------------------------------

TCP_BIT = G["tcp"].bit_length() - 1
UDP_BIT = G["udp"].bit_length() - 1
NET_BIT = G["network"].bit_length() - 1


def test_socket_states_are_carried_between_reads_while_interfaces_are_fresh(rig, cgroups):
    cg = cgroups.make()
    cgroups.put(cg, rig.a)
    rig.listen(1)
    with sampler(cg, socket_interval=3600) as s:
        s.sample()
        first = row(s, cg.name).copy()
        ((_, if0),) = ifaces(s, cg.name)
        assert first["fresh"] & NET_GROUPS == NET_GROUPS           # the first sweep reads everything
        rig.listen(2)                                              # now 3: not seen until the hour is up
        rig.udp(1)
        rig.send_udp(4, 100)
        s.sample()
        second = row(s, cg.name)
        ((_, if1),) = ifaces(s, cg.name)
        assert second["valid"] & NET_GROUPS == NET_GROUPS
        assert second["fresh"] & NET_GROUPS == G["network"]
        assert tcp_row(second) == tcp_row(first) and tcp_row(first)["tcp"]["listen"] == 1
        assert udp_row(second) == udp_row(first) and udp_row(first)["udp"]["listen"] == 0
        gts = second["group_timestamp_ns"]
        assert gts[TCP_BIT] == gts[UDP_BIT] == first["timestamp_ns"] < second["timestamp_ns"]
        assert gts[NET_BIT] == second["timestamp_ns"]
        assert (if1["tx_packets"] - if0["tx_packets"], if1["tx_bytes"] - if0["tx_bytes"]) == (4, 4 * 142)
        # The v1 view serves the carried counts too.
        assert s.container_info(cg.name).stats[-1].network.tcp.listen == 1

    with sampler(cg, socket_interval=None) as s:
        for _ in range(2):
            s.sample()
            r = row(s, cg.name)
            assert r["valid"] & NET_GROUPS == G["network"]
            assert r["fresh"] & NET_GROUPS == G["network"]
            assert tcp_row(r) == {"tcp": dict.fromkeys(TCP_STATES, 0), "tcp6": dict.fromkeys(TCP_STATES, 0)}
        st = s.container_info(cg.name).stats[-1]
        assert st.network.tcp.listen == 0 and st.network.interfaces[0].name == rig.iface(rig.a)


# --- 5. sharing and lifetime ------------------------------------------------------------------------

def test_two_cgroups_in_one_namespace_share_one_reader_and_show_the_same_rows(rig, cgroups):
    one, two = cgroups.make(), cgroups.make()
    cgroups.put(one, rig.a)
    cgroups.put(two, rig.a)
    rig.listen(2)
    rig.udp(1)

    def fds(names, **kw):
        with Sampler(containers=names, history=2, **kw) as s:
            return s.container_fds
    off = dict(disable=("network", "tcp", "udp"))
    ns_fds_one = fds([one.name]) - fds([one.name], **off)
    ns_fds_both = fds([one.name, two.name]) - fds([one.name, two.name], **off)
    assert ns_fds_one == ns_fds_both == 2            # net/dev and one sock_diag socket, once

    with Sampler(containers=[one.name, two.name], history=2, socket_interval=0) as s:
        s.sample()
        r1, r2 = row(s, one.name), row(s, two.name)
        assert r1["valid"] & NET_GROUPS == r2["valid"] & NET_GROUPS == NET_GROUPS
        fields = ("network_iface_count", "network_iface_overflow", "tcp", "tcp6", "udp", "udp6")
        assert [r1[f].tolist() for f in fields] == [r2[f].tolist() for f in fields]
        assert ifaces(s, one.name) == ifaces(s, two.name)
        assert [n for n, _ in ifaces(s, one.name)] == [rig.iface(rig.a)]
        assert tcp_row(r1) == tcp_expected(rig, rig.a)
        assert int(r1["udp"][0]) == 1
        # One of them goes: the other keeps the shared reader.
        with Sampler(containers=[two.name], history=2, disable=("network", "tcp", "udp")) as off:
            fds_two = off.container_fds
        for h in [h for h in rig._helpers if h.cgroup == one.path("cpu")]:
            h.stop()
        one.remove()
        s.sample()
        assert s.retired == [one.name]
        assert s.container_fds == fds_two + 2
        rig.listen(1)
        rig.send_udp(2, 100)
        s.sample()
        r2 = row(s, two.name)
        assert r2["valid"] & NET_GROUPS == NET_GROUPS
        assert tcp_row(r2) == tcp_expected(rig, rig.a) and tcp_row(r2)["tcp"]["listen"] == 3
        ((_, before),), ((_, after),) = ifaces(s, two.name, -2), ifaces(s, two.name)
        assert (after["tx_packets"] - before["tx_packets"], after["tx_bytes"] - before["tx_bytes"]) == (2, 284)


def test_a_cgroup_in_the_host_namespace_has_no_network_stats(rig, cgroups):
    """Its traffic is the host's ("/"): counted there, never twice."""
    cg = cgroups.make()
    cg.spawn("sys.stdin.read()\n")                  # a process in this (the host's) namespace
    with sampler(cg, socket_interval=0) as s:
        with sampler(cg, socket_interval=0, disable=("network", "tcp", "udp")) as off:
            assert s.container_fds == off.container_fds              # no namespace reader made
        s.sample()
        r = row(s, cg.name)
        assert r["valid"] & NET_GROUPS == 0
        assert r["valid"] & G["processes"] and r["process_count"] == 1
        assert (r["network_iface_count"], r["network_iface_overflow"]) == (0, 0)
        info = s.container_info(cg.name)
        assert not info.spec.has_network
        st = info.stats[-1]
        assert st.network.interfaces is None and st.network.name == "" and st.network.tcp.listen == 0


def _fd_links():
    out = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            out.append(os.readlink(f"/proc/self/fd/{fd}"))
        except OSError:
            pass
    return out


def test_a_removed_cgroup_retires_and_closes_its_namespace_fds(rig, cgroups):
    cg = cgroups.make()
    h = cgroups.put(cg, rig.a)
    rig.listen(1)
    s = sampler(cg, socket_interval=0)
    try:
        stat_only = sampler(cg, disable=("network", "tcp", "udp"))
        stat_fds = stat_only.container_fds
        stat_only.close()
        s.sample()
        assert row(s, cg.name)["valid"] & NET_GROUPS == NET_GROUPS
        assert s.container_fds == stat_fds + 2
        links = _fd_links()
        assert f"/proc/{h.pid}/net/dev" in links
        sockets = sum(link.startswith("socket:") for link in links)
        h.stop()
        cg.remove()
        s.sample()                                 # its kept fds answer ENODEV
        assert s.retired == [cg.name]
        assert s.container_fds == 0
        links = _fd_links()
        assert f"/proc/{h.pid}/net/dev" not in links
        assert sum(link.startswith("socket:") for link in links) == sockets - 1
        assert row(s, cg.name)["valid"] == 0
        assert row(s, cg.name, -2)["valid"] & NET_GROUPS == NET_GROUPS       # history stays
    finally:
        s.close()


def test_after_the_namespace_process_exits_the_pinned_namespace_is_read_until_refresh(rig, cgroups):
    """Observed: the kept net/dev fd and sock_diag socket hold the namespace, so the
    sweeps go on reading it (live counters, no errors) after its last process in
    the cgroup exits; refresh() finds no process there and lets it go."""
    cg = cgroups.make()
    h = cgroups.put(cg, rig.a)
    rig.listen(1)
    veth = rig.iface(rig.a)
    with sampler(cg, socket_interval=0) as s:
        s.sample()
        ((_, before),) = ifaces(s, cg.name)
        fds = s.container_fds
        h.stop()
        assert not os.path.exists(f"/proc/{h.pid}")
        rig.send_udp(3, 100)
        rig.listen(1)
        s.sample()
        r = row(s, cg.name)
        assert r["valid"] & NET_GROUPS == NET_GROUPS
        assert r["process_count"] == 0
        ((name, after),) = ifaces(s, cg.name)
        assert name == veth and after["tx_packets"] - before["tx_packets"] == 3
        assert tcp_row(r) == tcp_expected(rig, rig.a) and tcp_row(r)["tcp"]["listen"] == 2
        assert s.errors(cg.name)["read_errors"] == 0 and s.retired == []
        s.refresh()
        assert s.container_fds == fds - 2
        s.sample()
        r = row(s, cg.name)
        assert r["valid"] & NET_GROUPS == 0 and r["valid"] & G["cpu"]
        assert s.errors(cg.name)["read_errors"] == 0


def test_a_cgroup_gets_network_stats_after_refresh_once_a_process_joins_from_a_namespace(rig, cgroups):
    cg = cgroups.make()
    with sampler(cg, socket_interval=0) as s:
        s.sample()
        assert row(s, cg.name)["valid"] & NET_GROUPS == 0
        h = cgroups.put(cg, rig.a)
        s.sample()
        assert row(s, cg.name)["valid"] & NET_GROUPS == 0          # not looked for until refresh()
        assert s.refresh() == ([], [])
        s.sample()
        r = row(s, cg.name)
        assert r["valid"] & NET_GROUPS == NET_GROUPS
        assert [n for n, _ in ifaces(s, cg.name)] == [rig.iface(rig.a)]
        # Its process moves on: the one left in the cgroup is in namespace b.
        hb = cgroups.put(cg, rig.b)
        h.stop()
        s.refresh()
        s.sample()
        ((name, counters),) = ifaces(s, cg.name)
        assert name == rig.iface(rig.b)
        assert counters == sysfs_counters(hb, rig.iface(rig.b))


# --- 6. node_exporter -----------------------------------------------------------------------------------

def test_interfaces_and_tcp_states_equal_node_exporter_inside_the_namespace(rig, cgroups):
    from test_netns_real import NETDEV, NODE_EXPORTER, Exporter
    if not os.access(NODE_EXPORTER, os.X_OK):
        pytest.skip(f"needs Debian's prometheus-node-exporter ({NODE_EXPORTER})")
    cg = cgroups.make()
    cgroups.put(cg, rig.a)
    rig.listen(2)
    rig.listen(1, family=socket.AF_INET6)
    rig.established(2)
    rig.established(1, peer=rig.b)
    rig.time_wait(1)
    rig.close_wait(1)
    rig.send_udp(3, 200)
    veth = rig.iface(rig.a)
    with tempfile.TemporaryDirectory() as tmp, sampler(cg, socket_interval=0) as s:
        e = Exporter(lambda argv, preexec, **kw: rig.popen(argv, ns=rig.a, preexec=preexec, **kw),
                     ("netdev", "tcpstat"), tmp)
        try:
            def ours():
                s.sample()
                r = row(s, cg.name)
                assert r["valid"] & NET_GROUPS == NET_GROUPS
                return ifaces(s, cg.name), tcp_row(r)
            (ifs, tcp), theirs = at_rest(ours, e.scrape)
        finally:
            e.stop()
    devices = {dict(k[1])["device"] for k in theirs if k[0] == NETDEV["rx_bytes"]}
    assert devices == {"lo", veth}                      # theirs keeps lo; cAdvisor's list skips it
    assert [n for n, _ in ifs] == [veth]
    got = {field: int(theirs[metric, (("device", veth),)]) for field, metric in NETDEV.items()}
    assert got == ifs[0][1]
    assert got["tx_packets"] >= 3
    states = {k: int(theirs.get(("node_tcp_connection_states", (("state", k),)), 0)) for k in TCP_STATES}
    assert states == {k: tcp["tcp"][k] + tcp["tcp6"][k] for k in TCP_STATES}
    assert tcp == tcp_expected(rig, rig.a)


# --- 7. interface capacity and cAdvisor's skip list ---------------------------------------------------

# Extra veth pairs with both ends in namespace a (this kernel has no dummy
# device): the skip list drops names starting, case-insensitively, with lo,
# veth, docker or nerdctl.
EXTRA_PAIRS = (("Docker0", "cgsx1"), ("vethcgs", "nerdctl0"), ("lowpan0", "cgsx2"))


@pytest.mark.parametrize("cap", [0, 2, 3, 16])
def test_max_interfaces_keeps_the_first_non_skipped_ones_and_counts_the_rest(rig, cgroups, cap):
    for name, peer in EXTRA_PAIRS:
        ip("-n", rig.a, "link", "add", name, "type", "veth", "peer", "name", peer)
    links = json.loads(ip("-j", "-n", rig.a, "link", "show").stdout)
    in_order = [link["ifname"] for link in sorted(links, key=lambda link: link["ifindex"])]
    kept = [n for n in in_order if not n.lower().startswith(("lo", "veth", "docker", "nerdctl"))]
    assert sorted(kept) == sorted([rig.iface(rig.a), "cgsx1", "cgsx2"])
    cg = cgroups.make()
    cgroups.put(cg, rig.a)
    with sampler(cg, max_interfaces=cap) as s:
        s.sample()
        r = row(s, cg.name)
        assert r["valid"] & G["network"]
        fit = min(cap, len(kept))
        assert (r["network_iface_count"], r["network_iface_overflow"]) == (fit, len(kept) - fit)
        assert [n for n, _ in ifaces(s, cg.name)] == kept[:fit]
        assert s.interfaces.shape[2] == cap
        st = s.container_info(cg.name).stats[-1]
        assert [i.name for i in st.network.interfaces or ()] == kept[:fit]
        assert (st.network.interfaces is None) == (fit == 0)        # omitempty: no "interfaces" key
        assert st.network.name == (kept[0] if fit else "")


# A process that moves itself into another network namespace when asked (one
# line on stdin: the namespace's path), then says "moved".
MOVER = r"""
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
print("ready", flush=True)
for line in sys.stdin:
    fd = os.open(line.strip(), os.O_RDONLY)
    assert libc.setns(fd, 0x40000000) == 0, ctypes.get_errno()
    os.close(fd)
    print("moved", flush=True)
"""


def test_refresh_follows_a_process_that_moves_itself_into_another_namespace(rig, cgroups):
    """The same pid, another namespace (as a runtime's init may do): refresh()
    notices, the old namespace's reader is closed and the new one read."""
    cg = cgroups.make()
    p = rig.popen([sys.executable, "-c", MOVER], ns=rig.a, cgroup=cg.path("cpu"),
                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline() == "ready\n"
    cg.add(p.pid)
    hb = rig.start_helper(rig.b)                  # reads b's sysfs (not in the cgroup)
    with sampler(cg, socket_interval=0) as s:
        s.sample()
        assert [n for n, _ in ifaces(s, cg.name)] == [rig.iface(rig.a)]
        fds = s.container_fds
        p.stdin.write(rig.path(rig.b) + "\n")
        p.stdin.flush()
        assert p.stdout.readline() == "moved\n"
        assert os.stat(f"/proc/{p.pid}/ns/net").st_ino == os.stat(rig.path(rig.b)).st_ino
        rig.listen(2, ns=rig.b)
        s.refresh()
        assert s.container_fds == fds             # one namespace's reader for another
        s.sample()
        r = row(s, cg.name)
        assert r["valid"] & NET_GROUPS == NET_GROUPS
        ((name, counters),) = ifaces(s, cg.name)
        assert name == rig.iface(rig.b)
        assert counters == sysfs_counters(hb, rig.iface(rig.b))
        assert tcp_row(r) == tcp_expected(rig, rig.b) and tcp_row(r)["tcp"]["listen"] == 2


def test_a_cgroup_whose_process_left_takes_the_namespace_of_the_one_that_joined(rig, cgroups):
    """The process that gave cgroup x its namespace moves to cgroup y (still
    alive, still in namespace a), and one in namespace b joins x: after
    refresh() x is read in b and y in a, socket counts included, though the
    socket groups' 5 s interval has not passed (nothing of a is carried into x)."""
    x, y = cgroups.make(), cgroups.make()
    ha = cgroups.put(x, rig.a)
    with Sampler(containers=[x.name, y.name], history=8) as s:
        s.sample()
        assert [n for n, _ in ifaces(s, x.name)] == [rig.iface(rig.a)]
        assert not row(s, y.name)["valid"] & NET_GROUPS
        y.add(ha.pid)                                 # x's process moves to y ...
        cgroups.put(x, rig.b)                         # ... and one of b joins x
        rig.listen(2, ns=rig.b)
        s.refresh()
        s.sample()
        rx, ry = row(s, x.name), row(s, y.name)
        assert [n for n, _ in ifaces(s, x.name)] == [rig.iface(rig.b)]
        assert [n for n, _ in ifaces(s, y.name)] == [rig.iface(rig.a)]
        assert rx["fresh"] & G["tcp"] and ry["fresh"] & G["tcp"]
        assert tcp_row(rx) == tcp_expected(rig, rig.b) and tcp_row(rx)["tcp"]["listen"] == 2
        assert tcp_row(ry) == tcp_expected(rig, rig.a)
