"""A network namespace's /proc/<pid>/net files (native parsers procnet.pyx):
net/dev, tcp/tcp6 and udp/udp6, on real samples (fixtures/realworld/net_*, sources
in ../shared/fixtures/realworld/SOURCES.md), cAdvisor's test files
(fixtures/cadvisor), the bug-report cases (fixtures/bugcases) and
hypothesis-generated files. Expected values are read off the files by hand.

Meanings follow cadvisor-v1-spec.md section 10; where cAdvisor's code differs
(UdpStat's queues, interface names with colons) the test says so."""
import collections
import json
import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cgsampler._native import procnet
from fuzzing import examples, mutated, watchdog  # noqa: F401  (watchdog: autouse fixture)

HERE = os.path.dirname(__file__)
REAL = os.path.join(HERE, "fixtures", "realworld")
BUG = os.path.join(HERE, "fixtures", "bugcases")
CADVISOR = os.path.join(HERE, "fixtures", "cadvisor")
U64_MAX = 2**64 - 1
U32_MAX = 2**32 - 1
STATES = procnet.TCP_STATES
NET_DEV_HEADER = (b"Inter-|   Receive                                                |  Transmit\n"
                  b" face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs "
                  b"drop fifo colls carrier compressed\n")
TCP_HEADER = (b"  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  "
              b"timeout inode\n")
UDP_HEADER = (b"   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  "
              b"timeout inode ref pointer drops\n")


def read(*parts):
    with open(os.path.join(*parts), "rb") as f:
        return f.read()


def iface(name, rx_bytes, rx_packets, rx_errors, rx_dropped, tx_bytes, tx_packets, tx_errors, tx_dropped):
    return {"name": name, "rx_bytes": rx_bytes, "rx_packets": rx_packets, "rx_errors": rx_errors,
            "rx_dropped": rx_dropped, "tx_bytes": tx_bytes, "tx_packets": tx_packets, "tx_errors": tx_errors,
            "tx_dropped": tx_dropped}


def udp(listen, dropped, rx_queued, tx_queued, no_drops):
    return {"listen": listen, "dropped": dropped, "rx_queued": rx_queued, "tx_queued": tx_queued,
            "no_drops": no_drops}


def tcp(**counts):
    return {s: counts.get(s, 0) for s in STATES}


def by_name(ifaces):
    return {i["name"]: i for i in ifaces}


def test_struct_sizes_the_numpy_dtypes_mirror():
    # NetDevIface: name S16 + 8 x u8; TcpStat: 11 x u8; UdpStat: 5 x u8 (no padding anywhere).
    assert (procnet.NET_DEV_IFACE_SIZE, procnet.TCP_STAT_SIZE, procnet.UDP_STAT_SIZE) == (80, 88, 40)


# --- net/dev: bug cases ----------------------------------------------------------------------

# expected.json names -> ours (fifo/frame/compressed/multicast/colls/carrier are not collected)
NETDEV_NAMES = {"interface": "name", "rx_bytes": "rx_bytes", "rx_packets": "rx_packets", "rx_errs": "rx_errors",
                "rx_drop": "rx_dropped", "tx_bytes": "tx_bytes", "tx_packets": "tx_packets",
                "tx_errs": "tx_errors", "tx_drop": "tx_dropped"}


@pytest.mark.parametrize("case", ["netdev-no-space-after-colon", "netdev-colon-in-interface-name"])
def test_net_dev_bug_case_expected_json(case):
    expected = json.loads(read(BUG, case, "expected.json"))
    want = [{ours: i[theirs] for theirs, ours in NETDEV_NAMES.items()} for i in expected["interfaces"]]
    assert procnet.parse_net_dev(read(BUG, case, expected["file"])) == want


def test_alias_names_keep_their_colon_and_a_glued_counter_is_read():
    # cAdvisor deletes every ':' of the line: "bond0:1" becomes "bond01", and "eth2:0:4046496815"
    # one token, so the whole file is rejected. We split at the last colon (docs/compat.md).
    got = procnet.parse_net_dev(read(BUG, "netdev-colon-in-interface-name", "net_dev"), skip_virtual=True)
    assert [i["name"] for i in got] == ["bond0:1", "eth2:0", "team0:1"]
    assert got[1] == iface("eth2:0", 4046496815, 27661328, 0, 0, 61800195044, 32419766, 0, 0)


