"""The host's filesystems: the partition table (spec 11.1), FsSampler (statfs +
/proc/diskstats in one nogil sample, spec 11.4) and the FsStats facade.

Fixtures: tests/fixtures/mountinfo/ and tests/fixtures/realworld/diskstats/
(their SOURCES.md name the projects they come from). Values of the real host
are checked against os.statvfs, a parse of /proc/diskstats read around the
sample, and Debian's prometheus-node-exporter."""
import contextlib
import errno
import os
import re
import shutil
import socket
import subprocess
import time
import urllib.request

import numpy as np
import pytest

from cgsampler import v1
from cgsampler._native import diskstats
from cgsampler._native.filesystems import FsSampler
from cgsampler.filesystems import (DISKSTAT_DTYPE, FS_DISKSTATS, FS_DTYPE, FS_IO_FIELDS, FS_STATFS,
                                   Partition, device_names, fs_sampler, fs_stats, partitions)

HERE = os.path.dirname(__file__)
MOUNTINFO = os.path.join(HERE, "fixtures", "mountinfo")
DISKSTATS = os.path.join(HERE, "fixtures", "realworld", "diskstats")
NODE_EXPORTER = "/usr/bin/prometheus-node-exporter"


def write_mountinfo(tmp_path, text):
    path = tmp_path / "mountinfo"
    path.write_text(text)
    return str(path)


def table(parts):
    return [(p.device, p.mountpoint, p.fstype, p.major, p.minor) for p in parts]


def io_of(entry):
    return tuple(int(entry[f]) for f in FS_IO_FIELDS)


# --- layouts ---------------------------------------------------------------------------------

def test_record_layouts_mirror_the_c_structs():
    assert FS_DTYPE.itemsize == 136        # 5 statfs values, 11 counters, valid: 17 x u8
    assert DISKSTAT_DTYPE.itemsize == diskstats.DISK_STAT_SIZE == 184
    assert FS_DTYPE.names[:5] == ("capacity", "usage", "available", "inodes", "inodes_free")
    assert FS_DTYPE.names[5:16] == FS_IO_FIELDS and FS_DTYPE.names[16] == "valid"


# --- partition rules on handcrafted mountinfo ---------------------------------------------------

ROOT = "20 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"


def test_bind_mount_of_a_kept_source_is_skipped(tmp_path):
    path = write_mountinfo(tmp_path, ROOT
                           + "30 20 8:17 / /data rw - xfs /dev/sdb1 rw\n"
                           + "31 20 8:17 /sub /srv/data rw - xfs /dev/sdb1 rw\n")
    assert table(partitions(path)) == [("/dev/sda1", "/", "ext4", 8, 1),
                                       ("/dev/sdb1", "/data", "xfs", 8, 17)]


def test_root_keeps_its_entry_even_when_its_source_was_bind_mounted_first(tmp_path):
    path = write_mountinfo(tmp_path, "19 1 8:1 /var/x /early rw - ext4 /dev/sda1 rw\n" + ROOT)
    assert table(partitions(path)) == [("/dev/sda1", "/", "ext4", 8, 1)]


def test_tmpfs_is_keyed_by_mount_point_and_never_skipped_as_a_bind_mount(tmp_path):
    path = write_mountinfo(tmp_path, ROOT
                           + "21 20 0:25 / /run rw - tmpfs tmpfs rw\n"
                           + "22 20 0:26 / /dev/shm rw - tmpfs tmpfs rw\n"
                           + "23 20 0:27 / /dev/shm rw - tmpfs shm rw\n")   # over-mounted: the later one
    assert table(partitions(path)) == [("/dev/sda1", "/", "ext4", 8, 1),
                                       ("/run", "/run", "tmpfs", 0, 25),
                                       ("/dev/shm", "/dev/shm", "tmpfs", 0, 27)]


