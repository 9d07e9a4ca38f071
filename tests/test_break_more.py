"""Breaking the Sampler on real cgroups: unusual names, thousands of siblings,
per-group intervals with containers coming and going, threads, and request edge
cases of container_info.

Every cgroup made here is removed in a `finally` of the test (or fixture) that
made it, deepest first, even when the test fails; risky thread tests run in a
subprocess so that a segfault fails the test instead of killing pytest, and
the cgroups they sample are made and removed by the parent."""
import json
import os
import subprocess
import sys
import textwrap
import time
import uuid

import numpy as np
import pytest

import cgsampler
from cgsampler import Sampler, errors, v1

from conftest import CGROUP, v1_available

FAST_CONTROLLERS = ("cpu", "cpuacct", "memory")
SRC = os.path.dirname(os.path.dirname(os.path.abspath(cgsampler.__file__)))   # children import the same package
G = {"cpu": 1, "cfs": 2, "percpu": 4, "memory": 8, "diskio": 16, "processes": 32}


def _need_v1():
    reason = v1_available()
    if reason:
        pytest.skip(reason)


def _controllers(fast_only=False):
    names = FAST_CONTROLLERS if fast_only else ("cpu", "cpuacct", "memory", "blkio", "pids", "devices")
    return [c for c in names if os.path.exists(os.path.join(CGROUP, c, "cgroup.procs"))]


class Made:
    """Directories made (as bytes paths) in some v1 controllers; removed deepest first."""

    def __init__(self, controllers):
        self.controllers = controllers
        self.rel = []            # bytes, relative to the controller root, without leading "/"

    def mkdir(self, rel):
        rel = os.fsencode(rel).lstrip(b"/")
        done = []
        try:
            for c in self.controllers:
                os.mkdir(os.path.join(os.fsencode(CGROUP), c.encode(), rel))
                done.append(c)
        except OSError:
            for c in done:
                os.rmdir(os.path.join(os.fsencode(CGROUP), c.encode(), rel))
            raise
        self.rel.append(rel)
        return "/" + os.fsdecode(rel)

    def rmdir(self, rel):
        rel = os.fsencode(rel).lstrip(b"/")
        for c in self.controllers:
            _rmdir(os.path.join(os.fsencode(CGROUP), c.encode(), rel))
        self.rel.remove(rel)

    def cleanup(self):
        for rel in sorted(self.rel, key=len, reverse=True):
            for c in self.controllers:
                _rmdir(os.path.join(os.fsencode(CGROUP), c.encode(), rel))
        self.rel = []


def _rmdir(path):
    for _ in range(100):
        try:
            os.rmdir(path)
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.02)


@pytest.fixture
def made():
    _need_v1()
    m = Made(_controllers())
    try:
        yield m
    finally:
        m.cleanup()


@pytest.fixture
def made_fast():
    _need_v1()
    m = Made(_controllers(fast_only=True))
    try:
        yield m
    finally:
        m.cleanup()


def _tag():
    return "cgsbrk-" + uuid.uuid4().hex[:6]


def _cgroup_fds():
    n = 0
    for f in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{f}").startswith(CGROUP):
                n += 1
        except OSError:
            pass
    return n


# ----------------------------------------------------------------------------
# 1. Unusual names

UNUSUAL = {
    "space": "a b  c ",
    "unicode": "ünï€😀-ß",
    "markup": '<>&"\\\'',
    "tab": "a\tb",
    "leading-dash": "-dash",
    "json-escapes": "\\u0000\\n",
    "control": "x\x01\x1f\x7f",
    "dots": "...",
}


@pytest.mark.parametrize("kind", sorted(UNUSUAL))
def test_unusual_name_is_tracked_and_round_trips_through_json(made, kind):
    parent = made.mkdir(_tag())
    name = made.mkdir(parent + "/" + UNUSUAL[kind])
    with Sampler([name], history=3) as s:
        assert s.names == [name]
        s.sample()
        s.sample()
        assert (s.stats["valid"][:, 0] & G["memory"]).all()
        assert s.errors(name)["read_errors"] == 0
        info = s.container_info(name, v1.ContainerInfoRequest(num_stats=2))
        text = info.to_json()
        assert json.loads(text)["name"] == name
        back = v1.ContainerInfo.from_json(text)
        assert back.name == name
        assert back.to_json() == text
        assert len(back.stats) == 2
        # the parent lists it as a subcontainer, exactly
    with Sampler([parent], history=1) as s:
        assert [r.name for r in s.container_info(parent).subcontainers] == [name]


