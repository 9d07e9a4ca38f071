"""Containers that vanish, on real cgroups made on this machine.

DESIGN.md: a removed cgroup's kept fd answers ENODEV and that retires the slot
cleanly; the sweep goes on for the others; a vanished container's history stays
readable until it ages out of the ring (`history` sweeps), then refresh() drops
it; a cgroup re-created with the same name is a new container. Nothing leaks a
file descriptor. Needs root and cgroup v1 cpu/cpuacct/memory (CI has both)."""
import os
import subprocess
import time
import uuid

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from cgsampler import Sampler, errors, hierarchy, v1
from cgsampler.schema import GROUPS
from conftest import make_cgroups, v1_available, v2_root

pytestmark = pytest.mark.real
ALL_V1 = 255         # cpu | cfs | percpu | memory | diskio | processes | schedstat | load: every group a v1
                     # cgroup has (network needs a namespace of its own; these processes share the host's)


def open_fds():
    return len(os.listdir("/proc/self/fd"))


def fds_into(directory):
    """This process's fds open on `directory` itself (the directory of a file
    opened per read) or on files in it: {fd: path}."""
    out = {}
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target == directory or target.startswith(directory + "/"):
            out[int(fd)] = target
    return out


class Cgroups:
    """Makes real v1 cgroups under one fresh parent (/cgs-van-<random>) and removes
    them all at the end; names are container names, e.g. "/cgs-van-1a2b3c4d/a"."""

    def __init__(self):
        self.parent = f"/cgs-van-{uuid.uuid4().hex[:8]}"
        self.made = make_cgroups([self.parent])

    def name(self, leaf):
        return f"{self.parent}/{leaf}"

    def make(self, *leaves):
        cgs = make_cgroups([self.name(leaf) for leaf in leaves])
        self.made.extend(cgs)
        return cgs

    def cleanup(self):
        for cg in reversed(self.made):
            cg.remove()


@pytest.fixture
def cgroups():
    reason = v1_available()
    if reason:
        pytest.skip(reason)
    c = Cgroups()
    try:
        yield c
    finally:
        c.cleanup()


def park(cg, n=1):
    """Puts n sleeping processes into the cgroup (killed by cg.remove())."""
    for _ in range(n):
        p = subprocess.Popen(["sleep", "600"])
        cg.add(p.pid)
        cg.procs.append(p)


def column(s, name, i=-1):
    return s.stats[i][s.names.index(name)]


def kernel_procs(cg):
    return len(cg.read("cpu", "cgroup.procs").split())


# --- removed between sweeps ---------------------------------------------------------

def test_container_removed_between_sweeps_retires_and_the_others_keep_correct_values(cgroups):
    a, b, c = cgroups.make("a", "b", "c")
    park(a, 1)
    park(c, 2)
    fds0 = open_fds()
    s = Sampler(containers=[a.name, b.name, c.name], history=4)
    per_container = s.container_fds // 3
    s.sample()
    b.remove()
    before = int(a.read("cpuacct", "cpuacct.usage"))
    s.sample()
    after = int(a.read("cpuacct", "cpuacct.usage"))

    assert s.retired == [b.name]
    assert s.names == [a.name, b.name, c.name]                 # b's history is still readable
    assert s.container_fds == 2 * per_container                     # b's fds were closed when it vanished
    last = s.stats[-1]
    assert int(last[1]["valid"]) == 0                          # b: no sample
    assert int(last[0]["valid"]) == ALL_V1 and int(last[2]["valid"]) == ALL_V1
    assert int(last[0]["process_count"]) == 1 and int(last[2]["process_count"]) == 2
    assert before <= int(last[0]["cpu_usage_total"]) <= after
    assert s.errors(a.name)["read_errors"] == 0 and s.errors(c.name)["parse_errors"] == 0
    for _ in range(5):
        s.sample()
        assert int(column(s, c.name)["process_count"]) == 2
    s.close()
    assert open_fds() == fds0


def test_errors_of_a_vanished_container_say_so(cgroups):
    a, b = cgroups.make("a", "b")
    with Sampler(containers=[a.name, b.name], history=3) as s:
        s.sample()
        b.remove()
        s.sample()
        err = s.errors(b.name)
        assert err["vanished"] is True
        assert err["read_errors"] == 0 and err["parse_errors"] == 0
        assert s.errors(a.name)["vanished"] is False
        for _ in range(3):
            s.sample()
        s.refresh()
        with pytest.raises(errors.UnknownContainer):
            s.errors(b.name)


