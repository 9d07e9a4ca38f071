"""The native parsers, one kernel file format at a time, on real samples from many
kernels (tests/fixtures/realworld, see SOURCES.md in ../shared/fixtures) and on
the bug-report cases (tests/fixtures/bugcases). Expected values are read off the
files by hand."""
import json
import os

import pytest

from cgsampler._native import cgroup_v1, cgroup_v2, formats
from cgsampler.schema import DISK_LISTS, DISK_OPS, V1_FILES, V2_FILES

HERE = os.path.dirname(__file__)
REAL = os.path.join(HERE, "fixtures", "realworld")
BUG = os.path.join(HERE, "fixtures", "bugcases")
U64_MAX = 2**64 - 1
OP = {name: i for i, name in enumerate(DISK_OPS)}
LIST = {name: i for i, name in enumerate(DISK_LISTS)}


def read(*parts):
    with open(os.path.join(*parts), "rb") as f:
        return f.read()


def samples(kind):
    d = os.path.join(REAL, kind)
    return sorted(os.path.join(d, f) for f in os.listdir(d))


# --- single values (cpuacct.usage, memory.usage_in_bytes, memory.current, ...) ----

@pytest.mark.parametrize("text, value", [
    (b"124659500367000\n", 124659500367000),
    (b"0", 0),                                   # no final newline
    (b"max\n", U64_MAX),                         # v2 "no limit"
    (b"-1\n", 0),                                # v1 "unset": runc reads negatives as 0
    (b"-9223372036854775808\n", 0),
    (b"18446744073709551615\n", U64_MAX),        # 2^64-1 exactly
    (b"  42  \n", 42),
])
def test_single_value_follows_the_cgroup_number_rules(text, value):
    assert formats.parse_single_value(text) == value


@pytest.mark.parametrize("text", [
    b"", b"\n", b"18446744073709551616\n", b"12abc\n", b"1 2\n", b"0x10\n", b"+5\n", b"maximum\n", b"-\n",
])
def test_single_value_rejects_what_is_not_one_number(text):
    with pytest.raises(ValueError):
        formats.parse_single_value(text)


def test_empty_v1_file_is_malformed_not_zero():
    # telegraf's sample of an empty cgroup file: a stats file with nothing in it
    # is an error (cAdvisor loses the sample), not a silent 0.
    with pytest.raises(ValueError):
        formats.parse_single_value(read(REAL, "cgroup1_memory", "telegraf-empty-file"))


# --- flat keyed files (cpuacct.stat, cpu.stat, memory.stat) -------------------------

def test_cpuacct_stat_from_eks():
    got = formats.parse_keyed(read(REAL, "cgroup1_cpuacct", "eks-amzn2.cpuacct.stat"), ["user", "system"])
    assert got == {"user": 10848891, "system": 1516502}


def test_memory_stat_v1_from_eks_has_local_and_total_keys():
    got = formats.parse_keyed(read(REAL, "cgroup1_memory", "eks-amzn2.memory.stat"),
                              ["cache", "total_cache", "total_rss", "total_inactive_file", "pgfault", "total_swap"])
    assert got == {"cache": 78397440, "total_cache": 78397440, "total_rss": 1119465472,
                   "total_inactive_file": 78557184, "pgfault": 116218146, "total_swap": 0}


def test_cpu_stat_v2_from_fedora():
    got = formats.parse_keyed(read(REAL, "cgroup2_cpu", "fedora-v2-zswap.cpu.stat"),
                              ["usage_usec", "user_usec", "system_usec", "nr_periods", "throttled_usec"])
    assert got == {"usage_usec": 3611347518, "user_usec": 2915072455, "system_usec": 696275063,
                   "nr_periods": 0, "throttled_usec": 0}


def test_cpu_stat_v2_without_cfs_keys_leaves_them_absent():
    got = formats.parse_keyed(read(REAL, "cgroup2_cpu", "ubuntu1804-hybrid.cpu.stat-3keys"),
                              ["usage_usec", "nr_periods"])
    assert got == {"usage_usec": 184713}


def test_counter_near_two_to_the_64_is_kept_exactly():
    got = formats.parse_keyed(read(REAL, "cgroup2_memory", "below-memory.stat-near-2pow64"), ["slab"])
    assert got == {"slab": 14914318128160131214}