# --- net/dev: real samples ---------------------------------------------------------------------

NET_DEV_BROKEN = {
    # Pasted into a PR with its last line cut: "tun10001:2:" has 15 counters and ends in spaces.
    "gopsutil-317-alias-tun-interfaces",
}


@pytest.mark.parametrize("name", sorted(os.listdir(os.path.join(REAL, "net_dev"))))
def test_every_real_net_dev_parses_or_is_a_known_broken_paste(name):
    data = read(REAL, "net_dev", name)
    if name in NET_DEV_BROKEN:
        with pytest.raises(ValueError):
            procnet.parse_net_dev(data)
    else:
        assert procnet.parse_net_dev(data)


def test_gopsutil_317_tun_aliases_without_the_cut_line():
    data = read(REAL, "net_dev", "gopsutil-317-alias-tun-interfaces")
    got = procnet.parse_net_dev(b"".join(data.splitlines(keepends=True)[:-1]))
    assert [i["name"] for i in got] == ["lo", "eth0", "tun999999", "tun10001:1"]
    assert got[1]["rx_bytes"] == 1000866899965 and got[1]["rx_packets"] == 764654426
    assert got[2]["tx_dropped"] == 15


def test_centos5_no_space_after_colon():
    assert procnet.parse_net_dev(read(REAL, "net_dev", "gopsutil-357-centos5-lo0-no-space")) == [
        iface("lo", 0, 0, 0, 0, 0, 0, 0, 0), iface("eth0", 0, 0, 0, 0, 0, 0, 0, 0)]
    got = by_name(procnet.parse_net_dev(read(REAL, "net_dev", "gopsutil-377-centos5-big-counters")))
    assert got["eth0"] == iface("eth0", 5019464820, 14784542, 0, 0, 8907551793, 12498214, 0, 0)
    assert got["lo"]["rx_bytes"] == 32108095


def test_node_exporter_73_counters_wider_than_their_column():
    got = procnet.parse_net_dev(read(REAL, "net_dev", "node-exporter-73-no-space-after-colon"))
    assert [i["name"] for i in got] == ["lo", "eth0", "eth1", "sit0"]
    assert got[0]["rx_bytes"] == 181033261002 and got[0]["tx_packets"] == 224517415
    assert got[1] == iface("eth0", 68210035552, 520993275, 0, 0, 9315587528, 43451486, 0, 0)


def test_simple_samples():
    got = by_name(procnet.parse_net_dev(read(REAL, "net_dev", "jc-ubuntu-ens33")))
    assert got["ens33"] == iface("ens33", 60600053, 109378, 0, 0, 44256546, 121425, 0, 0)
    got = by_name(procnet.parse_net_dev(read(REAL, "net_dev", "procfs-421-alias-team0-1")))
    assert got["eth0"]["tx_bytes"] == 96022876 and "team0:1" in got
    got = procnet.parse_net_dev(read(REAL, "net_dev", "salt-14365-ubuntu1204-large"), skip_virtual=True)
    assert got == [iface("eth1", 9371883121, 140792077, 0, 0, 8883852653, 7614663, 0, 0),
                   iface("eth0", 240011007431, 145176540, 0, 0, 212197811305, 6880546, 0, 0)]


def test_container_netns_sample():
    assert procnet.parse_net_dev(read(REAL, "net_dev", "procfs-pid-netns"), skip_virtual=True) == [
        iface("eth0", 438, 5, 0, 0, 648, 8, 0, 0)]


def test_skip_list_drops_veth_docker_and_lo_only_when_asked():
    data = read(REAL, "net_dev", "procfs-host-veth-docker0")
    assert [i["name"] for i in procnet.parse_net_dev(data)] == ["vethf345468", "lo", "docker0", "eth0"]
    assert procnet.parse_net_dev(data, skip_virtual=True) == [
        iface("eth0", 874354587, 1036395, 0, 0, 563352563, 732147, 0, 0)]


