"""/proc/diskstats (native parser diskstats.pyx): every field-count variant the
kernel and lxcfs print, on real samples from many kernels (fixtures/realworld/
diskstats, sources in ../shared/fixtures/realworld/SOURCES.md), cAdvisor's own
test file (fixtures/cadvisor, SOURCES.md there), the bug-report cases
(fixtures/bugcases), and hypothesis-generated files. Expected values are read
off the files by hand; a counter the line does not print is None, not 0."""
import json
import os
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cgsampler._native import diskstats
from fuzzing import examples, mutated, watchdog  # noqa: F401  (watchdog: autouse fixture)

HERE = os.path.dirname(__file__)
REAL = os.path.join(HERE, "fixtures", "realworld", "diskstats")
BUG = os.path.join(HERE, "fixtures", "bugcases")
CADVISOR = os.path.join(HERE, "fixtures", "cadvisor")
U64_MAX = 2**64 - 1
U32_MAX = 2**32 - 1

CLASSIC = ("reads_completed", "reads_merged", "sectors_read", "read_time", "writes_completed",
           "writes_merged", "sectors_written", "write_time", "io_in_progress", "io_time",
           "weighted_io_time")
DISCARD = ("discards_completed", "discards_merged", "sectors_discarded", "discard_time")
FLUSH = ("flushes_completed", "flush_time")
ALL = CLASSIC + DISCARD + FLUSH


def read(*parts):
    with open(os.path.join(*parts), "rb") as f:
        return f.read()


def by_name(devices):
    return {d["name"]: d for d in devices}


def device(major, minor, name, *counters, layout=None):
    """A device dict as the parser returns it, counters in column order."""
    layout = layout or ALL[:len(counters)]
    d = dict(major=major, minor=minor, name=name, **{k: None for k in ALL})
    d.update(zip(layout, counters))
    return d


def test_struct_size_the_numpy_dtype_mirrors():
    # DiskStat: major, minor, present, pad (4 x u4), name S32, 17 x u8.
    assert diskstats.DISK_STAT_SIZE == 184


# --- the bug-report cases ------------------------------------------------------------------

# expected.json names -> ours
BUG_NAMES = {"read_time_ms": "read_time", "write_time_ms": "write_time", "ios_in_progress": "io_in_progress",
             "io_time_ms": "io_time", "weighted_io_time_ms": "weighted_io_time",
             "discard_time_ms": "discard_time", "flush_time_ms": "flush_time"}


@pytest.mark.parametrize("case", ["diskstats-field-count-variants", "diskstats-short-partition-lines"])
def test_bug_case_expected_json(case):
    expected = json.loads(read(BUG, case, "expected.json"))
    want = [{BUG_NAMES.get(k, k): v for k, v in dev.items()} for dev in expected["devices"]]
    assert diskstats.parse_diskstats(read(BUG, case, expected["file"])) == want


def test_short_partition_line_maps_its_four_counters_to_their_own_columns():
    # 2.6.0-2.6.24 partition lines: reads, sectors read, writes, sectors written, not the first
    # four of the 11-counter layout (psutil #767).
    got = by_name(diskstats.parse_diskstats(read(BUG, "diskstats-short-partition-lines", "diskstats")))
    assert got["hda1"] == device(3, 1, "hda1", 35486, 69804, 1291, 10328,
                                 layout=("reads_completed", "sectors_read", "writes_completed", "sectors_written"))
    assert got["hda"]["weighted_io_time"] == 23705160


# --- real samples: every file parses, a few values each checked by hand --------------------

@pytest.mark.parametrize("name", sorted(os.listdir(REAL)))
def test_every_real_sample_parses(name):
    devices = diskstats.parse_diskstats(read(REAL, name))
    assert devices and all(d["name"] for d in devices)


def test_below_vda_18_fields_with_edited_discard_and_extra_indent():
    devs = diskstats.parse_diskstats(read(REAL, "below-vda-128-loops-18-fields"))
    assert len(devs) == 148                         # 16 ram + 128 loop + vda + 3 partitions
    names = by_name(devs)
    assert names["vda"] == device(253, 0, "vda", 187110061, 6006969, 23225661674, 128112391, 136557913,
                                  12023946, 28151760010, 615065070, 0, 107730702, 623152538, 1, 2, 3, 4)
    assert names["loop127"]["flushes_completed"] is None
    assert names["vda3"]["sectors_written"] == 28121859920


