"""The per-process groups of the Sampler: processes (fd counts, cAdvisor-v1-spec
12.1), schedstat (6.3) and load (7), on real cgroups made here and on fixture
trees (a fake cgroup mount plus a fake proc root in tmp_path).

Real cgroups: the numbers are checked against what the kernel says about the
same processes, read by this test right before and right after the sample
(os.listdir of /proc/<pid>/fd, /proc/<pid>/schedstat), and the task states are
made exact: sleepers block in a pipe read (TASK_INTERRUPTIBLE; since Linux 6.1
nanosleep/futex sleepers are freezable and taskstats counts them nowhere, see
test_taskstats.py), burners never leave user space, stopped ones got SIGSTOP.

Fixture trees: every value is written by hand, so sums, parse errors and the
departed-process accumulator are checked exactly, and a second container's row
must stay byte-identical whatever the first one's files hold.

Deliberate deviation from cAdvisor (docs/compat.md): schedstat sums the
cgroup's own processes (cgroup.procs), not its descendants'."""
import math
import os
import signal
import time

import pytest

from cgsampler import Sampler, v1
from cgsampler._native import taskstats
from cgsampler.schema import GROUPS
from conftest import CPU_BURNER, v2_root

# These tests read schedstat and load on every sweep (their defaults are once a second).
EVERY_SWEEP = {"schedstat": 0, "load": 0}

BIT = {g: v.bit_length() - 1 for g, v in GROUPS.items()}
PROCESSES, SCHEDSTAT, LOAD = GROUPS["processes"], GROUPS["schedstat"], GROUPS["load"]
CPU, MEMORY = GROUPS["cpu"], GROUPS["memory"]
SCHED_COLS = ("schedstat_run_time", "schedstat_runqueue_time", "schedstat_run_periods")
LOAD_COLS = ("load_nr_sleeping", "load_nr_running", "load_nr_stopped", "load_nr_uninterruptible",
             "load_nr_io_wait", "load_average", "load_d_average")
PIPE_SLEEPER = "sys.stdin.read()\n"


def row(s, name, i=-1):
    return s.stats[i][s.names.index(name)]


