"""Task-state counts of a cgroup (LoadStats, cAdvisor-v1-spec section 7):
netlink taskstats CGROUPSTATS_CMD_GET on real v1 cgroups, the /proc/<tid>/stat
counting for cgroup v2 on real v2 cgroups and on a fake proc tree, and the
load smoothing of section 7.2 against hand-computed numbers.

Sleepers here block in read(2) on a pipe: a plain TASK_INTERRUPTIBLE sleep.
Since Linux 6.1 nanosleep and futex waits sleep in TASK_INTERRUPTIBLE |
TASK_FREEZABLE, a state that cgroupstats_build's exact comparison counts
nowhere (test_freezable_sleeps_...)."""
import errno
import os
import signal
import subprocess
import sys
import time

import pytest

from cgsampler._native import taskstats
from conftest import CPU_BURNER, v2_root

PIPE_SLEEPER = "sys.stdin.read()\n"            # S, in pipe_read (not freezable)
PIPE_THREADS = (                                # 5 threads + the main one, all in pipe reads
    "import threading\n"
    "r, w = os.pipe()\n"
    "for _ in range(5): threading.Thread(target=os.read, args=(r, 1), daemon=True).start()\n"
    "sys.stdin.read()\n"
)
NANOSLEEP = "os.execvp('sleep', ['sleep', '1000'])\n"
FUTEX = "import threading; threading.Event().wait()\n"
ZERO = dict(nr_sleeping=0, nr_running=0, nr_stopped=0, nr_uninterruptible=0, nr_io_wait=0)


def counts(sleeping=0, running=0, stopped=0, uninterruptible=0):
    return dict(nr_sleeping=sleeping, nr_running=running, nr_stopped=stopped,
                nr_uninterruptible=uninterruptible, nr_io_wait=0)


def thread_states(pid):
    """The state letters of the threads of `pid`; a sleeper's letter is
    lowercase "s" unless its wchan says it is in a pipe read: a thread can be
    S on its way there, waiting for the GIL in a futex (invisible to taskstats)."""
    states = []
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/stat", "rb") as f:
            state = chr(f.read().rsplit(b")", 1)[1][1])
        if state == "S":
            with open(f"/proc/{pid}/task/{tid}/wchan") as f:
                wchan = f.read()
            if not (wchan.endswith("pipe_read") or wchan == "0"):   # "0": wchan hidden
                state = "s"
        states.append(state)
    return sorted(states)


def wait_states(pid, want, timeout=10.0):
    """Waits until the threads of `pid` are in the states `want` (letters as
    thread_states gives them)."""
    deadline = time.monotonic() + timeout
    while sorted(want) != thread_states(pid):
        assert time.monotonic() < deadline, f"pid {pid}: {thread_states(pid)}, want {sorted(want)}"
        time.sleep(0.01)


def stopped(cg, code):
    p = cg.spawn(code)
    os.kill(p.pid, signal.SIGSTOP)
    return p


@pytest.fixture(scope="module")
def ts():
    try:
        t = taskstats.Taskstats()
    except OSError as e:
        pytest.skip(f"no taskstats here: {e}")
    with t:
        yield t


@pytest.fixture
def mixed_v1(v1_cgroup):
    """A v1 cgroup with one pipe sleeper, one CPU burner and one stopped process."""
    sleeper, burner = v1_cgroup.spawn(PIPE_SLEEPER), v1_cgroup.spawn(CPU_BURNER)
    stop = stopped(v1_cgroup, PIPE_SLEEPER)
    wait_states(sleeper.pid, "S")
    wait_states(burner.pid, "R")
    wait_states(stop.pid, "T")
    return v1_cgroup


def kernel_at_least(major, minor):
    got = tuple(int(x) for x in os.uname().release.split("-")[0].split(".")[:2])
    return got >= (major, minor)


# --- Taskstats on cgroup v1 ----------------------------------------------------------------

def test_family_is_resolved_and_socket_usable(ts):
    assert ts.family_id >= 0x10 and ts.fileno() >= 0 and not ts.closed


def test_sleeping_running_and_stopped_processes_are_counted(ts, mixed_v1):
    # two cores: the burner is on a CPU or runnable, TASK_RUNNING either way
    assert ts.cgroup_stats(mixed_v1.path("cpu")) == counts(sleeping=1, running=1, stopped=1)


def test_threads_are_counted_not_processes(ts, v1_cgroup):
    p = v1_cgroup.spawn(PIPE_THREADS)
    wait_states(p.pid, "SSSSSS")
    assert ts.cgroup_stats(v1_cgroup.path("cpu")) == counts(sleeping=6)


def test_every_v1_hierarchy_answers_for_its_own_directory(ts, mixed_v1):
    # any v1 controller's directory of the cgroup holds the same tasks
    assert ts.cgroup_stats(mixed_v1.path("memory")) == counts(sleeping=1, running=1, stopped=1)


