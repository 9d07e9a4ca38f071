"""Bad input never crashes a sweep and never changes another container's values.

Every file the sampler reads (schema.V1_FILES, V1_BLKIO_FILES, V2_FILES) is put,
one variant at a time, into ONE container of a fixture tree built in tmp_path
(plain files laid out like a cgroup mount, read through
Sampler(cgroup_root=..., proc_root=..., sys_root=...)). The rules, from
DESIGN.md "Errors and bad input" and "Rules of the hot path":

* a malformed file clears the valid bit of the groups it feeds, counts one
  parse error in that container's Sampler.errors(), and leaves its other groups
  valid with the right values;
* a second, healthy container's row is byte-identical to what it is when the
  first container is healthy;
* a missing file is "not collected" (valid bit clear), not zero and not an error;
* numbers follow runc's rules: 2^64-1 is kept exactly, "max" is 2^64-1, a
  negative number is 0, past 2^64-1 is malformed;
* unknown keys are skipped, a missing final newline is fine, files longer than
  the 64 KiB read buffer are read completely.

Fixture contents are self-made; the expected values are written out by hand.
"""
import errno
import os

import pytest

from cgsampler import Sampler, v1
from cgsampler import schema
from cgsampler.schema import BLKIO_GROUPS, DISK_LISTS, DISK_OPS, GROUPS, V1_BLKIO_FILES

# The files of the cgroup groups. The per-process groups' entries (schedstat,
# threads) read cgroup.procs / cgroup.threads and then /proc: their bad input is
# in test_process_groups.py, and the samplers here leave them out.
V1_FILES = tuple(f for f in schema.V1_FILES if f.parser not in ("schedstat", "threads"))
V2_FILES = tuple(f for f in schema.V2_FILES if f.parser not in ("schedstat", "threads"))

U64_MAX = 2**64 - 1
OP = {name: i for i, name in enumerate(DISK_OPS)}
LIST = {name: i for i, name in enumerate(DISK_LISTS)}
ALL_V1 = GROUPS["cpu"] | GROUPS["cfs"] | GROUPS["percpu"] | GROUPS["memory"] | GROUPS["diskio"] | GROUPS["processes"]
ALL_V2 = GROUPS["cpu"] | GROUPS["cfs"] | GROUPS["memory"] | GROUPS["diskio"] | GROUPS["processes"]   # no per-CPU file on v2

# --- healthy files and the row they make ----------------------------------------------

V1_GOOD = {
    "cpuacct.usage": b"5000000000\n",
    "cpuacct.stat": b"user 300\nsystem 200\n",
    "cpuacct.usage_percpu": b"1000 2000 3000 4000 \n",
    "cpu.stat": b"nr_periods 10\nnr_throttled 2\nthrottled_time 3000\n",
    "memory.usage_in_bytes": b"1048576\n",
    "memory.max_usage_in_bytes": b"2097152\n",
    "memory.failcnt": b"7\n",
    # local keys first, then the hierarchical total_ ones, as the kernel prints them
    "memory.stat": (b"cache 111\nrss 222\nswap 0\nmapped_file 333\npgfault 11\npgmajfault 1\n"
                    b"inactive_file 444\nhierarchical_memory_limit 9223372036854771712\n"
                    b"total_cache 4096\ntotal_rss 8192\ntotal_swap 512\ntotal_mapped_file 256\n"
                    b"total_pgfault 99\ntotal_pgmajfault 9\ntotal_inactive_file 1024\n"),
    "cgroup.procs": b"1\n2\n3\n",
}
# blkio: group 4 (throttle, recursive), the one blk-mq kernels fill
V1_BLKIO_GOOD = {
    "blkio.throttle.io_serviced_recursive": b"8:0 Read 1\n8:0 Write 2\n8:0 Total 3\nTotal 3\n",
    "blkio.throttle.io_service_bytes_recursive": b"8:0 Read 4096\n8:0 Write 8192\n8:0 Total 12288\nTotal 12288\n",
}
V1_ROW = {
    "valid": ALL_V1,
    "cpu_usage_total": 5_000_000_000, "cpu_user": 3_000_000_000, "cpu_system": 2_000_000_000,
    "cpu_cfs_periods": 10, "cpu_cfs_throttled_periods": 2, "cpu_cfs_throttled_time": 3000,
    "cpu_percpu_count": 4,
    "memory_usage": 1048576, "memory_max_usage": 2097152, "memory_cache": 4096, "memory_rss": 8192,
    "memory_swap": 512, "memory_mapped_file": 256, "memory_working_set": 1048576 - 1024,
    "memory_failcnt": 7, "memory_inactive_file": 1024, "memory_pgfault": 11, "memory_pgmajfault": 1,
    "diskio_count": 6, "diskio_overflow": 0, "process_count": 3,
}
V1_PERCPU = [1000, 2000, 3000, 4000]
V1_DISK = [  # (major, minor, list, op, value), in file order
    (8, 0, LIST["io_serviced"], OP["Read"], 1), (8, 0, LIST["io_serviced"], OP["Write"], 2),
    (8, 0, LIST["io_serviced"], OP["Total"], 3),
    (8, 0, LIST["io_service_bytes"], OP["Read"], 4096), (8, 0, LIST["io_service_bytes"], OP["Write"], 8192),
    (8, 0, LIST["io_service_bytes"], OP["Total"], 12288),
]

V2_GOOD = {
    "cpu.stat": (b"usage_usec 5000000\nuser_usec 3000000\nsystem_usec 2000000\ncore_sched.force_idle_usec 0\n"
                 b"nr_periods 10\nnr_throttled 2\nthrottled_usec 3\nnr_bursts 0\nburst_usec 0\n"),
    "memory.current": b"1048576\n",
    "memory.peak": b"2097152\n",
    "memory.swap.current": b"512\n",
    "memory.stat": (b"anon 8192\nfile 4096\nkernel 100\nshmem 0\nfile_mapped 256\nfile_dirty 0\n"
                    b"inactive_anon 0\nactive_anon 8192\ninactive_file 1024\nactive_file 3072\n"
                    b"pgfault 11\npgmajfault 1\n"),
    "io.stat": b"8:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n",
    "cgroup.procs": b"1\n2\n3\n",
}
V2_ROW = {
    "valid": ALL_V2,
    "cpu_usage_total": 5_000_000_000, "cpu_user": 3_000_000_000, "cpu_system": 2_000_000_000,
    "cpu_cfs_periods": 10, "cpu_cfs_throttled_periods": 2, "cpu_cfs_throttled_time": 3000,
    "cpu_percpu_count": 0,
    "memory_usage": 1048576, "memory_max_usage": 2097152, "memory_cache": 4096, "memory_rss": 8192,
    "memory_swap": 512, "memory_mapped_file": 256, "memory_working_set": 1048576 - 1024,
    "memory_failcnt": 0, "memory_inactive_file": 1024, "memory_pgfault": 11, "memory_pgmajfault": 1,
    "diskio_count": 4, "diskio_overflow": 0, "process_count": 3,
}
V2_DISK = [
    (8, 0, LIST["io_service_bytes"], OP["Read"], 4096), (8, 0, LIST["io_service_bytes"], OP["Write"], 8192),
    (8, 0, LIST["io_serviced"], OP["Read"], 1), (8, 0, LIST["io_serviced"], OP["Write"], 2),
]