@pytest.mark.parametrize("text", [
    b"cache\n",                     # key without a value
    b"cache 12x\n",                 # known key, value not a number
    b"cache 99999999999999999999\n",  # known key, value past 2^64-1
])
def test_keyed_file_with_a_broken_known_line_is_malformed(text):
    with pytest.raises(ValueError):
        formats.parse_keyed(text, ["cache"])


def test_keyed_file_skips_unknown_keys_and_blank_lines_and_missing_newline():
    assert formats.parse_keyed(b"weird_new_key 15\n\ncache 7", ["cache"]) == {"cache": 7}


def test_keyed_file_with_a_non_number_under_an_unknown_key_is_malformed_too():
    # runc's memory.stat.invalid: "rss rss" (rss is not read when total_rss is)
    with pytest.raises(ValueError):
        formats.parse_keyed(b"total_rss 5\nrss rss", ["total_rss"])


SAMPLED = {f.name: f for f in V1_FILES + V2_FILES if f.parser in ("single", "keyed")}


def sampled_file(path):
    """The schema entry of the kernel file a sample stands for, by its name suffix."""
    name = os.path.basename(path)
    for fname in sorted(SAMPLED, key=len, reverse=True):
        if name.endswith(fname) or name.endswith(fname + "-3keys") or name.endswith(fname + "-4keys"):
            return SAMPLED[fname]
    return None


REAL_SAMPLED = [p for p in samples("cgroup1_cpu") + samples("cgroup1_cpuacct") + samples("cgroup1_memory")
                + samples("cgroup2_cpu") + samples("cgroup2_memory") if sampled_file(p)]


def test_the_real_samples_cover_every_sampled_flat_file():
    covered = {sampled_file(p).name for p in REAL_SAMPLED}
    assert {"cpuacct.usage", "cpuacct.stat", "cpu.stat", "memory.stat", "memory.usage_in_bytes",
            "memory.max_usage_in_bytes", "memory.failcnt", "memory.current", "memory.peak",
            "memory.swap.current"} <= covered


@pytest.mark.parametrize("path", REAL_SAMPLED, ids=os.path.basename)
def test_every_real_sample_of_a_sampled_file_parses(path):
    f = sampled_file(path)
    data = read(path)
    if f.parser == "single":
        formats.parse_single_value(data)
    else:
        keys = [l.split()[0].decode() for l in data.splitlines() if l.strip()]
        assert formats.parse_keyed(data, keys).keys() == set(keys)


# --- cpuacct.usage_percpu ---------------------------------------------------------------

def test_usage_percpu_from_eks_has_eight_cpus_and_a_trailing_space():
    assert cgroup_v1.parse_usage_percpu(read(REAL, "cgroup1_cpuacct", "eks-amzn2.cpuacct.usage_percpu")) == [
        15613994561203, 15788002132077, 15784952074051, 15855998555950,
        15542776043883, 15230239258891, 15244340227151, 15599197513794]


def test_usage_percpu_negative_values_read_as_zero():
    got = cgroup_v1.parse_usage_percpu(read(REAL, "cgroup1_cpuacct", "telegraf-usage_percpu-negative-test"))
    assert got == [0, 1376681271659, 1450950799997, 0]


def test_usage_percpu_garbage_is_malformed():
    with pytest.raises(ValueError):
        cgroup_v1.parse_usage_percpu(b"1 2 three\n")


# --- blkio (v1) ---------------------------------------------------------------------------

def test_blkio_unknown_device_rows_are_skipped_bug_case():
    case = os.path.join(BUG, "blkio-unknown-device-row")
    expected = json.load(open(os.path.join(case, "expected.json")))
    got = cgroup_v1.parse_blkio(read(case, "blkio.throttle.io_service_bytes"))
    by_dev = {}
    for major, minor, op, value in got:
        by_dev.setdefault(f"{major}:{minor}", {})[DISK_OPS[op]] = value
    assert by_dev == expected["devices"]
    assert by_dev["259:0"]["Read"] == 1507328


def test_blkio_throttle_from_eks_with_discard_rows():
    got = cgroup_v1.parse_blkio(read(REAL, "cgroup1_blkio", "eks-amzn2.blkio.throttle.io_serviced"))
    assert got == [(259, 0, OP["Read"], 59), (259, 0, OP["Write"], 5048), (259, 0, OP["Sync"], 5107),
                   (259, 0, OP["Async"], 0), (259, 0, OP["Discard"], 0), (259, 0, OP["Total"], 5107)]


