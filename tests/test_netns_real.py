"""The standalone network and disk parsers against a real network namespace
(tests/netns_rig.py), the kernel's own sysfs counters, `ss`, and Debian's
prometheus-node-exporter as an independent implementation.

Namespace a holds "the container" (a helper process whose /proc/<pid>/net/* we
read) and the sockets of EXPECTED_*; its veth end is silent except for the
traffic a test sends. node_exporter runs inside namespace a and is scraped over
a Unix socket handed to it by systemd socket activation (--web.systemd-socket),
so scraping adds neither a TCP socket nor a packet on any interface of a."""
import http.client
import os
import socket
import subprocess
import tempfile
import time

import pytest

from cgsampler._native import diskstats, procnet, sockdiag
from netns_rig import A4, at_rest, netns_rig  # noqa: F401  (netns_rig: the fixture)

NODE_EXPORTER = "/usr/bin/prometheus-node-exporter"
needs_exporter = pytest.mark.skipif(not os.access(NODE_EXPORTER, os.X_OK),
                                    reason=f"needs Debian's prometheus-node-exporter ({NODE_EXPORTER})")


def tcp(**counts):
    return {s: counts.get(s, 0) for s in procnet.TCP_STATES}


# Made by the `made` fixture in namespace a (the rig's makers, in order):
# listen(3) + listen(1, v6 dual-stack); established(2) over lo (both ends in a: 4);
# established(1, mapped) (v4 client, v6 server); established(1, peer=b) (a's end);
# time_wait(2); close_wait(1) (its FIN_WAIT2 peer is in a too); syn_sent(2).
EXPECTED_TCP = tcp(listen=3, established=6, time_wait=2, close_wait=1, fin_wait2=1, syn_sent=2)
EXPECTED_TCP6 = tcp(listen=1, established=1)
# udp(2) + udp(1, connected) + udp_queued (2 sockets) + udp_drops (2 sockets); udp6: udp(1).
EXPECTED_UDP_SOCKETS, EXPECTED_UDP6_SOCKETS = 7, 1
QUEUED = (3, 100)                       # datagrams, bytes each


@pytest.fixture(scope="module")
def container(netns_rig):
    """(rig, helper in namespace a, helper in namespace b)."""
    h = netns_rig.start_helper(netns_rig.a)
    hb = netns_rig.start_helper(netns_rig.b)
    assert h.own_sysfs and hb.own_sysfs
    return netns_rig, h, hb


@pytest.fixture(scope="module")
def made(container):
    rig, h, _ = container
    rig.listen(3)
    rig.listen(1, family=socket.AF_INET6)
    rig.established(2)
    rig.established(1, mapped=True)
    rig.established(1, peer=rig.b)
    rig.time_wait(2)
    rig.close_wait(1)
    rig.syn_sent(2)
    rig.udp(2)
    rig.udp(1, connect=True)
    rig.udp(1, family=socket.AF_INET6)
    rig.udp_queued(*QUEUED)
    _, _, drops = rig.udp_drops()
    return h.pid, drops


def proc(pid, name):
    with open(f"/proc/{pid}/net/{name}", "rb") as f:
        return f.read()


def net_dev(pid):
    return {i["name"]: i for i in procnet.parse_net_dev(proc(pid, "dev"))}


def proc_sockets(pid):
    return {"tcp": procnet.parse_tcp_states(proc(pid, "tcp")), "tcp6": procnet.parse_tcp_states(proc(pid, "tcp6")),
            "udp": procnet.parse_udp_stats(proc(pid, "udp")), "udp6": procnet.parse_udp_stats(proc(pid, "udp6"))}


def delta(after, before, keys=("rx_bytes", "rx_packets", "tx_bytes", "tx_packets")):
    return {k: after[k] - before[k] for k in keys}


# --- net/dev --------------------------------------------------------------------------