# Columns of each group (what "the group's values" means below).
GROUP_COLUMNS = {
    "cpu": ("cpu_usage_total", "cpu_user", "cpu_system"),
    "cfs": ("cpu_cfs_periods", "cpu_cfs_throttled_periods", "cpu_cfs_throttled_time"),
    "percpu": ("cpu_percpu_count",),
    "memory": ("memory_usage", "memory_max_usage", "memory_cache", "memory_rss", "memory_swap",
               "memory_mapped_file", "memory_working_set", "memory_failcnt", "memory_inactive_file",
               "memory_pgfault", "memory_pgmajfault"),
    "diskio": ("diskio_count", "diskio_overflow"),
    "processes": ("process_count",),
}

# Healthy content of every blkio file, for trees that use a group other than 4:
# rwstat lists give 3 entries (Read, Write, Total), Count lists ("MAJ:MIN VALUE") 1.
COUNT_LISTS = ("sectors", "io_time")
RWSTAT_GOOD = b"8:0 Read 10\n8:0 Write 20\n8:0 Total 30\nTotal 30\n"
COUNT_GOOD = b"8:0 1234\n"
BLKIO_GROUP_ENTRIES = {1: 20, 2: 6, 3: 20, 4: 6, 5: 6}     # 6 rwstat x 3 + 2 Count x 1 = 20


def blkio_good(group):
    """{file: content} of every file of cAdvisor's blkio group `group` (1..5)."""
    if group == 4:
        return dict(V1_BLKIO_GOOD)
    return {name: COUNT_GOOD if lst in COUNT_LISTS else RWSTAT_GOOD for name, lst in BLKIO_GROUPS[group - 1]}


def v1_controller(fname):
    if fname.startswith("cpuacct."):
        return "cpuacct"
    if fname in ("cpu.stat", "cgroup.procs"):
        return "cpu"             # cgroup.procs: the sampler takes the cpu hierarchy's first
    if fname.startswith("memory."):
        return "memory"
    if fname.startswith("blkio."):
        return "blkio"
    raise AssertionError(fname)


class Tree:
    """A cgroup mount laid out as plain files under tmp_path, with a fake /proc and /sys."""

    def __init__(self, tmp_path, version=1, names=("/a", "/b"), blkio_group=4, skip=()):
        self.version = version
        self.root = str(tmp_path / "cgroup")
        self.proc = str(tmp_path / "proc")
        self.sys = str(tmp_path / "sys")
        self.names = list(names)
        _write(os.path.join(self.proc, "meminfo"), b"MemTotal:       16384000 kB\nSwapTotal: 0 kB\n")
        _write(os.path.join(self.proc, "uptime"), b"1000.00 1900.00\n")
        _write(os.path.join(self.sys, "devices/system/cpu/possible"), b"0-3\n")
        _write(os.path.join(self.sys, "block/sda/dev"), b"8:0\n")
        if version == 2:
            _write(os.path.join(self.root, "cgroup.controllers"), b"cpu io memory pids\n")
            good = dict(V2_GOOD)
        else:
            for c in ("cpu", "cpuacct", "memory", "blkio"):
                os.makedirs(os.path.join(self.root, c), exist_ok=True)
            good = dict(V1_GOOD)
            good.update(blkio_good(blkio_group))
        for name in self.names:
            for fname, data in good.items():
                if fname not in skip:
                    self.write(name, fname, data)

    def path(self, name, fname):
        rel = name.strip("/")
        if self.version == 2:
            return os.path.join(self.root, rel, fname)
        return os.path.join(self.root, v1_controller(fname), rel, fname)

    def write(self, name, fname, data):
        # open "wb" truncates the same inode: a kept fd sees the new content
        _write(self.path(name, fname), data)

    def sampler(self, names=None, **kw):
        kw.setdefault("max_cpus", 4)
        # The per-process groups read the (fake) proc root; their own bad-input
        # cases are in test_process_groups.py.
        kw.setdefault("disable", ("schedstat", "load"))
        return Sampler(containers=names or self.names, cgroup_root=self.root, proc_root=self.proc,
                       sys_root=self.sys, **kw)


def _write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def row(s, name, i=-1):
    return s.stats[i][s.names.index(name)]


def disk_entries(s, name, i=-1):
    r = row(s, name, i)
    block = s.disk[i][s.names.index(name)][: int(r["diskio_count"])]
    return [(int(e["major"]), int(e["minor"]), int(e["list"]), int(e["op"]), int(e["value"])) for e in block]


def percpu(s, name, i=-1):
    r = row(s, name, i)
    return [int(x) for x in s.percpu[i][s.names.index(name)][: int(r["cpu_percpu_count"])]]


def row_bytes(s, name, i=-1):
    """Everything a sample stored for one container except its timestamps."""
    col = s.names.index(name)
    r = s.stats[i][col].copy()
    r["timestamp_ns"] = 0
    r["group_timestamp_ns"] = 0
    return r.tobytes() + s.percpu[i][col].tobytes() + s.disk[i][col].tobytes()


def groups_of(spec):
    mask = 0
    for g in spec.groups:
        mask |= GROUPS[g]
    return mask


# --- the bad variants, per parser ----------------------------------------------------

GARBAGE = b"\x00\xde\xad\xbe\xef\xff\n"
PAST_U64 = b"18446744073709551616"          # 2^64


def _truncate_last_value(good):
    """The file cut right after the last line's key (the value never arrived)."""
    body = good.rstrip(b"\n")
    return body[: body.rindex(b" ")]