def test_container_info_of_a_vanished_container_serves_old_samples_until_they_age_out(cgroups):
    a, b = cgroups.make("a", "b")
    park(b, 1)
    with Sampler(containers=[a.name, b.name], history=4) as s:
        s.sample()
        s.sample()
        b.remove()                        # sweeps 1, 2 had b; it vanishes in sweep 3
        request = v1.ContainerInfoRequest(num_stats=10)
        counts = []
        for _ in range(4):
            s.sample()
            counts.append(len(s.container_info(b.name, request).stats))
            if len(counts) == 3:
                s.refresh()
                assert b.name in s.names                  # one old sample still in the ring
        assert counts == [2, 2, 1, 0]
        old = s.container_info(b.name, request)
        assert old.name == b.name and old.subcontainers == []
        s.refresh()                                       # 4 sweeps since it vanished: dropped
        assert s.names == [a.name]
        with pytest.raises(errors.UnknownContainer):
            s.container_info(b.name)


def test_old_samples_of_a_vanished_container_keep_their_values(cgroups):
    a, b = cgroups.make("a", "b")
    park(b, 3)
    with Sampler(containers=[a.name, b.name], history=5) as s:
        s.sample()
        b.remove()
        s.sample()
        (st_,) = s.container_info(b.name, v1.ContainerInfoRequest(num_stats=5)).stats
        assert st_.processes.process_count == 3
        assert st_.timestamp.unix_ns == int(s.stats[0][1]["timestamp_ns"])


def test_a_cgroup_whose_processes_exit_stays_a_valid_container(cgroups):
    (a,) = cgroups.make("a")
    p = a.spawn("sys.stdin.read()\n")
    with Sampler(containers=[a.name]) as s:
        s.sample()
        assert int(column(s, a.name)["process_count"]) == 1
        p.stdin.close()
        p.wait()
        for _ in range(3):
            s.sample()
        assert int(column(s, a.name)["valid"]) == ALL_V1
        assert s.retired == []
        assert s.errors(a.name) == {"read_errors": 0, "parse_errors": 0, "last_errno": 0, "last_file": None,
                                    "vanished": False, "reopened": False}


def _process_counts_while_sampling_at_10_hz(s, cg):
    """Samples every 0.1 s: 3 sweeps empty, a process joins, 3 sweeps, it exits, 3 sweeps.
    Nothing else opens the cgroup's cgroup.procs meanwhile."""
    counts = []

    def sweeps(n):
        for _ in range(n):
            s.sample()
            counts.append(int(s.stats[-1][0]["process_count"]))
            time.sleep(0.1)

    sweeps(3)
    p = subprocess.Popen(["sleep", "600"])
    cg.add(p.pid)
    sweeps(3)
    p.kill()
    p.wait()
    sweeps(3)
    return counts


def test_v1_process_count_follows_processes_joining_and_exiting_at_high_frequency(cgroups):
    (a,) = cgroups.make("a")
    with Sampler(containers=[a.name]) as s:
        assert _process_counts_while_sampling_at_10_hz(s, a) == [0, 0, 0, 1, 1, 1, 0, 0, 0]


def test_v1_process_count_past_the_fd_budget_follows_processes_at_high_frequency(cgroups):
    (a,) = cgroups.make("a")
    with Sampler(containers=[a.name], fd_budget=0) as s:       # files opened afresh each sweep
        assert _process_counts_while_sampling_at_10_hz(s, a) == [0, 0, 0, 1, 1, 1, 0, 0, 0]


def test_v2_process_count_follows_processes_joining_and_exiting_at_high_frequency(v2_cgroup):
    root = os.path.dirname(v2_cgroup.path(""))
    with Sampler(containers=[v2_cgroup.name], cgroup_root=root) as s:
        assert _process_counts_while_sampling_at_10_hz(s, v2_cgroup) == [0, 0, 0, 1, 1, 1, 0, 0, 0]


# --- removed during refresh ----------------------------------------------------------