def test_name_of_255_bytes_is_tracked(made):
    parent = made.mkdir(_tag())
    leaf = "é" * 127 + "x"        # 255 bytes of UTF-8, NAME_MAX
    assert len(leaf.encode()) == 255
    name = made.mkdir(parent + "/" + leaf)
    with Sampler([name], history=2) as s:
        s.sample()
        assert s.stats["valid"][0, 0] & G["memory"]
        back = v1.ContainerInfo.from_json(s.container_info(name).to_json())
        assert back.name == name


def test_newline_in_a_cgroup_name_is_refused_by_the_kernel(made):
    """Not a cgsampler question: cgroup_mkdir() rejects names with '\\n' (EINVAL),
    so such a container cannot exist."""
    parent = made.mkdir(_tag())
    with pytest.raises(OSError) as e:
        made.mkdir(parent + "/a\nb")
    assert e.value.errno == 22


def test_undecodable_name_serialises_like_go_with_replacement_characters():
    """Names are str with surrogateescape for undecodable bytes (hierarchy.py);
    to_json writes each lone surrogate as \\ufffd as Go does, so the bytes do
    not come back: the JSON name is lossy by design."""
    info = v1.ContainerInfo(name="/bad-\udcff\udcfe")
    text = info.to_json()
    assert '"/bad-\\ufffd\\ufffd"' in text
    assert v1.ContainerInfo.from_json(text).name == "/bad-\ufffd\ufffd"


# Was a BUG, fixed in bd41079: a cgroup whose name is not valid UTF-8 cannot be sampled:
# hierarchy decodes it with surrogateescape but Engine.add_slot does path.encode()
# (strict utf-8) -> UnicodeEncodeError out of Sampler(); should be os.fsencode(path)
def test_undecodable_name_is_tracked(made):
    parent = made.mkdir(_tag())
    name = made.mkdir(os.fsencode(parent) + b"/bad-\xff\xfe")
    assert name == parent + "/bad-\udcff\udcfe"
    with Sampler([name], history=2) as s:
        s.sample()
        assert s.stats["valid"][0, 0] & G["memory"]
        assert s.container_info(name).name == name


# Was a BUG, fixed in bd41079: one cgroup anywhere on the host with a non-UTF-8 name
# makes Sampler(containers=None) (and refresh()) raise UnicodeEncodeError: the whole
# host cannot be sampled
def test_undecodable_name_does_not_break_sampling_the_whole_host(made):
    parent = made.mkdir(_tag())
    made.mkdir(os.fsencode(parent) + b"/bad-\xff")
    with Sampler(None, history=1) as s:
        s.sample()
        assert parent in s.names


# Was a BUG, fixed in bd41079: refresh() picking up a non-UTF-8 cgroup raises
# UnicodeEncodeError (add_slot's path.encode()), so no other new cgroup is picked up
# either; and each failing refresh leaks a ring column and leaves a half-made ACTIVE
# slot (njobs=0) in the engine, swept forever
def test_refresh_survives_an_undecodable_new_cgroup(made):
    parent = made.mkdir(_tag())
    with Sampler(None, history=1) as s:
        made.mkdir(os.fsencode(parent) + b"/bad-\xff")
        good = made.mkdir(parent + "/zz-good")
        s.refresh()
        assert good in s.names


# ----------------------------------------------------------------------------
# 2. Thousands of containers

N_MANY = 3000


@pytest.fixture(scope="module")
def many():
    _need_v1()
    m = Made(_controllers(fast_only=True))
    try:
        parent = m.mkdir(_tag())
        names = [m.mkdir(f"{parent}/c{i:05d}") for i in range(N_MANY)]
        yield names
    finally:
        m.cleanup()