def _replace_known_value(good, new):
    """The file with the value of its first KNOWN key replaced (unknown keys are never parsed)."""
    known = (b"user", b"nr_periods", b"total_rss", b"usage_usec", b"anon")
    lines = good.split(b"\n")
    i = next(i for i, line in enumerate(lines) if line.split(b" ")[0] in known)
    lines[i] = lines[i].split(b" ")[0] + b" " + new
    return b"\n".join(lines)


def malformed_variants(spec, good):
    """{variant: content} that must count as malformed for this file."""
    if spec.parser == "single":
        return {"empty": b"", "blank-line": b"\n", "garbage": GARBAGE, "two-numbers": b"12 34\n",
                "past-2^64": PAST_U64 + b"\n", "forty-digits": b"9" * 40 + b"\n", "hex": b"0x10\n",
                "fraction": b"1.5\n", "plus-sign": b"+5\n", "minus-alone": b"-\n"}
    if spec.parser == "keyed":
        return {"empty": b"", "truncated-before-value": _truncate_last_value(good), "garbage": GARBAGE,
                "non-numeric-value": _replace_known_value(good, b"lots"),
                "past-2^64-value": _replace_known_value(good, PAST_U64)}
    if spec.parser == "percpu":
        return {"empty": b"", "garbage": GARBAGE, "non-numeric-cpu": b"1000 lots 3000 4000\n",
                "past-2^64-cpu": b"1000 " + PAST_U64 + b" 3000 4000\n"}
    if spec.parser == "procs":
        return {"garbage": GARBAGE, "non-numeric-pid": b"1\nlots\n3\n"}
    if spec.parser == "blkio":
        if good == COUNT_GOOD:
            return {"truncated-after-device": b"8:0 1234\n8:", "garbage": GARBAGE,
                    "non-numeric-value": b"8:0 lots\n", "past-2^64-value": b"8:0 " + PAST_U64 + b"\n"}
        return {"truncated-in-op": b"8:0 Read 10\n8:0 Wri", "truncated-before-value": b"8:0 Read 10\n8:0 Write",
                "garbage": GARBAGE, "non-numeric-value": b"8:0 Read lots\n",
                "past-2^64-value": b"8:0 Read " + PAST_U64 + b"\n", "bad-device": b"8:x Read 5\n",
                "five-fields": b"8:0 Read 1 2 3\n"}
    if spec.parser == "iostat":
        return {"non-numeric-value": b"8:0 rbytes=lots wbytes=0\n",
                "past-2^64-value": b"8:0 rbytes=" + PAST_U64 + b"\n",
                "truncated-after-equals": b"8:0 rbytes=4096 wbytes=",
                "empty-value": b"8:0 rios= wios=2\n"}
    raise AssertionError(spec.parser)


def _cases(version, specs):
    goods = V1_GOOD if version == 1 else V2_GOOD
    for spec in specs:
        group = 4
        if spec.parser == "blkio":
            group = spec.blkio_group
            good = blkio_good(group)[spec.name]
        else:
            good = goods[spec.name]
        for variant, data in malformed_variants(spec, good).items():
            yield pytest.param(version, spec, group, data, id=f"v{version}-{spec.name}-g{group}-{variant}"
                               if spec.parser == "blkio" else f"v{version}-{spec.name}-{variant}")


MALFORMED_CASES = (list(_cases(1, V1_FILES)) + list(_cases(1, V1_BLKIO_FILES)) + list(_cases(2, V2_FILES)))


@pytest.mark.parametrize("version, spec, blkio_group, data", MALFORMED_CASES)
def test_malformed_file_clears_only_its_groups_counts_a_parse_error_and_spares_the_other_container(
        tmp_path, version, spec, blkio_group, data):
    tree = Tree(tmp_path, version, blkio_group=blkio_group)
    expected = dict(V1_ROW if version == 1 else V2_ROW)
    if version == 1:
        expected["diskio_count"] = BLKIO_GROUP_ENTRIES[blkio_group]
    with tree.sampler() as s:
        s.sample()
        assert int(row(s, "/a")["valid"]) == expected["valid"]
        healthy_b = row_bytes(s, "/b")
        tree.write("/a", spec.name, data)
        s.sample()

        a = row(s, "/a")
        affected = groups_of(spec)
        err = s.errors("/a")
        assert err["parse_errors"] == 1, err
        assert err["read_errors"] == 0
        assert err["last_file"] == tree.path("/a", spec.name)
        # Any file that fails, optional ones (v2 memory.peak, memory.swap.current)
        # included, clears its groups: an optional file may be absent, not wrong.
        assert int(a["valid"]) == expected["valid"] & ~affected
        for gname, columns in GROUP_COLUMNS.items():
            if GROUPS[gname] & affected:
                for col in columns:
                    assert int(a[col]) == 0, col             # a failed group keeps nothing
                continue
            assert int(a["valid"]) & GROUPS[gname] or not expected["valid"] & GROUPS[gname]
            for col in columns:
                if col in expected:
                    assert int(a[col]) == expected[col], col

        assert row_bytes(s, "/b") == healthy_b
        assert s.errors("/b")["parse_errors"] == 0

        # the container recovers on the next sweep once the file is well-formed again
        tree.write("/a", spec.name, (V1_GOOD if version == 1 else V2_GOOD).get(spec.name)
                   or blkio_good(blkio_group)[spec.name])
        s.sample()
        assert int(row(s, "/a")["valid"]) == expected["valid"]
        assert s.errors("/a")["parse_errors"] == 1


# --- the healthy trees themselves --------------------------------------------------

def test_healthy_v1_tree_reads_every_value(tmp_path):
    with Tree(tmp_path, 1).sampler() as s:
        s.sample()
        r = row(s, "/a")
        assert {k: int(r[k]) for k in V1_ROW} == V1_ROW
        assert percpu(s, "/a") == V1_PERCPU
        assert disk_entries(s, "/a") == V1_DISK
        assert s.errors("/a") == {"read_errors": 0, "parse_errors": 0, "last_errno": 0, "last_file": None,
                                  "vanished": False, "reopened": False}


def test_healthy_v2_tree_reads_every_value(tmp_path):
    with Tree(tmp_path, 2).sampler() as s:
        s.sample()
        r = row(s, "/a")
        assert {k: int(r[k]) for k in V2_ROW} == V2_ROW
        assert disk_entries(s, "/a") == V2_DISK
        assert s.errors("/a")["parse_errors"] == 0


# --- numbers: runc's rules ---------------------------------------------------------