def test_cgroup_removed_between_walk_and_add_is_not_kept_as_a_container(cgroups, monkeypatch):
    a, b = cgroups.make("a", "b")
    with Sampler(containers=[a.name, b.name], history=1) as s:
        s.sample()
        b.remove()
        s.sample()                                        # b retired
        (b,) = cgroups.make("b")
        real_walk = hierarchy.walk

        def walk_then_remove(h, *args, **kw):
            names = real_walk(h, *args, **kw)
            b.remove()                                    # gone before its files are opened
            return names

        monkeypatch.setattr(hierarchy, "walk", walk_then_remove)
        s.refresh()
        monkeypatch.setattr(hierarchy, "walk", real_walk)
        for _ in range(2):
            s.sample()
        s.refresh()
        assert s.names == [a.name]


def test_cgroup_removed_between_finding_its_files_and_opening_them_is_not_added(cgroups, monkeypatch):
    a, b = cgroups.make("a", "b")
    fds0 = open_fds()
    with Sampler(containers=[a.name, b.name], history=1) as s:
        per_container = s.container_fds // 2
        s.sample()
        b.remove()
        s.sample()
        (b,) = cgroups.make("b")
        real_read_spec = hierarchy.read_spec

        def remove_then_read_spec(h, name, *args, **kw):
            if name == b.name:
                b.remove()
            return real_read_spec(h, name, *args, **kw)

        monkeypatch.setattr(hierarchy, "read_spec", remove_then_read_spec)
        added, dropped = s.refresh()
        monkeypatch.setattr(hierarchy, "read_spec", real_read_spec)
        assert added == [] and dropped == [b.name]
        assert s.names == [a.name]
        assert s.container_fds == per_container
        s.sample()
        assert int(column(s, a.name)["valid"]) == ALL_V1
    assert open_fds() == fds0


def test_kept_fd_count_stays_exact_when_a_cgroup_vanishes_while_its_files_are_opened(cgroups, monkeypatch):
    a, b = cgroups.make("a", "b")
    fds0 = open_fds()
    with Sampler(containers=[a.name, b.name], history=1) as s:
        per_container = s.container_fds // 2
        s.sample()
        b.remove()
        s.sample()
        (b,) = cgroups.make("b")
        real_read_spec = hierarchy.read_spec

        def remove_memory_dir_then_read_spec(h, name, *args, **kw):
            if name == b.name:
                os.rmdir(b.dirs["memory"])      # its cpuacct files open, its memory files do not
            return real_read_spec(h, name, *args, **kw)

        monkeypatch.setattr(hierarchy, "read_spec", remove_memory_dir_then_read_spec)
        s.refresh()
        monkeypatch.setattr(hierarchy, "read_spec", real_read_spec)
        assert s.names == [a.name]
        assert open_fds() == fds0 + s.kept_fds
        assert s.container_fds == per_container


# --- removed and re-created with the same name -----------------------------------------

def test_recreated_cgroup_is_a_fresh_container_with_fresh_fds(cgroups):
    (a,) = cgroups.make("a")
    park(a, 2)
    with Sampler(containers=[a.name], history=8) as s:
        dirs = a.dirs
        jobs = s.container_fds
        s.sample()
        s.sample()
        a.remove()
        s.sample()
        assert s.retired == [a.name]
        assert s.container_fds == 0
        assert all(fds_into(d) == {} for d in dirs.values())

        (a2,) = cgroups.make("a")
        park(a2, 1)
        added, dropped = s.refresh()
        assert added == [a.name] and dropped == [a.name]
        assert s.names == [a.name] and s.retired == []
        assert s.container_fds == jobs
        # every kept fd is on a file of the new cgroup (same path, new inode)
        kept = {}
        for d in a2.dirs.values():
            kept.update(fds_into(d))
        assert len(kept) == jobs
        for fd, path in kept.items():
            assert os.fstat(fd).st_ino == os.stat(path).st_ino
        s.sample()
        row = column(s, a.name)
        assert int(row["valid"]) == ALL_V1
        assert int(row["process_count"]) == 1
        # the new container's history starts at its first sample: none of the old ones
        info = s.container_info(a.name, v1.ContainerInfoRequest(num_stats=10))
        assert [st_.processes.process_count for st_ in info.stats] == [1]
        assert s.errors(a.name)["vanished"] is False