def test_diamond_md0_zero_time_fields():
    names = by_name(diskstats.parse_diskstats(read(REAL, "diamond-md0-zero-time-fields")))
    assert len(names) == 33
    assert names["md0"] == device(9, 0, "md0", 150707, 0, 2818762, 0, 111152210, 0, 889217680, 0, 0, 0, 0)
    assert names["sda"]["reads_merged"] == 127761523
    assert names["sda"]["discards_completed"] is None


def test_diamond_xen_xvdb_huge_counters():
    names = by_name(diskstats.parse_diskstats(read(REAL, "diamond-xen-xvdb-huge-md0-empty")))
    assert names["xvdb"] == device(8, 16, "xvdb", 1642335748, 6635, 47517782005, 2485957567, 13136509974,
                                   3665796878, 237171463357, 1799839451, 1, 1299123651, 4283211976)
    assert names["md0"] == device(9, 0, "md0", *[0] * 11)


def test_jc_20_fields_unsorted_with_trailing_blank_line():
    devs = diskstats.parse_diskstats(read(REAL, "jc-ubuntu-20-fields-trailing-blank-line"))
    assert len(devs) == 15
    assert [d["name"] for d in devs[-2:]] == ["dm-0", "loop8"]
    assert devs[-1] == device(7, 8, "loop8", 250, 0, 4496, 16, 0, 0, 0, 0, 0, 180, 16, 0, 0, 0, 0, 0, 0)
    assert by_name(devs)["sda"]["sectors_read"] == 892828


@pytest.mark.parametrize("name, sdb_minor", [("node-exporter-14-18-20-fields", 16),
                                             ("procfs-mixed-14-18-20-fields", 0)])
def test_mixed_14_18_20_field_lines_in_one_file(name, sdb_minor):
    names = by_name(diskstats.parse_diskstats(read(REAL, name)))
    assert names["nvme0n1"] == device(259, 0, "nvme0n1", 47114, 4, 4643973, 21650, 1078320, 43950, 39451633,
                                      1011053, 0, 222766, 1032546)
    assert names["sdb"] == device(8, sdb_minor, "sdb", 326552, 841, 9657779, 84, 41822, 2895,
                                  1972905, 5007, 0, 60730, 67070, 68851, 0, 1925173784, 11130)
    assert names["sdc1"]["flushes_completed"] == 0 and names["sdc1"]["flush_time"] == 0


def test_node_exporter_sdc_flush_fields():
    names = by_name(diskstats.parse_diskstats(read(REAL, "node-exporter-14-18-20-fields")))
    assert len(names) == 51
    assert names["sdc"] == device(8, 32, "sdc", 126552, 141, 1657779, 14, 11822, 1895, 172905, 1007, 0,
                                  10730, 17070, 18851, 0, 125173784, 11130, 1555, 1944)


def test_procfs_mixed_keeps_repeated_device_numbers_in_file_order():
    devs = diskstats.parse_diskstats(read(REAL, "procfs-mixed-14-18-20-fields"))
    assert [d["name"] for d in devs if (d["major"], d["minor"]) == (8, 0)] == ["sda", "sdb", "sdc"]
    assert by_name(devs)["sdc"]["flush_time"] == 182


def test_psutil_single_lines():
    assert diskstats.parse_diskstats(read(REAL, "psutil-1423-loop0-18-fields")) == [
        device(7, 0, "loop0", 206, 0, 2462, 48, 0, 0, 0, 0, 0, 32, 56, 0, 0, 0, 0)]
    assert diskstats.parse_diskstats(read(REAL, "psutil-1692-nvme-20-fields")) == [
        device(259, 0, "nvme0n1", 109916, 11636, 7124076, 550966, 115172, 4137, 9296402, 219723, 0, 51641,
               694795, 0, 0, 0, 0, 4958, 2319)]
    assert diskstats.parse_diskstats(read(REAL, "psutil-807-centos6-vda")) == [
        device(252, 0, "vda", 40894884, 762897, 4732260326, 79610084, 32058059, 40015556, 534598342,
               81434303, 0, 80401326, 160952373)]