# (version, file, content with {v}, column) for every unscaled counter column
NUMBER_SLOTS = [
    (1, "cpuacct.usage", b"{v}\n", "cpu_usage_total"),
    (1, "cpu.stat", b"nr_periods 10\nnr_throttled 2\nthrottled_time {v}\n", "cpu_cfs_throttled_time"),
    (1, "memory.usage_in_bytes", b"{v}\n", "memory_usage"),
    (1, "memory.max_usage_in_bytes", b"{v}\n", "memory_max_usage"),
    (1, "memory.failcnt", b"{v}\n", "memory_failcnt"),
    (1, "memory.stat", b"total_cache 4096\ntotal_rss {v}\ntotal_inactive_file 1024\n", "memory_rss"),
    (1, "memory.stat", b"pgfault {v}\ntotal_inactive_file 1024\n", "memory_pgfault"),
    (2, "memory.current", b"{v}\n", "memory_usage"),
    (2, "memory.peak", b"{v}\n", "memory_max_usage"),
    (2, "memory.swap.current", b"{v}\n", "memory_swap"),
    (2, "memory.stat", b"anon {v}\nfile 4096\ninactive_file 1024\n", "memory_rss"),
    (2, "cpu.stat", b"usage_usec 5000000\nnr_periods {v}\n", "cpu_cfs_periods"),
]
NUMBERS = [
    (b"18446744073709551615", U64_MAX),            # 2^64-1 exactly
    (b"18446744073709551614", U64_MAX - 1),
    (b"18446744073709551000", 18446744073709551000),
    (b"9223372036854775808", 2**63),               # past int64
    (b"max", U64_MAX),
    (b"-1", 0),                                    # runc: negative is 0
    (b"-9223372036854775808", 0),
    (b"-99999999999999999999999", 0),              # negative past int64: still 0
    (b"0", 0),
    (b"00042", 42),
]


@pytest.mark.parametrize("text, value", NUMBERS, ids=[n.decode() for n, _ in NUMBERS])
@pytest.mark.parametrize("version, fname, template, column", NUMBER_SLOTS,
                         ids=[f"v{v}-{f}-{c}" for v, f, _, c in NUMBER_SLOTS])
def test_counter_values_follow_runc_number_rules(tmp_path, version, fname, template, column, text, value):
    tree = Tree(tmp_path, version, names=("/a",))
    tree.write("/a", fname, template.replace(b"{v}", text))
    with tree.sampler() as s:
        s.sample()
        r = row(s, "/a")
        assert int(r[column]) == value
        assert int(r["valid"]) == (ALL_V1 if version == 1 else ALL_V2)
        assert s.errors("/a")["parse_errors"] == 0


@pytest.mark.parametrize("text, value", NUMBERS, ids=[n.decode() for n, _ in NUMBERS])
def test_per_cpu_values_follow_runc_number_rules(tmp_path, text, value):
    tree = Tree(tmp_path, 1, names=("/a",))
    tree.write("/a", "cpuacct.usage_percpu", b"1000 " + text + b" 3000 4000\n")
    with tree.sampler() as s:
        s.sample()
        assert percpu(s, "/a") == [1000, value, 3000, 4000]
        assert int(row(s, "/a")["valid"]) & GROUPS["percpu"]


@pytest.mark.parametrize("text, value", NUMBERS, ids=[n.decode() for n, _ in NUMBERS])
def test_blkio_and_io_stat_values_follow_runc_number_rules(tmp_path, text, value):
    t1 = Tree(tmp_path / "v1", 1, names=("/a",))
    t1.write("/a", "blkio.throttle.io_service_bytes_recursive", b"8:0 Read " + text + b"\n8:0 Write 5\n")
    t2 = Tree(tmp_path / "v2", 2, names=("/a",))
    t2.write("/a", "io.stat", b"8:0 rbytes=" + text + b" wbytes=5\n")
    with t1.sampler() as s1, t2.sampler() as s2:
        s1.sample()
        s2.sample()
        assert disk_entries(s1, "/a")[3:] == [(8, 0, LIST["io_service_bytes"], OP["Read"], value),
                                              (8, 0, LIST["io_service_bytes"], OP["Write"], 5)]
        assert disk_entries(s2, "/a") == [(8, 0, LIST["io_service_bytes"], OP["Read"], value),
                                          (8, 0, LIST["io_service_bytes"], OP["Write"], 5)]
        assert s1.errors("/a")["parse_errors"] == 0 and s2.errors("/a")["parse_errors"] == 0


def test_scaled_counters_saturate_at_2_64_minus_1_instead_of_wrapping(tmp_path):
    # cpuacct.stat ticks x 10^7 and v2 *_usec x 1000 overflow for huge inputs; the
    # conversion saturates (csrc/cgs_parse.h cgs_scale) rather than wrapping around.
    t1 = Tree(tmp_path / "v1", 1, names=("/a",))
    t1.write("/a", "cpuacct.stat", b"user 1844674407371\nsystem 1844674407370\n")
    t2 = Tree(tmp_path / "v2", 2, names=("/a",))
    t2.write("/a", "cpu.stat", b"usage_usec 18446744073709551\nuser_usec 18446744073709552\nsystem_usec 1\n")
    with t1.sampler() as s1, t2.sampler() as s2:
        s1.sample()
        s2.sample()
        r1, r2 = row(s1, "/a"), row(s2, "/a")
        assert int(r1["cpu_user"]) == U64_MAX                     # 1844674407371 x 10^7 > 2^64-1
        assert int(r1["cpu_system"]) == 18446744073700000000      # 1844674407370 x 10^7 still fits
        assert int(r2["cpu_usage_total"]) == 18446744073709551000  # x 1000 fits
        assert int(r2["cpu_user"]) == U64_MAX                     # x 1000 would pass 2^64-1
        assert int(r2["cpu_system"]) == 1000


def test_max_in_a_key_value_file_is_2_64_minus_1(tmp_path):
    tree = Tree(tmp_path, 1, names=("/a",))
    tree.write("/a", "memory.stat", b"total_cache max\ntotal_rss 8192\n")
    with tree.sampler() as s:
        s.sample()
        assert int(row(s, "/a")["memory_cache"]) == U64_MAX


# --- unknown keys, line endings ----------------------------------------------------