def test_cgroup_removed_and_recreated_between_two_sweeps_is_noticed_and_replaced(cgroups):
    (a,) = cgroups.make("a")
    park(a, 2)
    with Sampler(containers=[a.name], history=8) as s:
        s.sample()
        a.remove()
        (a2,) = cgroups.make("a")
        park(a2, 1)
        s.sample()                      # the old fds answer ENODEV although the path exists again
        assert s.retired == [a.name]
        assert int(column(s, a.name)["valid"]) == 0
        s.refresh()
        s.sample()
        assert s.retired == []
        assert int(column(s, a.name)["process_count"]) == 1
        assert len(s.container_info(a.name, v1.ContainerInfoRequest(num_stats=10)).stats) == 1


def test_recreated_cgroup_past_the_fd_budget_is_a_fresh_container_too(cgroups):
    (a,) = cgroups.make("a")
    park(a, 2)
    with Sampler(containers=[a.name], history=8, fd_budget=0) as s:
        s.sample()
        a.remove()
        (a2,) = cgroups.make("a")
        park(a2, 1)
        s.sample()
        s.refresh()
        s.sample()
        counts = [st_.processes.process_count
                  for st_ in s.container_info(a.name, v1.ContainerInfoRequest(num_stats=10)).stats]
        assert counts == [1]


# --- many containers -------------------------------------------------------------------

def test_two_hundred_containers_half_removed_at_once(cgroups):
    leaves = [f"c{i:03d}" for i in range(200)]
    cgs = cgroups.make(*leaves)
    for cg in cgs[:6]:
        park(cg, 1)                                       # a few with a process, to tell columns apart
    names = [cg.name for cg in cgs]
    fds0 = open_fds()
    s = Sampler(containers=names, history=3)
    per_container = s.container_fds // 200
    assert s.container_fds == 200 * per_container
    s.sample()
    gone = set(names[::2])
    for cg in cgs[::2]:
        cg.remove()
    s.sample()
    assert s.retired == sorted(gone)
    assert s.container_fds == 100 * per_container
    last = s.stats[-1]
    assert s.names == sorted(names)
    for i, name in enumerate(s.names):
        if name in gone:
            assert int(last[i]["valid"]) == 0
        else:
            assert int(last[i]["valid"]) == ALL_V1
            assert int(last[i]["process_count"]) == (1 if name in names[:6] else 0)
    for _ in range(3):
        s.sample()
    added, dropped = s.refresh()
    assert added == [] and sorted(dropped) == sorted(gone)
    assert s.names == sorted(set(names) - gone)
    assert s.stats.shape == (3, 100)
    assert [int(r["process_count"]) for r in s.stats[-1][:3]] == [1, 1, 1]    # c001, c003, c005
    s.close()
    assert open_fds() == fds0


def test_stats_columns_stay_in_the_order_of_names_through_retire_drop_and_readd(cgroups):
    leaves = ["a", "b", "c", "d", "e"]
    cgs = dict(zip(leaves, cgroups.make(*leaves)))
    for i, leaf in enumerate(leaves):
        park(cgs[leaf], i)                                # a has 0 processes, e has 4
    names = [cgs[leaf].name for leaf in leaves]
    with Sampler(containers=names, history=2) as s:
        s.sample()
        cgs["b"].remove()
        cgs["d"].remove()
        s.sample()
        s.sample()
        s.refresh()                                       # b, d dropped: their columns are free
        (d2,) = cgroups.make("d")
        park(d2, 6)
        (b2,) = cgroups.make("b")
        park(b2, 5)
        s.refresh()                                       # re-added into reused columns
        s.sample()
        assert s.names == sorted(names)
        want = {"a": 0, "b": 5, "c": 2, "d": 6, "e": 4}
        got = {name.rsplit("/", 1)[1]: int(r["process_count"]) for name, r in zip(s.names, s.stats[-1])}
        assert got == want
        pc = {name.rsplit("/", 1)[1]: int(r["process_count"]) for name, r in zip(s.names, s.stats[-1])}
        assert pc == {leaf: kernel_procs(cg) for leaf, cg in
                      {"a": cgs["a"], "b": b2, "c": cgs["c"], "d": d2, "e": cgs["e"]}.items()}


