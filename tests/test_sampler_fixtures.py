"""The sampler end to end on snapshots of real hosts (tests/fixtures/trees, from
elastic-agent-system-metrics and telegraf test data), read through cgroup_root.
Every expected value below was read off the snapshot's files by hand."""
import os

import pytest

from cgsampler import Sampler, v1
from cgsampler.schema import GROUPS

TREES = os.path.join(os.path.dirname(__file__), "fixtures", "trees")
EKS_CONTAINER = ("/kubepods.slice/kubepods-burstable.slice/"
                 "kubepods-burstable-pod7a96c459_d529_44ae_9f99_90d3798d6426.slice/"
                 "cri-containerd-1d3d308a7d48a27814a68bf33a44acf4441c9c02463ca0bc1cdfdc8c0b4a8496.scope")


@pytest.fixture
def fake_host(tmp_path):
    proc = tmp_path / "proc"
    proc.mkdir()
    (proc / "meminfo").write_text("MemTotal:       32768000 kB\nSwapTotal:             0 kB\n")
    (proc / "uptime").write_text("1000.00 1900.00\n")
    sys_root = tmp_path / "sys"
    sys_root.mkdir()
    return str(proc), str(sys_root)


def one_sample(root, name, fake_host):
    proc, sys_root = fake_host
    with Sampler(containers=[name], cgroup_root=root, proc_root=proc, sys_root=sys_root) as s:
        s.sample()
        return s.stats[0][0], s.container_info(name, v1.ContainerInfoRequest(num_stats=1))


def test_eks_cgroup_v1_container_every_sampled_field(fake_host):
    root = os.path.join(TREES, "elastic-amzn2-eks-cgroup1", "sys", "fs", "cgroup")
    row, info = one_sample(root, EKS_CONTAINER, fake_host)
    # schedstat: the fake proc root has none of the listed processes (all left:
    # sums of 0); load: taskstats refuses a directory that is not a cgroup.
    assert row["valid"] == GROUPS["cpu"] | GROUPS["cfs"] | GROUPS["percpu"] | GROUPS["memory"] \
        | GROUPS["diskio"] | GROUPS["processes"] | GROUPS["schedstat"]
    st = info.stats[0]
    assert st.cpu.usage.total == 124659500367000
    assert st.cpu.usage.user == 10848891 * 10**7          # USER_HZ ticks -> ns
    assert st.cpu.usage.system == 1516502 * 10**7
    assert st.cpu.usage.per_cpu_usage == [15613994561203, 15788002132077, 15784952074051, 15855998555950,
                                          15542776043883, 15230239258891, 15244340227151, 15599197513794]
    assert (st.cpu.cfs.periods, st.cpu.cfs.throttled_periods, st.cpu.cfs.throttled_time) == (0, 0, 0)
    m = st.memory
    assert (m.usage, m.max_usage, m.failcnt) == (1215860736, 1532657664, 0)
    assert (m.cache, m.rss, m.swap, m.mapped_file) == (78397440, 1119465472, 0, 0)      # total_* keys
    assert m.working_set == 1215860736 - 78557184                                      # - total_inactive_file
    assert (m.container_data.pgfault, m.container_data.pgmajfault) == (116218146, 0)
    assert m.hierarchical_data == m.container_data
    assert st.processes.process_count == 12
    # The BFQ files hold only "Total 0", so the throttle (recursive) group is used.
    assert [(d.major, d.minor, d.stats) for d in st.diskio.io_serviced] == [
        (259, 0, {"Read": 59, "Write": 5048, "Sync": 5107, "Async": 0, "Discard": 0, "Total": 5107})]
    assert [(d.major, d.minor, d.stats) for d in st.diskio.io_service_bytes] == [
        (259, 0, {"Read": 3448832, "Write": 25203200, "Sync": 28652032, "Async": 0, "Discard": 0,
                  "Total": 28652032})]
    assert st.diskio.sectors == [] or st.diskio.sectors is None


def test_eks_cgroup_v1_container_spec(fake_host):
    root = os.path.join(TREES, "elastic-amzn2-eks-cgroup1", "sys", "fs", "cgroup")
    _, info = one_sample(root, EKS_CONTAINER, fake_host)
    assert info.spec.cpu.limit == 102
    assert info.spec.cpu.quota == 0 and info.spec.cpu.period == 100000      # quota -1: unlimited
    assert info.spec.has_memory and info.spec.has_diskio and info.spec.has_cpu
    assert not info.spec.has_network and not info.spec.has_filesystem