def test_blkio_two_column_files_give_count():
    assert cgroup_v1.parse_blkio(read(REAL, "cgroup1_blkio", "ubuntu1804-cfq.blkio.sectors")) == [
        (8, 0, OP["Count"], 16)]
    assert cgroup_v1.parse_blkio(read(REAL, "cgroup1_blkio", "ubuntu1804-cfq.blkio.time")) == [
        (8, 0, OP["Count"], 83404410)]


def test_blkio_total_only_file_has_no_device_rows():
    assert cgroup_v1.parse_blkio(read(REAL, "cgroup1_blkio", "telegraf-io_serviced-total-only")) == []
    assert cgroup_v1.parse_blkio(read(REAL, "cgroup1_blkio", "eks-amzn2.blkio.bfq.io_service_bytes")) == []


@pytest.mark.parametrize("path", samples("cgroup1_blkio"))
def test_every_real_blkio_sample_parses(path):
    for major, minor, op, value in cgroup_v1.parse_blkio(read(path)):
        assert 0 <= op < len(DISK_OPS)


@pytest.mark.parametrize("text", [b"8:0 Read\n", b"8:0 Read 1 2\n", b"8:x Read 1\n", b"8:0 Read -\n", b"junk\n"])
def test_blkio_malformed_shapes_are_errors(text):
    with pytest.raises(ValueError):
        cgroup_v1.parse_blkio(text)


# --- io.stat (v2) -------------------------------------------------------------------------

def as_devices(entries):
    names = {(LIST["io_service_bytes"], OP["Read"]): "rbytes", (LIST["io_service_bytes"], OP["Write"]): "wbytes",
             (LIST["io_serviced"], OP["Read"]): "rios", (LIST["io_serviced"], OP["Write"]): "wios"}
    out = {}
    for major, minor, lst, op, value in entries:
        out.setdefault(f"{major}:{minor}", {})[names[(lst, op)]] = value
    return out


def test_io_stat_bare_and_glued_device_ids_bug_case():
    case = os.path.join(BUG, "iostat-bare-and-glued-device-ids")
    expected = json.load(open(os.path.join(case, "expected.json")))["files"]
    for fname in ("io.stat", "io.stat.torn"):
        want = {dev: {k: v for k, v in stats.items() if k in ("rbytes", "wbytes", "rios", "wios")}
                for dev, stats in expected[fname]["devices_with_stats"].items()}
        got = as_devices(cgroup_v2.parse_io_stat(read(case, fname)))
        assert got == want
        for bare in expected[fname]["devices_without_stats"]:
            assert bare not in got


def test_io_stat_lxd_host_root_gives_the_counters_to_the_last_glued_id():
    got = as_devices(cgroup_v2.parse_io_stat(read(REAL, "cgroup2_io", "lxd-10052-host-root-glued-loops")))
    assert got["7:4"] == {"rbytes": 28672, "wbytes": 0, "rios": 22, "wios": 0}
    assert "7:7" not in got and "7:6" not in got and "7:5" not in got
    assert got["8:32"]["rbytes"] == 999678391296


def test_io_stat_ignores_cost_and_discard_keys():
    got = as_devices(cgroup_v2.parse_io_stat(read(REAL, "cgroup2_io", "below-bare-device-and-iocost")))
    assert got == {"253:0": {"rbytes": 531, "wbytes": 162379, "rios": 61, "wios": 81},
                   "13:0": {"rbytes": 135, "wbytes": 162379, "rios": 61, "wios": 81}}


@pytest.mark.parametrize("path", samples("cgroup2_io"))
def test_every_real_io_sample_parses(path):
    if os.path.basename(path).startswith("telegraf-96cpu.io.") and not path.endswith("io.stat"):
        return
    cgroup_v2.parse_io_stat(read(path))


def test_io_stat_known_key_with_bad_value_is_malformed():
    with pytest.raises(ValueError):
        cgroup_v2.parse_io_stat(b"8:0 rbytes=12z wbytes=0\n")


def test_pid_count_of_cgroup_procs():
    assert formats.parse_pid_count(b"1\n22\n333\n") == 3
    assert formats.parse_pid_count(b"1\n22") == 2
    assert formats.parse_pid_count(b"") == 0                 # no process
    for bad in (b"1\nabc\n", b"-5\n", b"1 2\n", b"0x10\n"):
        with pytest.raises(ValueError):
            formats.parse_pid_count(bad)