def test_history_survives_the_ring_growing_when_many_cgroups_appear():
    # v2 subtree as the whole hierarchy, so new cgroups are picked up without a name filter
    if os.geteuid() != 0:
        pytest.skip("needs root to make cgroups")
    if v2_root() is None:
        pytest.skip("no cgroup2 mount on this machine")
    top = os.path.join(v2_root(), f"cgs-van-{uuid.uuid4().hex[:8]}")
    os.mkdir(top)
    made = []
    try:
        for i in range(5):
            os.mkdir(os.path.join(top, f"first{i}"))
        with Sampler(cgroup_root=top, history=4) as s:
            s.sample()
            first_ts = {n: int(column(s, n)["timestamp_ns"]) for n in s.names}
            for i in range(40):
                d = os.path.join(top, f"late{i:02d}")
                os.mkdir(d)
                made.append(d)
            added, _ = s.refresh()
            assert len(added) == 40
            s.sample()
            assert s.stats.shape == (2, 46)
            for n, ts in first_ts.items():
                assert int(s.stats[0][s.names.index(n)]["timestamp_ns"]) == ts
                assert int(column(s, n)["timestamp_ns"]) > ts
            for n in s.names:
                if "/late" in n:
                    assert int(s.stats[0][s.names.index(n)]["valid"]) == 0
                    assert int(column(s, n)["valid"]) & GROUPS["cpu"]
    finally:
        for d in sorted(made + [os.path.join(top, f"first{i}") for i in range(5)], reverse=True):
            os.rmdir(d)
        os.rmdir(top)


# --- the fd budget ---------------------------------------------------------------------

def test_past_the_fd_budget_vanished_containers_retire_like_kept_open_ones(cgroups):
    a, b, c = cgroups.make("a", "b", "c")
    park(c, 1)
    with Sampler(containers=[a.name], history=2) as probe:
        per_container = probe.container_fds          # every file but v1 cgroup.procs, opened per read
    fds0 = open_fds()
    s = Sampler(containers=[a.name, b.name, c.name], history=2, fd_budget=per_container)
    assert s.container_fds == per_container                      # a kept open; b and c reopened each sweep
    assert [s.errors(n)["reopened"] for n in (a.name, b.name, c.name)] == [False, True, True]
    s.sample()
    assert open_fds() == fds0 + s.kept_fds
    a.remove()                                              # one kept-open ...
    b.remove()                                              # ... and one reopened container vanish
    s.sample()
    assert s.retired == [a.name, b.name]
    assert s.container_fds == 0
    assert open_fds() == fds0 + s.kept_fds       # the sampler's own: proc root, taskstats socket
    row = column(s, c.name)
    assert int(row["valid"]) == ALL_V1 and int(row["process_count"]) == 1
    for _ in range(2):
        s.sample()
    s.refresh()
    assert s.names == [c.name]
    (a2,) = cgroups.make("a")
    s.refresh()
    assert s.errors(a.name)["reopened"] is False            # the budget a freed is used again
    assert s.container_fds == per_container
    s.sample()
    assert int(column(s, a.name)["valid"]) == ALL_V1
    s.close()
    assert open_fds() == fds0


def test_all_containers_reopened_with_a_zero_budget_hold_no_fds_between_sweeps(cgroups):
    a, b = cgroups.make("a", "b")
    fds0 = open_fds()
    with Sampler(containers=[a.name, b.name], fd_budget=0, history=2) as s:
        for _ in range(3):
            s.sample()
            assert open_fds() == fds0 + s.kept_fds and s.container_fds == 0
        b.remove()
        s.sample()
        assert s.retired == [b.name]
        assert int(column(s, a.name)["valid"]) == ALL_V1
        assert open_fds() == fds0 + s.kept_fds
    assert open_fds() == fds0


# --- close -------------------------------------------------------------------------------

def test_close_releases_every_fd_and_later_calls_say_the_sampler_is_closed(cgroups):
    a, b = cgroups.make("a", "b")
    fds0 = open_fds()
    s = Sampler(containers=[a.name, b.name])
    assert open_fds() == fds0 + s.kept_fds
    s.sample()
    b.remove()
    s.sample()
    s.close()
    assert open_fds() == fds0
    s.close()                                              # twice is fine
    with pytest.raises(errors.SamplerClosed):
        s.sample()
    with pytest.raises(errors.SamplerClosed):
        s.refresh()


def test_queries_after_close_raise_sampler_closed(cgroups):
    (a,) = cgroups.make("a")
    s = Sampler(containers=[a.name])
    s.sample()
    s.close()
    with pytest.raises(errors.SamplerClosed):
        s.container_info(a.name)


# --- interleavings, hypothesis-driven -----------------------------------------------------