def test_sysstat_bridge_names_and_drops():
    got = by_name(procnet.parse_net_dev(read(REAL, "net_dev", "sysstat-virbr-wlan-drops")))
    assert list(got) == ["lo", "virbr0-nic", "enp6s0", "virbr0", "virbr0-1", "wlp5s0"]
    assert got["wlp5s0"] == iface("wlp5s0", 60065311, 55481, 0, 848, 2446402, 21420, 0, 0)
    assert got["virbr0-1"]["tx_bytes"] == 2001 and got["virbr0"]["rx_bytes"] == 1000


def test_cadvisor_procnetdev():
    # cAdvisor's TestScanInterfaceStats: docker0 and lo skipped; wlp4s0 from columns 1-4 and 9-12.
    # The file has no final newline.
    assert procnet.parse_net_dev(read(CADVISOR, "procnetdev"), skip_virtual=True) == [
        iface("wlp4s0", 1, 2, 3, 4, 9, 10, 11, 12), iface("em1", 315849, 1172, 0, 0, 315850, 1173, 0, 0)]


# --- net/dev: rules --------------------------------------------------------------------------

def net_dev_line(name, counters, glue=b" "):
    return name + b":" + glue + b" ".join(b"%d" % c for c in counters) + b"\n"


def test_skip_list_is_a_case_insensitive_prefix_match():
    names = [b"LO", b"lowpan0", b"Veth1", b"DOCKER_gwbridge", b"nerdctl0", b"eth0", b"br-lo", b"ens3", b"l",
             b"vet"]
    data = NET_DEV_HEADER + b"".join(net_dev_line(n, range(16)) for n in names)
    kept = procnet.parse_net_dev(data, skip_virtual=True)
    assert [i["name"] for i in kept] == ["eth0", "br-lo", "ens3", "l", "vet"]
    assert len(procnet.parse_net_dev(data)) == len(names)


def test_counters_are_exact_to_2_64_minus_1():
    data = NET_DEV_HEADER + net_dev_line(b"eth0", [U64_MAX] * 16, glue=b"")
    assert procnet.parse_net_dev(data) == [iface("eth0", *[U64_MAX] * 8)]


def test_header_only_is_no_interface():
    assert procnet.parse_net_dev(NET_DEV_HEADER) == []
    assert procnet.parse_net_dev(NET_DEV_HEADER + b"\n  \n") == []


@pytest.mark.parametrize("data", [
    b"",
    NET_DEV_HEADER[:40],                                         # one header line only
    NET_DEV_HEADER.split(b"\n", 1)[1] + net_dev_line(b"eth0", range(16)),   # lost its first line
    net_dev_line(b"eth0", range(16)) * 3,                        # no header at all
    NET_DEV_HEADER + net_dev_line(b"eth0", range(15)),
    NET_DEV_HEADER + net_dev_line(b"eth0", range(17)),
    NET_DEV_HEADER + net_dev_line(b"", range(16)),
    NET_DEV_HEADER + net_dev_line(b"a" * 16, range(16)),         # past IFNAMSIZ - 1
    NET_DEV_HEADER + net_dev_line(b"et h0", range(16)),
    NET_DEV_HEADER + net_dev_line(b"et\x00h", range(16)),
    NET_DEV_HEADER + b"eth0 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15\n",      # no colon
    NET_DEV_HEADER + b"eth0: 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 -1\n",
    NET_DEV_HEADER + b"eth0: 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 max\n",
    NET_DEV_HEADER + b"eth0: 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 0x1\n",
    NET_DEV_HEADER + b"eth0: 18446744073709551616 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15\n",
    NET_DEV_HEADER + b"eth0: 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 :\n",
    NET_DEV_HEADER + net_dev_line(b"lo", range(15)),             # a skipped name is still checked
])
def test_malformed_net_dev(data):
    with pytest.raises(ValueError):
        procnet.parse_net_dev(data, skip_virtual=True)