@pytest.mark.parametrize("budget", [None, 500])
def test_three_thousand_siblings_one_sweep_valid_and_close_leaves_no_fd(many, budget):
    fds0 = _cgroup_fds()
    s = Sampler(many, history=2, fd_budget=budget)
    try:
        if budget is not None:
            assert s.container_fds <= budget
            reopened = sum(s.errors(n)["reopened"] for n in many)
            assert 0 < reopened < N_MANY          # mixed: some kept, some reopened
        assert _cgroup_fds() - fds0 == s.container_fds      # fds on cgroup files (none on /proc)
        s.sample()
        st = s.stats
        assert st.shape == (1, N_MANY)
        want = G["cpu"] | G["memory"] | G["percpu"] | G["processes"]
        assert ((st["valid"][0] & want) == want).all()
        assert (st["timestamp_ns"][0] > 0).all()
        # empty cgroups: no processes, some memory accounting in range
        assert (st["process_count"][0] == 0).all()
        assert (st["memory_usage"][0] < 1 << 40).all()
        # ring memory: 2 rows x 3000 columns of every array (reported)
        ring = s._stats.nbytes + s._percpu.nbytes + s._disk.nbytes
        per_cell = ring / (2 * s._stats.shape[1])
        assert per_cell < 4096, (ring, per_cell)
        sys.stderr.write(f"ring bytes with {N_MANY} containers, history 2: {ring}\n")
    finally:
        s.close()
    assert _cgroup_fds() == fds0
    assert s.kept_fds == 0


# ----------------------------------------------------------------------------
# 3. Per-group intervals with containers coming and going

def _check_timestamps(st, intervals_groups=()):
    """Invariants of every valid row: each valid group has 0 < group ts <= row ts;
    fresh => group ts == row ts; carried (valid, not fresh) => group ts < row ts."""
    for idx in np.ndindex(st.shape):
        r = st[idx]
        if r["valid"] == 0:
            continue
        for name, bit in G.items():
            g = bit.bit_length() - 1
            gts = int(r["group_timestamp_ns"][g])
            if r["valid"] & bit:
                assert 0 < gts <= r["timestamp_ns"], (idx, name, gts, int(r["timestamp_ns"]))
                if r["fresh"] & bit:
                    assert gts == r["timestamp_ns"], (idx, name)
                else:
                    assert gts < r["timestamp_ns"], (idx, name)


def test_intervals_with_vanishing_refresh_and_a_ring_of_two(made):
    parent = made.mkdir(_tag())
    a = made.mkdir(parent + "/a")
    b = made.mkdir(parent + "/b")
    with Sampler([a, b], history=2, intervals={"memory": 0.25, "cpu": 0.1}) as s:
        s._wanted = [a, b] + [parent + "/" + x for x in "cd"]   # picked up by refresh() when made
        s.sample()
        st = s.stats
        i_a, i_b = s.names.index(a), s.names.index(b)
        assert st["fresh"][0, i_a] & G["memory"]
        t_mem_a = int(st["group_timestamp_ns"][0, i_a, 3])
        s.sample()
        st = s.stats
        # second sweep, within the interval: memory carried with its old time
        assert st["valid"][1, i_a] & G["memory"]
        assert not st["fresh"][1, i_a] & G["memory"]
        assert int(st["group_timestamp_ns"][1, i_a, 3]) == t_mem_a
        assert st["memory_usage"][1, i_a] == st["memory_usage"][0, i_a]
        _check_timestamps(st)
        # b vanishes mid-interval
        made.rmdir(b)
        s.sample()
        assert b in s.retired
        st = s.stats
        assert st["valid"][-1, s.names.index(b)] == 0
        # c appears mid-interval: its first sample reads every group
        c = made.mkdir(parent + "/c")
        added, _ = s.refresh()
        assert c in added
        s.sample()
        st = s.stats
        i_c = s.names.index(c)
        want = G["cpu"] | G["memory"] | G["percpu"] | G["processes"]
        assert st["valid"][-1, i_c] & want == want
        assert st["fresh"][-1, i_c] & want == want
        _check_timestamps(st)
        # b ages out of the ring of two; d may take its column: still read fully
        for _ in range(2):
            s.sample()
        s.refresh()
        assert b not in s.names
        d = made.mkdir(parent + "/d")
        s.refresh()
        s.sample()
        st = s.stats
        i_d = s.names.index(d)
        assert st["fresh"][-1, i_d] & want == want
        assert st["valid"][0, i_d] == 0        # the row before d existed
        _check_timestamps(st)
        # a re-created b is a new container, read fully at once
        b2 = made.mkdir(b)
        s.refresh()
        s.sample()
        st = s.stats
        assert st["fresh"][-1, s.names.index(b2)] & want == want
        # run past the interval: memory is read again
        time.sleep(0.3)
        s.sample()
        st = s.stats
        assert st["fresh"][-1, s.names.index(a)] & G["memory"]
        for _ in range(5):
            s.sample()
            _check_timestamps(s.stats)