UNKNOWN_KEY_FILES = {
    (1, "cpuacct.stat"): b"user 300\nguest 77\nsystem 200\nsteal 5\n",
    (1, "cpu.stat"): (b"nr_periods 10\nnr_throttled 2\nthrottled_time 3000\nnr_bursts 4\nburst_time 9\n"
                      b"wait_sum 123\n"),
    # keys that merely start like a known key are not that key
    (1, "memory.stat"): (b"total_cache_extra 1\ntotal_rs 2\nxtotal_rss 3\n" + V1_GOOD["memory.stat"]
                         + b"total_zswap 7\ntotal_something_new 18446744073709551615\nodd_key -1\n"),
    (1, "blkio.throttle.io_serviced_recursive"): (b"8:0 Read 1\n8:0 Frobnicate 77\n8:0 Write 2\n"
                                                  b"8:0 Total 3\nTotal 3\n"),
    (2, "cpu.stat"): V2_GOOD["cpu.stat"] + b"nr_throttled_new 5\nsome_future_usec max\n",
    (2, "memory.stat"): (b"anon_thp 4\nfile_thp 5\nanonymous 6\n" + V2_GOOD["memory.stat"]
                         + b"zswap 1\nzswapped 2\nworkingset_refault_anon 3\n"),
    (2, "io.stat"): b"8:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0 cost.vrate=1.5 future=x\n",
}


@pytest.mark.parametrize("version, fname", list(UNKNOWN_KEY_FILES), ids=[f"v{v}-{f}" for v, f in UNKNOWN_KEY_FILES])
def test_unknown_keys_are_skipped_and_known_values_unchanged(tmp_path, version, fname):
    tree = Tree(tmp_path, version, names=("/a",))
    tree.write("/a", fname, UNKNOWN_KEY_FILES[(version, fname)])
    expected = V1_ROW if version == 1 else V2_ROW
    with tree.sampler() as s:
        s.sample()
        r = row(s, "/a")
        assert {k: int(r[k]) for k in expected} == expected
        assert disk_entries(s, "/a") == (V1_DISK if version == 1 else V2_DISK)
        assert s.errors("/a")["parse_errors"] == 0


@pytest.mark.parametrize("version, fname, line", [
    (1, "memory.stat", b"total_future_thing lots\n"),
    (1, "cpu.stat", b"wait_sum 18446744073709551616\n"),
    (2, "memory.stat", b"zswap 1.5\n"),
])
def test_unknown_key_with_a_value_that_is_not_a_number_is_malformed_as_for_runc(tmp_path, version, fname, line):
    tree = Tree(tmp_path, version, names=("/a",))
    good = (V1_GOOD if version == 1 else V2_GOOD)[fname]
    tree.write("/a", fname, good + line)
    with tree.sampler() as s:
        s.sample()
        spec = next(f for f in (V1_FILES if version == 1 else V2_FILES) if f.name == fname)
        assert int(row(s, "/a")["valid"]) == (ALL_V1 if version == 1 else ALL_V2) & ~groups_of(spec)
        assert s.errors("/a")["parse_errors"] == 1


MISSING_NEWLINE_CASES = ([(1, spec.name) for spec in V1_FILES] + [(1, n) for n in V1_BLKIO_GOOD]
                         + [(2, spec.name) for spec in V2_FILES])


@pytest.mark.parametrize("version, fname", MISSING_NEWLINE_CASES, ids=[f"v{v}-{f}" for v, f in MISSING_NEWLINE_CASES])
def test_missing_final_newline_reads_the_same_values(tmp_path, version, fname):
    good = (V1_GOOD if version == 1 else V2_GOOD).get(fname) or V1_BLKIO_GOOD[fname]
    tree = Tree(tmp_path, version, names=("/a",))
    tree.write("/a", fname, good.rstrip(b"\n"))
    expected = V1_ROW if version == 1 else V2_ROW
    with tree.sampler() as s:
        s.sample()
        r = row(s, "/a")
        assert {k: int(r[k]) for k in expected} == expected
        assert s.errors("/a")["parse_errors"] == 0


def test_crlf_and_tab_separated_lines_read_the_same_values(tmp_path):
    tree = Tree(tmp_path, 1, names=("/a",))
    tree.write("/a", "cpuacct.stat", b"user\t300\r\nsystem   200\r\n")
    tree.write("/a", "cpuacct.usage", b"  5000000000 \r\n")
    with tree.sampler() as s:
        s.sample()
        r = row(s, "/a")
        assert (int(r["cpu_usage_total"]), int(r["cpu_user"]), int(r["cpu_system"])) == (
            5_000_000_000, 3_000_000_000, 2_000_000_000)
        assert s.errors("/a")["parse_errors"] == 0


def test_empty_files_that_legitimately_mean_nothing_are_valid(tmp_path):
    # an empty cgroup.procs is a cgroup without processes; an empty io.stat a cgroup without I/O
    t2 = Tree(tmp_path, 2, names=("/a",))
    t2.write("/a", "cgroup.procs", b"")
    t2.write("/a", "io.stat", b"")
    with t2.sampler() as s:
        s.sample()
        r = row(s, "/a")
        assert int(r["valid"]) == ALL_V2
        assert int(r["process_count"]) == 0 and int(r["diskio_count"]) == 0
        assert s.errors("/a")["parse_errors"] == 0


def test_io_stat_tokens_that_are_neither_devices_nor_key_value_are_skipped(tmp_path):
    # cAdvisor (spec 8.3): items without "=" and device tokens not of the form a:b are skipped
    tree = Tree(tmp_path, 2, names=("/a",))
    tree.write("/a", "io.stat", b"\x00\xde\xad " + V2_GOOD["io.stat"])
    with tree.sampler() as s:
        s.sample()
        assert disk_entries(s, "/a") == V2_DISK
        assert s.errors("/a")["parse_errors"] == 0


def test_io_stat_counters_after_a_non_device_token_are_not_given_to_the_previous_device(tmp_path):
    tree = Tree(tmp_path, 2, names=("/a",))
    tree.write("/a", "io.stat", b"8:0 rbytes=4096 wbytes=8192 rios=1 wios=2\nnvme0n1 rbytes=7 wbytes=9 rios=70 wios=90\n")
    with tree.sampler() as s:
        s.sample()
        assert disk_entries(s, "/a") == V2_DISK
        info = s.container_info("/a", v1.ContainerInfoRequest(num_stats=1))
        assert info.stats[0].diskio.io_service_bytes[0].stats == {"Read": 4096, "Write": 8192}


def test_io_stat_device_id_with_non_numeric_minor_is_malformed(tmp_path):
    tree = Tree(tmp_path, 2, names=("/a",))
    tree.write("/a", "io.stat", b"8:0 rbytes=4096 wbytes=8192 rios=1 wios=2\n8:x rbytes=7 wbytes=9\n")
    with tree.sampler() as s:
        s.sample()
        assert s.errors("/a")["parse_errors"] == 1
        assert not int(row(s, "/a")["valid"]) & GROUPS["diskio"]