def test_overlay_is_keyed_by_its_device_numbers(tmp_path):
    path = write_mountinfo(tmp_path, ROOT
                           + "40 20 0:45 / /var/lib/docker/overlay2/a/merged rw - overlay overlay rw\n"
                           + "41 20 0:46 / /var/lib/docker/overlay2/b/merged rw - overlay overlay rw\n")
    assert table(partitions(path))[1:] == [
        ("overlay_0-45", "/var/lib/docker/overlay2/a/merged", "overlay", 0, 45),
        ("overlay_0-46", "/var/lib/docker/overlay2/b/merged", "overlay", 0, 46)]


def test_nfs_is_left_out_unless_asked_for_and_nfsd_never_counts(tmp_path):
    path = write_mountinfo(tmp_path, ROOT
                           + "50 20 0:42 / /mnt/a rw - nfs4 server:/export rw\n"
                           + "51 20 0:42 / /mnt/b rw - nfs4 server:/export rw\n"
                           + "52 20 0:43 / /proc/fs/nfsd rw - nfsd sunrpc rw\n")
    assert table(partitions(path)) == [("/dev/sda1", "/", "ext4", 8, 1)]
    assert table(partitions(path, include_nfs=True)) == [("/dev/sda1", "/", "ext4", 8, 1),
                                                         ("server:/export", "/mnt/a", "nfs4", 0, 42)]


def test_root_is_present_whatever_its_local_type(tmp_path):
    path = write_mountinfo(tmp_path, "1 0 0:2 / / rw - rootfs rootfs rw\n"
                           + "2 1 0:4 / /proc rw - proc proc rw\n")
    assert table(partitions(path)) == [("rootfs", "/", "rootfs", 0, 2)]


@pytest.mark.parametrize("fstype", ["9p", "nfs4", "virtiofs", "fuse.sshfs", "cifs", "ceph"])
def test_a_network_or_fuse_root_is_left_out(tmp_path, fstype):
    # its statfs waits on a server: a hung one would stall every sweep
    path = write_mountinfo(tmp_path, f"1 0 0:32 / / rw - {fstype} hostshare rw\n")
    assert partitions(path) == []
    assert table(partitions(path, include_nfs=True)) == (
        [("hostshare", "/", fstype, 0, 32)] if fstype.startswith("nfs") else [])


def test_types_kept_and_types_left_out(tmp_path):
    lines = [ROOT]
    kept = ["ext2", "ext3", "btrfs", "xfs", "zfs", "squashfs", "f2fs", "jfs", "reiserfs", "hfs", "hfsplus",
            "ntfs", "vfat", "fat", "msdos", "exfat", "udf", "iso9660"]
    dropped = ["proc", "sysfs", "devtmpfs", "cgroup2", "fuse.sshfs", "cifs", "autofs", "nfsd", "ramfs"]
    for i, t in enumerate(kept + dropped):
        lines.append(f"{100 + i} 20 9:{i} / /m/{t} rw - {t} /dev/x{i} rw\n")
    got = [p.fstype for p in partitions(write_mountinfo(tmp_path, "".join(lines)))]
    assert got == ["ext4"] + kept


def test_docker_devicemapper_mounts_are_skipped(tmp_path):
    path = write_mountinfo(tmp_path, ROOT + "60 20 253:15 / /var/lib/docker/devicemapper/mnt/abc rw"
                                             " - ext4 /dev/mapper/docker-253:2-1-abc rw\n")
    assert table(partitions(path)) == [("/dev/sda1", "/", "ext4", 8, 1)]
    assert len(partitions(path, excluded_prefixes=())) == 2


def test_btrfs_takes_the_device_numbers_of_its_mount_point(tmp_path):
    mnt = tmp_path / "vol"
    mnt.mkdir()
    st = os.stat(mnt)
    path = write_mountinfo(tmp_path, ROOT
                           + f"70 20 0:55 / {mnt} rw - btrfs /dev/sdc1 rw\n"
                           + "71 20 0:56 / /not/there rw - btrfs /dev/sdd1 rw\n"
                           + "72 20 0:57 / /img rw - btrfs image.raw rw\n")
    assert table(partitions(path))[1:] == [
        ("/dev/sdc1", str(mnt), "btrfs", os.major(st.st_dev), os.minor(st.st_dev)),
        ("/dev/sdd1", "/not/there", "btrfs", 0, 56),      # stat failed: mountinfo's numbers stay
        ("image.raw", "/img", "btrfs", 0, 57)]            # not a /dev/ source: unchanged


