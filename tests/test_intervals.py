"""Per-group intervals: a sweep reads a group only when its interval has passed,
and carries its last values, valid bit and timestamp into the samples between."""
import os
import time

import pytest

from cgsampler import Sampler, errors
from cgsampler.schema import GROUPS

BIT = {g: v.bit_length() - 1 for g, v in GROUPS.items()}


def v2_tree(tmp_path):
    root = tmp_path / "cg"
    (root / "a").mkdir(parents=True)
    (root / "cgroup.controllers").write_text("cpu memory io\n")
    write_a(root, usage_usec=1000, current=4096, pids="1\n")
    (root / "a" / "io.stat").write_text("8:0 rbytes=10 wbytes=20 rios=1 wios=2\n")
    proc = tmp_path / "proc"
    proc.mkdir()
    (proc / "meminfo").write_text("MemTotal: 1000 kB\n")
    (proc / "uptime").write_text("100.0 100.0\n")
    return root, proc


def write_a(root, usage_usec, current, pids):
    a = root / "a"
    (a / "cpu.stat").write_text(f"usage_usec {usage_usec}\nuser_usec 1\nsystem_usec 1\n")
    (a / "memory.current").write_text(f"{current}\n")
    (a / "memory.stat").write_text("anon 1\nfile 2\ninactive_file 0\n")
    (a / "cgroup.procs").write_text(pids)


def sampler(root, proc, **kw):
    return Sampler(containers=["/a"], cgroup_root=str(root), proc_root=str(proc), sys_root=str(proc), **kw)


def test_a_group_not_due_is_carried_with_its_timestamp_and_the_others_are_read(tmp_path):
    root, proc = v2_tree(tmp_path)
    with sampler(root, proc, history=4, intervals={"memory": 3600, "diskio": 3600}) as s:
        s.sample()
        write_a(root, usage_usec=2000, current=8192, pids="1\n2\n")
        (root / "a" / "io.stat").write_text("8:0 rbytes=99 wbytes=99 rios=9 wios=9\n")
        s.sample()
        first, second = s.stats[0][0], s.stats[1][0]
    assert second["cpu_usage_total"] == 2000 * 1000                  # read every sweep
    assert second["process_count"] == 2
    assert second["memory_usage"] == 4096                             # carried: not due for an hour
    assert second["valid"] == first["valid"]
    assert second["valid"] & GROUPS["memory"] and second["valid"] & GROUPS["diskio"]
    assert not second["fresh"] & GROUPS["memory"] and not second["fresh"] & GROUPS["diskio"]
    assert second["fresh"] & GROUPS["cpu"] and first["fresh"] & GROUPS["memory"]
    assert second["group_timestamp_ns"][BIT["memory"]] == first["timestamp_ns"]
    assert second["group_timestamp_ns"][BIT["cpu"]] == second["timestamp_ns"]
    assert second["diskio_count"] == first["diskio_count"] == 4
    with sampler(root, proc, history=4, intervals={"memory": 3600, "diskio": 3600}) as s2:
        s2.sample()                                                   # a new sampler reads everything
        assert s2.stats[0][0]["memory_usage"] == 8192


def test_the_carried_disk_entries_are_the_previous_ones(tmp_path):
    root, proc = v2_tree(tmp_path)
    with sampler(root, proc, history=3, intervals={"diskio": 3600}) as s:
        s.sample()
        (root / "a" / "io.stat").write_text("8:0 rbytes=99 wbytes=99 rios=9 wios=9\n")
        for _ in range(4):                                            # wraps the ring of 3
            s.sample()
        info = s.container_info("/a")
    for st in info.stats:
        assert [(d.major, d.minor, d.stats) for d in st.diskio.io_service_bytes] == [
            (8, 0, {"Read": 10, "Write": 20})]


