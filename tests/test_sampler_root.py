"""The root container on this host: its filesystems come from mountinfo + statfs
with the device's /proc/diskstats counters, through the Sampler and through
`cgsampler info /` (cAdvisor's root-container FsStats, spec 11.1 and 11.4)."""
import json
import os
import subprocess
import sys

import pytest

import cgsampler

from cgsampler import Sampler, filesystems, v1
from cgsampler._native.diskstats import parse_diskstats

SRC = os.path.dirname(os.path.dirname(os.path.abspath(cgsampler.__file__)))   # the package under test (installed, or src/)


def root_partition():
    [p] = [p for p in filesystems.partitions() if p.mountpoint == "/"]
    return p


def diskstats_of(major, minor):
    with open("/proc/diskstats", "rb") as f:
        rows = parse_diskstats(f.read())
    return next((r for r in rows if (r["major"], r["minor"]) == (major, minor)), None)


def test_the_root_filesystem_has_statfs_sizes_and_its_devices_diskstats_counters():
    p = root_partition()
    disk = diskstats_of(p.major, p.minor)
    if disk is None:
        pytest.skip(f"{p.device} ({p.major}:{p.minor}) has no /proc/diskstats line here (overlay, tmpfs...)")
    with Sampler(containers=["/"], history=2) as s:
        before = diskstats_of(p.major, p.minor)
        s.sample()
        after = diskstats_of(p.major, p.minor)
        [st] = s.container_info("/").stats
    fs = {f.device: f for f in st.filesystem}
    got = fs[p.device]
    vfs = os.statvfs("/")
    assert got.type == "vfs" and got.has_inodes and got.base_usage == 0
    assert got.capacity == vfs.f_blocks * vfs.f_frsize
    assert got.inodes == vfs.f_files
    assert got.usage + got.available <= got.capacity
    for field in ("reads_completed", "sectors_read", "writes_completed", "sectors_written", "io_time",
                  "weighted_io_time"):
        assert before[field] <= getattr(got, field) <= after[field], field
    assert got.reads_completed > 0                        # the root disk has been read since boot


def test_cgsampler_info_of_root_prints_the_filesystems_with_their_counters():
    p = root_partition()
    if diskstats_of(p.major, p.minor) is None:
        pytest.skip(f"{p.device} has no /proc/diskstats line here")
    out = subprocess.run([sys.executable, "-m", "cgsampler", "info", "/", "--num-stats", "1",
                          "--interval", "0.05"], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": SRC}).stdout
    [st] = json.loads(out)["stats"]
    by_device = {f["device"]: f for f in st["filesystem"]}
    root = by_device[p.device]
    assert root["capacity"] == os.statvfs("/").f_blocks * os.statvfs("/").f_frsize
    assert root["reads_completed"] > 0 and root["sectors_read"] > 0
    # tmpfs mounts are there too, keyed by mount point, with no disk counters
    tmpfs = [q.device for q in filesystems.partitions() if q.fstype == "tmpfs"]
    assert tmpfs and all(by_device[d]["reads_completed"] == 0 for d in tmpfs if d in by_device)
    assert any(d in by_device for d in tmpfs)


def test_disable_filesystem_leaves_the_root_without_filesystems():
    with Sampler(containers=["/"], history=1, disable=("filesystem",)) as s:
        s.sample()
        [st] = s.container_info("/").stats
    assert st.filesystem is None


def test_a_disabled_group_is_not_in_the_spec():
    with Sampler(containers=["/"], history=1) as on:
        spec = on.spec("/")
        assert spec.has_filesystem
    with Sampler(containers=["/"], history=1,
                 disable=("filesystem", "diskio", "network", "tcp", "udp")) as off:
        spec = off.spec("/")
    assert (spec.has_filesystem, spec.has_diskio, spec.has_network) == (False,) * 3


def test_refresh_picks_up_a_new_mount_and_drops_an_unmounted_one(tmp_path):
    import subprocess as sp
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    with Sampler(containers=["/"], history=2) as s:
        assert str(mnt) not in [p.mountpoint for p in s._partitions]
        if sp.run(["mount", "-t", "tmpfs", "-o", "size=1m", "cgs-test", str(mnt)]).returncode != 0:
            pytest.skip("cannot mount a tmpfs here")
        try:
            s.refresh()
            s.sample()
            [st] = s.container_info("/", v1.ContainerInfoRequest(num_stats=1)).stats
            got = {f.device: f for f in st.filesystem}[str(mnt)]
            assert got.capacity == 1 << 20
        finally:
            sp.run(["umount", str(mnt)], check=True)
        s.refresh()
        s.sample()
        [st] = s.container_info("/", v1.ContainerInfoRequest(num_stats=1)).stats
        assert str(mnt) not in {f.device for f in st.filesystem}