def test_default_path_is_under_proc_root(tmp_path):
    (tmp_path / "self").mkdir()
    (tmp_path / "self" / "mountinfo").write_text(ROOT)
    assert partitions(proc_root=str(tmp_path)) == [Partition("/dev/sda1", "/", "ext4", 8, 1)]


# --- partition rules on real mountinfo samples --------------------------------------------------

def test_real_ubuntu_with_snaps():
    # jc: root line with empty super options; 8 squashfs snaps on loop devices; /run/snapd/ns is a
    # second view of the /run tmpfs (0:25), kept under its own mount point.
    assert table(partitions(os.path.join(MOUNTINFO, "jc-ubuntu-hybrid-snaps-nsfs"))) == [
        ("/run", "/run", "tmpfs", 0, 25),
        ("/dev/mapper/ubuntu--vg-ubuntu--lv", "/", "ext4", 253, 0),
        ("/dev/shm", "/dev/shm", "tmpfs", 0, 27),
        ("/run/lock", "/run/lock", "tmpfs", 0, 28),
        ("/sys/fs/cgroup", "/sys/fs/cgroup", "tmpfs", 0, 29),
        ("/dev/sda2", "/boot", "ext4", 8, 2),
        ("/dev/loop0", "/snap/core18/2538", "squashfs", 7, 0),
        ("/dev/loop1", "/snap/core18/2409", "squashfs", 7, 1),
        ("/dev/loop3", "/snap/core20/1587", "squashfs", 7, 3),
        ("/dev/loop5", "/snap/snapd/16292", "squashfs", 7, 5),
        ("/dev/loop7", "/snap/lxd/23339", "squashfs", 7, 7),
        ("/dev/loop6", "/snap/snapd/16010", "squashfs", 7, 6),
        ("/run/snapd/ns", "/run/snapd/ns", "tmpfs", 0, 25),
        ("/run/user/1000", "/run/user/1000", "tmpfs", 0, 52),
        ("/dev/loop8", "/snap/core20/1611", "squashfs", 7, 8),
        ("/dev/loop2", "/snap/lxd/23537", "squashfs", 7, 2)]


def test_real_octal_escapes_and_a_bind_mounted_volume():
    # node_exporter: /dev/sda mounted at two kubelet paths (\040 and \011 in them): the first is kept.
    vmdk = ("/var/lib/kubelet/plugins/kubernetes.io/vsphere-volume/mounts/[vsanDatastore] "
            "bafb9e5a-8856-7e6c-699c-801844e77a4a/kubernetes-dynamic-pvc-3eba5bba-48a3-11e8-89ab-005056b92113.vmdk")
    assert table(partitions(os.path.join(MOUNTINFO, "node-exporter-host-octal-escapes"))) == [
        ("/run", "/run", "tmpfs", 0, 25),
        ("/dev/dm-2", "/", "ext4", 259, 2),
        ("/dev/shm", "/dev/shm", "tmpfs", 0, 26),
        ("/run/lock", "/run/lock", "tmpfs", 0, 27),
        ("/sys/fs/cgroup", "/sys/fs/cgroup", "tmpfs", 0, 28),
        ("/dev/sda3", "/boot", "ext2", 260, 3),
        ("/run/user/1000", "/run/user/1000", "tmpfs", 0, 79),
        ("/dev/sda", vmdk, "ext4", 260, 0),
        ("/dev/mapper/rhel-root", "/var/lib/containers/storage/overlay", "xfs", 253, 0)]


@pytest.mark.parametrize("name, nfs_mount", [("procfs-nfs-overlay-doublespace", "/mnt/nfs/test"),
                                             ("node-exporter-nfs-dupe", "/mnt/nfs/test")])