def test_a_group_is_read_again_once_its_interval_has_passed(tmp_path):
    root, proc = v2_tree(tmp_path)
    with sampler(root, proc, history=8, intervals={"memory": 0.2}) as s:
        s.sample()
        write_a(root, usage_usec=2000, current=8192, pids="1\n")
        s.sample()
        assert s.stats[-1][0]["memory_usage"] == 4096
        time.sleep(0.25)
        s.sample()
        assert s.stats[-1][0]["memory_usage"] == 8192
        assert s.stats[-1][0]["fresh"] & GROUPS["memory"]


def test_a_group_that_failed_is_retried_at_the_next_sweep(tmp_path):
    root, proc = v2_tree(tmp_path)
    (root / "a" / "memory.stat").write_text("anon x\n")               # malformed
    with sampler(root, proc, history=4, intervals={"memory": 3600}) as s:
        s.sample()
        assert not s.stats[-1][0]["valid"] & GROUPS["memory"]
        (root / "a" / "memory.stat").write_text("anon 1\nfile 2\ninactive_file 0\n")
        s.sample()                                                    # not valid before: due now
        assert s.stats[-1][0]["valid"] & GROUPS["memory"]
        assert s.stats[-1][0]["memory_usage"] == 4096


def test_a_ring_of_one_row_carries_too(tmp_path):
    root, proc = v2_tree(tmp_path)
    with sampler(root, proc, history=1, intervals={"memory": 3600}) as s:
        s.sample()
        write_a(root, usage_usec=5000, current=8192, pids="1\n")
        s.sample()
        row = s.stats[0][0]
    assert row["memory_usage"] == 4096 and row["valid"] & GROUPS["memory"]
    assert row["cpu_usage_total"] == 5000 * 1000


@pytest.mark.parametrize("bad", [{"nope": 1}, {"memory": -1}, {"memory": "soon"}])
def test_bad_intervals_are_a_clear_error(tmp_path, bad):
    root, proc = v2_tree(tmp_path)
    with pytest.raises(errors.InvalidOption):
        sampler(root, proc, intervals=bad)


@pytest.mark.real
def test_memory_stat_read_every_tenth_of_a_second_on_a_real_cgroup(v1_cgroup):
    from conftest import CPU_BURNER
    v1_cgroup.spawn(CPU_BURNER)
    with Sampler(containers=[v1_cgroup.name], history=64, intervals={"memory": 0.1}) as s:
        for _ in range(40):
            s.sample()
            time.sleep(0.01)
        st = s.stats[:, 0]
    fresh_memory = (st["fresh"] & GROUPS["memory"]) != 0
    assert 2 <= fresh_memory.sum() <= 15                              # ~0.5 s of sweeps, every 0.1 s
    assert ((st["fresh"] & GROUPS["cpu"]) != 0).all()                 # cpu every sweep
    assert (st["valid"] & GROUPS["memory"]).all()
    carried = st[~fresh_memory]
    ts = st["group_timestamp_ns"][:, BIT["memory"]]
    assert (ts[~fresh_memory] < carried["timestamp_ns"]).all()
    assert (ts[fresh_memory] == st["timestamp_ns"][fresh_memory]).all()


def test_socket_interval_none_leaves_the_socket_groups_that_intervals_names(tmp_path):
    root, proc = v2_tree(tmp_path)
    with sampler(root, proc, socket_interval=None, intervals={"tcp": 0.5}) as s:
        assert "tcp" not in s._disabled and "udp" in s._disabled
    with sampler(root, proc, socket_interval=None) as s:
        assert {"tcp", "udp"} <= s._disabled


@pytest.mark.parametrize("bad", [-5, "5", float("nan"), True])
def test_a_bad_socket_interval_names_the_option_and_the_off_switch(tmp_path, bad):
    root, proc = v2_tree(tmp_path)
    with pytest.raises(errors.InvalidOption, match="socket_interval .* None to turn the socket tables off"):
        sampler(root, proc, socket_interval=bad)