def test_telegraf_cgroup_v2_flat_dir_every_sampled_field(fake_host):
    root = os.path.join(TREES, "telegraf-v2-96cpu-2numa")
    row, info = one_sample(root, "/", fake_host)
    assert row["valid"] & GROUPS["cpu"] and row["valid"] & GROUPS["memory"] and row["valid"] & GROUPS["diskio"]
    assert not row["valid"] & GROUPS["percpu"]           # v2 has no per-CPU file
    assert not row["valid"] & GROUPS["processes"]        # no cgroup.procs in this snapshot
    st = info.stats[0]
    assert st.cpu.usage.total == 98701325189 * 1000
    assert st.cpu.usage.user == 61355716211 * 1000
    assert st.cpu.usage.system == 37345608977 * 1000
    assert st.cpu.usage.per_cpu_usage in (None, [])
    assert (st.cpu.cfs.periods, st.cpu.cfs.throttled_periods, st.cpu.cfs.throttled_time) == (
        3936904, 6004, 19175137007 * 1000)
    m = st.memory
    assert (m.usage, m.max_usage, m.swap, m.failcnt) == (13071106048, 87302021120, 0, 0)
    assert (m.cache, m.rss, m.mapped_file) == (8532865024, 2471755776, 14213120)   # file, anon, file_mapped
    assert m.working_set == 13071106048 - 2935459840
    assert (m.container_data.pgfault, m.container_data.pgmajfault) == (1973187551, 8497)
    assert [(d.major, d.minor, d.stats) for d in st.diskio.io_service_bytes] == [
        (259, 8, {"Read": 74526720, "Write": 3789381632})]
    assert [(d.major, d.minor, d.stats) for d in st.diskio.io_serviced] == [
        (259, 8, {"Read": 2936, "Write": 181928})]


def test_telegraf_cgroup_v2_spec_as_root(fake_host):
    root = os.path.join(TREES, "telegraf-v2-96cpu-2numa")
    _, info = one_sample(root, "/", fake_host)
    assert info.spec.cpu.limit == 2 + (79 - 1) * 262142 // 9999        # cpu.weight 79, linear
    assert (info.spec.cpu.quota, info.spec.cpu.period) == (4800000, 100000)
    assert info.spec.cpu.mask == "0-95"
    assert info.spec.memory.limit == 32768000 * 1024                    # the root shows MemTotal


def test_info_json_of_a_fixture_container_is_stable(fake_host):
    root = os.path.join(TREES, "elastic-amzn2-eks-cgroup1", "sys", "fs", "cgroup")
    _, info = one_sample(root, EKS_CONTAINER, fake_host)
    text = info.to_json()
    assert v1.ContainerInfo.from_json(text).to_json() == text
    assert '"io_serviced":[{"device":"","major":259,"minor":0,"stats":{"Async":0,"Discard":0,"Read":59,' \
           '"Sync":5107,"Total":5107,"Write":5048}}]' in text


# --- runc's own test inputs (opencontainers/cgroups fs/*_test.go), laid out as a
# v1 tree: one container per blkio scheduler flavour ---------------------------

RUNC = os.path.join(os.path.dirname(__file__), "fixtures", "runc", "v1")


@pytest.fixture
def runc_tree(tmp_path):
    import shutil
    root = tmp_path / "cgroup"
    for ctrl, src in (("cpu", "cpu"), ("cpuacct", "cpuacct"), ("memory", "memory")):
        d = root / ctrl / "c"
        shutil.copytree(os.path.join(RUNC, src), d)
        (root / ctrl / "cgroup.procs").write_text("")
        (d / "cgroup.procs").write_text("1\n")
    for flavour in ("bfq_debug", "bfq", "cfq", "throttle"):
        shutil.copytree(os.path.join(RUNC, "blkio", flavour), root / "blkio" / flavour)
        (root / "blkio" / flavour / "cgroup.procs").write_text("")
    (root / "blkio" / "cgroup.procs").write_text("")
    return str(root)


def runc_sample(runc_tree, fake_host, name):
    proc, sys_root = fake_host
    with Sampler(cgroup_root=runc_tree, proc_root=proc, sys_root=sys_root) as s:
        s.sample()
        return s.container_info(name, v1.ContainerInfoRequest(num_stats=1)).stats[0], s.errors(name)


