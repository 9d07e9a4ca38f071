"""Regression tests from a third break-it round (issue 3's groups): a cgroup
whose namespace-giving process leaves, the 65th process of a cgroup, a v1
cgroup renamed away, block devices added after the start, a /proc/diskstats
longer than the ring held, a mount point covered by another mount, and the
errors a network read leaves. Fixture trees are test_break_issue3's (Tree);
the real tests make cgroups on this machine and skip without root."""
import os
import uuid

import pytest

from cgsampler import filesystems, schema, v1
from cgsampler._native.filesystems import FsSampler
from conftest import make_cgroups, v1_available
from test_break_issue3 import Tree, row

G = schema.GROUPS


def test_the_namespace_of_a_cgroup_is_found_past_its_first_64_processes(tmp_path):
    t = Tree(tmp_path)
    host = list(range(100, 200))                 # 100 processes in the host's namespace first
    for pid in host:
        t.pid(pid, ns="host")
    t.cg("a", host + [300])
    t.pid(300, ns="A")
    with t.sampler(["/a"]) as s:
        s.sample()
        assert row(s, "/a")["valid"] & G["network"]
        assert s.spec("/a").has_network


def test_a_cgroup_is_read_in_the_namespace_of_its_own_processes_after_one_left(tmp_path):
    t = Tree(tmp_path)
    t.cg("x", [10])
    t.pid(10, ns="A")
    t.cg("y", [])
    with t.sampler(["/x", "/y"]) as s:
        s.sample()
        assert s.interfaces[-1][s.names.index("/x")][0]["rx_bytes"] == 1000     # pid 10's net/dev
        t.procs("y", [10])                       # pid 10 moves to y, still alive in A
        t.pid(20, ns="B")
        t.procs("x", [20])                       # and pid 20 of B joins x
        s.refresh()
        s.sample()
        assert s.interfaces[-1][s.names.index("/x")][0]["rx_bytes"] == 2000     # pid 20's
        assert s.interfaces[-1][s.names.index("/y")][0]["rx_bytes"] == 1000


def test_a_renamed_v1_cgroup_retires_its_old_name():
    why = v1_available()
    if why:
        pytest.skip(why)
    from cgsampler import Sampler
    old, new = f"/cgs-ren-{uuid.uuid4().hex[:8]}", f"/cgs-ren-{uuid.uuid4().hex[:8]}"
    made = make_cgroups([old])
    try:
        with Sampler(None, history=8, accelerators=False, runtimes=()) as s:
            s.sample()
            for d in made[0].dirs.values():      # rename(2) of a v1 cgroup keeps its files
                os.rename(d, d[:-len(old)] + new)
            s.refresh()
            s.sample()
            assert old in s.retired and new in s.names and new not in s.retired
            assert not row(s, old)["valid"] and row(s, new)["valid"]
    finally:
        for d in made[0].dirs.values():
            for path in (d, d[:-len(old)] + new):
                try:
                    os.rmdir(path)
                except OSError:
                    pass


def test_block_devices_that_appear_later_are_named_after_refresh(tmp_path):
    t = Tree(tmp_path)
    t.cg("a", [10])
    t.pid(10)
    t.write(os.path.join(t.root, "a"), "io.stat", "253:7 rbytes=4096 wbytes=0 rios=1 wios=0\n")
    devblock = os.path.join(t.proc, "dev", "block")       # sys_root is the proc tree here
    os.makedirs(devblock)
    with t.sampler(["/a"]) as s:
        s.sample()
        [d] = s.container_info("/a", v1.ContainerInfoRequest(num_stats=1)).stats[0].diskio.io_service_bytes
        assert (d.major, d.minor, d.device) == (253, 7, "")
        os.symlink("../../devices/virtual/block/dm-7", os.path.join(devblock, "253:7"))
        s.refresh()
        s.sample()
        [d] = s.container_info("/a", v1.ContainerInfoRequest(num_stats=1)).stats[0].diskio.io_service_bytes
        assert d.device == "/dev/dm-7"


def diskstats_tree(tmp_path, loops):
    t = Tree(tmp_path)
    for name, text in (("cpu.stat", "usage_usec 1\nuser_usec 1\nsystem_usec 0\n"),
                       ("memory.stat", "anon 1\nfile 1\n"), ("cgroup.procs", "1\n"),
                       ("cgroup.threads", "1\n"), ("io.stat", "")):
        t.write(t.root, name, text)             # the root container's own files
    os.makedirs(os.path.join(t.proc, "self"))
    t.write(os.path.join(t.proc, "self"), "mountinfo", "27 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n")
    write_diskstats(t, loops)
    return t


def write_diskstats(t, loops):
    lines = [f"   7 {i} loop{i} 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n" for i in range(loops)]
    lines.append(" 254 0 vda 41876 8616 2694690 23612 34189 126694 6135872 23193 0 10124 49091\n")
    t.write(t.proc, "diskstats", "".join(lines))


def root_fs(s):
    [st] = s.container_info("/", v1.ContainerInfoRequest(num_stats=1)).stats
    return [(f.device, f.reads_completed, f.sectors_written) for f in st.filesystem]


@pytest.mark.parametrize("loops", [300, 2000])
def test_the_root_disk_keeps_its_counters_behind_hundreds_of_other_diskstats_lines(tmp_path, loops):
    t = diskstats_tree(tmp_path, loops)
    with t.sampler(["/"]) as s:
        s.sample()
        assert root_fs(s) == [("/dev/vda", 41876, 6135872)]


def test_a_diskstats_that_grows_past_the_ring_gets_a_bigger_one_at_refresh(tmp_path):
    t = diskstats_tree(tmp_path, 10)
    with t.sampler(["/"]) as s:
        s.sample()
        assert root_fs(s) == [("/dev/vda", 41876, 6135872)]
        write_diskstats(t, 600)                  # 600 loop devices made since
        s.refresh()
        s.sample()
        assert root_fs(s) == [("/dev/vda", 41876, 6135872)]


def test_a_mount_point_showing_another_device_has_no_sizes(tmp_path):
    # "/" statfs'ed as if it were the filesystem of device 7:0 (a loop device
    # mounted there once, covered or unmounted since): its sizes would be
    # another filesystem's, so they are left out and counted.
    real = os.stat("/").st_dev
    s = FsSampler(["/", "/"], [7, os.major(real)], [0, os.minor(real)], 1, "/proc/diskstats", 64)
    assert s.sample(0) == 1
    assert s.fs[0]["valid"][0] & filesystems.FS_STATFS == 0 and s.fs[0]["capacity"][0] == 0
    assert s.fs[0]["valid"][1] & filesystems.FS_STATFS and s.fs[0]["capacity"][1] > 0
    assert s.moved_errors == 1


def test_a_failing_network_read_says_why_in_errors(tmp_path):
    t = Tree(tmp_path)
    t.cg("a", [10])
    t.pid(10, ns="A", dev=b"garbage\n")
    with t.sampler(["/a"]) as s:
        s.sample()
        assert not row(s, "/a")["valid"] & G["network"]
        e = s.errors("/a")
        assert e["parse_errors"] >= 1 and e["network"]["dev"] == "malformed"
        assert e["network"]["sockets"] is None and e["network"]["sock_diag"] is False