def test_lxcfs_17_fields_lack_the_discards_completed_column():
    # lxcfs 4.0.5-5.0.3 printed the discard group without its first column (lxc/lxcfs#589, fixed
    # by #590): 14 counters = the 11 classic ones + merged, sectors, time of discards.
    assert diskstats.parse_diskstats(read(REAL, "psutil-2148-lxcfs-17-fields-no-indent")) == [
        device(8, 0, "sda", 0, 0, 0, 0, 2, 0, 42, 7, 0, 0, 0, 0, 0, 0,
               layout=CLASSIC + ("discards_merged", "sectors_discarded", "discard_time"))]


def test_sysstat_discard_columns():
    root1 = by_name(diskstats.parse_diskstats(read(REAL, "sysstat-root1-18-fields-13-partitions")))
    assert len(root1) == 22
    assert root1["sda9"] == device(8, 9, "sda9", 40158, 2132, 2778738, 464054, 7330, 2191, 286080, 55902,
                                   0, 26401, 499574, 0, 0, 0, 0)
    root6 = by_name(diskstats.parse_diskstats(read(REAL, "sysstat-root6-discard-nonzero")))
    assert [root6["sda1"][k] for k in DISCARD] == [100, 100, 100, 100]
    assert root6["sr0"]["major"] == 11


def test_cadvisor_test_file_and_its_device_filter():
    # cAdvisor's TestGetDiskStatsMap: 30 of these devices pass its sd/vd/xvd/dm- name filter.
    devs = diskstats.parse_diskstats(read(CADVISOR, "diskstats"))
    assert len(devs) == 54
    kept = [d["name"] for d in devs if re.fullmatch(r"(?:(?:s|v|xv)d[a-z]+\d*|dm-\d+)", d["name"])]
    assert len(kept) == 30
    assert by_name(devs)["sdc"] == device(8, 32, "sdc", 12390, 470, 457965, 36363, 72184, 244851, 9824537,
                                          5359169, 0, 607738, 5437210)


# --- field counts, limits and malformed lines ----------------------------------------------

@pytest.mark.parametrize("ncounters, present", [
    (4, ("reads_completed", "sectors_read", "writes_completed", "sectors_written")),
    (11, CLASSIC), (12, CLASSIC), (13, CLASSIC),
    (14, CLASSIC + ("discards_merged", "sectors_discarded", "discard_time")),
    (15, CLASSIC + DISCARD), (16, CLASSIC), (17, ALL), (18, ALL), (25, ALL),
])
def test_which_columns_each_field_count_fills(ncounters, present):
    counters = list(range(1, ncounters + 1))
    [got] = diskstats.parse_diskstats(b"8 0 sda " + b" ".join(b"%d" % c for c in counters) + b"\n")
    assert {k for k in ALL if got[k] is not None} == set(present)
    assert [got[k] for k in present] == counters[:len(present)]


@pytest.mark.parametrize("line", [
    b"8 0 sda", b"8 0 sda 1", b"8 0 sda 1 2 3", b"8 0 sda 1 2 3 4 5", b"8 0 sda " + b"1 " * 10,
    b"8 0", b"8", b"sda 1 2 3 4", b"8 x sda 1 2 3 4", b"-8 0 sda 1 2 3 4", b"8 0 sda 1 2 -3 4",
    b"8 0 sda 1 2 3 4x", b"8 0 sda 1 2 3 0x4", b"8 0 sda 1 2 max 4", b"8 0 sda 1 2 +3 4",
    b"4294967296 0 sda 1 2 3 4", b"8 4294967296 sda 1 2 3 4",
    b"8 0 " + b"n" * 32 + b" 1 2 3 4",                  # over DISK_NAME_LEN - 1
    b"8 0 sd\x00a 1 2 3 4",
    b"8 0 sda 18446744073709551616 0 0 0",           # 2^64
])
def test_malformed_lines_make_the_file_malformed(line):
    with pytest.raises(ValueError):
        diskstats.parse_diskstats(b"8 16 sdb 1 2 3 4 5 6 7 8 9 10 11\n" + line + b"\n")