# --- missing and unreadable files ---------------------------------------------------

MISSING_CASES = [(1, spec) for spec in V1_FILES] + [(2, spec) for spec in V2_FILES]


@pytest.mark.parametrize("version, spec", MISSING_CASES, ids=[f"v{v}-{s.name}" for v, s in MISSING_CASES])
def test_missing_file_is_not_collected_and_not_an_error(tmp_path, version, spec):
    tree = Tree(tmp_path, version, skip=(spec.name,))
    # only /a lacks it
    tree.write("/b", spec.name, (V1_GOOD if version == 1 else V2_GOOD)[spec.name])
    full = ALL_V1 if version == 1 else ALL_V2
    with tree.sampler() as s:
        s.sample()
        a = row(s, "/a")
        if spec.mandatory:
            assert int(a["valid"]) == full & ~groups_of(spec)
        else:
            assert int(a["valid"]) == full
            assert int(a[spec.column]) == 0
        assert s.errors("/a") == {"read_errors": 0, "parse_errors": 0, "last_errno": 0, "last_file": None,
                                  "vanished": False, "reopened": False}
        assert int(row(s, "/b")["valid"]) == full


def test_no_blkio_files_at_all_means_diskio_not_collected(tmp_path):
    tree = Tree(tmp_path, 1, names=("/a",), skip=tuple(V1_BLKIO_GOOD))
    with tree.sampler() as s:
        s.sample()
        assert int(row(s, "/a")["valid"]) == ALL_V1 & ~GROUPS["diskio"]
        assert s.errors("/a")["parse_errors"] == 0 and s.errors("/a")["read_errors"] == 0


def test_unreadable_file_counts_a_read_error_and_clears_its_group(tmp_path):
    # a directory where memory.failcnt should be: open() works, pread() fails with EISDIR
    tree = Tree(tmp_path, 1, skip=("memory.failcnt",))
    tree.write("/b", "memory.failcnt", b"7\n")
    os.makedirs(tree.path("/a", "memory.failcnt"))
    with tree.sampler() as s:
        s.sample()
        a = row(s, "/a")
        assert int(a["valid"]) == ALL_V1 & ~GROUPS["memory"]
        err = s.errors("/a")
        assert err["read_errors"] == 1 and err["parse_errors"] == 0
        assert err["last_errno"] == errno.EISDIR
        assert err["last_file"] == tree.path("/a", "memory.failcnt")
        assert int(a["cpu_usage_total"]) == 5_000_000_000
        assert int(row(s, "/b")["valid"]) == ALL_V1
        s.sample()
        assert s.errors("/a")["read_errors"] == 2


def test_fields_of_a_group_that_was_not_collected_are_zero(tmp_path):
    tree = Tree(tmp_path, 1, names=("/a",))
    tree.write("/a", "memory.stat", b"total_cache 4096\ntotal_rss lots\n")
    with tree.sampler() as s:
        s.sample()
        r = row(s, "/a")
        assert not int(r["valid"]) & GROUPS["memory"]
        assert {c: int(r[c]) for c in GROUP_COLUMNS["memory"]} == dict.fromkeys(GROUP_COLUMNS["memory"], 0)


def test_container_info_shows_a_group_that_was_not_collected_as_zero_values(tmp_path):
    tree = Tree(tmp_path, 1, names=("/a",))
    tree.write("/a", "memory.stat", b"total_cache 4096\ntotal_rss lots\n")
    tree.write("/a", "blkio.throttle.io_serviced_recursive", GARBAGE)
    with tree.sampler() as s:
        s.sample()
        (st,) = s.container_info("/a", v1.ContainerInfoRequest(num_stats=1)).stats
    assert st.memory == v1.MemoryStats()
    assert st.memory.usage == 0 and st.memory.cache == 0 and st.memory.working_set == 0
    assert st.diskio == v1.DiskIoStats()
    assert st.cpu.usage.total == 5_000_000_000 and st.cpu.usage.per_cpu_usage == V1_PERCPU
    assert st.cpu.cfs.periods == 10
    assert st.processes.process_count == 3


# --- big files ------------------------------------------------------------------------

def test_cgroup_procs_with_20000_pids_is_counted_completely(tmp_path):
    pids = b"".join(b"%d\n" % (100000 + i) for i in range(20000))
    assert len(pids) > 65536
    for version in (1, 2):
        tree = Tree(tmp_path / f"v{version}", version)
        tree.write("/a", "cgroup.procs", pids)
        with tree.sampler() as s:
            s.sample()
            s.sample()                      # the grown buffer serves the next sweep too
            assert int(row(s, "/a")["process_count"]) == 20000
            assert int(row(s, "/b")["process_count"]) == 3


def test_memory_stat_padded_past_the_read_buffer_is_read_to_the_end(tmp_path):
    padding = b"".join(b"unknown_key_%05d 123456789012\n" % i for i in range(5000))
    assert len(padding) > 2 * 65536
    t1 = Tree(tmp_path / "v1", 1)
    t1.write("/a", "memory.stat", padding + b"total_cache 4096\ntotal_rss 8192\ntotal_swap 512\n"
             b"total_mapped_file 256\ntotal_inactive_file 1024\npgfault 11\npgmajfault 1\n")
    t2 = Tree(tmp_path / "v2", 2)
    t2.write("/a", "memory.stat", padding + V2_GOOD["memory.stat"])
    for tree, expected in ((t1, V1_ROW), (t2, V2_ROW)):
        with tree.sampler() as s:
            s.sample()
            s.sample()
            r = row(s, "/a")
            assert {k: int(r[k]) for k in expected} == expected
            assert s.errors("/a")["parse_errors"] == 0


def test_single_value_file_padded_past_the_read_buffer_is_read_to_the_end(tmp_path):
    # Files longer than 64 KiB that are not multi-record: a read stopped at 65536 bytes
    # would see only spaces (malformed) or only the first CPUs.
    tree = Tree(tmp_path, 1, names=("/a",))
    with tree.sampler(max_cpus=4) as s:
        tree.write("/a", "cpuacct.usage", b" " * 70000 + b"5000000000\n")
        tree.write("/a", "cpuacct.usage_percpu", b" " * 70000 + b"1 2 3 4\n")
        s.sample()
        assert int(row(s, "/a")["cpu_usage_total"]) == 5_000_000_000
        assert percpu(s, "/a") == [1, 2, 3, 4]
        assert s.errors("/a")["parse_errors"] == 0