def test_interfaces_past_capacity_are_counted_not_stored():
    data = read(REAL, "net_dev", "sysstat-virbr-wlan-drops")
    got, overflow = procnet.parse_net_dev_into(data, 2)
    assert [i["name"] for i in got] == ["lo", "virbr0-nic"] and overflow == 4
    got, overflow = procnet.parse_net_dev_into(data, 2, skip_virtual=True)
    assert [i["name"] for i in got] == ["virbr0-nic", "enp6s0"] and overflow == 3


# --- tcp, tcp6 -------------------------------------------------------------------------------

def test_tcp_bug_case_ipv4_mapped_rows_and_final_newline():
    expected = json.loads(read(BUG, "procnet-ipv6-mapped-and-final-newline", "expected.json"))
    sockets = expected["files"]["tcp6"]
    want = collections.Counter(STATES[int(s["state_hex"], 16) - 1] for s in sockets)
    got = procnet.parse_tcp_states(read(BUG, "procnet-ipv6-mapped-and-final-newline", "tcp6"))
    assert got == tcp(**want)
    assert got == tcp(established=2, listen=2)                # exactly 4 sockets, none from the last newline


def test_udp_bug_case():
    expected = json.loads(read(BUG, "procnet-ipv6-mapped-and-final-newline", "expected.json"))
    sockets = expected["files"]["udp"]
    got = procnet.parse_udp_stats(read(BUG, "procnet-ipv6-mapped-and-final-newline", "udp"))
    assert got == udp(len(sockets), sum(s["drops"] for s in sockets), sum(s["rx_queue"] for s in sockets),
                      sum(s["tx_queue"] for s in sockets), 0)
    assert got == udp(listen=2, dropped=17, rx_queued=0x1200, tx_queued=0, no_drops=0)


@pytest.mark.parametrize("name, want", [
    ("arc-android-32bit-padded", tcp(established=1, listen=2)),
    ("arc-android-tcp6-ipv4-mapped", tcp(close_wait=1)),
    ("jc-tcp-ubuntu-28-lines-padded", tcp(established=1, fin_wait1=6, time_wait=15, close_wait=1, listen=4)),
    ("jc-tcp6-global-time-wait-short-rows", tcp(time_wait=7, listen=1)),
    ("procfs-tcp-small", tcp(listen=3)),
    ("procfs-tcp6-linklocal", tcp(close=2)),
])
def test_real_tcp_tables(name, want):
    assert procnet.parse_tcp_states(read(REAL, "net_tcp", name)) == want


def row(sl, state, local=b"0100007F:0016", remote=b"00000000:0000", queues=b"00000000:00000000", tail=True):
    line = b"%4d: %s %s %s %s 00:00000000 00000000     0        0 4242 1 0000000000000000" % (
        sl, local, remote, state, queues)
    return line + (b" 100 0 0 10 0" if tail else b"")


def test_every_state_of_the_spec_table():
    data = TCP_HEADER + b"\n".join(row(i, b"%02X" % (i + 1)) for i in range(11)) + b"\n"
    assert procnet.parse_tcp_states(data) == tcp(**{s: 1 for s in STATES})


def test_header_only_is_zero_and_layout_variations_are_fine():
    assert procnet.parse_tcp_states(TCP_HEADER) == tcp()
    assert procnet.parse_tcp_states(TCP_HEADER.rstrip(b"\n")) == tcp()
    v6 = b"0000000000000000FFFF00000100007F:1F90"
    data = (TCP_HEADER + row(0, b"0A") + b"     \n" + row(1, b"01", local=v6, remote=v6, tail=False) +
            b"\n\n" + row(123456, b"06", tail=False))       # 6-digit slot, no final newline
    assert procnet.parse_tcp_states(data) == tcp(listen=1, established=1, time_wait=1)