def fds_of(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def schedstat_of(pid):
    with open(f"/proc/{pid}/schedstat") as f:
        return tuple(int(x) for x in f.read().split())


def sched_sum(pids):
    vals = [schedstat_of(p) for p in pids]
    return tuple(sum(v[i] for v in vals) for i in range(3))


def sched_row(r):
    return tuple(int(r[c]) for c in SCHED_COLS)


def load_row(r):
    return {c: int(r[c]) for c in LOAD_COLS}


def state_of(pid):
    with open(f"/proc/{pid}/stat", "rb") as f:
        state = chr(f.read().rsplit(b")", 1)[1][1])
    if state == "S":                      # only a pipe read counts as the sleep we want
        with open(f"/proc/{pid}/wchan") as f:
            wchan = f.read()
        if not (wchan.endswith("pipe_read") or wchan == "0"):
            state = "s"
    return state


def wait_state(pid, want, timeout=10.0):
    deadline = time.monotonic() + timeout
    while state_of(pid) != want:
        assert time.monotonic() < deadline, f"pid {pid} is {state_of(pid)}, want {want}"
        time.sleep(0.01)


def mixed_workload(cg):
    """One pipe sleeper, one CPU burner and one stopped process, in their states."""
    sleeper, burner, stop = cg.spawn(PIPE_SLEEPER), cg.spawn(CPU_BURNER), cg.spawn(PIPE_SLEEPER)
    os.kill(stop.pid, signal.SIGSTOP)
    wait_state(sleeper.pid, "S")
    wait_state(burner.pid, "R")
    wait_state(stop.pid, "T")
    return sleeper, burner, stop


def expected_averages(counts, stamps, slack_s=0.002):
    """load_average bounds (x1000, truncated) of the spec 7.2 rule with the
    decay of the real time between reads: first = n, then avg*d + n*(1-d),
    d = exp(-dt/10 s). The sampler's dt is its monotonic clock at the sweep
    start, the row's stamp its realtime clock at the end of the container's
    reads, so the two dt may differ by how long the reads took (up to ms on a
    loaded machine): each dt is taken as stamp difference +- slack_s, and the
    bounds follow every choice (interval arithmetic over the corners)."""
    out, lo, hi = [], None, None
    for i, n in enumerate(counts):
        if lo is None:
            lo = hi = float(n)
        else:
            dt = (stamps[i] - stamps[i - 1]) / 1e9
            ds = [math.exp(-max(dt + e, 0.0) / 10.0) for e in (-slack_s, slack_s)]
            corners = [n + (a - n) * d for a in (lo, hi) for d in ds]
            lo, hi = min(corners), max(corners)
        out.append((math.floor(lo * 1000), math.floor(hi * 1000)))
    return out


def taskstats_usable():
    try:
        taskstats.Taskstats().close()
    except OSError as e:
        return f"no taskstats socket here: {e}"
    return None


# --- processes: fd_count (spec 12.1) ----------------------------------------------------------

def fd_holder(n):
    return f"keep = [open('/dev/null') for _ in range({n})]\n" + PIPE_SLEEPER


def test_fd_count_is_the_exact_number_of_open_fds_summed_over_the_processes(v1_cgroup):
    a = v1_cgroup.spawn(fd_holder(7))
    wait_state(a.pid, "S")
    with Sampler(containers=[v1_cgroup.name], history=4, intervals=EVERY_SWEEP) as s:
        s.sample()
        one = fds_of(a.pid)
        r = row(s, v1_cgroup.name)
        assert one == 3 + 7                      # stdin, stdout, stderr and the seven files
        assert r["valid"] & PROCESSES
        assert (int(r["process_count"]), int(r["process_fd_count"]), int(r["process_fd_skipped"])) == (1, one, 0)

        b = v1_cgroup.spawn(fd_holder(40))
        wait_state(b.pid, "S")
        s.sample()
        two = fds_of(b.pid)
        assert two == 3 + 40
        r = row(s, v1_cgroup.name)
        assert (int(r["process_count"]), int(r["process_fd_count"]), int(r["process_fd_skipped"])) == (
            2, one + two, 0)
        assert fds_of(a.pid) == one and fds_of(b.pid) == two     # nothing moved meanwhile
        st = s.container_info(v1_cgroup.name, v1.ContainerInfoRequest(num_stats=1)).stats[-1]
        assert st.processes.process_count == 2 and st.processes.fd_count == one + two
        assert s.errors(v1_cgroup.name)["read_errors"] == 0 and s.errors(v1_cgroup.name)["parse_errors"] == 0


# --- schedstat (spec 6.3) -----------------------------------------------------------------

def test_schedstat_is_the_sum_of_the_processes_schedstat_and_keeps_a_departed_one(v1_cgroup):
    b1, b2 = v1_cgroup.spawn(CPU_BURNER), v1_cgroup.spawn(CPU_BURNER)
    wait_state(b1.pid, "R")
    wait_state(b2.pid, "R")
    name = v1_cgroup.name
    with Sampler(containers=[name], history=8, intervals=EVERY_SWEEP) as s:
        before = sched_sum([b1.pid, b2.pid])
        s.sample()
        after = sched_sum([b1.pid, b2.pid])
        r = row(s, name)
        assert r["valid"] & SCHEDSTAT and r["schedstat_exited"] == 0
        got = sched_row(r)
        for lo, x, hi in zip(before, got, after):
            assert lo <= x <= hi, (before, got, after)
        assert got[0] > 0 and got[2] > 0

        time.sleep(0.1)
        b1_before = schedstat_of(b1.pid)
        s.sample()                              # the last sweep that sees b1
        b1_after = schedstat_of(b1.pid)
        seen = sched_row(row(s, name))
        b1.kill()
        b1.wait()                                # reaped: gone from cgroup.procs
        before = tuple(x + y for x, y in zip(b1_before, schedstat_of(b2.pid)))
        s.sample()
        after = tuple(x + y for x, y in zip(b1_after, schedstat_of(b2.pid)))
        r = row(s, name)
        assert r["valid"] & SCHEDSTAT
        assert int(r["process_count"]) == 1
        assert int(r["schedstat_exited"]) == 1
        got = sched_row(r)
        # b1 with the values the previous sweep read (between b1_before and
        # b1_after), plus b2 now
        for lo, x, hi in zip(before, got, after):
            assert lo <= x <= hi, (before, got, after)
        assert all(x >= y for x, y in zip(got, seen))             # no drop when b1 left
        s.sample()
        assert int(row(s, name)["schedstat_exited"]) == 1          # counted once, not per sweep
        assert all(x >= y for x, y in zip(sched_row(row(s, name)), got))
        st = s.container_info(name, v1.ContainerInfoRequest(num_stats=1)).stats[-1]
        assert st.cpu.schedstat.run_time == int(row(s, name)["schedstat_run_time"])


# --- load (spec 7) ------------------------------------------------------------------------

def check_load_series(s, name, cg, burner_pids, mode):
    """Samples 1 running, then 2 running, then 0 running (both burners stopped),
    checking the counts and the smoothed averages row by row."""
    rows, running = [], []

    def take(n):
        s.sample()
        rows.append(row(s, name).copy())
        running.append(n)

    take(1)
    r = rows[0]
    want = dict(load_nr_sleeping=1, load_nr_running=1, load_nr_stopped=1, load_nr_uninterruptible=0,
                load_nr_io_wait=0, load_average=1000, load_d_average=0)
    assert r["valid"] & LOAD and load_row(r) == want, mode
    b2 = cg.spawn(CPU_BURNER)
    wait_state(b2.pid, "R")
    time.sleep(0.1)             # 0.1 s of two running: the average moves by a whole unit (x1000)
    take(2)
    time.sleep(0.3)
    take(2)
    for pid in burner_pids + [b2.pid]:
        os.kill(pid, signal.SIGSTOP)
    for pid in burner_pids + [b2.pid]:
        wait_state(pid, "T")
    time.sleep(0.2)
    take(0)
    time.sleep(0.2)
    take(0)
    stamps = [int(r["group_timestamp_ns"][BIT["load"]]) for r in rows]
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
    for i, (r, n, (lo, hi)) in enumerate(zip(rows, running, expected_averages(running, stamps))):
        assert int(r["load_nr_running"]) == n, (mode, i)
        assert int(r["load_nr_sleeping"]) == 1 and int(r["load_nr_uninterruptible"]) == 0
        assert int(r["load_nr_stopped"]) == (1 if n else 3)
        assert int(r["load_nr_io_wait"]) == 0
        assert lo <= int(r["load_average"]) <= hi, (mode, i, int(r["load_average"]), lo, hi)
        assert int(r["load_d_average"]) == 0
    # the averages really moved: up towards 2, then down
    avgs = [int(r["load_average"]) for r in rows]
    assert avgs[0] == 1000 and 1000 < avgs[1] < avgs[2] < 2000 and avgs[4] < avgs[3] < avgs[2]
    st = s.container_info(name, v1.ContainerInfoRequest(num_stats=1)).stats[-1]
    assert st.cpu.load_average == avgs[-1]
    assert (st.task_stats.nr_sleeping, st.task_stats.nr_running, st.task_stats.nr_stopped) == (1, 0, 3)
    assert s.errors(name)["read_errors"] == 0 and s.errors(name)["parse_errors"] == 0


def test_v1_load_by_taskstats_counts_task_states_exactly_and_smooths_over_real_time(v1_cgroup):
    reason = taskstats_usable()
    if reason:
        pytest.skip(reason)
    _, burner, _ = mixed_workload(v1_cgroup)
    with Sampler(containers=[v1_cgroup.name], history=8, intervals=EVERY_SWEEP) as s:
        check_load_series(s, v1_cgroup.name, v1_cgroup, [burner.pid], "v1 taskstats")


def test_v2_load_counted_from_proc_gives_the_same_states(v2_cgroup):
    _, burner, _ = mixed_workload(v2_cgroup)
    with Sampler(containers=[v2_cgroup.name], cgroup_root=v2_root(), history=8, intervals=EVERY_SWEEP) as s:
        check_load_series(s, v2_cgroup.name, v2_cgroup, [burner.pid], "v2 /proc")


# --- disable and intervals -----------------------------------------------------------------

def test_disabled_schedstat_and_load_are_never_collected(v1_cgroup):
    mixed_workload(v1_cgroup)
    name = v1_cgroup.name
    with Sampler(containers=[name], history=4, disable=("schedstat", "load")) as s:
        for _ in range(5):
            s.sample()
        for i in range(4):
            r = row(s, name, i)
            assert not r["valid"] & (SCHEDSTAT | LOAD) and not r["fresh"] & (SCHEDSTAT | LOAD)
            assert r["valid"] & PROCESSES and int(r["process_count"]) == 3
            assert all(int(r[c]) == 0 for c in SCHED_COLS + LOAD_COLS + ("schedstat_exited",))
            assert int(r["group_timestamp_ns"][BIT["schedstat"]]) == 0
            assert int(r["group_timestamp_ns"][BIT["load"]]) == 0
        assert s.errors(name)["read_errors"] == 0 and s.errors(name)["parse_errors"] == 0
        st = s.container_info(name, v1.ContainerInfoRequest(num_stats=1)).stats[-1]
        assert st.cpu.load_average == 0 and st.processes.process_count == 3


# --- fixture trees ----------------------------------------------------------------------------

def stat_line(tid, state):
    return b"%d (w) %s 1 " % (tid, state) + b"0 " * 18 + b"7 0 0\n"


class FakeTree:
    """A cgroup v2 mount and a proc root under tmp_path. Containers /a (pids
    10, 11) and /b (pids 20, 21); every pid has schedstat, stat (state S) and an
    fd directory with a known number of entries."""

    SCHED = {10: b"1000 100 10\n", 11: b"2000 200 20\n", 20: b"5 6 7\n", 21: b"50 60 70\n"}
    FDS = {10: 3, 11: 5, 20: 2, 21: 9}

    def __init__(self, tmp_path):
        self.root = tmp_path / "cg"
        self.proc = tmp_path / "proc"
        self.root.mkdir()
        self.proc.mkdir()
        (self.root / "cgroup.controllers").write_text("cpu memory io\n")
        (self.proc / "meminfo").write_text("MemTotal: 1000 kB\n")
        (self.proc / "uptime").write_text("100.0 100.0\n")
        for name, pids in (("a", (10, 11)), ("b", (20, 21))):
            d = self.root / name
            d.mkdir()
            (d / "cpu.stat").write_text("usage_usec 1000\nuser_usec 600\nsystem_usec 400\n")
            (d / "memory.current").write_text("4096\n")
            (d / "memory.stat").write_text("anon 1024\nfile 2048\ninactive_file 512\n")
            (d / "io.stat").write_text("")
            self.procs(name, pids)
            self.threads(name, pids)
        for pid in self.SCHED:
            self.add_pid(pid, self.SCHED[pid], b"S", self.FDS[pid])

    def procs(self, name, pids):
        (self.root / name / "cgroup.procs").write_bytes(b"".join(b"%d\n" % p for p in pids))

    def threads(self, name, tids):
        (self.root / name / "cgroup.threads").write_bytes(b"".join(b"%d\n" % t for t in tids))

    def add_pid(self, pid, sched=None, state=None, fds=None):
        d = self.proc / str(pid)
        d.mkdir(exist_ok=True)
        if sched is not None:
            (d / "schedstat").write_bytes(sched)
        if state is not None:
            (d / "stat").write_bytes(stat_line(pid, state))
        if fds is not None:
            (d / "fd").mkdir()
            for i in range(fds):
                (d / "fd" / str(i)).write_text("")

    def sampler(self, **kw):
        kw["intervals"] = {**EVERY_SWEEP, **kw.get("intervals", {})}
        return Sampler(containers=["/a", "/b"], cgroup_root=str(self.root), proc_root=str(self.proc),
                       sys_root=str(self.proc), history=8, **kw)


def row_bytes(s, name, i=-1):
    r = s.stats[i][s.names.index(name)].copy()
    r["timestamp_ns"] = 0
    r["group_timestamp_ns"] = 0
    return r.tobytes()


def no_errors(s, name):
    e = s.errors(name)
    return e["read_errors"] == 0 and e["parse_errors"] == 0


def healthy_a(r):
    """The cpu, memory and processes groups of /a as the tree writes them."""
    assert r["valid"] & (CPU | MEMORY | PROCESSES) == CPU | MEMORY | PROCESSES
    assert (int(r["cpu_usage_total"]), int(r["cpu_user"]), int(r["cpu_system"])) == (
        1_000_000, 600_000, 400_000)
    assert (int(r["memory_usage"]), int(r["memory_working_set"])) == (4096, 4096 - 512)
    assert int(r["process_count"]) == 2


def test_fixture_schedstat_sums_exactly_and_a_listed_pid_without_proc_dir_keeps_its_last_values(tmp_path):
    t = FakeTree(tmp_path)
    with t.sampler() as s:
        s.sample()
        a, b = row(s, "/a"), row(s, "/b")
        assert a["valid"] & SCHEDSTAT and b["valid"] & SCHEDSTAT
        assert sched_row(a) + (int(a["schedstat_exited"]),) == (3000, 300, 30, 0)
        assert sched_row(b) + (int(b["schedstat_exited"]),) == (55, 66, 77, 0)

        # 11 exits after /a's cgroup.procs was read: listed, no proc dir
        (t.proc / "10" / "schedstat").write_bytes(b"1500 150 15\n")
        for f in ("schedstat", "stat"):
            (t.proc / "11" / f).unlink()
        for f in os.listdir(t.proc / "11" / "fd"):
            (t.proc / "11" / "fd" / f).unlink()
        for d in ("fd", ""):
            (t.proc / "11" / d).rmdir()
        s.sample()
        a = row(s, "/a")
        assert a["valid"] & SCHEDSTAT and no_errors(s, "/a")
        assert sched_row(a) + (int(a["schedstat_exited"]),) == (1500 + 2000, 150 + 200, 15 + 20, 0)
        # ... and its fd directory is gone: skipped, not an error, not 0 counted as a value
        assert (int(a["process_count"]), int(a["process_fd_count"]), int(a["process_fd_skipped"])) == (2, 3, 1)
        assert int(a["load_nr_sleeping"]) == 1 and a["valid"] & LOAD      # 11 vanished from the threads

        # a pid listed but never seen, without a proc dir: nothing to keep
        t.procs("a", (10, 11, 12))
        s.sample()
        a = row(s, "/a")
        assert sched_row(a) + (int(a["schedstat_exited"]),) == (3500, 350, 35, 0)
        assert (int(a["process_count"]), int(a["process_fd_count"]), int(a["process_fd_skipped"])) == (3, 3, 2)

        # 11 and 12 leave the list: 11's last values move to the accumulator
        t.procs("a", (10,))
        s.sample()
        a = row(s, "/a")
        assert sched_row(a) + (int(a["schedstat_exited"]),) == (3500, 350, 35, 1)
        s.sample()
        a = row(s, "/a")
        assert sched_row(a) + (int(a["schedstat_exited"]),) == (3500, 350, 35, 1)
        assert no_errors(s, "/a") and no_errors(s, "/b")


def test_fixture_pid_reuse_moves_the_old_counters_to_the_accumulator(tmp_path):
    t = FakeTree(tmp_path)
    with t.sampler() as s:
        s.sample()
        (t.proc / "10" / "schedstat").write_bytes(b"40 4 1\n")        # a new process with pid 10
        s.sample()
        a = row(s, "/a")
        assert sched_row(a) + (int(a["schedstat_exited"]),) == (1000 + 40 + 2000, 100 + 4 + 200, 10 + 1 + 20, 1)
        (t.proc / "10" / "schedstat").write_bytes(b"90 9 3\n")        # the new one runs on
        s.sample()
        a = row(s, "/a")
        assert sched_row(a) + (int(a["schedstat_exited"]),) == (1000 + 90 + 2000, 100 + 9 + 200, 10 + 3 + 20, 1)
        # only run_periods going back (run_time higher) is a new process as well
        (t.proc / "11" / "schedstat").write_bytes(b"2500 10 2\n")
        s.sample()
        a = row(s, "/a")
        assert sched_row(a) + (int(a["schedstat_exited"]),) == (
            1000 + 90 + 2000 + 2500, 100 + 9 + 200 + 10, 10 + 3 + 20 + 2, 2)
        assert no_errors(s, "/a")


@pytest.mark.parametrize("bad", [b"1 2\n", b"a b c\n", b"1 2 3 4\n", b"", b"1 2 -3\n",
                                 b"18446744073709551616 1 1\n"],
                         ids=["two-numbers", "letters", "four-numbers", "empty", "negative", "past-2^64"])
def test_fixture_malformed_schedstat_clears_only_schedstat_of_that_container(tmp_path, bad):
    t = FakeTree(tmp_path)
    with t.sampler() as s:
        s.sample()
        healthy_b = row_bytes(s, "/b")
        (t.proc / "11" / "schedstat").write_bytes(bad)
        s.sample()
        a = row(s, "/a")
        err = s.errors("/a")
        assert (err["parse_errors"], err["read_errors"]) == (1, 0)
        assert not a["valid"] & SCHEDSTAT and a["fresh"] & SCHEDSTAT
        assert sched_row(a) == (0, 0, 0) and int(a["schedstat_exited"]) == 0
        healthy_a(a)
        assert (int(a["process_fd_count"]), int(a["process_fd_skipped"])) == (8, 0)
        assert a["valid"] & LOAD and int(a["load_nr_sleeping"]) == 2
        assert row_bytes(s, "/b") == healthy_b and no_errors(s, "/b")
        # fixed again: the sums are the same as before the bad sweep (nothing counted twice)
        (t.proc / "11" / "schedstat").write_bytes(FakeTree.SCHED[11])
        s.sample()
        a = row(s, "/a")
        assert a["valid"] & SCHEDSTAT
        assert sched_row(a) + (int(a["schedstat_exited"]),) == (3000, 300, 30, 0)
        assert s.errors("/a")["parse_errors"] == 1


def test_fixture_fd_count_lists_the_directories_and_skips_a_pid_without_one(tmp_path):
    # A plain directory's st_size (4096 on ext4, entries*20 on tmpfs) is not an
    # fd count: only procfs reports the number of open fds as the size.
    t = FakeTree(tmp_path)
    t.add_pid(12, b"1 1 1\n", b"S")             # a proc dir with no fd directory
    t.procs("a", (10, 11, 12))
    with t.sampler() as s:
        s.sample()
        a, b = row(s, "/a"), row(s, "/b")
        assert a["valid"] & PROCESSES and b["valid"] & PROCESSES
        assert (int(a["process_count"]), int(a["process_fd_count"]), int(a["process_fd_skipped"])) == (3, 8, 1)
        assert (int(b["process_count"]), int(b["process_fd_count"]), int(b["process_fd_skipped"])) == (2, 11, 0)
        assert no_errors(s, "/a")
        st = s.container_info("/b", v1.ContainerInfoRequest(num_stats=1)).stats[-1]
        assert st.processes.fd_count == 11


def test_fixture_v2_load_maps_state_letters_like_cgroupstats_build(tmp_path):
    t = FakeTree(tmp_path)
    letters = b"RSDTtZI"
    tids = list(range(30, 30 + len(letters)))
    for tid, state in zip(tids, letters):
        t.add_pid(tid, state=bytes([state]))
    t.threads("a", tids + [99])                 # 99: no stat file, vanished (not an error)
    with t.sampler() as s:
        s.sample()
        a = row(s, "/a")
        assert a["valid"] & LOAD and no_errors(s, "/a")
        # R running; S sleeping; D uninterruptible; T and t stopped; Z and I nowhere
        assert load_row(a) == dict(load_nr_sleeping=1, load_nr_running=1, load_nr_stopped=2,
                                   load_nr_uninterruptible=1, load_nr_io_wait=0,
                                   load_average=1000, load_d_average=1000)
        b = row(s, "/b")
        assert load_row(b) == dict(load_nr_sleeping=2, load_nr_running=0, load_nr_stopped=0,
                                   load_nr_uninterruptible=0, load_nr_io_wait=0,
                                   load_average=0, load_d_average=0)


@pytest.mark.parametrize("bad", [b"30\n12x\n", b"-1\n", b"30 31\n", b"abc\n"],
                         ids=["digits-then-letter", "negative", "two-on-a-line", "letters"])
def test_fixture_malformed_cgroup_threads_is_a_load_parse_error_only(tmp_path, bad):
    t = FakeTree(tmp_path)
    t.add_pid(30, state=b"R")
    t.threads("a", (10, 11, 30))
    with t.sampler() as s:
        s.sample()
        assert int(row(s, "/a")["load_average"]) == 1000
        healthy_b = row_bytes(s, "/b")
        (t.root / "a" / "cgroup.threads").write_bytes(bad)
        s.sample()
        a = row(s, "/a")
        err = s.errors("/a")
        assert (err["parse_errors"], err["read_errors"]) == (1, 0)
        assert err["last_file"] == str(t.root / "a" / "cgroup.threads")
        assert not a["valid"] & LOAD and all(int(a[c]) == 0 for c in LOAD_COLS)
        healthy_a(a)
        assert a["valid"] & SCHEDSTAT and sched_row(a) == (3000, 300, 30)
        assert row_bytes(s, "/b") == healthy_b and no_errors(s, "/b")


def test_fixture_disabled_groups_read_nothing_and_intervals_carry(tmp_path):
    t = FakeTree(tmp_path)
    (t.proc / "11" / "schedstat").write_bytes(b"garbage\n")
    (t.root / "a" / "cgroup.threads").write_bytes(b"12x\n")
    with t.sampler(disable=("schedstat", "load")) as s:
        s.sample()
        s.sample()
        a = row(s, "/a")
        assert no_errors(s, "/a")              # the bad files were never parsed
        assert not a["valid"] & (SCHEDSTAT | LOAD)
        healthy_a(a)
    (t.proc / "11" / "schedstat").write_bytes(FakeTree.SCHED[11])
    (t.root / "a" / "cgroup.threads").write_bytes(b"10\n11\n")
    with t.sampler(intervals={"schedstat": 3600}) as s:
        s.sample()
        first = row(s, "/a").copy()
        (t.proc / "10" / "schedstat").write_bytes(b"9999 999 99\n")
        s.sample()
        a = row(s, "/a")
        assert a["valid"] & SCHEDSTAT and not a["fresh"] & SCHEDSTAT
        assert sched_row(a) == (3000, 300, 30)             # carried, not read
        assert a["group_timestamp_ns"][BIT["schedstat"]] == first["group_timestamp_ns"][BIT["schedstat"]]
        assert a["fresh"] & LOAD and a["fresh"] & PROCESSES


# --- processes that exit while being sampled ---------------------------------------------

CHURN = """
import random

alive = 0
while True:
    while alive < 50:
        if os.fork() == 0:
            for _ in range(random.randrange(1, 50000)):
                pass
            os._exit(0)
        alive += 1
    while alive:
        pid, _ = os.waitpid(-1, os.WNOHANG)
        if pid == 0:
            break
        alive -= 1
"""


def test_processes_exiting_between_the_listing_and_their_reads_never_break_a_sample(v1_cgroup):
    churn = v1_cgroup.spawn(CHURN)
    name = v1_cgroup.name
    time.sleep(0.2)
    with Sampler(containers=[name], history=200, intervals=EVERY_SWEEP) as s:
        for _ in range(200):
            s.sample()
            time.sleep(0.001)
        rows = s.stats[:, s.names.index(name)].copy()
        errs = s.errors(name)
    assert churn.poll() is None
    assert len(rows) == 200
    counts = [int(r["process_count"]) for r in rows]
    assert min(counts) >= 1 and max(counts) > 1          # the churn was seen
    prev = (0, 0, 0)
    for i, r in enumerate(rows):
        assert r["valid"] & PROCESSES, i
        assert r["valid"] & SCHEDSTAT, i
        assert r["valid"] & LOAD, i
        assert int(r["process_fd_skipped"]) <= int(r["process_count"])
        cur = sched_row(r)
        assert all(c >= p for c, p in zip(cur, prev)), (i, prev, cur)
        prev = cur
    assert int(rows[-1]["schedstat_exited"]) > 0
    assert errs["read_errors"] == 0 and errs["parse_errors"] == 0, errs