def test_intervals_carried_rows_survive_the_ring_growing(made):
    parent = made.mkdir(_tag())
    first = [made.mkdir(f"{parent}/x{i}") for i in range(3)]
    with Sampler(first, history=2, intervals={"memory": 5.0}) as s:
        s.sample()
        before = s.stats["memory_usage"][0].copy()
        ts_before = s.stats["group_timestamp_ns"][0, :, 3].copy()
        more = [made.mkdir(f"{parent}/y{i}") for i in range(40)]   # past 16 columns: the ring grows
        s._wanted = first + more
        s.refresh()
        s.sample()
        st = s.stats
        for k, n in enumerate(first):
            i = s.names.index(n)
            assert not st["fresh"][-1, i] & G["memory"]
            assert st["valid"][-1, i] & G["memory"]
            assert st["memory_usage"][-1, i] == before[k]
            assert st["group_timestamp_ns"][-1, i, 3] == ts_before[k]
        for n in more:
            assert st["fresh"][-1, s.names.index(n)] & G["memory"]
        _check_timestamps(st)


def test_interval_past_the_fd_budget_reopened_containers_carry_too(made):
    parent = made.mkdir(_tag())
    names = [made.mkdir(f"{parent}/r{i}") for i in range(4)]
    with Sampler(names, history=3, fd_budget=0, intervals={"memory": 5.0}) as s:
        for _ in range(4):
            s.sample()
        st = s.stats
        assert (st["valid"] & G["memory"]).all()
        assert not (st["fresh"][1:] & G["memory"]).any()
        _check_timestamps(st)
        assert s.container_fds == 0


# ----------------------------------------------------------------------------
# 4. Threads (in a subprocess: a segfault fails the test, not pytest)

THREAD_PRELUDE = textwrap.dedent("""
    import os, sys, threading, time, collections
    sys.path.insert(0, {src!r})
    from cgsampler import Sampler, errors
    names = sys.argv[1:]
    def cgroup_fds():
        n = 0
        for f in os.listdir("/proc/self/fd"):
            try:
                if os.readlink("/proc/self/fd/" + f).startswith("/sys/fs/cgroup"):
                    n += 1
            except OSError:
                pass
        return n
""")


def _run_child(body, names, timeout=40, env=None):
    code = THREAD_PRELUDE.format(src=SRC) + textwrap.dedent(body)
    p = subprocess.run([sys.executable, "-X", "faulthandler", "-c", code, *names],
                       capture_output=True, text=True, timeout=timeout,
                       env=None if env is None else {**os.environ, **env})
    return p


@pytest.fixture
def thread_cgroups(made_fast):
    parent = made_fast.mkdir(_tag())
    names = [made_fast.mkdir(f"{parent}/t{i:03d}") for i in range(600)]
    return parent, names, made_fast


