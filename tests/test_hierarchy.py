"""Specification of cgsampler.hierarchy: mountinfo, v1/v2/hybrid detection, container names,
spec values (cAdvisor v0.57 semantics, cadvisor-v1-spec.md sections 1-4) and the stat files
the sampler keeps open.

Fixtures: tests/fixtures/trees (real cgroup snapshots), tests/fixtures/mountinfo (real
mountinfo samples), tests/fixtures/bugcases (inputs that broke other parsers). Each has a
SOURCES.md or README.md. Expected values below were worked out by hand from those files.
"""
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from cgsampler import errors, hierarchy

FIXTURES = Path(__file__).parent / "fixtures"
TREES = FIXTURES / "trees"
MOUNTINFO = FIXTURES / "mountinfo"
BUGCASES = FIXTURES / "bugcases"

UNLIMITED = 2**64 - 1
V1_UNLIMITED = 9223372036854771712  # the kernel's page-rounded LONG_MAX

AMZN2_POD = ("/kubepods.slice/kubepods-burstable.slice/"
             "kubepods-burstable-pod7a96c459_d529_44ae_9f99_90d3798d6426.slice")
AMZN2_CTR = AMZN2_POD + "/cri-containerd-1d3d308a7d48a27814a68bf33a44acf4441c9c02463ca0bc1cdfdc8c0b4a8496.scope"
DOCKER_CTR = "/docker/b29faf21b7eff959f64b4192c34d5d67a707fe8561e9eaa608cb27693fba4242"
FEDORA_SCOPE = "/user.slice/user-1000.slice/session-520.scope"
UBUNTU_SERVICE = "/system.slice/networkd-dispatcher.service"


def tree_root(tree):
    """The cgroup root of a snapshot: its sys/fs/cgroup, or the tree itself when laid out flat."""
    nested = TREES / tree / "sys" / "fs" / "cgroup"
    return str(nested if nested.is_dir() else TREES / tree)


def without_creation_time(spec):
    values = dataclasses.asdict(spec)
    del values["creation_time_ns"]
    return values


def write(path, content):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


@pytest.fixture
def host(tmp_path):
    """A made-up host: proc with 16 MiB RAM and 2 MiB swap, sys with only virtual interfaces."""
    proc, sys_ = tmp_path / "proc", tmp_path / "sys"
    write(proc / "meminfo", "MemTotal:          16384 kB\nMemFree:            1024 kB\n"
                            "SwapTotal:          2048 kB\n")
    for dev in ("lo", "veth1a2b3c", "docker0"):
        (sys_ / "class" / "net" / dev).mkdir(parents=True)
    return str(proc), str(sys_)


# --------------------------------------------------------------------------------------------
# mountinfo

def test_bug_case_mountinfo_empty_source_gives_the_expected_mounts():
    case = BUGCASES / "mountinfo-empty-source"
    expected = json.loads((case / "expected.json").read_text())["mounts"]
    mounts = hierarchy.parse_mountinfo((case / "mountinfo").read_bytes())
    got = [{k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(m).items()}
           for m in mounts]
    assert got == expected


def test_an_empty_source_stays_empty_and_octal_escapes_are_decoded_in_path_fields():
    mounts = hierarchy.parse_mountinfo(
        "310 22 0:52 / /run/a\\134b\\012c ro - tmpfs  ro,size=0k\n"
        "311 22 0:53 /sub\\040dir /mnt/x rw shared:1 master:2 propagate_from:3 unbindable"
        " - fuse.sshfs host:/srv\\011x\\040y rw\n")
    assert mounts[0].mount_point == "/run/a\\b\nc"
    assert mounts[0].source == ""
    assert mounts[0].super_options == ("ro", "size=0k")
    assert mounts[1].root == "/sub dir"
    assert mounts[1].source == "host:/srv\tx y"
    assert mounts[1].optional_fields == ("shared:1", "master:2", "propagate_from:3", "unbindable")


def test_bytes_and_text_give_the_same_mounts_and_non_utf8_paths_round_trip():
    line = b"40 1 0:40 / /mnt/caf\xe9 rw - ext4 /dev/sda1 rw\n"
    from_bytes = hierarchy.parse_mountinfo(line)
    assert from_bytes == hierarchy.parse_mountinfo(line.decode("utf-8", "surrogateescape"))
    assert os.fsencode(from_bytes[0].mount_point) == b"/mnt/caf\xe9"


MOUNTINFO_LINE_COUNTS = {
    "automaxprocs-hybrid-unified-misc": 15,
    "automaxprocs-v1-docker-root": 8,
    "elastic-fedora-cgroupns-root-dotdot": 4,
    "elastic-ubuntu1804-hybrid": 34,
    "jc-ubuntu-hybrid-snaps-nsfs": 46,
    "node-exporter-host-octal-escapes": 32,
    "node-exporter-nfs-dupe": 7,
    "procfs-nfs-overlay-doublespace": 8,
    "runc-bedrock": 55,
    "runc-fedora": 58,
    "runc-fedora-hybrid-cgroup2-systemd": 26,
    "runc-systemd-aufs": 23,
}


def test_every_mountinfo_sample_is_in_the_table():
    assert sorted(p.name for p in MOUNTINFO.iterdir() if p.name != "SOURCES.md") == sorted(MOUNTINFO_LINE_COUNTS)


@pytest.mark.parametrize("sample,lines", sorted(MOUNTINFO_LINE_COUNTS.items()))
def test_every_real_world_mountinfo_sample_parses_one_mount_per_line(sample, lines):
    assert len(hierarchy.parse_mountinfo((MOUNTINFO / sample).read_bytes())) == lines


def mount_at(sample, mount_id):
    mounts = hierarchy.parse_mountinfo((MOUNTINFO / sample).read_bytes())
    return next(m for m in mounts if m.mount_id == mount_id)


def test_octal_escaped_space_and_tab_in_real_mount_points():
    prefix = "/var/lib/kubelet/plugins/kubernetes.io/vsphere-volume/mounts/[vsanDatastore]"
    rest = "bafb9e5a-8856-7e6c-699c-801844e77a4a/kubernetes-dynamic-pvc-3eba5bba-48a3-11e8-89ab-005056b92113.vmdk"
    assert mount_at("node-exporter-host-octal-escapes", 3148).mount_point == prefix + " " + rest
    assert mount_at("node-exporter-host-octal-escapes", 3149).mount_point == prefix + "\t" + rest


def test_a_double_space_before_the_mount_point_does_not_shift_the_fields():
    m = mount_at("procfs-nfs-overlay-doublespace", 1)
    assert (m.root, m.mount_point, m.mount_options) == ("/", "/root", ("rw", "nosuid"))
    assert (m.optional_fields, m.fstype, m.source, m.super_options) == (("shared:8",), "rootfs", "rootfs", ("rw",))


def test_empty_super_options_after_a_trailing_space_are_an_empty_tuple():
    m = mount_at("jc-ubuntu-hybrid-snaps-nsfs", 30)
    assert (m.fstype, m.source, m.super_options) == ("ext4", "/dev/mapper/ubuntu--vg-ubuntu--lv", ())


def test_several_optional_fields_and_an_nsfs_root():
    assert mount_at("jc-ubuntu-hybrid-snaps-nsfs", 24).optional_fields == ("master:1", "shared:7")
    assert mount_at("jc-ubuntu-hybrid-snaps-nsfs", 31).optional_fields == ("unbindable",)
    assert mount_at("jc-ubuntu-hybrid-snaps-nsfs", 481).root == "mnt:[4026532641]"