def test_real_nfs_samples(name, nfs_mount):
    path = os.path.join(MOUNTINFO, name)
    base = [("/dev/sda1", "/", "ext4", 8, 1)]
    if name.startswith("procfs"):
        base.append(("/dev/mapper/rhel-root", "/var/lib/containers/storage/overlay", "xfs", 253, 0))
    assert table(partitions(path)) == base          # "rootfs" at /root, nfs4 and nfs left out
    # Three mounts of one NFS export (nfs4 twice, nfs once): measured once, at the first mount.
    assert table(partitions(path, include_nfs=True)) == (
        base[:1] + [("192.168.1.1:/srv/test", nfs_mount, "nfs4", 0, 42)] + base[1:])


def test_real_docker_container_on_aufs():
    # runc: inside a container; / is aufs (not a kept type, kept anyway), docker's volume and three
    # bind-mounted files all come from /dev/nbd0.
    assert table(partitions(os.path.join(MOUNTINFO, "runc-systemd-aufs"))) == [
        ("/dev", "/dev", "tmpfs", 0, 36),
        ("/sys/fs/cgroup", "/sys/fs/cgroup", "tmpfs", 0, 39),
        ("/dev/nbd0", "/var/lib/docker", "ext4", 43, 0),
        ("/dev/shm", "/dev/shm", "tmpfs", 0, 33),
        ("/tmp", "/tmp", "tmpfs", 0, 40),
        ("none", "/", "aufs", 0, 32)]


def test_real_fedora_with_docker_devicemapper():
    assert table(partitions(os.path.join(MOUNTINFO, "runc-fedora"))) == [
        ("/dev/shm", "/dev/shm", "tmpfs", 0, 16),
        ("/run", "/run", "tmpfs", 0, 17),
        ("/sys/fs/cgroup", "/sys/fs/cgroup", "tmpfs", 0, 18),
        ("/dev/mapper/ssd-root--f20", "/", "ext4", 253, 2),
        ("/tmp", "/tmp", "tmpfs", 0, 31),
        ("/dev/sdb1", "/boot", "ext4", 8, 17),
        ("/dev/mapper/ssd-home", "/home", "ext4", 253, 4),
        ("/dev/mapper/ssd-virt", "/var/lib/libvirt/images", "ext4", 253, 5),
        ("/dev/mapper/HelpDeskRHEL6-FedoraRoot", "/mnt/old", "ext4", 253, 12),
        ("/dev/mapper/ssd-root", "/tmp/mnt", "ext4", 253, 3)]


# --- device names ------------------------------------------------------------------------------

def test_device_names_from_diskstats_rows_keep_every_device():
    with open(os.path.join(DISKSTATS, "procfs-mixed-14-18-20-fields"), "rb") as f:
        names = device_names(diskstats.parse_diskstats(f.read()))
    assert names[(259, 1)] == "/dev/nvme0n1p1"
    assert names[(179, 1)] == "/dev/mmcblk0p1"
    assert names[(252, 0)] == "/dev/dm-0"
    assert names[(7, 0)] == "/dev/loop0"
    assert names[(8, 0)] == "/dev/sdc"          # 8:0 is repeated in this sample; the last name wins


def test_device_names_from_sysfs_links(tmp_path):
    block = tmp_path / "dev" / "block"
    block.mkdir(parents=True)
    os.symlink("../../devices/pci0000:00/0000:00:1d.0/nvme/nvme0/nvme0n1/nvme0n1p2", block / "259:2")
    os.symlink("../../devices/virtual/block/md127", block / "9:127")
    os.symlink("../../devices/pci0000:00/cciss0/block/cciss!c0d0", block / "104:0")
    (block / "junk").write_text("")
    assert device_names(sys_root=str(tmp_path)) == {
        (259, 2): "/dev/nvme0n1p2", (9, 127): "/dev/md127", (104, 0): "/dev/cciss/c0d0"}


def test_device_names_of_this_host_match_its_diskstats():
    with open("/proc/diskstats", "rb") as f:
        from_proc = device_names(diskstats.parse_diskstats(f.read()))
    assert device_names() == from_proc


# --- FsSampler on fixture diskstats ------------------------------------------------------------

def sampler_on(path, devices, history=2, max_disks=64):
    """A sampler measuring "/" once per (major, minor), with `path` as its diskstats file."""
    return FsSampler(["/"] * len(devices), [d[0] for d in devices], [d[1] for d in devices],
                     history, path, max_disks, check_devices=False)