# --- v1 blkio group choice (cadvisor-v1-spec.md 8.2) --------------------------------

def _blkio_tree(tmp_path, files):
    tree = Tree(tmp_path, 1, names=("/a",), skip=tuple(V1_BLKIO_GOOD))
    for fname, data in files.items():
        tree.write("/a", fname, data)
    return tree


def test_blkio_uses_the_first_group_whose_probe_has_device_rows(tmp_path):
    files = {**blkio_good(3), **blkio_good(4)}
    with _blkio_tree(tmp_path, files).sampler() as s:
        s.sample()
        got = disk_entries(s, "/a")
        assert len(got) == 20                            # CFQ's 8 files, not throttle's 2
        assert got[0] == (8, 0, LIST["sectors"], OP["Count"], 1234)
        assert {e[2] for e in got} == {LIST[l] for _, l in BLKIO_GROUPS[2]}
        assert int(row(s, "/a")["valid"]) & GROUPS["diskio"]


@pytest.mark.parametrize("probe_content", [b"", b"Total 0\n", b"\n\n"], ids=["empty", "only-Total-0", "blank-lines"])
def test_blkio_probe_without_device_rows_moves_on_to_the_next_group(tmp_path, probe_content):
    # "Total 0" only: our documented deviation (cAdvisor would choose the group and report nothing)
    files = {
        "blkio.throttle.io_serviced_recursive": probe_content,
        "blkio.throttle.io_service_bytes_recursive": b"8:0 Read 99\nTotal 99\n",
        "blkio.throttle.io_serviced": b"8:16 Read 5\n8:16 Write 6\nTotal 11\n",
        "blkio.throttle.io_service_bytes": b"8:16 Read 500\n8:16 Write 600\nTotal 1100\n",
    }
    with _blkio_tree(tmp_path, files).sampler() as s:
        s.sample()
        assert disk_entries(s, "/a") == [
            (8, 16, LIST["io_serviced"], OP["Read"], 5), (8, 16, LIST["io_serviced"], OP["Write"], 6),
            (8, 16, LIST["io_service_bytes"], OP["Read"], 500), (8, 16, LIST["io_service_bytes"], OP["Write"], 600)]
        assert int(row(s, "/a")["valid"]) & GROUPS["diskio"]
        assert s.errors("/a")["parse_errors"] == 0


def test_blkio_no_group_with_device_rows_is_valid_and_empty(tmp_path):
    files = {"blkio.throttle.io_serviced_recursive": b"Total 0\n",
             "blkio.throttle.io_service_bytes_recursive": b"Total 0\n",
             "blkio.throttle.io_serviced": b"", "blkio.throttle.io_service_bytes": b""}
    with _blkio_tree(tmp_path, files).sampler() as s:
        s.sample()
        r = row(s, "/a")
        assert int(r["valid"]) & GROUPS["diskio"] and int(r["diskio_count"]) == 0
        assert s.errors("/a")["parse_errors"] == 0


def test_blkio_absent_probe_skips_the_group_even_if_its_other_files_have_rows(tmp_path):
    files = {name: data for name, data in blkio_good(3).items() if name != "blkio.sectors_recursive"}
    files.update(blkio_good(4))
    with _blkio_tree(tmp_path, files).sampler() as s:
        s.sample()
        assert disk_entries(s, "/a") == V1_DISK


def test_blkio_later_empty_file_in_the_chosen_group_stops_silently(tmp_path):
    files = blkio_good(3)
    files["blkio.io_merged_recursive"] = b""             # 4th of CFQ's 8 files
    files.update(blkio_good(4))                          # not used: group 3 was chosen
    with _blkio_tree(tmp_path, files).sampler() as s:
        s.sample()
        got = disk_entries(s, "/a")
        assert [e[2] for e in got] == [LIST["sectors"]] + [LIST["io_service_time"]] * 3 + [LIST["io_wait_time"]] * 3
        assert int(row(s, "/a")["valid"]) & GROUPS["diskio"]
        assert s.errors("/a")["parse_errors"] == 0


def test_blkio_later_missing_file_in_the_chosen_group_stops_like_an_empty_one(tmp_path):
    files = blkio_good(3)
    del files["blkio.io_merged_recursive"]
    with _blkio_tree(tmp_path, files).sampler() as s:
        s.sample()
        got = disk_entries(s, "/a")
        assert [e[2] for e in got] == [LIST["sectors"]] + [LIST["io_service_time"]] * 3 + [LIST["io_wait_time"]] * 3


def test_blkio_malformed_probe_chooses_its_group_and_is_an_error(tmp_path):
    files = {**blkio_good(4), **blkio_good(5)}
    files["blkio.throttle.io_serviced_recursive"] = b"8:0 Read lots\n"
    with _blkio_tree(tmp_path, files).sampler() as s:
        s.sample()
        assert not int(row(s, "/a")["valid"]) & GROUPS["diskio"]
        assert s.errors("/a")["parse_errors"] == 1


def test_blkio_unknown_device_rows_are_skipped(tmp_path):
    files = dict(V1_BLKIO_GOOD)
    files["blkio.throttle.io_serviced_recursive"] = b"(unknown) Read 5\n" + V1_BLKIO_GOOD["blkio.throttle.io_serviced_recursive"]
    with _blkio_tree(tmp_path, files).sampler() as s:
        s.sample()
        assert disk_entries(s, "/a") == V1_DISK


# --- v2 root emulation and the working set ------------------------------------------

def test_v2_root_without_memory_current_uses_anon_plus_file(tmp_path):
    tree = Tree(tmp_path, 2, names=("/a",))
    _write(os.path.join(tree.root, "memory.stat"), V2_GOOD["memory.stat"])
    _write(os.path.join(tree.root, "cpu.stat"), V2_GOOD["cpu.stat"])
    _write(os.path.join(tree.root, "cgroup.procs"), b"1\n")
    with tree.sampler(names=["/"]) as s:
        s.sample()
        r = row(s, "/")
        assert int(r["memory_usage"]) == 8192 + 4096
        assert int(r["memory_working_set"]) == 8192 + 4096 - 1024
        assert int(r["memory_rss"]) == 8192 and int(r["memory_cache"]) == 4096
        assert int(r["valid"]) & GROUPS["memory"]
        assert not int(r["valid"]) & GROUPS["diskio"]          # the v2 root has no io.stat
        assert s.errors("/")["parse_errors"] == 0