def test_udp_datagrams_move_the_veth_counters_by_exactly_their_frames(container):
    rig, h, hb = container
    ia, ib = rig.iface(rig.a), rig.iface(rig.b)
    a0, b0 = net_dev(h.pid)[ia], net_dev(hb.pid)[ib]
    sent = rig.send_udp(10, 1000)                         # a -> b, IPv4: 1000 + 8 + 20 + 14
    assert sent == {"packets": 10, "bytes": 10 * 1042}
    a1, b1 = net_dev(h.pid)[ia], net_dev(hb.pid)[ib]
    assert delta(a1, a0) == {"rx_bytes": 0, "rx_packets": 0, "tx_bytes": 10420, "tx_packets": 10}
    assert delta(b1, b0) == {"rx_bytes": 10420, "rx_packets": 10, "tx_bytes": 0, "tx_packets": 0}
    rig.send_udp(5, 500, src=rig.b, family=socket.AF_INET6)   # b -> a, IPv6: 500 + 8 + 40 + 14
    a2, b2 = net_dev(h.pid)[ia], net_dev(hb.pid)[ib]
    assert delta(a2, a1) == {"rx_bytes": 2810, "rx_packets": 5, "tx_bytes": 0, "tx_packets": 0}
    assert delta(b2, b1) == {"rx_bytes": 0, "rx_packets": 0, "tx_bytes": 2810, "tx_packets": 5}
    assert all(a2[k] == 0 for k in ("rx_errors", "rx_dropped", "tx_errors", "tx_dropped"))


def test_tcp_payload_moves_the_veth_counters_by_at_least_its_bytes(container):
    """Segmentation (GSO on a veth) makes the frame count vary; what one end
    sends the other receives, frame for frame."""
    rig, h, hb = container
    ia, ib = rig.iface(rig.a), rig.iface(rig.b)
    a0, b0 = net_dev(h.pid)[ia], net_dev(hb.pid)[ib]
    rig.send_tcp(1_000_000)
    a1, b1 = net_dev(h.pid)[ia], net_dev(hb.pid)[ib]
    da, db = delta(a1, a0), delta(b1, b0)
    assert da["tx_bytes"] >= 1_000_000 and da["tx_packets"] >= 1 + 1_000_000 // 65536
    assert da["rx_packets"] >= 2                           # SYN-ACK, ACKs
    assert (db["rx_bytes"], db["rx_packets"]) == (da["tx_bytes"], da["tx_packets"])
    assert (db["tx_bytes"], db["tx_packets"]) == (da["rx_bytes"], da["rx_packets"])


SYSFS = ("rx_bytes", "rx_packets", "rx_errors", "rx_dropped", "rx_missed_errors",
         "tx_bytes", "tx_packets", "tx_errors", "tx_dropped")


def test_net_dev_equals_the_sysfs_statistics_of_the_namespace(container, made):
    """lo carries the SYN retransmits of the SYN_SENT sockets: compared at rest."""
    rig, h, _ = container
    names = ("lo", rig.iface(rig.a))
    paths = [f"/sys/class/net/{n}/statistics/{c}" for n in names for c in SYSFS]
    ours, raw = at_rest(lambda: net_dev(h.pid), lambda: h.read(*paths))
    assert set(ours) == set(names)
    values = iter(int(v) for v in raw)
    for n in names:
        sys_ = dict(zip(SYSFS, values))
        want = {k: sys_[k] for k in SYSFS if k not in ("rx_dropped", "rx_missed_errors")}
        want["rx_dropped"] = sys_["rx_dropped"] + sys_["rx_missed_errors"]    # /proc/net/dev "drop"
        assert {k: ours[n][k] for k in want} == want, n
    assert ours["lo"]["rx_packets"] > 0 and ours[names[1]]["tx_packets"] > 0


# --- socket states --------------------------------------------------------------------

def test_rig_and_ss_agree_on_what_was_made(container, made):
    rig, _, _ = container
    want = {"tcp": EXPECTED_TCP, "tcp6": EXPECTED_TCP6, "udp": EXPECTED_UDP_SOCKETS, "udp6": EXPECTED_UDP6_SOCKETS}
    assert rig.expected(rig.a) == want
    assert rig.ss(rig.a) == want


def test_tcp_states_by_netlink_and_by_proc_equal_the_sockets_made(made):
    pid, _ = made
    with sockdiag.NetnsSocket(netns=f"/proc/{pid}/ns/net") as nl:
        valid, via_nl = nl.sample_all()
        assert valid == sockdiag.VALID_ALL
        assert nl.tcp_states46() == (EXPECTED_TCP, EXPECTED_TCP6)
        assert nl.tcp_states(socket.AF_INET6) == EXPECTED_TCP6      # the mapped one is AF_INET6
    via_proc = proc_sockets(pid)
    assert via_nl["tcp"] == via_proc["tcp"] == EXPECTED_TCP
    assert via_nl["tcp6"] == via_proc["tcp6"] == EXPECTED_TCP6
    mapped = b"0000000000000000FFFF0000%08X" % int.from_bytes(socket.inet_aton(A4), "little")
    assert mapped in proc(pid, "tcp6"), "the IPv4-mapped socket is a tcp6 row (::ffff:192.0.2.1)"