@pytest.mark.parametrize("bad", [
    row(0, b"00"), row(0, b"0C"), row(0, b"FF"), row(0, b"A"), row(0, b"00A"), row(0, b"0G"),
    row(0, b"0A", local=b"0100007F:16"), row(0, b"0A", local=b"100007F:0016"),
    row(0, b"0A", local=b"0100007G:0016"),
    row(0, b"0A", local=b"0100007F0016"), row(0, b"0A", remote=b"0" * 31 + b":0000"),
    row(0, b"0A", queues=b"00000000"), row(0, b"0A", queues=b"0000000x:00000000"),
    b"   0: 0100007F:0016 00000000:0000",                # cut after the addresses
    b"   0 0100007F:0016 00000000:0000 0A 00000000:00000000", b"   x: 0100007F:0016 00000000:0000 0A 0:0",
])
def test_malformed_tcp_rows(bad):
    with pytest.raises(ValueError):
        procnet.parse_tcp_states(TCP_HEADER + row(0, b"0A") + b"\n" + bad + b"\n")


@pytest.mark.parametrize("data", [b"", b"\n", row(0, b"0A") + b"\n", b"  local_address\n" + row(0, b"0A")])
def test_tcp_table_without_its_header_is_malformed(data):
    with pytest.raises(ValueError):
        procnet.parse_tcp_states(data)


# --- udp, udp6 -------------------------------------------------------------------------------

def test_cadvisor_procnetudp_with_documented_queue_meaning():
    # cAdvisor's TestScanUDPStats asserts RxQueued=10, TxQueued=11: the kernel's tx_queue (0x0A)
    # into RxQueued and rx_queue (0x0B) into TxQueued. We follow the documented meaning.
    assert procnet.parse_udp_stats(read(CADVISOR, "procnetudp")) == udp(
        listen=2, dropped=4, rx_queued=11, tx_queued=10, no_drops=0)


@pytest.mark.parametrize("name, want", [
    ("beats-udp6-5digit-sl-big-inode", udp(listen=6, dropped=0, rx_queued=0, tx_queued=0, no_drops=0)),
    ("procfs-udp6", udp(listen=2, dropped=0, rx_queued=0, tx_queued=0, no_drops=0)),
    # These two are tcp rows saved as udp fixtures (17 columns, no drops column).
    ("node-exporter-udp-trailing-space-padding", udp(listen=1, dropped=0, rx_queued=0, tx_queued=0x15, no_drops=1)),
    ("procfs-udp-small", udp(listen=3, dropped=0, rx_queued=2, tx_queued=2, no_drops=3)),
])
def test_real_udp_tables(name, want):
    assert procnet.parse_udp_stats(read(REAL, "net_udp", name)) == want


def test_truncated_udp_fixture_is_malformed():
    # procfs' deliberately broken sample: header and row cut after the st column.
    with pytest.raises(ValueError):
        procnet.parse_udp_stats(read(REAL, "net_udp", "procfs-udp-broken-truncated"))


def udp_row(sl, txq, rxq, drops=0, state=b"07", drops_column=True):
    line = b"%5d: 00000000:0202 00000000:0000 %s %08X:%08X 00:00000000 00000000     0        0 21011 2 " \
           b"0000000000000000" % (sl, state, txq, rxq)
    return line + (b" %d" % drops if drops_column else b"")


def test_udp_sums_are_exact_and_12_column_rows_have_no_drops():
    data = (UDP_HEADER + udp_row(0, 0xFFFFFFFF, 1, 4294967295) + b"\n" + udp_row(1, 1, 0xFFFFFFFF, 1, b"01") +
            b"\n" + udp_row(2, 5, 6, drops_column=False) + b"    ")
    assert procnet.parse_udp_stats(data) == udp(listen=3, dropped=2**32, rx_queued=2**32 + 6, tx_queued=2**32 + 5,
                                                no_drops=1)


def test_udp_queue_sum_is_exact_to_2_64_minus_1_and_errors_past_it():
    big = b"   0: 00000000:0202 00000000:0000 07 FFFFFFFFFFFFFFFE:0000000000000000 00:00000000 0 0 0 1 2 0 0"
    one = b"   1: 00000000:0202 00000000:0000 07 00000001:00000000 00:00000000 00000000 0 0 1 2 0 0"
    assert procnet.parse_udp_stats(UDP_HEADER + big + b"\n" + one)["tx_queued"] == U64_MAX
    with pytest.raises(ValueError):
        procnet.parse_udp_stats(UDP_HEADER + big + b"\n" + one + b"\n" + one)