def disk(lst):
    return [((d.major, d.minor), d.stats) for d in lst or []]


def test_runc_cpu_cpuacct_memory_values(runc_tree, fake_host):
    st, errs = runc_sample(runc_tree, fake_host, "/c")
    assert st.cpu.usage.total == 12262454190222160
    assert st.cpu.usage.user == 452278264 * 10**7 and st.cpu.usage.system == 291429664 * 10**7
    assert st.cpu.usage.per_cpu_usage == [1564936537989058, 1583937096487821, 1604195415465681, 1596445226820187,
                                          1481069084155629, 1478735613864327, 1477610593414743, 1476362015778086]
    assert (st.cpu.cfs.periods, st.cpu.cfs.throttled_periods, st.cpu.cfs.throttled_time) == (
        2000, 200, 18446744073709551615)
    assert (st.memory.usage, st.memory.max_usage, st.memory.failcnt) == (2048, 4096, 100)
    # runc's memory.stat has only local keys; use_hierarchy is 1, so total_* are read and absent: zero.
    assert (st.memory.cache, st.memory.rss) == (0, 0)
    assert st.memory.working_set == 2048              # no total_inactive_file: the working set is the usage
    assert errs["parse_errors"] == 0


def test_runc_invalid_cpu_stat_and_memory_stat_lose_only_their_groups(runc_tree, fake_host):
    os.replace(os.path.join(runc_tree, "cpu", "c", "cpu.stat.invalid"), os.path.join(runc_tree, "cpu", "c", "cpu.stat"))
    os.replace(os.path.join(runc_tree, "memory", "c", "memory.stat.invalid"),
               os.path.join(runc_tree, "memory", "c", "memory.stat"))
    st, errs = runc_sample(runc_tree, fake_host, "/c")
    assert (st.cpu.cfs.periods, st.memory.usage) == (0, 0)      # not collected: zero-valued
    assert st.cpu.usage.total == 12262454190222160              # cpuacct is fine
    assert errs["parse_errors"] == 2


def test_runc_cfq_fills_all_eight_lists(runc_tree, fake_host):
    st, _ = runc_sample(runc_tree, fake_host, "/cfq")
    d = st.diskio
    assert disk(d.sectors) == [((8, 0), {"Count": 1024})]
    assert disk(d.io_service_time) == [((8, 0), {"Read": 173959, "Write": 0, "Sync": 0, "Async": 173959,
                                                 "Total": 17395})]
    assert disk(d.io_wait_time) == [((8, 0), {"Read": 15571, "Write": 0, "Sync": 0, "Async": 15571, "Total": 15571})]
    assert disk(d.io_merged) == [((8, 0), {"Read": 5, "Write": 10, "Sync": 0, "Async": 0, "Total": 15})]
    assert disk(d.io_queued) == [((8, 0), {"Read": 1, "Write": 4, "Sync": 2, "Async": 3, "Total": 5})]
    assert disk(d.io_time) == [((8, 0), {"Count": 8})]
    assert disk(d.io_serviced) == [((8, 0), {"Read": 10, "Write": 40, "Sync": 20, "Async": 30, "Total": 50})]
    assert disk(d.io_service_bytes) == [((8, 0), {"Read": 100, "Write": 200, "Sync": 300, "Async": 500,
                                                  "Total": 500})]


def test_runc_bfq_debug_group_wins_over_plain_bfq(runc_tree, fake_host):
    st, _ = runc_sample(runc_tree, fake_host, "/bfq_debug")
    assert disk(st.diskio.sectors) == [((8, 0), {"Count": 2048})]
    assert disk(st.diskio.io_serviced) == [((8, 0), {"Read": 11, "Write": 41, "Sync": 21, "Async": 31, "Total": 51})]


def test_runc_throttle_two_devices(runc_tree, fake_host):
    st, _ = runc_sample(runc_tree, fake_host, "/throttle")
    assert disk(st.diskio.io_serviced) == [
        ((8, 0), {"Read": 1641, "Write": 231, "Sync": 421, "Async": 1641, "Total": 1641}),
        ((252, 0), {"Read": 1641, "Write": 231, "Sync": 421, "Async": 1641, "Total": 1641})]
    assert st.diskio.sectors in (None, [])
