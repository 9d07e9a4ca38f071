"""The sampler on real cgroups made on this machine, with real workloads inside,
checked against what the kernel says in the same files and in /proc."""
import gc
import os
import signal
import time
import tracemalloc

import pytest

from cgsampler import Sampler, errors, v1
from cgsampler.schema import GROUPS
from conftest import CPU_BURNER, MEMORY_ALLOCATOR, make_cgroups, v1_available

pytestmark = pytest.mark.real
CLK_TCK = os.sysconf("SC_CLK_TCK")


def last(s, name):
    return s.stats[-1][s.names.index(name)]


def open_fds():
    return len(os.listdir("/proc/self/fd"))


def test_cpu_burner_usage_matches_cpuacct_and_proc_stat(v1_cgroup):
    cg = v1_cgroup
    burner = cg.spawn(CPU_BURNER)
    with Sampler(containers=[cg.name]) as s:
        before = int(cg.read("cpuacct", "cpuacct.usage"))
        s.sample()
        time.sleep(0.5)
        s.sample()
        after = int(cg.read("cpuacct", "cpuacct.usage"))
        first, second = s.stats[0][0], s.stats[1][0]
        assert second["valid"] & GROUPS["cpu"]
        assert before <= first["cpu_usage_total"] <= second["cpu_usage_total"] <= after
        # One busy process: at most one core's worth of ns per wall ns, and a
        # visible share of it even on a loaded 2-CPU machine (the exact value is
        # bounded by the kernel's own counter above).
        rate = (second["cpu_usage_total"] - first["cpu_usage_total"]) / (second["timestamp_ns"] - first["timestamp_ns"])
        assert 0.05 < rate < 1.1
        # user + system are ticks x 10^7 ns; the burner is the only process.
        with open(f"/proc/{burner.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        utime_ns = int(fields[11]) * 10**9 // CLK_TCK
        assert abs(int(second["cpu_user"]) - utime_ns) <= 50 * 10**7    # within 0.5 s of ticks
        assert second["cpu_user"] % 10**7 == 0 and second["cpu_system"] % 10**7 == 0
        percpu = s.percpu[1][0][: second["cpu_percpu_count"]]
        assert second["cpu_percpu_count"] >= os.cpu_count()
        assert abs(int(percpu.sum()) - int(second["cpu_usage_total"])) < 10**8


def test_memory_allocator_usage_rss_and_working_set(v1_cgroup):
    cg = v1_cgroup
    p = cg.spawn(MEMORY_ALLOCATOR)
    assert p.stdout.readline() == b"ready\n"
    with Sampler(containers=[cg.name]) as s:
        s.sample()
        row = s.stats[-1][0]
        usage = int(cg.read("memory", "memory.usage_in_bytes"))
        stat = dict(l.split() for l in cg.read("memory", "memory.stat").splitlines())
    assert row["valid"] & GROUPS["memory"]
    assert 64 << 20 <= row["memory_usage"] <= (64 << 20) + (48 << 20)
    assert abs(int(row["memory_usage"]) - usage) < 4 << 20
    assert 64 << 20 <= row["memory_rss"] <= (64 << 20) + (32 << 20)      # total_rss, bytes not pages
    assert int(row["memory_rss"]) == pytest.approx(int(stat["total_rss"]), abs=4 << 20)
    inactive = int(row["memory_inactive_file"])
    assert row["memory_working_set"] == max(int(row["memory_usage"]) - inactive, 0)
    assert row["memory_max_usage"] >= row["memory_usage"]
    assert row["memory_pgfault"] >= (64 << 20) // 4096 // 2


def test_process_count_is_this_cgroups_own_processes(v1_cgroup):
    cg = v1_cgroup
    for _ in range(3):
        cg.spawn("sys.stdin.read()\n")
    with Sampler(containers=[cg.name]) as s:
        s.sample()
        assert last(s, cg.name)["process_count"] == 3


def test_container_info_of_a_real_cgroup_is_v1_shaped(v1_cgroup):
    cg = v1_cgroup
    cg.write("cpu", "cpu.shares", 512)
    cg.write("cpu", "cpu.cfs_quota_us", 50000)
    cg.write("memory", "memory.limit_in_bytes", 256 << 20)
    cg.spawn(CPU_BURNER)
    with Sampler(containers=[cg.name], history=5) as s:
        for _ in range(7):
            time.sleep(0.05)                  # 0.35 s: several 100 ms CFS periods pass
            s.sample()
        info = s.container_info(cg.name, v1.ContainerInfoRequest(num_stats=3))
    assert info.name == cg.name
    assert len(info.stats) == 3
    assert info.stats[0].timestamp < info.stats[1].timestamp < info.stats[2].timestamp
    assert info.spec.cpu.limit == 512 and info.spec.cpu.quota == 50000 and info.spec.cpu.period == 100000
    assert info.spec.memory.limit == 256 << 20
    assert info.stats[-1].cpu.usage.total > 0
    assert info.stats[-1].cpu.cfs.periods > 0          # quota set: CFS periods tick
    assert info.stats[-1].processes.process_count == 1
    assert v1.ContainerInfo.from_json(info.to_json()).to_json() == info.to_json()


def test_vanished_cgroup_retires_cleanly_and_others_go_on():
    reason = v1_available()
    if reason:
        pytest.skip(reason)
    a, b = make_cgroups(["/cgs-test-vanish-a", "/cgs-test-vanish-b"])
    try:
        fds0 = open_fds()
        s = Sampler(containers=[a.name, b.name], history=4)
        assert s.container_fds > 0
        s.sample()
        a.remove()
        s.sample()                                   # a's kept fds answer ENODEV
        assert s.retired == [a.name]
        assert s.names == [a.name, b.name]           # history still readable
        hist = s.stats
        assert hist[0][0]["valid"] and not hist[1][0]["valid"]
        assert hist[1][1]["valid"] & GROUPS["cpu"]    # b unaffected
        assert s.container_info(a.name).stats        # the old sample is still served
        for _ in range(4):
            s.sample()
        s.refresh()                                  # a's history has aged out of the ring
        assert s.names == [b.name]
        s.close()
        assert open_fds() == fds0
    finally:
        a.remove()
        b.remove()


def test_refresh_picks_up_a_new_cgroup(v1_cgroup):
    with Sampler(history=4) as s:
        assert v1_cgroup.name in s.names
        (late,) = make_cgroups([v1_cgroup.name + "/late"])
        try:
            added, _ = s.refresh()
            assert added == [late.name]
            s.sample()
            assert last(s, late.name)["valid"] & GROUPS["memory"]
            assert v1_cgroup.name + "/late" in [r.name for r in s.container_info(v1_cgroup.name).subcontainers]
        finally:
            late.remove()


def test_past_the_fd_budget_containers_are_reopened_each_sweep_with_the_same_values(v1_cgroup):
    cg = v1_cgroup
    cg.spawn("sys.stdin.read()\n")
    # (The root's network namespace fds are outside the budget: left out here.)
    with Sampler(containers=["/", cg.name], fd_budget=1, disable=("network", "tcp", "udp")) as s:
        assert s.container_fds == 0
        assert s.errors(cg.name)["reopened"]
        s.sample()
        row = last(s, cg.name)
        assert row["process_count"] == 1
        assert row["valid"] & GROUPS["memory"] and row["valid"] & GROUPS["cpu"]


def test_ten_thousand_sweeps_allocate_nothing(v1_cgroup):
    with Sampler(containers=[v1_cgroup.name, "/"], history=32) as s:
        for _ in range(100):
            s.sample()
        gc.collect()
        tracemalloc.start()
        base, _ = tracemalloc.get_traced_memory()
        for _ in range(10_000):
            s.sample()
        after_10k, _ = tracemalloc.get_traced_memory()
        for _ in range(10_000):
            s.sample()
        after_20k, _ = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    # A few live ints (the ring position, the sweep count) may differ from the
    # baseline; nothing may grow with the number of sweeps.
    assert after_10k - base < 512, f"{after_10k - base} bytes after 10,000 sweeps"
    assert after_20k - after_10k <= 0, f"{after_20k - after_10k} bytes grew over 10,000 more sweeps"


def test_unknown_container_is_a_clear_error(v1_cgroup):
    with pytest.raises(errors.UnknownContainer, match="cgs-nope"):
        Sampler(containers=["/cgs-nope"])
    with Sampler(containers=[v1_cgroup.name]) as s:
        with pytest.raises(errors.UnknownContainer):
            s.container_info("/cgs-nope")


def test_v2_cpu_stat_on_the_unified_mount(v2_cgroup):
    cg = v2_cgroup
    cg.spawn(CPU_BURNER)
    root = os.path.dirname(cg.path(""))
    with Sampler(containers=[cg.name], cgroup_root=root) as s:
        assert s.hierarchy.version == 2
        s.sample()
        time.sleep(0.3)
        s.sample()
        row = s.stats[-1][0]
        stat = dict(l.split() for l in cg.read("", "cpu.stat").splitlines())
    assert row["valid"] & GROUPS["cpu"]
    assert row["cpu_usage_total"] <= int(stat["usage_usec"]) * 1000
    assert row["cpu_usage_total"] > 10**7                     # the burner ran (load can starve it)
    assert row["cpu_usage_total"] % 1000 == 0                 # usec x 1000
    assert row["process_count"] == 1


def test_frozen_workload_counters_are_static(v1_cgroup):
    cg = v1_cgroup
    p = cg.spawn(CPU_BURNER)
    time.sleep(0.2)
    os.kill(p.pid, signal.SIGSTOP)
    time.sleep(0.1)
    with Sampler(containers=[cg.name]) as s:
        s.sample()
        time.sleep(0.1)
        s.sample()
        a, b = s.stats[0][0], s.stats[1][0]
    for field in ("cpu_usage_total", "cpu_user", "cpu_system", "memory_rss", "process_count"):
        assert a[field] == b[field], field


def test_out_of_descriptors_leaves_containers_out_until_a_refresh_with_descriptors_back(v1_cgroup):
    """EMFILE while containers are added is not an error of the whole sampler:
    the containers it hits are listed in `skipped` and added by a later
    refresh() once descriptors are back. (Tried with fewer and fewer free
    descriptors until some containers are left out.)"""
    import json
    import subprocess
    import sys
    import textwrap
    import cgsampler
    code = textwrap.dedent(f"""
        import json, os, resource
        from cgsampler import Sampler
        base = len(os.listdir("/proc/self/fd"))
        resource.setrlimit(resource.RLIMIT_NOFILE, (base + 400, base + 400))
        out = None
        for free in range(60, 2, -1):
            filler = []
            try:
                while True:
                    filler.append(os.open("/dev/null", os.O_RDONLY))
            except OSError:
                pass
            for fd in filler[len(filler) - free:]:
                os.close(fd)
            del filler[len(filler) - free:]
            try:
                s = Sampler(history=2, fd_budget=100000)     # keep every file open: descriptors run out
            except Exception as e:
                for fd in filler:
                    os.close(fd)
                continue
            skipped = sorted(s.skipped)
            for fd in filler:
                os.close(fd)
            if not skipped:
                s.close()
                continue
            s.refresh()
            s.sample()
            out = {{"free": free, "skipped_first": skipped, "added_late": {v1_cgroup.name!r} in s.names,
                   "all_back": all(n in s.names for n in skipped), "skipped_after": s.skipped}}
            s.close()
            break
        print(json.dumps(out))
    """)
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(os.path.abspath(cgsampler.__file__))))
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out is not None, "no descriptor count left containers out"
    assert out["skipped_first"] and out["all_back"] and out["added_late"] and out["skipped_after"] == {}, out