def test_unescaped_spaces_inside_cifs_super_options_stay_in_the_super_options():
    mounts = hierarchy.parse_mountinfo((MOUNTINFO / "runc-fedora").read_bytes())
    (m,) = [m for m in mounts if m.fstype == "cifs"]
    assert m.source == "//foo/BLA BLA BLA/"
    assert "unc=\\\\foo\\BLA BLA BLA" in m.super_options
    assert m.super_options[-1] == "actimeo=1"


def test_a_cgroup_namespace_root_and_a_missing_final_newline():
    m = mount_at("elastic-fedora-cgroupns-root-dotdot", 1046)
    assert (m.root, m.fstype, m.major, m.minor) == ("/../..", "cgroup2", 0, 26)
    assert m.super_options == ("rw", "seclabel", "nsdelegate", "memory_recursiveprot")


@pytest.mark.parametrize("bad_line", [
    "garbage",
    "22 1 253:1 / / rw,relatime shared:1 ext4 /dev/vda1 rw",   # no "-" separator
    "22 1 253:1 / / - ext4 /dev/vda1 rw",                      # "-" before the mount options
    "x 1 253:1 / / rw - ext4 /dev/vda1 rw",                    # mount id not numeric
    "22 1 2531 / / rw - ext4 /dev/vda1 rw",                    # no major:minor
    "22 1 253:1 / / rw -",                                     # no fstype / source
    "22 1 253:1 / / rw - ext4",                                # no source
])
def test_a_malformed_line_raises_malformed_file_naming_the_line(bad_line):
    good = "21 1 0:5 / /proc rw - proc proc rw"
    with pytest.raises(errors.MalformedFile, match="line 2"):
        hierarchy.parse_mountinfo(f"{good}\n{bad_line}\n{good}\n")


def test_malformed_file_is_a_value_error_and_a_cgsampler_error():
    with pytest.raises(ValueError):
        hierarchy.parse_mountinfo("nonsense\n")
    with pytest.raises(errors.CgsamplerError):
        hierarchy.parse_mountinfo("nonsense\n")


def test_blank_lines_and_empty_input_give_no_mounts():
    assert hierarchy.parse_mountinfo("") == []
    assert hierarchy.parse_mountinfo(b"\n\n") == []


# --------------------------------------------------------------------------------------------
# detect() from mountinfo

def proc_with(tmp_path, mountinfo, cgroups=None):
    proc = tmp_path / "proc"
    write(proc / "self" / "mountinfo", mountinfo)
    if cgroups is not None:
        write(proc / "cgroups", cgroups)
    return str(proc)


CG = "/sys/fs/cgroup"
DETECTED_FROM_MOUNTINFO = {
    "automaxprocs-hybrid-unified-misc": (1, {
        "systemd": f"{CG}/systemd", "misc": f"{CG}/misc",
        "net_cls": f"{CG}/net_cls,net_prio", "net_prio": f"{CG}/net_cls,net_prio", "rdma": f"{CG}/rdma",
        "memory": f"{CG}/memory", "blkio": f"{CG}/blkio",
        "cpu": f"{CG}/cpu,cpuacct", "cpuacct": f"{CG}/cpu,cpuacct", "pids": f"{CG}/pids",
        "hugetlb": f"{CG}/hugetlb", "freezer": f"{CG}/freezer", "perf_event": f"{CG}/perf_event",
        "devices": f"{CG}/devices", "cpuset": f"{CG}/cpuset",
    }, f"{CG}/unified"),
    "elastic-ubuntu1804-hybrid": (1, {
        "systemd": f"{CG}/systemd", "blkio": f"{CG}/blkio", "cpuset": f"{CG}/cpuset",
        "perf_event": f"{CG}/perf_event", "rdma": f"{CG}/rdma",
        "cpu": f"{CG}/cpu,cpuacct", "cpuacct": f"{CG}/cpu,cpuacct", "freezer": f"{CG}/freezer",
        "net_cls": f"{CG}/net_cls,net_prio", "net_prio": f"{CG}/net_cls,net_prio",
        "memory": f"{CG}/memory", "hugetlb": f"{CG}/hugetlb", "devices": f"{CG}/devices", "pids": f"{CG}/pids",
    }, f"{CG}/unified"),
    # release_agent=... is a mount option, not a controller; this host has no memory hierarchy.
    "node-exporter-host-octal-escapes": (1, {
        "systemd": f"{CG}/systemd", "cpuset": f"{CG}/cpuset",
        "cpu": f"{CG}/cpu,cpuacct", "cpuacct": f"{CG}/cpu,cpuacct", "devices": f"{CG}/devices",
        "freezer": f"{CG}/freezer", "net_cls": f"{CG}/net_cls,net_prio", "net_prio": f"{CG}/net_cls,net_prio",
        "blkio": f"{CG}/blkio", "perf_event": f"{CG}/perf_event",
    }, None),
    # A container's view: the hierarchy root field is /docker; the mount point is what counts.
    "automaxprocs-v1-docker-root": (1, {
        "cpuset": f"{CG}/cpuset", "cpu": f"{CG}/cpu,cpuacct", "cpuacct": f"{CG}/cpu,cpuacct",
        "memory": f"{CG}/memory",
    }, None),
    # clone_children and release_agent=... in super options are not controllers.
    "runc-systemd-aufs": (1, {
        "systemd": f"{CG}/systemd", "devices": f"{CG}/devices", "freezer": f"{CG}/freezer",
        "memory": f"{CG}/memory", "net_cls": f"{CG}/net_cls,net_prio", "net_prio": f"{CG}/net_cls,net_prio",
        "blkio": f"{CG}/blkio", "cpuset": f"{CG}/cpuset", "cpu": f"{CG}/cpu,cpuacct",
        "cpuacct": f"{CG}/cpu,cpuacct", "perf_event": f"{CG}/perf_event",
    }, None),
    # Five copies of every hierarchy (bedrock strata): the first mount wins.
    "runc-bedrock": (1, {
        "systemd": f"{CG}/systemd", "net_cls": f"{CG}/net_cls,net_prio", "net_prio": f"{CG}/net_cls,net_prio",
        "blkio": f"{CG}/blkio", "cpu": f"{CG}/cpu,cpuacct", "cpuacct": f"{CG}/cpu,cpuacct",
        "cpuset": f"{CG}/cpuset", "devices": f"{CG}/devices", "memory": f"{CG}/memory",
        "freezer": f"{CG}/freezer", "pids": f"{CG}/pids", "perf_event": f"{CG}/perf_event",
    }, None),
    # Old systemd hybrid layout: the cgroup2 mount sits where name=systemd used to be.
    "runc-fedora-hybrid-cgroup2-systemd": (1, {
        "cpu": f"{CG}/cpu,cpuacct", "cpuacct": f"{CG}/cpu,cpuacct", "memory": f"{CG}/memory",
        "net_cls": f"{CG}/net_cls,net_prio", "net_prio": f"{CG}/net_cls,net_prio", "blkio": f"{CG}/blkio",
        "perf_event": f"{CG}/perf_event", "hugetlb": f"{CG}/hugetlb", "freezer": f"{CG}/freezer",
        "cpuset": f"{CG}/cpuset", "devices": f"{CG}/devices", "pids": f"{CG}/pids",
    }, f"{CG}/systemd"),
    # Pure v2; the first of four cgroup2 mounts is the host's.
    "elastic-fedora-cgroupns-root-dotdot": (2, {"": CG}, CG),
}