def test_descendants_are_not_counted(ts, v1_cgroup):
    child = v1_cgroup.path("cpu") + "/child"
    os.mkdir(child)
    try:
        p = subprocess.Popen([sys.executable, "-c", "import sys\n" + PIPE_SLEEPER], stdin=subprocess.PIPE)
        with open(child + "/cgroup.procs", "w") as f:
            f.write(str(p.pid))
        wait_states(p.pid, "S")
        assert ts.cgroup_stats(child) == counts(sleeping=1)
        assert ts.cgroup_stats(v1_cgroup.path("cpu")) == ZERO
    finally:
        p.kill()
        p.wait()
        os.rmdir(child)


def test_empty_cgroup_is_all_zero(ts, v1_cgroup):
    assert ts.cgroup_stats(v1_cgroup.path("cpu")) == ZERO


@pytest.mark.parametrize("code", [NANOSLEEP, FUTEX], ids=["nanosleep", "futex"])
def test_freezable_sleeps_are_counted_nowhere_by_taskstats_since_linux_6_1(ts, v1_cgroup, code):
    p = v1_cgroup.spawn(code)
    wait_states(p.pid, "s")              # /proc prints S (TASK_FREEZABLE is masked out there)
    got = ts.cgroup_stats(v1_cgroup.path("cpu"))
    assert got == (ZERO if kernel_at_least(6, 1) else counts(sleeping=1))
    assert taskstats.count_task_states_in(v1_cgroup.path("cpu")) == (counts(sleeping=1), 0)


def test_stopped_nanosleeper_is_counted_stopped(ts, v1_cgroup):
    p = stopped(v1_cgroup, NANOSLEEP)
    wait_states(p.pid, "T")
    assert ts.cgroup_stats(v1_cgroup.path("cpu")) == counts(stopped=1)


def test_cgroup_v2_directory_is_refused_with_einval(ts, v2_cgroup):
    with pytest.raises(OSError) as e:
        ts.cgroup_stats(v2_cgroup.path(""))
    assert e.value.errno == errno.EINVAL


def test_non_cgroup_directory_and_file_are_refused_with_einval(ts):
    for path in ("/proc", "/sys/fs/cgroup/cpu/tasks"):
        fd = os.open(path, os.O_RDONLY)
        try:
            with pytest.raises(OSError) as e:
                ts.cgroup_stats_fd(fd)
            assert e.value.errno == errno.EINVAL
        finally:
            os.close(fd)


def test_bad_fd_and_o_path_fd_are_ebadf_without_waiting_for_the_timeout(ts, v1_cgroup):
    # the kernel sends no reply for an fd it cannot fdget(); the ack alone says so
    opath = os.open(v1_cgroup.path("cpu"), os.O_PATH | os.O_DIRECTORY)
    try:
        for fd in (-1, 1 << 20, opath):
            t0 = time.monotonic()
            with pytest.raises(OSError) as e:
                ts.cgroup_stats_fd(fd)
            assert e.value.errno == errno.EBADF and time.monotonic() - t0 < 0.5
    finally:
        os.close(opath)
    assert ts.cgroup_stats(v1_cgroup.path("cpu")) == ZERO      # the socket is still in step


def test_removed_cgroup(ts, v1_cgroup):
    path = v1_cgroup.path("cpu")
    kept = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        v1_cgroup.remove()
        with pytest.raises(FileNotFoundError):
            ts.cgroup_stats(path)
        # a kept fd: zero counts until the cgroup is freed (after an RCU grace
        # period, tens of ms), then ENOENT
        deadline = time.monotonic() + 5
        while True:
            try:
                assert ts.cgroup_stats_fd(kept) == ZERO
            except OSError as e:
                assert e.errno == errno.ENOENT
                break
            assert time.monotonic() < deadline, "removed cgroup still answered after 5 s"
            time.sleep(0.01)
    finally:
        os.close(kept)


def test_timeout_must_be_positive():
    with pytest.raises(ValueError):
        taskstats.Taskstats(timeout_s=0)


def test_closed_socket_refuses_and_close_is_idempotent():
    t = taskstats.Taskstats()
    with t:
        pass
    t.close()
    assert t.closed and t.fileno() == -1
    with pytest.raises(ValueError):
        t.cgroup_stats("/sys/fs/cgroup/cpu")


# --- /proc/<tid>/stat counting ------------------------------------------------------------------

def test_v2_cgroup_counts_like_taskstats_would(v2_cgroup):
    sleeper, burner = v2_cgroup.spawn(PIPE_SLEEPER), v2_cgroup.spawn(CPU_BURNER)
    stop = stopped(v2_cgroup, PIPE_SLEEPER)
    threads = v2_cgroup.spawn(PIPE_THREADS)
    for p, s in ((sleeper, "S"), (burner, "R"), (stop, "T"), (threads, "SSSSSS")):
        wait_states(p.pid, s)
    assert taskstats.count_task_states_in(v2_cgroup.path("")) == (
        counts(sleeping=7, running=1, stopped=1), 0)


