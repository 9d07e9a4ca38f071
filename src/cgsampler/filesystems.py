"""The host's filesystems (cAdvisor's partition table) and their v1 ``FsStats``.

Off the hot path: `partitions` reads mountinfo once, `device_names` names block
devices, `fs_stats` turns one row of `FsSampler.fs` into v1 objects. The
sampling itself (statfs + /proc/diskstats, nogil) is
``cgsampler._native.filesystems.FsSampler``; its record layouts are defined
here. Semantics: ../shared/reference/cadvisor-v1-spec.md 11.1 and 11.4.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from . import hierarchy, v1

# Filesystem types kept: cAdvisor v0.33-v0.52's list (without nfs*) plus v0.57's additions.
FS_TYPES = frozenset((
    "btrfs", "overlay", "tmpfs", "xfs", "zfs",
    "squashfs", "f2fs", "jfs", "reiserfs", "hfs", "hfsplus", "ntfs", "vfat", "fat", "msdos",
    "exfat", "udf", "iso9660"))

# The 11 classic /proc/diskstats counters, in the kernel's column order (spec 11.4).
FS_IO_FIELDS = ("reads_completed", "reads_merged", "sectors_read", "read_time",
                "writes_completed", "writes_merged", "sectors_written", "write_time",
                "io_in_progress", "io_time", "weighted_io_time")

# Bits of FS_DTYPE["valid"].
FS_STATFS = 1        # statfs() of the mount point succeeded: capacity ... inodes_free are real
FS_DISKSTATS = 2     # a /proc/diskstats line with the partition's major:minor was read

# One filesystem in one sample; mirrors FsEntry in _native/filesystems.pyx (136 bytes).
FS_DTYPE = np.dtype(
    [("capacity", "u8"),       # f_blocks * f_frsize
     ("usage", "u8"),          # (f_blocks - f_bfree) * f_frsize
     ("available", "u8"),      # f_bavail * f_frsize
     ("inodes", "u8"),         # f_files (total)
     ("inodes_free", "u8")]    # f_ffree
    + [(name, "u8") for name in FS_IO_FIELDS]
    + [("valid", "u8")])       # FS_STATFS | FS_DISKSTATS

# One /proc/diskstats line; mirrors DiskStat in _native/diskstats.pxd (184 bytes).
# Bit i of `present` is set when the line printed counter i of DISK_COUNTERS.
DISK_COUNTERS = FS_IO_FIELDS + (
    "discards_completed", "discards_merged", "sectors_discarded", "discard_time",
    "flushes_completed", "flush_time")
DISKSTAT_DTYPE = np.dtype(
    [("major", "u4"), ("minor", "u4"), ("present", "u4"), ("pad", "u4"), ("name", "S32")]
    + [(name, "u8") for name in DISK_COUNTERS])


@dataclass(frozen=True)
class Partition:
    """One filesystem of the partition table; ``device`` is cAdvisor's key."""
    device: str        # mount source; the mount point for tmpfs; overlay_<major>-<minor> for overlay
    mountpoint: str
    fstype: str
    major: int
    minor: int


# Filesystems whose statfs() waits on a server or a daemon: never statfs'ed
# inside a sweep, not even at "/" (a hung server would stall every sample).
REMOTE_TYPE_PREFIXES = ("nfs", "cifs", "smb", "9p", "virtiofs", "ceph", "glusterfs", "fuse", "afs",
                        "lustre", "gpfs", "beegfs", "davfs", "sshfs", "ncpfs", "coda")


def _remote(fstype: str) -> bool:
    return fstype.startswith(REMOTE_TYPE_PREFIXES)


def _kept(fstype: str, include_nfs: bool) -> bool:
    return (fstype.startswith("ext") or fstype in FS_TYPES
            or (include_nfs and fstype in ("nfs", "nfs4")))


def _partition(m: hierarchy.Mount) -> Partition:
    device, major, minor = m.source, m.major, m.minor
    if m.fstype == "tmpfs":
        device = m.mount_point
    elif m.fstype == "overlay":
        device = f"overlay_{major}-{minor}"
    elif m.fstype == "btrfs" and major == 0 and device.startswith("/dev/"):
        # btrfs reports an anonymous 0:N device; cAdvisor takes st_dev of the
        # mount point, which is what stat() of files in that filesystem shows.
        try:
            st = os.stat(m.mount_point)
            major, minor = os.major(st.st_dev), os.minor(st.st_dev)
        except OSError:
            pass
    return Partition(device, m.mount_point, m.fstype, major, minor)


# cAdvisor skips the mounts of docker's devicemapper graph driver (one per container).
EXCLUDED_PREFIXES = ("/var/lib/docker/devicemapper/mnt/",)