@pytest.mark.parametrize("sample", sorted(DETECTED_FROM_MOUNTINFO))
def test_detect_reads_cgroup_mounts_from_mountinfo(tmp_path, sample):
    version, mounts, unified = DETECTED_FROM_MOUNTINFO[sample]
    h = hierarchy.detect(proc_root=proc_with(tmp_path, (MOUNTINFO / sample).read_bytes()))
    assert (h.version, h.mounts, h.unified) == (version, mounts, unified)


def test_detect_without_any_cgroup_mount_says_what_to_check(tmp_path):
    proc = proc_with(tmp_path, (MOUNTINFO / "procfs-nfs-overlay-doublespace").read_bytes())
    with pytest.raises(errors.NoCgroupFilesystem) as exc:
        hierarchy.detect(proc_root=proc)
    assert str(exc.value) == (f"no cgroup filesystem found in {proc}/self/mountinfo; "
                              "is /sys/fs/cgroup mounted?")


def test_detect_without_a_mountinfo_file_raises_no_cgroup_filesystem(tmp_path):
    with pytest.raises(errors.NoCgroupFilesystem):
        hierarchy.detect(proc_root=str(tmp_path))


def test_controllers_the_kernel_lists_in_proc_cgroups_are_recognised(tmp_path):
    mountinfo = "50 33 0:45 / /sys/fs/cgroup/newctl rw - cgroup cgroup rw,newctl,seclabel\n"
    cgroups = "#subsys_name\thierarchy\tnum_cgroups\tenabled\nnewctl\t3\t1\t1\n"
    h = hierarchy.detect(proc_root=proc_with(tmp_path, mountinfo, cgroups))
    assert h.mounts == {"newctl": "/sys/fs/cgroup/newctl"}


def test_a_v1_mount_with_only_mount_flags_is_not_a_hierarchy(tmp_path):
    mountinfo = "50 33 0:45 / /sys/fs/cgroup/x rw - cgroup cgroup rw,xattr,seclabel\n"
    with pytest.raises(errors.NoCgroupFilesystem):
        hierarchy.detect(proc_root=proc_with(tmp_path, mountinfo))


# --------------------------------------------------------------------------------------------
# detect() from a directory, walk(), subcontainers()

DETECTED_TREES = {
    "elastic-amzn2-eks-cgroup1": (1, {
        "blkio": "blkio", "cpu": "cpu,cpuacct", "cpuacct": "cpu,cpuacct", "cpuset": "cpuset",
        "devices": "devices", "freezer": "freezer", "hugetlb": "hugetlb", "memory": "memory",
        "net_cls": "net_cls,net_prio", "net_prio": "net_cls,net_prio", "perf_event": "perf_event",
        "pids": "pids", "systemd": "systemd",
    }, None),
    # The stray v2 system.slice next to the v1 hierarchies is neither a hierarchy nor a container.
    "elastic-docker-v1-and-v2": (1, {
        "blkio": "blkio", "cpu": "cpu", "cpuacct": "cpuacct", "cpuset": "cpuset", "memory": "memory",
    }, None),
    "elastic-fedora-v2-zswap": (2, {"": "."}, "."),
    "elastic-ubuntu1804-hybrid": (1, {"blkio": "blkio", "memory": "memory"}, "unified"),
    "telegraf-v2-96cpu-2numa": (2, {"": "."}, "."),
}

WALKED_TREES = {
    "elastic-amzn2-eks-cgroup1": ["/", "/kubepods.slice", "/kubepods.slice/kubepods-burstable.slice",
                                  AMZN2_POD, AMZN2_CTR],
    "elastic-docker-v1-and-v2": ["/", "/docker", DOCKER_CTR],
    "elastic-fedora-v2-zswap": ["/", "/user.slice", "/user.slice/user-1000.slice", FEDORA_SCOPE],
    "elastic-ubuntu1804-hybrid": ["/", "/system.slice", UBUNTU_SERVICE],
    "telegraf-v2-96cpu-2numa": ["/"],
}


def test_every_tree_is_in_the_tables():
    trees = sorted(p.name for p in TREES.iterdir() if p.is_dir())
    assert trees == sorted(DETECTED_TREES) == sorted(WALKED_TREES)


@pytest.mark.parametrize("tree", sorted(DETECTED_TREES))
def test_every_snapshot_detects_as_its_cgroup_version(tree):
    version, mounts, unified = DETECTED_TREES[tree]
    root = tree_root(tree)
    h = hierarchy.detect(cgroup_root=root)
    assert h.version == version
    assert h.mounts == {c: os.path.normpath(os.path.join(root, d)) for c, d in mounts.items()}
    assert h.unified == (None if unified is None else os.path.normpath(os.path.join(root, unified)))


@pytest.mark.parametrize("tree", sorted(WALKED_TREES))
def test_every_snapshot_walks_to_its_container_names(tree):
    assert hierarchy.walk(hierarchy.detect(cgroup_root=tree_root(tree))) == WALKED_TREES[tree]


def test_subcontainers_are_the_direct_children_only():
    h = hierarchy.detect(cgroup_root=tree_root("elastic-amzn2-eks-cgroup1"))
    assert hierarchy.subcontainers(h, "/") == ["/kubepods.slice"]
    assert hierarchy.subcontainers(h, AMZN2_POD) == [AMZN2_CTR]
    assert hierarchy.subcontainers(h, AMZN2_CTR) == []
    assert hierarchy.subcontainers(h, "/no/such/cgroup") == []


def test_path_joins_the_controller_mount_and_the_name():
    root = tree_root("elastic-amzn2-eks-cgroup1")
    h = hierarchy.detect(cgroup_root=root)
    assert h.path("cpuacct", "/") == f"{root}/cpu,cpuacct"
    assert h.path("memory", "/kubepods.slice") == f"{root}/memory/kubepods.slice"
    assert h.path("memory", "kubepods.slice/") == f"{root}/memory/kubepods.slice"
    assert h.path("rdma", "/kubepods.slice") is None
    with pytest.raises(ValueError):
        h.path("memory", "/../../etc")


def test_path_on_v2_ignores_the_controller():
    root = tree_root("elastic-fedora-v2-zswap")
    h = hierarchy.detect(cgroup_root=root)
    assert h.path("memory", "/user.slice") == h.path("blkio", "/user.slice") == f"{root}/user.slice"


def test_a_missing_or_empty_directory_is_no_cgroup_filesystem(tmp_path):
    with pytest.raises(errors.NoCgroupFilesystem):
        hierarchy.detect(cgroup_root=str(tmp_path / "absent"))
    with pytest.raises(errors.NoCgroupFilesystem):
        hierarchy.detect(cgroup_root=str(tmp_path))


def test_a_directory_with_cgroup_controllers_is_v2(tmp_path):
    write(tmp_path / "cgroup.controllers", "cpu io memory pids\n")
    h = hierarchy.detect(cgroup_root=str(tmp_path))
    assert (h.version, h.mounts, h.unified) == (2, {"": str(tmp_path)}, str(tmp_path))