def test_v2_empty_cgroup_is_all_zero(v2_cgroup):
    assert taskstats.count_task_states_in(v2_cgroup.path("")) == (ZERO, 0)


def test_proc_counting_equals_taskstats_on_the_same_v1_cgroup(ts, mixed_v1):
    p = mixed_v1.spawn(PIPE_THREADS)
    wait_states(p.pid, "SSSSSS")
    path = mixed_v1.path("cpu")
    assert taskstats.count_task_states_in(path) == (ts.cgroup_stats(path), 0)
    assert ts.cgroup_stats(path) == counts(sleeping=7, running=1, stopped=1)


def absent_pid():
    with open("/proc/sys/kernel/pid_max") as f:
        pid = int(f.read()) - 1
    while os.path.exists(f"/proc/{pid}"):
        pid -= 1
    return pid


def test_thread_gone_before_its_stat_is_read_is_counted_vanished(v1_cgroup):
    p = v1_cgroup.spawn(PIPE_SLEEPER)
    wait_states(p.pid, "S")
    text = f"{absent_pid()}\n{p.pid}\n".encode()
    assert taskstats.count_task_states_text(text) == (counts(sleeping=1), 1)


def test_empty_lines_are_skipped_and_no_final_newline_is_fine(v1_cgroup):
    p = v1_cgroup.spawn(PIPE_SLEEPER)
    wait_states(p.pid, "S")
    assert taskstats.count_task_states_text(f"\n{p.pid}".encode()) == (counts(sleeping=1), 0)
    assert taskstats.count_task_states_text(b"") == (ZERO, 0)


@pytest.mark.parametrize("text", [b"12x\n", b"-1\n", b" 1\n", b"99999999999999999999\n"])
def test_line_that_is_not_a_tid_is_an_error(text):
    with pytest.raises(ValueError, match="not a decimal tid"):
        taskstats.count_task_states_text(text)


def fake_proc(tmp_path, stats):
    for tid, line in stats.items():
        os.makedirs(tmp_path / str(tid))
        (tmp_path / str(tid) / "stat").write_bytes(line)
    return str(tmp_path)


def stat_line(tid, state, comm=b"w"):
    return b"%d (%s) %s 1 " % (tid, comm, state) + b"0 " * 18 + b"7 0 0\n"


def test_state_letters_map_like_cgroupstats_build(tmp_path):
    letters = b"RSDTtZXIPKW"
    root = fake_proc(tmp_path, {i + 10: stat_line(i + 10, letters[i:i + 1]) for i in range(len(letters))})
    tids = b"".join(b"%d\n" % (i + 10) for i in range(len(letters)))
    # R running, S sleeping, D uninterruptible, T and t stopped; Z X I P K W nowhere
    assert taskstats.count_task_states_text(tids, root) == (
        counts(running=1, sleeping=1, uninterruptible=1, stopped=2), 0)


def test_comm_with_parens_and_spaces_is_read_by_pid_stat(tmp_path):
    root = fake_proc(tmp_path, {5: stat_line(5, b"D", comm=b"a) R (b c)")})
    assert taskstats.count_task_states_text(b"5\n", root) == (counts(uninterruptible=1), 0)


def test_malformed_stat_is_an_error(tmp_path):
    root = fake_proc(tmp_path, {5: b"5 (x) S 1 2 3\n", 6: stat_line(6, b"S")})
    with pytest.raises(ValueError, match="does not parse"):
        taskstats.count_task_states_text(b"6\n5\n", root)


def test_unreadable_stat_is_an_errno_not_vanished(tmp_path):
    os.makedirs(tmp_path / "5" / "stat")          # a directory: read() answers EISDIR
    with pytest.raises(OSError) as e:
        taskstats.count_task_states_text(b"5\n", str(tmp_path))
    assert e.value.errno == errno.EISDIR


# --- load smoothing (spec 7.2) -------------------------------------------------------------

def test_decay_of_one_second_interval():
    assert taskstats.decay(1.0) == pytest.approx(0.904837, abs=1e-6)
    assert taskstats.decay(10.0) == pytest.approx(0.367879, abs=1e-6)


def test_smoothing_replays_the_spec_rule():
    # d = exp(-0.1) = 0.9048374180; avg: 1, 1, 0.904837, 0.818731,
    # 0.818731*d + 3*(1-d) = 0.740818 + 0.285488 = 1.026306
    assert taskstats.smooth_load([1, 1, 0, 0, 3], 1.0) == [1000, 1000, 904, 818, 1026]
    # d = exp(-1) = 0.367879: 2 -> 2000, then 2*d = 0.735759 -> 735 (truncated, not rounded)
    assert taskstats.smooth_load([2, 0], 10.0) == [2000, 735]
    # the first sample is taken as is, not decayed from 0
    assert taskstats.smooth_load([5], 1.0) == [5000]
    assert taskstats.smooth_load([], 1.0) == []