def test_queries_and_refresh_racing_sample_do_not_crash_or_leak(thread_cgroups):
    parent, names, _ = thread_cgroups
    p = _run_child("""
        s = Sampler(names[:300], history=4)
        stop = time.time() + 1.5
        excs = collections.Counter()
        def sampler():
            while time.time() < stop:
                try:
                    s.sample()
                except Exception as e:
                    excs["sample " + type(e).__name__] += 1
        def other():
            i = 0
            while time.time() < stop:
                i += 1
                try:
                    s.stats; s.percpu
                    s.container_info(names[i % 300]); s.errors(names[i % 300])
                    if i % 20 == 0:
                        s._wanted = names[: 300 + (i // 20) % 300]
                        s.refresh()
                except Exception as e:
                    excs["other " + type(e).__name__ + ": " + str(e)[:60]] += 1
        ts = [threading.Thread(target=sampler), threading.Thread(target=other)]
        [t.start() for t in ts]; [t.join() for t in ts]
        s.close()
        print("EXC", dict(excs))
        print("FDS", cgroup_fds())
    """, names)
    assert p.returncode == 0, p.stderr[-3000:]
    assert "FDS 0" in p.stdout, p.stdout
    sys.stderr.write(p.stdout)


# Was a BUG, fixed in bd41079 (crash): close() racing sample() segfaults:
# Sampler.close() -> Engine.remove_slot() frees slot jobs/paths while Engine.sweep()
# walks them in its nogil section (use after free); no lock and no 'sweep in progress'
# check. Expected: close waits for the sweep, or the racing call raises SamplerClosed
def test_close_racing_sample_does_not_segfault(thread_cgroups):
    parent, names, _ = thread_cgroups
    p = _run_child("""
        out = []
        for rep in range(2):
            s = Sampler(names, history=3, fd_budget=(None if rep % 2 == 0 else 200))
            s.sample()
            def sampler():
                for _ in range(10):
                    try:
                        s.sample()
                    except errors.SamplerClosed:
                        return
            t = threading.Thread(target=sampler); t.start()
            time.sleep(0.01)
            s.close()
            t.join()
            out.append(cgroup_fds())
        print("FDS", out)
    """, names, env={"MALLOC_MMAP_THRESHOLD_": "65536"})
    assert p.returncode == 0, (p.returncode, p.stderr[-2000:])
    assert "FDS [0, 0]" in p.stdout


def test_sample_after_close_in_another_thread_is_a_clear_error(thread_cgroups):
    parent, names, _ = thread_cgroups
    p = _run_child("""
        s = Sampler(names[:50], history=2)
        s.sample()
        t = threading.Thread(target=s.close); t.start(); t.join()
        try:
            s.sample()
        except errors.SamplerClosed as e:
            print("CLOSED", e)
        print("FDS", cgroup_fds())
    """, names)
    assert p.returncode == 0, p.stderr[-2000:]
    assert "CLOSED" in p.stdout and "FDS 0" in p.stdout


# ----------------------------------------------------------------------------
# 5. container_info request edge cases

@pytest.fixture
def sampled(made):
    name = made.mkdir(_tag())
    s = Sampler([name], history=3)
    try:
        for _ in range(5):
            s.sample()
            time.sleep(0.002)
        yield s, name
    finally:
        s.close()


def _n(s, name, **kw):
    return len(s.container_info(name, v1.ContainerInfoRequest(**kw)).stats)


def test_num_stats_zero_minus_one_and_past_the_history(sampled):
    s, name = sampled
    assert _n(s, name, num_stats=0) == 0
    assert _n(s, name, num_stats=-1) == 3
    assert _n(s, name, num_stats=1000) == 3
    got = s.container_info(name, v1.ContainerInfoRequest(num_stats=2)).stats
    ts = s.stats["timestamp_ns"][:, 0]
    assert [x.timestamp.unix_ns for x in got] == [int(t) for t in ts[-2:]]


def test_bounds_excluding_everything_and_start_after_end(sampled):
    s, name = sampled
    ts = [int(t) for t in s.stats["timestamp_ns"][:, 0]]
    T = v1.Time.from_unix_ns
    assert _n(s, name, num_stats=-1, start=T(ts[-1] + 1)) == 0
    assert _n(s, name, num_stats=-1, end=T(ts[0] - 1)) == 0
    assert _n(s, name, num_stats=-1, start=T(ts[-1]), end=T(ts[0])) == 0
    assert _n(s, name, num_stats=-1, start=T(ts[0]), end=T(ts[-1])) == 3   # inclusive
    assert _n(s, name, num_stats=1, start=T(ts[0]), end=T(ts[1])) == 1