def test_fixture_with_14_18_and_20_field_lines():
    # node_exporter's fixture: sda has 11 counters, sdb 15 (discard), sdc 17 (discard + flush).
    s = sampler_on(os.path.join(DISKSTATS, "node-exporter-14-18-20-fields"), [(8, 0), (8, 16), (8, 32), (0, 45)])
    assert s.sample(0) == 4
    row = s.fs[0]
    assert io_of(row[0]) == (25354637, 34367663, 1003346126, 18492372, 28444756, 11134226, 505697032,
                             63877960, 0, 9653880, 82621804)
    assert io_of(row[1]) == (326552, 841, 9657779, 84, 41822, 2895, 1972905, 5007, 0, 60730, 67070)
    assert io_of(row[2]) == (126552, 141, 1657779, 14, 11822, 1895, 172905, 1007, 0, 10730, 17070)
    assert io_of(row[3]) == (0,) * 11                  # an overlay's 0:45: no line, nothing invented
    assert list(row["valid"]) == [FS_STATFS | FS_DISKSTATS] * 3 + [FS_STATFS]
    n = int(s.disk_count[0])
    assert n == 51 and s.disk_overflow[0] == 0
    disks = {d["name"]: d for d in s.diskstats[0][:n]}
    assert disks[b"sdb"]["sectors_discarded"] == 1925173784 and disks[b"sdb"]["flushes_completed"] == 0
    assert disks[b"sdc"]["flushes_completed"] == 1555 and disks[b"sdc"]["flush_time"] == 1944
    assert (disks[b"sdc"]["major"], disks[b"sdc"]["minor"]) == (8, 32)
    assert not s.fs[1]["valid"].any() and s.disk_count[1] == 0     # row 1 not sampled yet


def test_every_fixture_row_equals_the_python_parse_of_the_file():
    for name in sorted(os.listdir(DISKSTATS)):
        path = os.path.join(DISKSTATS, name)
        with open(path, "rb") as f:
            expected = diskstats.parse_diskstats(f.read())
        s = sampler_on(path, [(d["major"], d["minor"]) for d in expected], max_disks=256)
        s.sample(1)
        got = s.diskstats[1][:int(s.disk_count[1])]
        assert [(int(d["major"]), int(d["minor"]), d["name"].decode()) for d in got] == \
            [(d["major"], d["minor"], d["name"]) for d in expected], name
        for g, e in zip(got, expected):
            assert [int(g[k]) for k in diskstats.COUNTERS] == [e[k] or 0 for k in diskstats.COUNTERS], name
        # Each filesystem joined to the first line with its numbers (procfs repeats 8:0).
        first = {}
        for d in expected:
            first.setdefault((d["major"], d["minor"]), d)
        for entry, d in zip(s.fs[1], expected):
            ref = first[(d["major"], d["minor"])]
            assert io_of(entry) == tuple(ref[k] or 0 for k in FS_IO_FIELDS), name


def test_lxcfs_17_field_line_and_a_line_without_indent():
    s = sampler_on(os.path.join(DISKSTATS, "psutil-2148-lxcfs-17-fields-no-indent"), [(8, 0)])
    s.sample(0)
    assert io_of(s.fs[0][0]) == (0, 0, 0, 0, 2, 0, 42, 7, 0, 0, 0)


def test_file_rewritten_in_place_is_reread_through_the_kept_fd(tmp_path):
    path = tmp_path / "diskstats"
    path.write_text("   8       0 sda 1 2 3 4 5 6 7 8 9 10 11\n   8       1 sda1 1 1 1 1 1 1 1 1 1 1 1\n")
    s = sampler_on(str(path), [(8, 1)], history=3)
    s.sample(0)
    with open(path, "w") as f:              # same inode, now shorter
        f.write("8 1 sda1 21 22 23 24 25 26 27 28 29 30 31\n")
    s.sample(2)
    assert list(s.disk_count) == [2, 0, 1]
    assert io_of(s.fs[0][0]) == (1,) * 11
    assert io_of(s.fs[2][0]) == tuple(range(21, 32))