def test_a_v2_snapshot_without_root_files_is_v2_when_a_child_is_a_v2_cgroup(tmp_path):
    write(tmp_path / "system.slice" / "cgroup.controllers", "cpu memory\n")
    write(tmp_path / "system.slice" / "cgroup.procs", "")
    h = hierarchy.detect(cgroup_root=str(tmp_path))
    assert (h.version, h.mounts) == (2, {"": str(tmp_path)})
    assert hierarchy.walk(h) == ["/", "/system.slice"]


def test_cgroup2_in_the_systemd_slot_is_the_unified_hierarchy(tmp_path):
    write(tmp_path / "systemd" / "cgroup.controllers", "")
    write(tmp_path / "systemd" / "cgroup.procs", "1\n")
    write(tmp_path / "memory" / "cgroup.procs", "1\n")
    h = hierarchy.detect(cgroup_root=str(tmp_path))
    assert (h.version, h.mounts, h.unified) == (1, {"memory": f"{tmp_path}/memory"}, f"{tmp_path}/systemd")


def test_controller_symlinks_are_seen_through_the_real_directory(tmp_path):
    # The usual systemd layout: cpu -> cpu,cpuacct and cpuacct -> cpu,cpuacct.
    write(tmp_path / "cpu,cpuacct" / "cgroup.procs", "1\n")
    os.symlink("cpu,cpuacct", tmp_path / "cpu")
    os.symlink("cpu,cpuacct", tmp_path / "cpuacct")
    write(tmp_path / "elogind" / "cgroup.procs", "")  # a named hierarchy with an unknown name
    h = hierarchy.detect(cgroup_root=str(tmp_path))
    assert h.mounts == {"cpu": f"{tmp_path}/cpu,cpuacct", "cpuacct": f"{tmp_path}/cpu,cpuacct",
                        "elogind": f"{tmp_path}/elogind"}


def v1_tree(tmp_path, dirs):
    """A v1 root with the given hierarchy -> [container dirs] layout."""
    for hier, names in dirs.items():
        write(tmp_path / hier / "cgroup.procs", "")
        for name in names:
            (tmp_path / hier / name.lstrip("/")).mkdir(parents=True, exist_ok=True)
    return hierarchy.detect(cgroup_root=str(tmp_path))


def test_walk_is_the_union_of_the_tracked_hierarchies(tmp_path):
    h = v1_tree(tmp_path, {
        "cpu": ["/a", "/a/x"],
        "memory": ["/b"],
        "systemd": ["/user.slice/session-1.scope"],  # name=systemd is not walked, like cAdvisor
        "freezer": ["/frozen"],
    })
    assert hierarchy.walk(h) == ["/", "/a", "/a/x", "/b"]
    assert hierarchy.subcontainers(h, "/") == ["/a", "/b"]


def test_systemd_mount_units_are_not_containers_but_are_subcontainers(tmp_path):
    h = v1_tree(tmp_path, {"memory": ["/system.slice/boot.mount", "/system.slice/sshd.service"]})
    assert hierarchy.walk(h) == ["/", "/system.slice", "/system.slice/sshd.service"]
    assert hierarchy.subcontainers(h, "/system.slice") == ["/system.slice/boot.mount",
                                                           "/system.slice/sshd.service"]


def test_walk_lists_directories_only_and_never_follows_symlinks(tmp_path):
    outside = tmp_path / "outside"
    (outside / "deep").mkdir(parents=True)
    h = v1_tree(tmp_path / "cg", {"memory": ["/a"]})
    write(tmp_path / "cg" / "memory" / "a" / "memory.stat", "")
    os.symlink(outside, tmp_path / "cg" / "memory" / "link")
    assert hierarchy.walk(h) == ["/", "/a"]
    assert hierarchy.subcontainers(h, "/") == ["/a"]


def test_names_that_vanish_during_the_walk_are_skipped(tmp_path, monkeypatch):
    h = v1_tree(tmp_path, {"memory": ["/stays", "/goes/child"]})
    real_scandir = os.scandir

    def scandir_racing_rmdir(path):
        if str(path).endswith("/goes"):
            shutil.rmtree(path)
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir_racing_rmdir)
    assert hierarchy.walk(h) == ["/", "/stays"]


# --------------------------------------------------------------------------------------------
# read_spec() on the snapshots

SPECS = {
    ("elastic-amzn2-eks-cgroup1", AMZN2_CTR): dict(
        has_cpu=True, cpu_limit=102, cpu_mask="0-7", cpu_quota=0, cpu_period=100000,
        has_memory=True, memory_limit=2147483648, memory_reservation=V1_UNLIMITED,
        memory_swap_limit=2147483648,
        has_diskio=True, has_network=False, has_filesystem=False, has_processes=True),
    # An intermediate slice of a partial snapshot: directories exist, files do not.
    ("elastic-amzn2-eks-cgroup1", "/kubepods.slice"): dict(
        has_cpu=True, cpu_limit=0, cpu_mask="0-7", cpu_quota=0, cpu_period=0,
        has_memory=True, memory_limit=0, memory_reservation=0, memory_swap_limit=0,
        has_diskio=True, has_network=False, has_filesystem=False, has_processes=True),
    ("elastic-docker-v1-and-v2", DOCKER_CTR): dict(
        has_cpu=True, cpu_limit=1024, cpu_mask="0-3", cpu_quota=0, cpu_period=100000,
        has_memory=True, memory_limit=V1_UNLIMITED, memory_reservation=V1_UNLIMITED,
        memory_swap_limit=V1_UNLIMITED,
        has_diskio=True, has_network=False, has_filesystem=False, has_processes=False),
    # The machine: memory and swap limits from meminfo, filesystem yes, network only from
    # physical interfaces (the host fixture has lo, veth and docker0 only).
    ("elastic-docker-v1-and-v2", "/"): dict(
        has_cpu=True, cpu_limit=1024, cpu_mask="0-3", cpu_quota=0, cpu_period=100000,
        has_memory=True, memory_limit=16384 * 1024, memory_reservation=V1_UNLIMITED,
        memory_swap_limit=2048 * 1024,
        has_diskio=True, has_network=False, has_filesystem=True, has_processes=False),
    # v2: weight 100 -> 2597 shares; "max 100000" -> no quota; no cpuset file -> all cores.
    ("elastic-fedora-v2-zswap", FEDORA_SCOPE): dict(
        has_cpu=True, cpu_limit=2597, cpu_mask="0-7", cpu_quota=0, cpu_period=100000,
        has_memory=True, memory_limit=UNLIMITED, memory_reservation=0, memory_swap_limit=UNLIMITED,
        has_diskio=True, has_network=False, has_filesystem=False, has_processes=True),
    # A v2 cgroup without memory.max has no memory.
    ("elastic-fedora-v2-zswap", "/user.slice"): dict(
        has_cpu=True, cpu_limit=0, cpu_mask="0-7", cpu_quota=0, cpu_period=0,
        has_memory=False, memory_limit=0, memory_reservation=0, memory_swap_limit=0,
        has_diskio=True, has_network=False, has_filesystem=False, has_processes=True),
    # Hybrid: only blkio and memory hierarchies; no memsw file (swap accounting off) -> 0.
    ("elastic-ubuntu1804-hybrid", UBUNTU_SERVICE): dict(
        has_cpu=False, cpu_limit=0, cpu_mask="", cpu_quota=0, cpu_period=0,
        has_memory=True, memory_limit=V1_UNLIMITED, memory_reservation=V1_UNLIMITED,
        memory_swap_limit=0,
        has_diskio=True, has_network=False, has_filesystem=False, has_processes=False),
    # The flat telegraf cgroup read as a machine root: weight 79 -> 2 + 78*262142//9999 = 2046.
    ("telegraf-v2-96cpu-2numa", "/"): dict(
        has_cpu=True, cpu_limit=2046, cpu_mask="0-95", cpu_quota=4800000, cpu_period=100000,
        has_memory=True, memory_limit=16384 * 1024, memory_reservation=0, memory_swap_limit=2048 * 1024,
        has_diskio=True, has_network=False, has_filesystem=True, has_processes=True),
}