def test_udp_rows_of_another_width_count_without_drops():
    # Only a 13-column row has the drops column where the kernel puts it; a wider one (no kernel
    # prints it; the tcp-shaped fixtures above) still counts as a socket with its queues.
    assert procnet.parse_udp_stats(UDP_HEADER + udp_row(0, 3, 4, 9) + b" 1") == udp(
        listen=1, dropped=0, rx_queued=4, tx_queued=3, no_drops=1)


@pytest.mark.parametrize("bad", [
    udp_row(0, 0, 0)[:udp_row(0, 0, 0).rindex(b" 0000000000000000")],   # 11 columns
    udp_row(0, 0, 0, state=b"7"), udp_row(0, 0, 0)[:-1] + b"-1", udp_row(0, 0, 0)[:-1] + b"x",
    b"   0: 00000000:0202 00000000:0000 07 00000000-00000000 00:00000000 00000000 0 0 1 2 0 0",
    b"   0: 00000000:0202 00000000:0000 07 00000000:00000000",
])
def test_malformed_udp_rows(bad):
    with pytest.raises(ValueError):
        procnet.parse_udp_stats(UDP_HEADER + udp_row(1, 0, 0) + b"\n" + bad + b"\n")


# --- fuzzing -------------------------------------------------------------------------------

FUZZ, GEN = examples(150), examples(60)


u64 = st.one_of(st.integers(0, U64_MAX), st.sampled_from([0, 1, 2**32, 2**63, U64_MAX]))
u32 = st.one_of(st.integers(0, U32_MAX), st.sampled_from([0, 1, U32_MAX]))
hexdigits = "0123456789ABCDEF"
SKIPPED = ("lo", "veth", "docker", "nerdctl")


@st.composite
def iface_names(draw):
    prefix = draw(st.sampled_from(["", "", "lo", "LO", "Veth", "docker", "NERDctl", "eth", "bond0:"]))
    rest = draw(st.text(alphabet="abcXYZ019-_.:@|", max_size=15))
    return (prefix + rest)[:15] or "e"


@st.composite
def net_dev_files(draw):
    """(bytes, interfaces): the kernel's "%6s:%8llu %7llu ..." lines, with glued counters."""
    lines, want = [], []
    for _ in range(draw(st.integers(0, 5))):
        name = draw(iface_names())
        c = draw(st.lists(u64, min_size=16, max_size=16))
        glue = draw(st.sampled_from([b"", b" ", b"    "]))
        sep = draw(st.sampled_from([b" ", b"    ", b"\t"]))
        pad = draw(st.sampled_from([b"", b"  "]))
        lines.append(name.encode().rjust(6) + b":" + glue + sep.join(b"%d" % v for v in c) + pad)
        want.append(iface(name, c[0], c[1], c[2], c[3], c[8], c[9], c[10], c[11]))
    data = NET_DEV_HEADER + b"\n".join(lines) + draw(st.sampled_from([b"", b"\n"]))
    return data, want


@GEN
@given(net_dev_files())
def test_generated_net_dev_reads_back_exactly(case):
    data, want = case
    assert procnet.parse_net_dev(data) == want
    assert procnet.parse_net_dev(data, skip_virtual=True) == [
        i for i in want if not i["name"].lower().startswith(SKIPPED)]


@st.composite
def endpoints(draw, v6):
    addr = draw(st.text(alphabet=hexdigits, min_size=32 if v6 else 8, max_size=32 if v6 else 8))
    return (addr + ":" + draw(st.text(alphabet=hexdigits, min_size=4, max_size=4))).encode()


