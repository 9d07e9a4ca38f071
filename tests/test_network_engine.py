"""The engine's namespace reader on the /proc-table path, with files laid out in
tmp_path (no namespace needed): a kernel without IPv6 has no tcp6/udp6 files,
and that means no IPv6 sockets, not a failed group."""
import numpy as np

from cgsampler import schema
from cgsampler._native.sweep import KINDS, Engine

G = schema.GROUPS
NET_DEV = (b"Inter-|   Receive                                                |  Transmit\n"
           b" face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n"
           b"    lo:     100       1    0    0    0     0          0         0      100       1    0    0    0     0       0          0\n"
           b"  eth0:    5000      50    1    2    0     0          0         0     7000      70    3    4    0     0       0          0\n")
TCP = (b"  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
       b"   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0 100 0 0 10 0\n"
       b"   1: 0100007F:1F90 0100007F:C350 01 00000000:00000000 00:00000000 00000000     0        0 2 1 0 20 4 30 10 -1\n")
UDP = (b"   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n"
       b"    0: 00000000:0044 00000000:0000 07 00000000:00000200 00:00000000 00000000     0        0 3 2 0 5\n")


def engine_with_one_container(tmp_path, tables):
    e = Engine()
    stats = np.zeros((2, 1), dtype=schema.STATS_DTYPE)
    e.bind(stats, np.zeros((2, 1, 0), np.uint64), np.zeros((2, 1, 0), schema.DISK_ENTRY_DTYPE),
           np.zeros((2, 1, 4), schema.IFACE_DTYPE))
    for g in schema.GROUP_COLUMNS:
        e.set_group_columns(G[g].bit_length() - 1, schema.group_offsets(g))
    (tmp_path / "procs").write_bytes(b"1\n")
    sid, _ = e.add_slot(0, [(str(tmp_path / "procs"), KINDS["procs"], G["processes"], 1, 0, 0, 0, 0, 0, 0, 0)])
    (tmp_path / "dev").write_bytes(NET_DEV)
    paths = []
    for name, data in tables.items():
        if data is not None:
            (tmp_path / name).write_bytes(data)
        paths.append(str(tmp_path / name))
    nid = e.add_netns(str(tmp_path / "dev"), None, paths, 4)
    e.set_slot_netns(sid, nid)
    return e, stats


def test_absent_ipv6_tables_count_no_sockets_and_the_groups_stay_valid(tmp_path):
    e, stats = engine_with_one_container(tmp_path, {"tcp": TCP, "tcp6": None, "udp": UDP, "udp6": None})
    e.sweep(0)
    row = stats[0, 0]
    assert row["valid"] & G["tcp"] and row["valid"] & G["udp"] and row["valid"] & G["network"]
    assert list(row["tcp"]) == [1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0]          # established, listen
    assert not row["tcp6"].any() and not row["udp6"].any()
    assert list(row["udp"]) == [1, 5, 0x200, 0]                            # sockets, drops, rx, tx queue
    assert e.kept_fds == 4                                  # the procs file; net/dev, tcp, udp (none for IPv6)


def test_an_ipv4_table_that_cannot_be_read_fails_its_group(tmp_path):
    e, stats = engine_with_one_container(tmp_path, {"tcp": None, "tcp6": TCP, "udp": UDP, "udp6": UDP})
    e.sweep(0)
    row = stats[0, 0]
    assert not row["valid"] & G["tcp"] and not row["tcp"].any() and not row["tcp6"].any()
    assert row["valid"] & G["udp"] and row["udp6"][0] == 1