POOL = ("p0", "p1", "p2", "p3")
HISTORY = 3


class VanishingMachine(RuleBasedStateMachine):
    """Creates and removes real cgroups of a small pool between refresh() and
    sample() calls, and checks the sampler against a model of what exists."""

    def __init__(self):
        super().__init__()
        self.cgroups = Cgroups()
        self.cgs = dict(zip(POOL, self.cgroups.make(*POOL)))
        self.gen = dict.fromkeys(POOL, 1)         # cgroup instance per leaf (bumped on re-create)
        self.names = {leaf: self.cgroups.name(leaf) for leaf in POOL}
        self.fds0 = open_fds()
        self.s = Sampler(containers=list(self.names.values()), history=HISTORY)
        self.tracked = dict(self.gen)             # leaf -> instance the sampler tracks
        self.added_at = dict.fromkeys(POOL, 0)    # sweeps count when it was added
        self.retired_at = {}                      # leaf -> sweeps count when it was seen gone

    def teardown(self):
        try:
            self.s.close()
            assert open_fds() == self.fds0
        finally:
            self.cgroups.cleanup()

    @rule(leaf=st.sampled_from(POOL))
    def create(self, leaf):
        if self.cgs[leaf] is None:
            (self.cgs[leaf],) = self.cgroups.make(leaf)
            self.gen[leaf] += 1

    @rule(leaf=st.sampled_from(POOL))
    def remove(self, leaf):
        if self.cgs[leaf] is not None:
            self.cgs[leaf].remove()
            self.cgs[leaf] = None

    @rule()
    def refresh(self):
        added, dropped = self.s.refresh()
        count = self.s.sweeps
        for leaf in POOL:
            name = self.names[leaf]
            if leaf in self.retired_at and (self.cgs[leaf] is not None or count - self.retired_at[leaf] >= HISTORY):
                assert name in dropped
                del self.retired_at[leaf]
                self.tracked.pop(leaf, None)
            if name in added:
                assert self.cgs[leaf] is not None and leaf not in self.tracked
                self.tracked[leaf] = self.gen[leaf]
                self.added_at[leaf] = count
        for leaf in POOL:
            if leaf in self.tracked and leaf not in self.retired_at and self.cgs[leaf] is None:
                self.retired_at[leaf] = count        # refresh() finds its directory gone
            if self.cgs[leaf] is not None:
                assert self.names[leaf] in self.s.names

    @rule()
    def sample(self):
        self.s.sample()
        count = self.s.sweeps
        last = self.s.stats[-1]
        for leaf, instance in self.tracked.items():
            name = self.names[leaf]
            r = last[self.s.names.index(name)]
            alive = self.cgs[leaf] is not None and self.gen[leaf] == instance
            if alive:
                assert name not in self.s.retired
                assert int(r["valid"]) == ALL_V1
            else:
                assert name in self.s.retired
                assert int(r["valid"]) == 0
                self.retired_at.setdefault(leaf, count - 1)

    @invariant()
    def names_are_sorted_and_match_the_columns(self):
        names = self.s.names
        assert names == sorted(set(names))
        assert set(names) == {self.names[leaf] for leaf in self.tracked}
        assert set(self.s.retired) == {self.names[leaf] for leaf in self.retired_at}
        assert self.s.stats.shape == (min(self.s.sweeps, HISTORY), len(names))

    @invariant()
    def no_fd_leak(self):
        assert open_fds() == self.fds0 + self.s.kept_fds

    @invariant()
    def valid_samples_are_in_time_order_and_none_predate_the_container(self):
        stats = self.s.stats
        for leaf in self.tracked:
            col = stats[:, self.s.names.index(self.names[leaf])]
            valid = col[col["valid"] != 0]
            ts = [int(t) for t in valid["timestamp_ns"]]
            assert ts == sorted(ts) and len(set(ts)) == len(ts)
            assert len(valid) <= self.s.sweeps - self.added_at[leaf]


def test_interleaved_create_remove_refresh_sample_keeps_the_invariants():
    reason = v1_available()
    if reason:
        pytest.skip(reason)
    start = time.monotonic()
    run_state_machine_as_test(VanishingMachine, settings=settings(
        max_examples=15, stateful_step_count=25, deadline=None, database=None,
        suppress_health_check=list(HealthCheck)))
    assert time.monotonic() - start < 30