@st.composite
def socket_rows(draw, udp):
    v6 = draw(st.booleans())
    state = draw(st.integers(1, 11) if not udp else st.sampled_from([1, 7, 10]))
    txq, rxq = draw(u32), draw(u32)
    head = b"%4d: %s %s %02X %08X:%08X %02X:%08X %08X %5d %8d %d" % (
        draw(st.integers(0, 200000)), draw(endpoints(v6)), draw(endpoints(v6)), state, txq, rxq,
        draw(st.integers(0, 4)), draw(u32), draw(u32), draw(st.integers(0, 65535)), draw(st.integers(0, 10)),
        draw(st.integers(0, U32_MAX)))
    if udp:
        drops = draw(u32)
        has_drops = draw(st.integers(0, 4)) > 0
        line = head + b" 2 ffff8acf0273a840" + (b" %d" % drops if has_drops else b"")
        return line + draw(st.sampled_from([b"", b"   "])), (state, txq, rxq, drops if has_drops else None)
    tail = draw(st.sampled_from([b" 1 ffff8c7a0de93a80 100 0 0 10 0", b" 3 ffff8c7a12d31aa0",
                                 b" 1 dfd77900 21 4 6 3 -1"]))
    return head + tail + draw(st.sampled_from([b"", b"     "])), (state, txq, rxq, None)


@st.composite
def socket_tables(draw, udp):
    rows = draw(st.lists(socket_rows(udp), max_size=8))
    data = (UDP_HEADER if udp else TCP_HEADER) + b"\n".join(r for r, _ in rows)
    return data + draw(st.sampled_from([b"", b"\n"])), [v for _, v in rows]


@GEN
@given(socket_tables(udp=False))
def test_generated_tcp_tables_count_exactly(case):
    data, sockets = case
    counts = collections.Counter(STATES[s[0] - 1] for s in sockets)
    assert procnet.parse_tcp_states(data) == tcp(**counts)


@GEN
@given(socket_tables(udp=True))
def test_generated_udp_tables_sum_exactly(case):
    data, sockets = case
    assert procnet.parse_udp_stats(data) == udp(
        listen=len(sockets), dropped=sum(s[3] for s in sockets if s[3] is not None),
        rx_queued=sum(s[2] for s in sockets), tx_queued=sum(s[1] for s in sockets),
        no_drops=sum(1 for s in sockets if s[3] is None))


TOKENS = [b"Inter-|", b" face |", b"|", b"lo:", b"eth0:", b":", b"0", b"1", b"18446744073709551615",
          b"18446744073709551616", b"-1", b"  sl", b"sl", b"0:", b"0100007F:0016", b"0" * 32 + b":0000",
          b"0A", b"0C", b"07", b"00000000:00000000", b"FFFFFFFFFFFFFFFF:0", b" ", b"  ", b"\t", b"\n",
          b"\r", b"\x00", b"\xff", b"\x0b", b"x" * 20]


soup = st.lists(st.sampled_from(TOKENS), max_size=60).map(b"".join)


@FUZZ
@given(st.one_of(st.binary(max_size=400), soup, mutated(net_dev_files().map(lambda c: c[0]), TOKENS)), st.integers(0, 6), st.booleans())
def test_any_bytes_net_dev(data, capacity, skip):
    try:
        got, _overflow = procnet.parse_net_dev_into(data, capacity, skip)
    except ValueError:
        return
    assert len(got) <= capacity
    assert all(0 < len(i["name"].encode("utf-8", "surrogateescape")) <= 15 for i in got)


@FUZZ
@given(st.one_of(st.binary(max_size=400), soup, mutated(socket_tables(udp=False).map(lambda c: c[0]), TOKENS)))
def test_any_bytes_tcp(data):
    try:
        got = procnet.parse_tcp_states(data)
    except ValueError:
        return
    assert sum(got.values()) <= data.count(b"\n") + 1


@FUZZ
@given(st.one_of(st.binary(max_size=400), soup, mutated(socket_tables(udp=True).map(lambda c: c[0]), TOKENS)))
def test_any_bytes_udp(data):
    try:
        got = procnet.parse_udp_stats(data)
    except ValueError:
        return
    assert got["no_drops"] <= got["listen"] <= data.count(b"\n") + 1