@pytest.mark.parametrize("tree,name", sorted(SPECS))
def test_spec_values_of_the_snapshots(host, tree, name):
    proc, sys_ = host
    h = hierarchy.detect(cgroup_root=tree_root(tree))
    spec = hierarchy.read_spec(h, name, proc_root=proc, sys_root=sys_, num_cores=8)
    assert without_creation_time(spec) == SPECS[tree, name]


def test_telegraf_cgroup_as_a_child_reads_its_own_memory_limits(tmp_path, host):
    proc, sys_ = host
    write(tmp_path / "cgroup.controllers", "cpu memory io pids\n")
    shutil.copytree(tree_root("telegraf-v2-96cpu-2numa"), tmp_path / "telegraf")
    h = hierarchy.detect(cgroup_root=str(tmp_path))
    spec = hierarchy.read_spec(h, "/telegraf", proc_root=proc, sys_root=sys_, num_cores=8)
    assert without_creation_time(spec) == dict(
        has_cpu=True, cpu_limit=2046, cpu_mask="0-95", cpu_quota=4800000, cpu_period=100000,
        has_memory=True, memory_limit=103079215104, memory_reservation=0, memory_swap_limit=0,
        has_diskio=True, has_network=False, has_filesystem=False, has_processes=True)


def test_a_vanished_container_has_an_empty_spec(host):
    proc, sys_ = host
    h = hierarchy.detect(cgroup_root=tree_root("elastic-amzn2-eks-cgroup1"))
    spec = hierarchy.read_spec(h, "/gone", proc_root=proc, sys_root=sys_, num_cores=8)
    assert spec == hierarchy.SpecValues(
        creation_time_ns=0, has_cpu=False, cpu_limit=0, cpu_mask="", cpu_quota=0, cpu_period=0,
        has_memory=False, memory_limit=0, memory_reservation=0, memory_swap_limit=0,
        has_diskio=False, has_network=False, has_filesystem=False, has_processes=False)


@pytest.mark.parametrize("interfaces,has_network", [
    ([], False),
    (["lo", "veth0a1b", "docker0", "nerdctl0"], False),
    (["lo", "eth0"], True),
    (["ens3"], True),
])
def test_the_root_has_network_only_with_a_physical_interface(tmp_path, host, interfaces, has_network):
    proc, _ = host
    sys_ = tmp_path / "other-sys"
    (sys_ / "class" / "net").mkdir(parents=True)
    for dev in interfaces:
        (sys_ / "class" / "net" / dev).mkdir()
    h = hierarchy.detect(cgroup_root=tree_root("elastic-docker-v1-and-v2"))
    assert hierarchy.read_spec(h, "/", proc_root=proc, sys_root=str(sys_)).has_network is has_network
    assert hierarchy.read_spec(h, DOCKER_CTR, proc_root=proc, sys_root=str(sys_)).has_network is False


def test_the_root_without_meminfo_has_no_memory(tmp_path):
    h = hierarchy.detect(cgroup_root=tree_root("telegraf-v2-96cpu-2numa"))
    spec = hierarchy.read_spec(h, "/", proc_root=str(tmp_path), sys_root=str(tmp_path))
    assert spec.has_memory is False


@pytest.mark.parametrize("mask,num_cores,expected", [
    ("0-3,8\n", 16, "0-3,8"),
    ("\n", 16, "0-15"),
    ("", 1, "0"),
])
def test_an_empty_v1_cpuset_means_every_core(tmp_path, mask, num_cores, expected):
    h = v1_tree(tmp_path, {"cpuset": ["/c"]})
    write(tmp_path / "cpuset" / "c" / "cpuset.cpus", mask)
    assert hierarchy.read_spec(h, "/c", proc_root=str(tmp_path), num_cores=num_cores).cpu_mask == expected


# --------------------------------------------------------------------------------------------
# creation time

def set_mtime(path, seconds):
    os.utime(path, ns=(seconds * 10**9, seconds * 10**9), follow_symlinks=False)


def proc_with_uptime(tmp_path, boot_s):
    """A proc root whose uptime puts the boot at boot_s (seconds since the epoch)."""
    proc = tmp_path / "proc"
    write(proc / "uptime", f"{time.time() - boot_s:.2f} 12.34\n")
    return str(proc)


def test_v1_creation_time_is_the_oldest_dir_or_clone_children_mtime(tmp_path):
    h = v1_tree(tmp_path / "cg", {"cpu": ["/c"], "memory": ["/c"], "blkio": []})
    cg = tmp_path / "cg"
    write(cg / "cpu" / "c" / "cgroup.clone_children", "0\n")
    write(cg / "memory" / "c" / "cgroup.clone_children", "0\n")
    set_mtime(cg / "cpu" / "c" / "cgroup.clone_children", 1_700_000_300)
    set_mtime(cg / "cpu" / "c", 1_700_000_200)
    set_mtime(cg / "memory" / "c" / "cgroup.clone_children", 1_700_000_100)  # the oldest
    set_mtime(cg / "memory" / "c", 1_700_000_400)
    spec = hierarchy.read_spec(h, "/c", proc_root=proc_with_uptime(tmp_path, 1_600_000_000))
    assert spec.creation_time_ns == 1_700_000_100 * 10**9


def test_v2_creation_time_uses_cgroup_events_not_clone_children(tmp_path):
    write(tmp_path / "cg" / "cgroup.controllers", "")
    c = tmp_path / "cg" / "c"
    write(c / "cgroup.events", "populated 0\nfrozen 0\n")
    write(c / "cgroup.clone_children", "0\n")
    set_mtime(c / "cgroup.clone_children", 1_700_000_000)
    set_mtime(c / "cgroup.events", 1_700_000_100)
    set_mtime(c, 1_700_000_200)
    h = hierarchy.detect(cgroup_root=str(tmp_path / "cg"))
    spec = hierarchy.read_spec(h, "/c", proc_root=proc_with_uptime(tmp_path, 1_600_000_000))
    assert spec.creation_time_ns == 1_700_000_100 * 10**9


def test_creation_time_is_floored_at_boot_truncated_to_the_minute(tmp_path):
    h = v1_tree(tmp_path / "cg", {"memory": ["/c"]})
    set_mtime(tmp_path / "cg" / "memory" / "c", 1_000_000_000)  # before boot: a restored snapshot
    boot = 1_600_000_020  # a whole minute; uptime puts the boot 30 s after it
    spec = hierarchy.read_spec(h, "/c", proc_root=proc_with_uptime(tmp_path, boot + 30))
    assert spec.creation_time_ns == boot * 10**9