def test_bounds_with_timezone_offsets_compare_instants(sampled):
    s, name = sampled
    ts = [int(t) for t in s.stats["timestamp_ns"][:, 0]]
    start = v1.Time.from_unix_ns(ts[1], 5 * 3600 + 1800)
    end = v1.Time.from_unix_ns(ts[1], -7 * 3600)
    got = s.container_info(name, v1.ContainerInfoRequest(num_stats=-1, start=start, end=end)).stats
    assert [x.timestamp.unix_ns for x in got] == [ts[1]]
    # the same request through JSON, with its offsets written out
    text = v1.ContainerInfoRequest(num_stats=-1, start=start, end=end).to_json()
    assert "+05:30" in text and "-07:00" in text
    req = v1.ContainerInfoRequest.from_json(text)
    got = s.container_info(name, req).stats
    assert [x.timestamp.unix_ns for x in got] == [ts[1]]


def test_request_from_cadvisor_style_json_with_zero_times(sampled):
    s, name = sampled
    req = v1.ContainerInfoRequest.from_json(
        '{"num_stats":2,"start":"0001-01-01T00:00:00Z","end":"0001-01-01T00:00:00Z"}')
    assert _n(s, name, num_stats=req.num_stats, start=req.start, end=req.end) == 2


# Was a BUG, fixed in bd41079 (crash): refresh() adding containers while another thread
# is in sample() segfaults: Engine.add_slot() realloc()s the slot array (and
# Sampler._alloc rebinds new ring arrays, freeing the old) while Engine.sweep() holds a
# pointer into them in its nogil section
def test_refresh_adding_many_containers_racing_sample_does_not_segfault(many):
    p = _run_child("""
        half = len(names) // 2
        for rnd in range(1):
            s = Sampler(names[:half], history=2, fd_budget=0)
            s._wanted = names
            stop = [False]
            def sampler():
                while not stop[0]:
                    s.sample()
            t = threading.Thread(target=sampler); t.start()
            time.sleep(0.05)
            s.refresh()
            stop[0] = True
            t.join()
            s.sample()
            print("VALID", int((s.stats["valid"][-1] != 0).sum()))
            s.close()
            print("FDS", cgroup_fds())
    """, many, env={"MALLOC_MMAP_THRESHOLD_": "65536"})
    # A fixed mmap threshold: freed ring arrays and the moved slot array are
    # unmapped at once, so the racing sweep's stale pointers fault instead of
    # silently writing into recycled heap memory.
    assert p.returncode == 0, (p.returncode, p.stderr[-2000:])
    assert f"VALID {N_MANY}" in p.stdout and "FDS 0" in p.stdout


# ----------------------------------------------------------------------------
# Interval bounds

# Was a BUG, fixed in bd41079 (minor): an infinite or huge interval raises a bare
# OverflowError (float->int in _intervals_ns, or int64 in Engine.set_intervals), not
# errors.InvalidOption like the other bad intervals
@pytest.mark.parametrize("seconds", [float("inf"), 1e12])
def test_unrepresentable_interval_is_invalid_option(made, seconds):
    name = made.mkdir(_tag())
    with pytest.raises(errors.InvalidOption):
        Sampler([name], history=1, intervals={"memory": seconds})


# Was a BUG, fixed in bd41079 (minor): an interval close to INT64_MAX ns (about 292
# years) is accepted but next_due = now_mono + interval overflows int64 in _sweep_slot
# (signed overflow, UB): the group comes out due on every sweep instead of never
def test_an_interval_near_int64_max_is_not_read_every_sweep(made):
    name = made.mkdir(_tag())
    try:
        s = Sampler([name], history=2, intervals={"memory": 9.223372e9})
    except errors.InvalidOption:
        return          # refused as out of range: fine too
    with s:
        s.sample()
        s.sample()
        fresh = s.stats["fresh"][:, 0] & G["memory"]
    assert fresh.tolist() == [G["memory"], 0]