def test_v2_non_root_without_memory_current_is_not_emulated(tmp_path):
    tree = Tree(tmp_path, 2, names=("/a",), skip=("memory.current",))
    with tree.sampler() as s:
        s.sample()
        r = row(s, "/a")
        assert not int(r["valid"]) & GROUPS["memory"]
        assert int(r["memory_usage"]) == 0


WORKING_SET_CASES = [
    # (version, usage, memory.stat, working set)
    (1, 1048576, b"total_inactive_file 2097152\n", 0),                 # inactive > usage: clamp at 0
    (1, 1048576, b"total_inactive_file 1048576\n", 0),                 # inactive == usage
    (1, 1048576, b"total_inactive_file 1048575\n", 1),
    (1, 1048576, b"total_cache 4096\n", 1048576),                      # key absent: = usage
    (1, 1048576, b"inactive_file 1024\n", 1048576),                    # local key is not the total_ one
    (1, 1048576, b"total_inactive_file 0\n", 1048576),
    (2, 1048576, b"inactive_file 2097152\n", 0),
    (2, 1048576, b"file 4096\n", 1048576),
    (2, 1048576, b"inactive_file 18446744073709551615\n", 0),         # present, however large
]


@pytest.mark.parametrize("version, usage, stat, working_set", WORKING_SET_CASES)
def test_working_set_is_usage_minus_inactive_file_clamped_at_zero(tmp_path, version, usage, stat, working_set):
    tree = Tree(tmp_path, version, names=("/a",))
    tree.write("/a", "memory.usage_in_bytes" if version == 1 else "memory.current", b"%d\n" % usage)
    tree.write("/a", "memory.stat", stat)
    with tree.sampler() as s:
        s.sample()
        r = row(s, "/a")
        assert int(r["memory_working_set"]) == working_set
        assert int(r["valid"]) & GROUPS["memory"]


def test_v1_use_hierarchy_0_reads_the_local_memory_stat_keys(tmp_path):
    tree = Tree(tmp_path, 1, names=("/a",))
    _write(os.path.join(tree.root, "memory", "a", "memory.use_hierarchy"), b"0\n")
    with tree.sampler() as s:
        s.sample()
        r = row(s, "/a")
        assert (int(r["memory_cache"]), int(r["memory_rss"]), int(r["memory_mapped_file"])) == (111, 222, 333)
        assert int(r["memory_inactive_file"]) == 1024          # the working set always uses total_inactive_file


# --- side arrays past their capacity --------------------------------------------------

def test_per_cpu_array_is_sized_from_the_file_when_a_container_is_added(tmp_path):
    # the kernel prints one value per possible CPU (fixed at boot): a file with more
    # values than max_cpus grows the array instead of losing CPUs
    tree = Tree(tmp_path, 1)
    tree.write("/a", "cpuacct.usage_percpu", b"1 2 3 4 5 6 7 8 9 10 11 12\n")
    with tree.sampler(max_cpus=4) as s:
        s.sample()
        assert percpu(s, "/a") == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]
        assert percpu(s, "/b") == V1_PERCPU
        assert s.percpu.shape == (1, 2, 12)


def test_more_cpus_appearing_in_the_file_later_are_not_collected_and_do_not_crash(tmp_path):
    # past the array sized at slot creation: percpu is "not collected" (an error), never truncated
    tree = Tree(tmp_path, 1)
    with tree.sampler(max_cpus=4) as s:
        s.sample()
        healthy_b = row_bytes(s, "/b")
        tree.write("/a", "cpuacct.usage_percpu", b"1 2 3 4 5 6 7 8 9 10 11 12\n")
        s.sample()
        a = row(s, "/a")
        assert int(a["valid"]) == ALL_V1 & ~GROUPS["percpu"]
        assert s.errors("/a")["parse_errors"] == 1
        assert int(a["cpu_usage_total"]) == 5_000_000_000
        assert row_bytes(s, "/b") == healthy_b
        tree.write("/a", "cpuacct.usage_percpu", b" ".join(b"%d" % (7 + i) for i in range(20000)) + b"\n")
        for _ in range(3):
            s.sample()
        assert s.errors("/a")["parse_errors"] == 4
        assert row_bytes(s, "/b") == healthy_b
        assert s.percpu.shape[2] == 4


def test_disk_entries_past_max_disk_entries_are_counted_in_diskio_overflow(tmp_path):
    t1 = Tree(tmp_path / "v1", 1)          # 3 + 3 entries in the throttle files
    t2 = Tree(tmp_path / "v2", 2)
    t2.write("/a", "io.stat", b"8:0 rbytes=1 wbytes=2 rios=3 wios=4\n8:16 rbytes=5 wbytes=6 rios=7 wios=8\n"
             b"259:0 rbytes=9 wbytes=10 rios=11 wios=12\n")
    for tree, expected_overflow in ((t1, 4), (t2, 10)):
        with tree.sampler(max_disk_entries=2) as s:
            s.sample()
            r = row(s, "/a")
            assert int(r["diskio_count"]) == 2
            assert int(r["diskio_overflow"]) == expected_overflow
            assert int(r["valid"]) & GROUPS["diskio"]
            assert s.errors("/a")["parse_errors"] == 0
            assert len(disk_entries(s, "/a")) == 2


def test_max_disk_entries_zero_counts_the_chosen_groups_entries_as_overflow(tmp_path):
    files = {**blkio_good(4), "blkio.throttle.io_serviced": b"8:16 Read 5\n8:16 Write 6\n",
             "blkio.throttle.io_service_bytes": b"8:16 Read 500\n8:16 Write 600\n"}
    with _blkio_tree(tmp_path, files).sampler(max_disk_entries=0) as s:
        s.sample()
        r = row(s, "/a")
        assert int(r["diskio_count"]) == 0
        assert int(r["diskio_overflow"]) == 6      # group 4's 3 + 3 rows, as with a big enough array


def test_other_containers_never_see_a_neighbours_overflow(tmp_path):
    tree = Tree(tmp_path, 2, names=("/a", "/b", "/c"))
    with tree.sampler(max_disk_entries=4) as s:
        s.sample()
        before = {n: row_bytes(s, n) for n in ("/a", "/c")}
        tree.write("/b", "io.stat", b"".join(b"8:%d rbytes=1 wbytes=2 rios=3 wios=4\n" % i for i in range(200)))
        s.sample()
        assert {n: row_bytes(s, n) for n in ("/a", "/c")} == before
        assert int(row(s, "/b")["diskio_overflow"]) == 800 - 4