def test_creation_time_of_a_missing_cgroup_is_zero(tmp_path):
    h = v1_tree(tmp_path, {"memory": []})
    assert hierarchy.read_spec(h, "/absent", proc_root=str(tmp_path)).creation_time_ns == 0


# --------------------------------------------------------------------------------------------
# spec-file readers

@pytest.mark.parametrize("text,value", [
    ("42", 42),
    ("42\n", 42),
    ("  42 \t\n", 42),
    (b"42", 42),
    ("0000000000000000000000042", 42),
    ("18446744073709551615", UNLIMITED),
    ("max", UNLIMITED),
    ("max\n", UNLIMITED),
    ("", 0),
    ("\n", 0),
    ("-1", 0),
    ("-9223372036854775808", 0),
    ("18446744073709551616", 0),
    ("9" * 30, 0),
    ("9" * 5000, 0),
    ("garbage", 0),
    ("0x10", 0),
    ("+5", 0),
    ("4_2", 0),
    ("1e3", 0),
    ("4.2", 0),
    ("\u0663", 0),  # ARABIC-INDIC DIGIT THREE: Python's int() would take it
    ("MAX", 0),
    ("max 100000", 0),
    (b"\xff\xfe\n", 0),
])
def test_parse_limit_follows_cadvisors_spec_reader(text, value):
    assert hierarchy.parse_limit(text) == value


@pytest.mark.parametrize("text,quota_period", [
    ("max 100000\n", (0, 100000)),
    ("150000 100000\n", (150000, 100000)),
    (b"150000 100000", (150000, 100000)),
    ("", (0, 0)),
    ("max", (0, 0)),
    ("1 2 3", (0, 0)),
    ("-1 100000", (0, 100000)),
    ("garbage 100000", (0, 100000)),
    ("max garbage", (0, 0)),
    ("99999999999999999999999 100000", (0, 100000)),
])
def test_parse_cpu_max_reads_quota_and_period(text, quota_period):
    assert hierarchy.parse_cpu_max(text) == quota_period


@pytest.mark.parametrize("weight,shares", [
    ("1", 2), ("50", 1286), ("100", 2597), ("10000", 262144),
    ("0", 0), ("10001", 0), ("max", 0), ("", 0),
])
def test_cpu_weight_maps_linearly_onto_shares(tmp_path, weight, shares):
    write(tmp_path / "cgroup.controllers", "")
    write(tmp_path / "c" / "cpu.weight", weight + "\n")
    h = hierarchy.detect(cgroup_root=str(tmp_path))
    assert hierarchy.read_spec(h, "/c", proc_root=str(tmp_path)).cpu_limit == shares


def test_bug_case_cgroup2_max_literal_means_unlimited():
    case = BUGCASES / "cgroup2-max-literal"
    expected = json.loads((case / "expected.json").read_text())["files"]
    for name in ("memory.max", "memory.high", "memory.swap.max", "memory.low", "memory.max.limited"):
        want = expected[name]
        got = hierarchy.parse_limit((case / name).read_bytes())
        assert got == (UNLIMITED if want["unlimited"] else want["limit_bytes"]), name
    assert hierarchy.parse_limit((case / "pids.max").read_bytes()) == UNLIMITED
    assert expected["pids.max"]["unlimited"] is True
    for name in ("cpu.max", "cpu.max.limited"):
        want = expected[name]
        quota, period = hierarchy.parse_cpu_max((case / name).read_bytes())
        assert period == want["period_usec"] == 100000
        assert quota == (0 if want["unlimited"] else want["quota_usec"])
        assert want["cpus"] is None if want["unlimited"] else quota / period == want["cpus"] == 1.5


def test_bug_case_cgroup2_max_literal_through_read_spec(tmp_path):
    case = BUGCASES / "cgroup2-max-literal"
    write(tmp_path / "cgroup.controllers", "cpu memory pids\n")
    for name in ("cpu.max", "memory.max", "memory.swap.max", "memory.high", "memory.low", "pids.max"):
        write(tmp_path / "open" / name, (case / name).read_bytes())
    write(tmp_path / "limited" / "cpu.max", (case / "cpu.max.limited").read_bytes())
    write(tmp_path / "limited" / "memory.max", (case / "memory.max.limited").read_bytes())
    h = hierarchy.detect(cgroup_root=str(tmp_path))
    unlimited = hierarchy.read_spec(h, "/open", proc_root=str(tmp_path))
    assert (unlimited.cpu_quota, unlimited.cpu_period) == (0, 100000)
    assert (unlimited.memory_limit, unlimited.memory_swap_limit) == (UNLIMITED, UNLIMITED)
    assert unlimited.memory_reservation == 0  # memory.min absent; memory.low is not the reservation
    limited = hierarchy.read_spec(h, "/limited", proc_root=str(tmp_path))
    assert (limited.cpu_quota, limited.cpu_period) == (150000, 100000)
    assert limited.memory_limit == 536870912