def partitions(mountinfo_path: str | None = None, proc_root: str = "/proc",
               include_nfs: bool = False, excluded_prefixes=EXCLUDED_PREFIXES) -> list[Partition]:
    """The filesystems cAdvisor reports for the root container, in mountinfo order.

    Reads ``mountinfo_path`` (default ``<proc_root>/self/mountinfo``: this
    process's mount namespace, as cAdvisor reads its own). Rules (spec 11.1):
    keep ext*, btrfs, overlay, tmpfs, xfs, zfs and v0.57's extra types; a
    second mount of an already kept source is a bind mount and is skipped,
    except tmpfs, which is keyed by mount point (a later tmpfs on the same
    mount point replaces the earlier, hidden one); mount points under
    ``excluded_prefixes`` are skipped; the mount at ``/`` is always in the
    table, with mount point ``/``, unless it is a network or FUSE filesystem.

    NFS (nfs, nfs4) is left out unless ``include_nfs``, and so is a network or
    FUSE root (REMOTE_TYPE_PREFIXES): `FsSampler` calls statfs() on every mount
    point inside one nogil sweep with no timeout, and a hung server would stall
    that sweep (and every metric in it) for as long as the server is away.
    cAdvisor keeps nfs* and its root whatever it is, and bounds statfs with a 2 s
    timeout instead.

    Raises OSError if the file cannot be read, errors.MalformedFile if a line
    does not parse.
    """
    if mountinfo_path is None:
        mountinfo_path = os.path.join(proc_root, "self", "mountinfo")
    with open(mountinfo_path, "rb") as f:
        mounts = hierarchy.parse_mountinfo(f.read())
    table: dict[str, Partition] = {}
    root = None
    for m in mounts:
        if m.mount_point == "/":
            root = m                 # the last one is the visible one
        if not _kept(m.fstype, include_nfs) or m.mount_point.startswith(tuple(excluded_prefixes)):
            continue
        if m.source in table and m.fstype != "tmpfs":
            continue                 # bind mount of a source already kept
        p = _partition(m)
        table[p.device] = p
    if root is not None and (not _remote(root.fstype) or _kept(root.fstype, include_nfs)):
        # "/" is always there and always under its own mount point, even when
        # the same source was seen first at another (bind) mount point.
        p = _partition(root)
        table[p.device] = p
    return list(table.values())


def device_names(rows=None, sys_root: str = "/sys") -> dict:
    """(major, minor) -> "/dev/<name>" for every block device, partitions included.

    ``rows``: /proc/diskstats entries (dicts from ``diskstats.parse_diskstats``
    or DISKSTAT_DTYPE records); without them ``<sys_root>/dev/block`` is read.
    Unlike cAdvisor (sd*, vd*, xvd*, dm-* only) NVMe, MMC, md, loop and every
    other device the kernel lists are named.
    """
    names = {}
    if rows is not None:
        for r in rows:
            name = r["name"]
            if isinstance(name, bytes):
                name = name.rstrip(b"\0").decode("utf-8", "surrogateescape")
            names[(int(r["major"]), int(r["minor"]))] = "/dev/" + name
        return names
    base = os.path.join(sys_root, "dev", "block")
    try:
        entries = os.listdir(base)
    except OSError:
        return names
    for entry in entries:
        try:
            major, minor = (int(x) for x in entry.split(":"))
            # The link ends in the kernel name; sysfs writes "/" in names as "!" (cciss!c0d0).
            name = os.path.basename(os.readlink(os.path.join(base, entry))).replace("!", "/")
        except (OSError, ValueError):
            continue
        names[(major, minor)] = "/dev/" + name
    return names


MIN_DISKS = 256


def diskstats_lines(diskstats_path: str = "/proc/diskstats") -> int:
    """Lines of the diskstats file now (0 if unreadable)."""
    try:
        with open(diskstats_path, "rb") as f:
            return f.read(64 << 20).count(b"\n")
    except OSError:
        return 0


def disk_capacity(lines: int) -> int:
    """Diskstats lines an FsSampler keeps per sample for a file of `lines`:
    room for twice as many, at least MIN_DISKS."""
    return max(MIN_DISKS, 2 * lines)


def fs_sampler(parts: list[Partition], history: int, diskstats_path: str = "/proc/diskstats",
               max_disks: int | None = None):
    """An FsSampler for these partitions (entry i of each row is ``parts[i]``);
    `max_disks` defaults to disk_capacity() of the file now."""
    if max_disks is None:
        max_disks = disk_capacity(diskstats_lines(diskstats_path))
    from ._native.filesystems import FsSampler
    return FsSampler([p.mountpoint for p in parts], [p.major for p in parts],
                     [p.minor for p in parts], history, diskstats_path, max_disks)


def fs_stats(fs_row_entries, partitions: list[Partition]) -> list[v1.FsStats]:
    """v1 FsStats of one sample: ``fs_row_entries`` is a row of FsSampler.fs
    (FS_DTYPE, one entry per partition, same order). Filesystems whose statfs
    failed are left out, as cAdvisor does; IO fields are 0 where no diskstats
    line matched (overlay, tmpfs, btrfs)."""
    if len(fs_row_entries) != len(partitions):
        raise ValueError(f"{len(fs_row_entries)} entries for {len(partitions)} partitions")
    out = []
    for e, p in zip(fs_row_entries.tolist(), partitions):   # tuples of ints in FS_DTYPE order
        if not e[-1] & FS_STATFS:
            continue
        capacity, usage, available, inodes, inodes_free = e[:5]
        out.append(v1.FsStats(device=p.device, type="vfs", capacity=capacity, usage=usage,
                              base_usage=0, available=available, has_inodes=True, inodes=inodes,
                              inodes_free=inodes_free, **dict(zip(FS_IO_FIELDS, e[5:16]))))
    return out