def test_udp_sockets_queues_and_drops_by_netlink_and_by_proc(made):
    pid, drops = made
    with sockdiag.NetnsSocket(netns=f"/proc/{pid}/ns/net") as nl:
        via_nl = {"udp": nl.udp_stats(socket.AF_INET), "udp6": nl.udp_stats(socket.AF_INET6)}
    via_proc = proc_sockets(pid)
    assert via_nl["udp"] == via_proc["udp"]
    assert via_nl["udp6"] == via_proc["udp6"] == \
        {"listen": EXPECTED_UDP6_SOCKETS, "dropped": 0, "rx_queued": 0, "tx_queued": 0, "no_drops": 0}
    u = via_proc["udp"]
    assert u["listen"] == EXPECTED_UDP_SOCKETS and u["no_drops"] == 0 and u["tx_queued"] == 0
    assert u["dropped"] == drops > 0                     # what ss showed when they were made
    datagrams, size = QUEUED
    assert u["rx_queued"] >= datagrams * size            # charged memory (truesize), not payload


# --- node_exporter --------------------------------------------------------------------

class UnixHTTP(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=10)
        self.unix_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.unix_path)


def parse_metrics(text):
    """{(name, ((label, value), ...)): float} of a Prometheus text exposition."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        head, value = line.rsplit(" ", 1)
        name, _, labels = head.partition("{")
        pairs = tuple(tuple(p.split("=", 1)) for p in labels.rstrip("}").split(",") if p)
        out[name, tuple((k, v.strip('"')) for k, v in pairs)] = float(value)
    return out


class Exporter:
    """node_exporter with the given collectors, its listener a Unix socket passed by
    socket activation; started by `popen` (the rig's, to run it inside a namespace)."""

    def __init__(self, popen, collectors, tmp):
        self.path = os.path.join(tmp, "node_exporter.sock")
        lst = socket.socket(socket.AF_UNIX)
        lst.bind(self.path)
        lst.listen(16)
        fd = lst.fileno()

        def activate():                 # in the child: the listener as fd 3, LISTEN_PID = itself
            if fd != 3:
                os.dup2(fd, 3)
            os.set_inheritable(3, True)
            os.environ.update(LISTEN_FDS="1", LISTEN_PID=str(os.getpid()))
        argv = [NODE_EXPORTER, "--web.systemd-socket", "--collector.disable-defaults",
                *(f"--collector.{c}" for c in collectors),
                "--collector.netdev.device-exclude=^$"]    # Debian's default excludes ^lo$
        try:
            self.proc = popen(argv, preexec=activate, close_fds=False,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        finally:
            lst.close()
        self.conn = UnixHTTP(self.path)

    def scrape(self):
        self.conn.request("GET", "/metrics")
        r = self.conn.getresponse()
        body = r.read().decode()
        assert r.status == 200, body[:200]
        m = parse_metrics(body)
        bad = [k for k, v in m.items() if k[0] == "node_scrape_collector_success" and v != 1]
        assert not bad, bad
        return m

    def stop(self):
        self.conn.close()
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.proc.stderr.close()


@pytest.fixture(scope="module")
def exporter_in_a(container, made):
    rig = container[0]
    if not os.access(NODE_EXPORTER, os.X_OK):
        pytest.skip(f"needs Debian's prometheus-node-exporter ({NODE_EXPORTER})")
    with tempfile.TemporaryDirectory() as tmp:
        e = Exporter(lambda argv, preexec, **kw: rig.popen(argv, ns=rig.a, preexec=preexec, **kw),
                     ("netdev", "tcpstat"), tmp)
        try:
            yield e
        finally:
            e.stop()


NETDEV = {"rx_bytes": "node_network_receive_bytes_total", "rx_packets": "node_network_receive_packets_total",
          "rx_errors": "node_network_receive_errs_total", "rx_dropped": "node_network_receive_drop_total",
          "tx_bytes": "node_network_transmit_bytes_total", "tx_packets": "node_network_transmit_packets_total",
          "tx_errors": "node_network_transmit_errs_total", "tx_dropped": "node_network_transmit_drop_total"}


@needs_exporter
def test_net_dev_equals_node_exporter_netdev_inside_the_namespace(container, exporter_in_a):
    rig, h, _ = container
    rig.send_udp(3, 200)                     # some traffic on the veth first
    ours, theirs = at_rest(lambda: net_dev(h.pid), exporter_in_a.scrape)
    devices = {dict(k[1])["device"] for k in theirs if k[0] == NETDEV["rx_bytes"]}
    assert devices == set(ours) == {"lo", rig.iface(rig.a)}
    for name, iface in ours.items():
        got = {field: theirs[metric, (("device", name),)] for field, metric in NETDEV.items()}
        assert got == {field: iface[field] for field in NETDEV}, name
    assert ours[rig.iface(rig.a)]["tx_bytes"] >= 3 * 242


@needs_exporter
def test_tcp_states_equal_node_exporter_tcpstat_which_sums_tcp_and_tcp6(made, exporter_in_a):
    pid, _ = made

    def ours():
        p = proc_sockets(pid)
        return p["tcp"], p["tcp6"]
    (v4, v6), theirs = at_rest(ours, exporter_in_a.scrape)
    assert (v4, v6) == (EXPECTED_TCP, EXPECTED_TCP6)
    with sockdiag.NetnsSocket(netns=f"/proc/{pid}/ns/net") as nl:
        assert nl.tcp_states46() == (v4, v6)
    got = {s: theirs.get(("node_tcp_connection_states", (("state", s),)), 0.0) for s in procnet.TCP_STATES}
    assert got == {s: v4[s] + v6[s] for s in procnet.TCP_STATES}


DISK = {"reads_completed": ("node_disk_reads_completed_total", 1),
        "reads_merged": ("node_disk_reads_merged_total", 1),
        "sectors_read": ("node_disk_read_bytes_total", 512),
        "read_time": ("node_disk_read_time_seconds_total", 0.001),
        "writes_completed": ("node_disk_writes_completed_total", 1),
        "writes_merged": ("node_disk_writes_merged_total", 1),
        "sectors_written": ("node_disk_written_bytes_total", 512),
        "write_time": ("node_disk_write_time_seconds_total", 0.001),
        "io_in_progress": ("node_disk_io_now", 1),
        "io_time": ("node_disk_io_time_seconds_total", 0.001),
        "weighted_io_time": ("node_disk_io_time_weighted_seconds_total", 0.001),
        "discards_completed": ("node_disk_discards_completed_total", 1),
        "discards_merged": ("node_disk_discards_merged_total", 1),
        "sectors_discarded": ("node_disk_discarded_sectors_total", 1),
        "discard_time": ("node_disk_discard_time_seconds_total", 0.001),
        "flushes_completed": ("node_disk_flush_requests_total", 1),
        "flush_time": ("node_disk_flush_requests_time_seconds_total", 0.001)}


def disks():
    with open("/proc/diskstats", "rb") as f:
        return {d["name"]: d for d in diskstats.parse_diskstats(f.read())}


@needs_exporter
def test_diskstats_equal_node_exporter_diskstats_for_idle_devices():
    """Host level. A device is compared only when two reads of ours around the
    scrape are equal; at least one with I/O on record must be compared."""
    with tempfile.TemporaryDirectory() as tmp:
        e = Exporter(lambda argv, preexec, **kw: subprocess.Popen(argv, preexec_fn=preexec, **kw),
                     ("diskstats",), tmp)
        try:
            compared = set()
            for _ in range(40):
                before = disks()
                theirs = e.scrape()
                after = disks()
                shown = {dict(k[1])["device"] for k in theirs if k[0] == "node_disk_reads_completed_total"}
                assert shown and shown <= set(before)
                for name in shown:
                    if before[name] != after[name]:
                        continue
                    d = before[name]
                    for field, (metric, scale) in DISK.items():
                        if d[field] is None:
                            continue
                        got = theirs[metric, (("device", name),)]
                        assert round(got / scale) == d[field], (name, field, got)
                    compared.add(name)
                if any(disks_nonzero(before[n]) for n in compared):
                    break
                time.sleep(0.05)
        finally:
            e.stop()
    if not any(disks_nonzero(before[n]) for n in compared):
        pytest.skip(f"no device with I/O was idle across a scrape (compared: {sorted(compared)})")


def disks_nonzero(d):
    return bool(d["reads_completed"] or d["writes_completed"])