# Each content goes into every v1 (or v2) spec file of one cgroup; values are (number, mask),
# number being what every numeric field must read.
MALFORMED = {
    "garbage": (b"garbage\n", 0, "garbage"),
    "above 2**64": (b"18446744073709551616\n", 0, "18446744073709551616"),
    "5000 digits": (b"7" * 5000, 0, "7" * 5000),
    "negative": (b"-1\n", 0, "-1"),
    "empty": (b"", 0, "0-7"),
    "blank line": (b"\n", 0, "0-7"),
    "no newline": (b"42", 42, "42"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_v1_spec_files_never_raise(tmp_path, case):
    content, number, mask = MALFORMED[case]
    h = v1_tree(tmp_path, {"cpu": ["/c"], "cpuset": ["/c"], "memory": ["/c"]})
    for f in ("cpu/c/cpu.shares", "cpu/c/cpu.cfs_quota_us", "cpu/c/cpu.cfs_period_us",
              "cpuset/c/cpuset.cpus", "memory/c/memory.limit_in_bytes",
              "memory/c/memory.soft_limit_in_bytes", "memory/c/memory.memsw.limit_in_bytes"):
        write(tmp_path / f, content)
    spec = hierarchy.read_spec(h, "/c", proc_root=str(tmp_path), num_cores=8)
    assert (spec.cpu_limit, spec.cpu_quota, spec.cpu_period) == (number, number, number)
    assert (spec.memory_limit, spec.memory_reservation, spec.memory_swap_limit) == (number, number, number)
    assert spec.cpu_mask == mask


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_v2_spec_files_never_raise(tmp_path, case):
    content, number, mask = MALFORMED[case]
    write(tmp_path / "cgroup.controllers", "")
    for f in ("cpu.weight", "cpu.max", "cpuset.cpus.effective", "memory.max", "memory.min", "memory.swap.max"):
        write(tmp_path / "c" / f, content)
    h = hierarchy.detect(cgroup_root=str(tmp_path))
    spec = hierarchy.read_spec(h, "/c", proc_root=str(tmp_path), num_cores=8)
    shares = 2 + (41 * 262142) // 9999 if number == 42 else 0  # cpu.weight 42 -> 1076
    assert (spec.cpu_limit, spec.cpu_quota, spec.cpu_period) == (shares, 0, 0)  # one token is no cpu.max
    assert (spec.memory_limit, spec.memory_reservation, spec.memory_swap_limit) == (number, number, number)
    assert spec.cpu_mask == mask


def test_v1_quota_of_minus_one_or_max_is_no_quota(tmp_path):
    h = v1_tree(tmp_path, {"cpu": ["/a", "/b", "/c"]})
    write(tmp_path / "cpu" / "a" / "cpu.cfs_quota_us", "-1\n")
    write(tmp_path / "cpu" / "b" / "cpu.cfs_quota_us", "max\n")  # v1 never says max: not a number
    write(tmp_path / "cpu" / "c" / "cpu.cfs_quota_us", "50000\n")
    assert [hierarchy.read_spec(h, n, proc_root=str(tmp_path)).cpu_quota for n in ("/a", "/b", "/c")] == [0, 0, 50000]


def test_a_spec_file_that_is_a_directory_reads_as_empty(tmp_path):
    h = v1_tree(tmp_path, {"cpu": ["/c/cpu.shares"]})
    spec = hierarchy.read_spec(h, "/c", proc_root=str(tmp_path))
    assert (spec.has_cpu, spec.cpu_limit) == (True, 0)


# --------------------------------------------------------------------------------------------
# files()

def test_files_of_a_v1_container_with_co_mounted_cpu_and_bfq_blkio():
    root = tree_root("elastic-amzn2-eks-cgroup1")
    h = hierarchy.detect(cgroup_root=root)
    cpu, mem, blk = (f"{root}/{d}{AMZN2_CTR}" for d in ("cpu,cpuacct", "memory", "blkio"))
    assert hierarchy.files(h, AMZN2_CTR) == {
        "cpuacct.usage": f"{cpu}/cpuacct.usage",
        "cpuacct.usage_percpu": f"{cpu}/cpuacct.usage_percpu",
        "cpuacct.stat": f"{cpu}/cpuacct.stat",
        "cpu.stat": f"{cpu}/cpu.stat",
        "memory.usage_in_bytes": f"{mem}/memory.usage_in_bytes",
        "memory.max_usage_in_bytes": f"{mem}/memory.max_usage_in_bytes",
        "memory.failcnt": f"{mem}/memory.failcnt",
        "memory.stat": f"{mem}/memory.stat",
        "memory.memsw.usage_in_bytes": f"{mem}/memory.memsw.usage_in_bytes",
        "memory.use_hierarchy": f"{mem}/memory.use_hierarchy",
        "cgroup.procs": f"{cpu}/cgroup.procs",
        "blkio.bfq.io_serviced_recursive": f"{blk}/blkio.bfq.io_serviced_recursive",
        "blkio.bfq.io_service_bytes_recursive": f"{blk}/blkio.bfq.io_service_bytes_recursive",
        "blkio.throttle.io_serviced_recursive": f"{blk}/blkio.throttle.io_serviced_recursive",
        "blkio.throttle.io_service_bytes_recursive": f"{blk}/blkio.throttle.io_service_bytes_recursive",
        "blkio.throttle.io_serviced": f"{blk}/blkio.throttle.io_serviced",
        "blkio.throttle.io_service_bytes": f"{blk}/blkio.throttle.io_service_bytes",
    }


def test_files_of_a_v1_docker_container_with_separate_cpu_and_cpuacct():
    root = tree_root("elastic-docker-v1-and-v2")
    h = hierarchy.detect(cgroup_root=root)
    got = hierarchy.files(h, DOCKER_CTR)
    assert sorted(got) == sorted([
        "cpuacct.usage", "cpuacct.usage_percpu", "cpuacct.stat", "cpu.stat",
        "memory.usage_in_bytes", "memory.max_usage_in_bytes", "memory.failcnt", "memory.stat",
        "memory.memsw.usage_in_bytes", "memory.use_hierarchy", "cgroup.procs",
        "blkio.throttle.io_serviced", "blkio.throttle.io_service_bytes",
    ])
    assert got["cpuacct.usage"] == f"{root}/cpuacct{DOCKER_CTR}/cpuacct.usage"
    assert got["cpu.stat"] == f"{root}/cpu{DOCKER_CTR}/cpu.stat"
    assert got["cgroup.procs"] == f"{root}/cpu{DOCKER_CTR}/cgroup.procs"


def test_files_of_a_hybrid_service_take_cgroup_procs_from_memory_and_list_cfq_files():
    root = tree_root("elastic-ubuntu1804-hybrid")
    h = hierarchy.detect(cgroup_root=root)
    got = hierarchy.files(h, UBUNTU_SERVICE)
    assert sorted(got) == sorted([
        "memory.usage_in_bytes", "memory.max_usage_in_bytes", "memory.failcnt", "memory.stat",
        "memory.use_hierarchy", "cgroup.procs",
        "blkio.sectors_recursive", "blkio.io_service_time_recursive", "blkio.io_wait_time_recursive",
        "blkio.io_merged_recursive", "blkio.io_queued_recursive", "blkio.time_recursive",
        "blkio.io_serviced_recursive", "blkio.io_service_bytes_recursive",
        "blkio.throttle.io_serviced", "blkio.throttle.io_service_bytes",
    ])
    assert got["cgroup.procs"] == f"{root}/memory{UBUNTU_SERVICE}/cgroup.procs"


def test_files_of_v2_cgroups():
    root = tree_root("elastic-fedora-v2-zswap")
    h = hierarchy.detect(cgroup_root=root)
    assert hierarchy.files(h, FEDORA_SCOPE) == {
        k: f"{root}{FEDORA_SCOPE}/{k}"
        for k in ("cpu.stat", "memory.current", "memory.peak", "memory.swap.current", "memory.stat", "cgroup.procs")
    }
    telegraf = tree_root("telegraf-v2-96cpu-2numa")
    assert sorted(hierarchy.files(hierarchy.detect(cgroup_root=telegraf), "/")) == [
        "cpu.stat", "io.stat", "memory.current", "memory.peak", "memory.stat", "memory.swap.current"]


def test_files_of_a_missing_container_is_empty():
    h = hierarchy.detect(cgroup_root=tree_root("elastic-amzn2-eks-cgroup1"))
    assert hierarchy.files(h, "/gone") == {}


def test_hierarchy_imports_without_the_native_extension():
    code = ("import sys; import cgsampler.hierarchy; "
            "sys.exit(any(m.startswith('cgsampler._native') for m in sys.modules))")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    assert subprocess.run([sys.executable, "-c", code], env=env).returncode == 0


# --------------------------------------------------------------------------------------------
# This machine's real cgroups

def need_root():
    if os.geteuid() != 0:
        pytest.skip("needs root to create cgroups")


def kernel_hierarchies():
    """enabled v1 controller -> hierarchy id, from /proc/cgroups (0 = not mounted as v1)."""
    try:
        lines = Path("/proc/cgroups").read_text().splitlines()
    except OSError:
        pytest.skip("no /proc/cgroups")
    rows = [line.split() for line in lines if line and not line.startswith("#")]
    return {r[0]: int(r[1]) for r in rows if len(r) >= 4 and r[3] == "1"}


@pytest.mark.real
def test_detect_on_this_host_finds_every_mounted_controller():
    try:
        h = hierarchy.detect()
    except errors.NoCgroupFilesystem:
        pytest.skip("no cgroup filesystem on this machine")
    ids = {c: i for c, i in kernel_hierarchies().items() if i != 0}
    if not ids:
        assert h.version == 2
        assert os.path.exists(os.path.join(h.mounts[""], "cgroup.controllers"))
        return
    assert h.version == 1
    for controller, hid in ids.items():
        assert os.path.ismount(h.mounts[controller]), controller
        for other, other_hid in ids.items():
            assert (h.mounts[controller] == h.mounts[other]) == (hid == other_hid), (controller, other)
    if os.path.exists("/sys/fs/cgroup/unified/cgroup.controllers"):
        assert h.unified == "/sys/fs/cgroup/unified"
    if os.path.exists("/sys/fs/cgroup/systemd/cgroup.clone_children"):
        assert h.mounts["systemd"] == "/sys/fs/cgroup/systemd"


@pytest.mark.real
def test_detect_from_mountinfo_and_from_the_directory_agree_on_this_host():
    try:
        from_mountinfo = hierarchy.detect()
    except errors.NoCgroupFilesystem:
        pytest.skip("no cgroup filesystem on this machine")
    if not all(d.startswith("/sys/fs/cgroup") for d in from_mountinfo.mounts.values()):
        pytest.skip("cgroups are not mounted under /sys/fs/cgroup here")
    assert hierarchy.detect(cgroup_root="/sys/fs/cgroup") == from_mountinfo


def bounded(spec, t0, t1):
    # cgroupfs stamps times from the coarse clock, which can lag time.time_ns() by a tick.
    return t0 - 10**9 <= spec.creation_time_ns <= t1


@pytest.mark.real
def test_a_real_v1_cgroup_reads_back_what_was_written():
    need_root()
    try:
        h = hierarchy.detect()
    except errors.NoCgroupFilesystem:
        pytest.skip("no cgroup filesystem on this machine")
    if h.version != 1 or not {"cpu", "memory"} <= h.mounts.keys():
        pytest.skip("needs cgroup v1 cpu and memory hierarchies")
    name = f"/cgs-test-{uuid.uuid4().hex[:12]}"
    made = []
    t0 = time.time_ns()
    try:
        for controller in ("cpu", "cpuacct", "cpuset", "memory", "blkio", "devices", "pids"):
            d = h.path(controller, name)
            if d is not None and not os.path.isdir(d):
                os.mkdir(d)
                made.append(d)
        t1 = time.time_ns()
        write(f"{h.path('cpu', name)}/cpu.shares", "512")
        write(f"{h.path('cpu', name)}/cpu.cfs_quota_us", "50000")
        write(f"{h.path('cpu', name)}/cpu.cfs_period_us", "100000")
        write(f"{h.path('memory', name)}/memory.limit_in_bytes", "268435456")
        write(f"{h.path('memory', name)}/memory.soft_limit_in_bytes", "134217728")
        memsw = Path(h.path("memory", name)) / "memory.memsw.limit_in_bytes"
        if memsw.exists():
            write(memsw, "536870912")
        if "cpuset" in h.mounts:
            write(f"{h.path('cpuset', name)}/cpuset.cpus", "0")

        spec = hierarchy.read_spec(h, name)
        assert bounded(spec, t0, t1)
        assert (spec.has_cpu, spec.cpu_limit, spec.cpu_quota, spec.cpu_period) == (True, 512, 50000, 100000)
        assert spec.cpu_mask == ("0" if "cpuset" in h.mounts else "")
        assert (spec.has_memory, spec.memory_limit, spec.memory_reservation) == (True, 268435456, 134217728)
        assert spec.memory_swap_limit == (536870912 if memsw.exists() else 0)
        assert spec.has_diskio is ("blkio" in h.mounts)
        assert spec.has_processes is ("pids" in h.mounts)
        assert (spec.has_network, spec.has_filesystem) == (False, False)

        assert name in hierarchy.walk(h)
        assert name in hierarchy.subcontainers(h, "/")
        got = hierarchy.files(h, name)
        assert {"cpuacct.usage", "cpuacct.usage_percpu", "cpuacct.stat", "cpu.stat",
                "memory.usage_in_bytes", "memory.max_usage_in_bytes", "memory.failcnt",
                "memory.stat", "memory.use_hierarchy", "cgroup.procs"} <= got.keys()
        assert got["cgroup.procs"] == f"{h.path('cpu', name)}/cgroup.procs"
        assert got["memory.stat"] == f"{h.path('memory', name)}/memory.stat"
        assert all(p.startswith(h.path("blkio", name) + "/") for k, p in got.items() if k.startswith("blkio."))
    finally:
        for d in reversed(made):
            os.rmdir(d)
    assert name not in hierarchy.walk(h)
    assert hierarchy.read_spec(h, name).creation_time_ns == 0


@pytest.mark.real
def test_a_real_v2_cgroup_reads_back_what_was_written():
    need_root()
    try:
        found = hierarchy.detect()
    except errors.NoCgroupFilesystem:
        pytest.skip("no cgroup filesystem on this machine")
    unified = found.unified
    if unified is None or not os.access(unified, os.W_OK):
        pytest.skip("no writable cgroup v2 mount")
    h = hierarchy.detect(cgroup_root=unified)
    assert (h.version, h.mounts) == (2, {"": unified})
    name = f"/cgs-test-{uuid.uuid4().hex[:12]}"
    d = Path(h.path("", name))
    t0 = time.time_ns()
    d.mkdir()
    t1 = time.time_ns()
    try:
        has_weight, has_max, has_memory = ((d / f).exists() for f in ("cpu.weight", "cpu.max", "memory.max"))
        if has_weight:
            write(d / "cpu.weight", "200")
        if has_max:
            write(d / "cpu.max", "50000 100000")
        if has_memory:
            write(d / "memory.max", "268435456")
        spec = hierarchy.read_spec(h, name, num_cores=4)
        assert bounded(spec, t0, t1)
        assert (spec.has_cpu, spec.has_diskio, spec.has_processes) == (True, True, True)
        assert spec.cpu_limit == (5219 if has_weight else 0)  # 2 + 199*262142//9999
        assert (spec.cpu_quota, spec.cpu_period) == ((50000, 100000) if has_max else (0, 0))
        assert (spec.has_memory, spec.memory_limit) == ((True, 268435456) if has_memory else (False, 0))
        if not (d / "cpuset.cpus.effective").exists():
            assert spec.cpu_mask == "0-3"
        assert name in hierarchy.walk(h)
        got = hierarchy.files(h, name)
        assert got["cgroup.procs"] == f"{d}/cgroup.procs"
        assert got["cpu.stat"] == f"{d}/cpu.stat"
    finally:
        d.rmdir()
    assert name not in hierarchy.walk(h)


def test_a_single_v1_controller_mount_is_refused_with_the_fix(tmp_path):
    # The likely mistake: --cgroup-root /sys/fs/cgroup/memory instead of /sys/fs/cgroup.
    write(tmp_path / "memory" / "cgroup.procs", "1\n")
    write(tmp_path / "memory" / "memory.stat", "cache 0\n")
    write(tmp_path / "memory" / "docker" / "cgroup.procs", "")
    with pytest.raises(errors.NoCgroupFilesystem, match=r"single cgroup v1 hierarchy.*e\.g\. " + str(tmp_path)):
        hierarchy.detect(cgroup_root=str(tmp_path / "memory"))


def test_v2_files_deep_below_an_ordinary_directory_are_not_a_cgroup_mount(tmp_path):
    write(tmp_path / "x" / "y" / "z" / "cgroup.controllers", "")
    with pytest.raises(errors.NoCgroupFilesystem, match="no cgroup filesystem"):
        hierarchy.detect(cgroup_root=str(tmp_path))