def test_limits_that_are_fine():
    data = (b"4294967295 4294967295 " + b"n" * 31 + b" " + b" ".join([b"18446744073709551615"] * 11) +
            b"\n\n  \n\t8\t0\tsda\t1 2 3 4")            # blank lines, tabs, no final newline
    a, b = diskstats.parse_diskstats(data)
    assert (a["major"], a["minor"], a["name"]) == (U32_MAX, U32_MAX, "n" * 31)
    assert [a[k] for k in CLASSIC] == [U64_MAX] * 11
    assert (b["name"], b["reads_completed"], b["sectors_written"]) == ("sda", 1, 4)


def test_empty_file_is_no_device():
    # lxcfs renders an empty file for a container without block IO; the kernel never does,
    # but no device is the right reading of it.
    assert diskstats.parse_diskstats(b"") == []
    assert diskstats.parse_diskstats(b"\n") == []


def test_devices_past_capacity_are_counted_not_stored():
    data = read(REAL, "sysstat-root1-18-fields-13-partitions")
    devs, overflow = diskstats.parse_diskstats_into(data, 5)
    assert [d["name"] for d in devs] == ["sda", "sda1", "sda2", "sda3", "sda4"]
    assert overflow == 17
    assert diskstats.parse_diskstats_into(data, 0) == ([], 22)


# --- fuzzing -------------------------------------------------------------------------------

FUZZ, GEN = examples(150), examples(60)


u64 = st.one_of(st.integers(0, U64_MAX), st.sampled_from([0, 1, 2**32, 2**63, U64_MAX]))
names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_./:!", min_size=1, max_size=31).map(str.encode)
LAYOUTS = {4: ("reads_completed", "sectors_read", "writes_completed", "sectors_written"), 11: CLASSIC,
           14: CLASSIC + DISCARD[1:], 15: CLASSIC + DISCARD, 17: ALL}


@st.composite
def diskstats_files(draw):
    """(file bytes, expected devices): the kernel's "%4d %7d %s ..." lines, any variant."""
    lines, want = [], []
    for _ in range(draw(st.integers(0, 6))):
        major, minor = draw(st.integers(0, U32_MAX)), draw(st.integers(0, U32_MAX))
        name = draw(names)
        n = draw(st.sampled_from(sorted(LAYOUTS)))
        counters = draw(st.lists(u64, min_size=n, max_size=n))
        sep = draw(st.sampled_from([b" ", b"  ", b"\t"]))
        lead = draw(st.sampled_from([b"", b"   ", b" "]))
        lines.append(lead + b"%4d %7d " % (major, minor) + name + b" " + sep.join(b"%d" % c for c in counters))
        want.append(device(major, minor, name.decode(), *counters, layout=LAYOUTS[n]))
        if draw(st.booleans()):
            lines.append(draw(st.sampled_from([b"", b"  ", b"\t"])))     # blank lines are skipped
    data = b"\n".join(lines) + draw(st.sampled_from([b"", b"\n"]))
    return data, want


@GEN
@given(diskstats_files())
def test_generated_files_read_back_exactly(case):
    data, want = case
    assert diskstats.parse_diskstats(data) == want


TOKENS = [b"8", b"0", b"259", b"sda", b"nvme0n1", b"dm-0", b"18446744073709551615", b"18446744073709551616",
          b"-1", b"4294967296", b" ", b"  ", b"\t", b"\n", b"\r", b"\x00", b"\xff", b"\x0b", b"x" * 40, b"0x1"]




any_bytes = st.one_of(st.binary(max_size=400), st.lists(st.sampled_from(TOKENS), max_size=60).map(b"".join),
                      mutated(diskstats_files().map(lambda c: c[0]), TOKENS))


@FUZZ
@given(any_bytes, st.integers(0, 8))
def test_any_bytes_give_devices_or_value_error(data, capacity):
    try:
        devs, _overflow = diskstats.parse_diskstats_into(data, capacity)
    except ValueError:
        return
    assert len(devs) <= capacity
    assert all(0 < len(d["name"].encode("utf-8", "surrogateescape")) <= 31 for d in devs)
    assert all(0 <= d[k] <= U64_MAX for d in devs for k in ALL if d[k] is not None)
