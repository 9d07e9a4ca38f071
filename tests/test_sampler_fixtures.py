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
    assert row["valid"] == GROUPS["cpu"] | GROUPS["cfs"] | GROUPS["percpu"] | GROUPS["memory"] \
        | GROUPS["diskio"] | GROUPS["processes"]
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