def test_file_larger_than_the_buffer_is_read_to_its_end(tmp_path):
    lines = [f"{8 + i // 256} {i % 256} sd{i} {i} 0 0 0 0 0 0 0 0 0 {i * 3} 0 0 0 0 0 0\n" for i in range(3000)]
    path = tmp_path / "diskstats"
    path.write_text("".join(lines))
    assert path.stat().st_size > 5 * 16384
    s = sampler_on(str(path), [(8 + 2999 // 256, 2999 % 256)], max_disks=4000)
    s.sample(0)
    assert s.disk_count[0] == 3000 and s.disk_overflow[0] == 0
    assert s.diskstats[0][2999]["name"] == b"sd2999"
    assert io_of(s.fs[0][0]) == (2999,) + (0,) * 9 + (8997,)
    s.sample(1)                             # the grown buffer is kept
    assert s.disk_count[1] == 3000


def test_lines_past_max_disks_are_counted_and_not_joined(tmp_path):
    path = tmp_path / "diskstats"
    path.write_text("".join(f"8 {i} sd{i} 1 1 1 1 1 1 1 1 1 1 1\n" for i in range(5)))
    s = sampler_on(str(path), [(8, 1), (8, 4)], max_disks=2)
    s.sample(0)
    assert (s.disk_count[0], s.disk_overflow[0]) == (2, 3)
    assert list(s.fs[0]["valid"]) == [FS_STATFS | FS_DISKSTATS, FS_STATFS]


def test_missing_diskstats_file_is_not_collected(tmp_path):
    s = sampler_on(str(tmp_path / "absent"), [(8, 0)])
    assert s.diskstats_errno == errno.ENOENT
    assert s.sample(0) == 1
    assert s.disk_count[0] == 0 and s.fs[0]["valid"] == FS_STATFS
    assert (s.read_errors, s.parse_errors) == (0, 0)


def test_malformed_diskstats_is_counted_and_clears_only_the_disk_bits(tmp_path):
    path = tmp_path / "diskstats"
    path.write_text("8 0 sda 1 2 3 4 5 6 7 8 9 10 11\n8 1 sda1 1 2 x\n")
    s = sampler_on(str(path), [(8, 0)])
    s.sample(0)
    assert s.parse_errors == 1 and s.disk_count[0] == 0
    assert s.fs[0]["valid"] == FS_STATFS and io_of(s.fs[0][0]) == (0,) * 11
    assert s.fs[0]["capacity"][0] > 0


def test_bad_arguments():
    with pytest.raises(ValueError):
        FsSampler(["/"], [8, 8], [0], 2)
    with pytest.raises(ValueError):
        FsSampler([b"/a\0b"], [8], [0], 2)
    with pytest.raises(ValueError):
        FsSampler(["/"], [8], [0], 0)
    s = FsSampler(["/"], [8], [0], 2)
    with pytest.raises(IndexError):
        s.sample(2)
    with pytest.raises(IndexError):
        s.sample(-1)


# --- FsSampler on this host ------------------------------------------------------------------

def test_root_filesystem_matches_os_statvfs():
    parts = partitions()
    i = next(k for k, p in enumerate(parts) if p.mountpoint == "/")
    s = fs_sampler(parts, 2)
    s.sample(1)
    st = os.statvfs("/")
    e = s.fs[1][i]
    assert e["valid"] & FS_STATFS
    assert e["capacity"] == st.f_blocks * st.f_frsize
    assert e["inodes"] == st.f_files
    slack = 256 << 20                          # other writers on this machine may move these
    assert abs(int(e["usage"]) - (st.f_blocks - st.f_bfree) * st.f_frsize) < slack
    assert abs(int(e["available"]) - st.f_bavail * st.f_frsize) < slack
    assert abs(int(e["inodes_free"]) - st.f_ffree) < 100000


def test_diskstats_rows_match_a_parse_of_the_file_read_around_the_sample():
    parts = partitions()
    s = fs_sampler(parts, 1)
    with open("/proc/diskstats", "rb") as f:
        before = diskstats.parse_diskstats(f.read())
    s.sample(0)
    with open("/proc/diskstats", "rb") as f:
        after = diskstats.parse_diskstats(f.read())
    got = s.diskstats[0][:int(s.disk_count[0])]
    assert [(d["major"], d["minor"], d["name"]) for d in before] == \
        [(int(g["major"]), int(g["minor"]), g["name"].decode()) for g in got]
    for b, g, a in zip(before, got, after):
        for k in FS_IO_FIELDS:
            if k == "io_in_progress":
                continue                       # a gauge: no order between the three reads
            assert b[k] <= int(g[k]) <= a[k], (b["name"], k)
            if b[k] == a[k]:
                assert int(g[k]) == b[k]
    by_dev = {(int(g["major"]), int(g["minor"])): g for g in got}
    for p, e in zip(parts, s.fs[0]):
        d = by_dev.get((p.major, p.minor))
        assert bool(e["valid"] & FS_DISKSTATS) == (d is not None), p
        assert io_of(e) == (tuple(int(d[k]) for k in FS_IO_FIELDS) if d is not None else (0,) * 11)


@pytest.fixture
def tmpfs_mount(tmp_path):
    """A 1 MiB tmpfs with 100 inodes, mounted on a directory of tmp_path."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,nr_inodes=100", "cgs-test", str(mnt)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip()}")
    yield str(mnt)
    subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def test_a_vanished_mount_point_clears_only_its_own_entry(tmpfs_mount):
    parts = partitions()
    st = os.stat(tmpfs_mount)
    mine = Partition(tmpfs_mount, tmpfs_mount, "tmpfs", os.major(st.st_dev), os.minor(st.st_dev))
    assert mine in parts
    s = fs_sampler(parts, 2)
    i = parts.index(mine)
    assert s.sample(0) == len(parts)
    e = s.fs[0][i]
    assert (e["capacity"], e["usage"], e["available"], e["inodes"], e["inodes_free"], e["valid"]) == \
        (1 << 20, 0, 1 << 20, 100, 99, FS_STATFS)
    subprocess.run(["umount", tmpfs_mount], check=True)
    os.rmdir(tmpfs_mount)
    assert s.sample(1) == len(parts) - 1
    assert s.statfs_errors == 1
    assert tuple(s.fs[1][i]) == (0,) * 17
    others = [k for k in range(len(parts)) if k != i]
    assert all(s.fs[1][k]["valid"] & FS_STATFS for k in others)
    assert s.fs[1][others]["capacity"].tolist() == s.fs[0][others]["capacity"].tolist()


# --- the FsStats facade ----------------------------------------------------------------------

def test_fs_stats_leaves_out_failed_statfs_and_fills_the_v1_fields():
    parts = [Partition("/dev/sda1", "/", "ext4", 8, 1), Partition("/gone", "/gone", "tmpfs", 0, 40),
             Partition("overlay_0-45", "/o", "overlay", 0, 45)]
    row = np.zeros(3, dtype=FS_DTYPE)
    row[0] = (1000, 400, 500, 64, 40) + tuple(range(1, 12)) + (FS_STATFS | FS_DISKSTATS,)
    row[1]["valid"] = 0
    row[2] = (2000, 0, 2000, 10, 9) + (0,) * 11 + (FS_STATFS,)
    assert fs_stats(row, parts) == [
        v1.FsStats(device="/dev/sda1", type="vfs", capacity=1000, usage=400, base_usage=0, available=500,
                   has_inodes=True, inodes=64, inodes_free=40, reads_completed=1, reads_merged=2,
                   sectors_read=3, read_time=4, writes_completed=5, writes_merged=6, sectors_written=7,
                   write_time=8, io_in_progress=9, io_time=10, weighted_io_time=11),
        v1.FsStats(device="overlay_0-45", type="vfs", capacity=2000, available=2000, has_inodes=True,
                   inodes=10, inodes_free=9)]
    with pytest.raises(ValueError):
        fs_stats(row[:2], parts)


def test_fs_stats_of_a_real_sample_has_the_root_filesystem():
    parts = partitions()
    s = fs_sampler(parts, 1)
    s.sample(0)
    stats = fs_stats(s.fs[0], parts)
    root = next(p for p in parts if p.mountpoint == "/")
    mine = next(x for x in stats if x.device == root.device)
    assert mine.capacity == os.statvfs("/").f_blocks * os.statvfs("/").f_frsize
    assert '"type":"vfs"' in mine.to_json().replace(" ", "")


# --- against prometheus-node-exporter -----------------------------------------------------------

# ours -> (node_exporter metric, factor it applies)
NE_METRICS = {
    "reads_completed": ("node_disk_reads_completed_total", 1),
    "reads_merged": ("node_disk_reads_merged_total", 1),
    "sectors_read": ("node_disk_read_bytes_total", 512),
    "read_time": ("node_disk_read_time_seconds_total", 1.0 / 1000.0),
    "writes_completed": ("node_disk_writes_completed_total", 1),
    "writes_merged": ("node_disk_writes_merged_total", 1),
    "sectors_written": ("node_disk_written_bytes_total", 512),
    "write_time": ("node_disk_write_time_seconds_total", 1.0 / 1000.0),
    "io_in_progress": ("node_disk_io_now", 1),
    "io_time": ("node_disk_io_time_seconds_total", 1.0 / 1000.0),
    "weighted_io_time": ("node_disk_io_time_weighted_seconds_total", 1.0 / 1000.0),
}
NE_LINE = re.compile(r'^(node_disk_\w+)\{device="([^"]+)"\} (\S+)$', re.M)


@contextlib.contextmanager
def node_exporter(procfs="/proc"):
    if not os.access(NODE_EXPORTER, os.X_OK):
        pytest.skip(f"{NODE_EXPORTER} is not installed (Debian package prometheus-node-exporter)")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen([NODE_EXPORTER, "--collector.disable-defaults", "--collector.diskstats",
                             f"--web.listen-address=127.0.0.1:{port}", f"--path.procfs={procfs}",
                             "--collector.diskstats.device-exclude=^$"],     # every device, loops too
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def scrape():
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
            text = r.read().decode()
        return {(m, dev): float(v) for m, dev, v in NE_LINE.findall(text)}

    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                scrape()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"node_exporter did not start: {proc.stderr.read().decode()[-500:]}")
                time.sleep(0.05)
        yield scrape
    finally:
        proc.terminate()
        proc.wait(5)


def test_node_exporter_reads_the_same_counters_from_its_own_fixture(tmp_path):
    shutil.copy(os.path.join(DISKSTATS, "node-exporter-14-18-20-fields"), tmp_path / "diskstats")
    s = FsSampler([], [], [], 1, str(tmp_path / "diskstats"))
    s.sample(0)
    rows = s.diskstats[0][:int(s.disk_count[0])]
    with node_exporter(str(tmp_path)) as scrape:
        ne = scrape()
    assert len(rows) == 51
    compared = 0
    for d in rows:
        dev = d["name"].decode()
        for ours, (metric, factor) in NE_METRICS.items():
            assert ne[(metric, dev)] == float(int(d[ours])) * factor, (dev, ours)
            compared += 1
    assert compared == 51 * 11


def test_node_exporter_agrees_on_this_hosts_disks():
    s = FsSampler([], [], [], 2)
    with node_exporter() as scrape:
        s.sample(0)
        ne = scrape()
        s.sample(1)
    before = {d["name"].decode(): d for d in s.diskstats[0][:int(s.disk_count[0])]}
    after = {d["name"].decode(): d for d in s.diskstats[1][:int(s.disk_count[1])]}
    assert before and set(before) == {dev for _, dev in ne}
    equal = 0
    for dev, b in before.items():
        a = after[dev]
        for ours, (metric, factor) in NE_METRICS.items():
            if ours == "io_in_progress":
                continue
            lo, hi = float(int(b[ours])) * factor, float(int(a[ours])) * factor
            assert lo <= ne[(metric, dev)] <= hi, (dev, ours)
            if lo == hi:                       # idle counter: the values must be equal
                assert ne[(metric, dev)] == lo
                equal += 1
    assert equal > 0
