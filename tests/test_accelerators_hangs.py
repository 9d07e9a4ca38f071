"""GPUs that hang or misbehave must not cost the cgroup stats: every NVML call
runs on the accelerators' own thread, and sweeps, refresh() and close() wait
for it a bounded time only. Against the fake libnvidia-ml.so.1 (tests/fake_nvml),
whose memory and process-list calls block while its `hang_file` exists (what a
GPU fallen off the bus does to the real library)."""
import os
import subprocess
import sys
import threading
import time

import pytest

import cgsampler
from cgsampler import accelerators
from cgsampler.accelerators import Accelerators
from cgsampler.sampler import Sampler
from test_nvml import TWO_GPUS, fake_libs, make_fake  # noqa: F401  (fake_libs: fixture)

SRC = os.path.dirname(os.path.dirname(os.path.abspath(cgsampler.__file__)))


@pytest.fixture
def fake(fake_libs, tmp_path, monkeypatch):
    monkeypatch.delenv(accelerators.PROCESS_INTERVAL_ENV, raising=False)
    return make_fake(fake_libs, tmp_path, monkeypatch)


@pytest.fixture
def hang(tmp_path):
    """The fake's hang file: exists -> its calls block. Removed at the end, so
    the blocked call returns and the NVML thread can shut the fake down."""
    path = tmp_path / "hang"
    yield path
    if path.exists():
        path.unlink()


def wait_for(cond, seconds=5.0):
    deadline = time.monotonic() + seconds
    while not cond() and time.monotonic() < deadline:
        time.sleep(0.02)
    return cond()


def test_a_blocked_nvml_read_costs_sweeps_one_short_wait_and_the_gpus_come_back(fake, hang, monkeypatch):
    monkeypatch.setattr(accelerators, "HUNG_AFTER", 0.3)
    fake.configure(TWO_GPUS + f"hang_file {hang}\n")
    with Sampler(containers=["/"], history=8, nvml_library=fake.path,
                 accelerators={"mode": True, "interval": 0}) as s:
        s.sample()
        assert all(s.gpu_history[0]["valid"][-1])
        hang.touch()                                  # the GPU stops answering
        times = []
        for _ in range(8):
            t0 = time.monotonic()
            s.sample()
            times.append(time.monotonic() - t0)
            time.sleep(0.05)
        assert max(times) < 0.3 and sum(times) < 0.5  # one READ_WAIT (0.05 s), then no waiting
        assert s.stats["valid"][-1, 0] != 0          # the cgroup stats go on
        assert s.accelerator_status == "not answering"
        assert "has not returned" in s.accelerators.detail
        assert s.gpu_history[0]["valid"][-1].tolist() == [0, 0]
        t0 = time.monotonic()
        s.container_info("/")                         # queries do not wait on NVML either
        assert time.monotonic() - t0 < 0.3
        hang.unlink()                                 # the call returns
        assert wait_for(lambda: (s.sample(), s.accelerator_status)[1] == "ok")
        s.sample()
        assert all(s.gpu_history[0]["valid"][-1])
    assert wait_for(lambda: fake.init_count() == 0)


def test_close_with_a_blocked_nvml_call_returns_and_the_shutdown_follows(fake, hang, monkeypatch):
    monkeypatch.setattr(accelerators, "CLOSE_WAIT", 0.2)
    fake.configure(TWO_GPUS + f"hang_file {hang}\n")
    s = Sampler(containers=["/"], history=4, nvml_library=fake.path,
                accelerators={"mode": True, "interval": 0})
    s.sample()
    hang.touch()
    s.sample()                                        # its read blocks on the NVML thread
    t0 = time.monotonic()
    s.close()
    assert time.monotonic() - t0 < 1.0 and s.accelerator_status == "closed"
    assert fake.init_count() == 1                     # still held by the blocked call
    hang.unlink()
    assert wait_for(lambda: fake.init_count() == 0)   # nvmlShutdown once it returns


def test_a_blocked_process_list_does_not_block_sweeps(fake, hang):
    fake.configure(TWO_GPUS + f"hang_file {hang}\n0.proc {os.getpid()} 4096\n")
    with Sampler(containers=["/"], history=4, nvml_library=fake.path,
                 accelerators={"mode": True, "process_interval": 0, "interval": 1.0}) as s:
        s.sample()
        assert [u["pids"] for u in s.accelerator_usage("/")] == [[os.getpid()]]
        hang.touch()
        t0 = time.monotonic()
        for _ in range(5):
            s.sample()
        assert time.monotonic() - t0 < 0.5
        hang.unlink()


def test_a_slow_reload_in_refresh_does_not_stop_sweeps_in_another_thread(fake, monkeypatch):
    monkeypatch.setattr(accelerators, "RETRY_INTERVAL", 0)
    fake.configure(TWO_GPUS + "init_error 9\n")      # driver not loaded: retried at refresh()
    with Sampler(containers=["/"], history=4, nvml_library=fake.path, accelerators=True) as s:
        assert s.accelerator_status == "driver not loaded"
        fake.configure(TWO_GPUS + "init_hang_ms 1000\n")
        gaps, stop = [], threading.Event()

        def sweeps():
            last = time.monotonic()
            while not stop.is_set():
                s.sample()
                now = time.monotonic()
                gaps.append(now - last)
                last = now
                time.sleep(0.02)
        t = threading.Thread(target=sweeps)
        t.start()
        time.sleep(0.1)
        t0 = time.monotonic()
        s.refresh()                                   # waits for the slow init itself...
        took = time.monotonic() - t0
        stop.set()
        t.join()
        assert took >= 0.9 and s.accelerator_status == "ok"
        assert max(gaps) < 0.5                        # ...while the other thread's sweeps went on


def test_a_library_whose_load_blocks_times_out_in_the_constructor(tmp_path, monkeypatch):
    monkeypatch.setattr(accelerators, "LOAD_GRACE", 0.2)
    fifo = tmp_path / "libnvidia-ml.so.1"
    os.mkfifo(fifo)                                   # dlopen() blocks opening it, as on a hung mount
    t0 = time.monotonic()
    s = Sampler(containers=["/"], history=2, nvml_library=str(fifo),
                accelerators={"mode": True, "init_timeout": 0.3})
    try:
        assert time.monotonic() - t0 < 2.0
        assert s.accelerator_status == "init timed out" and "took over 0.5 s" in s.accelerators.detail
        s.sample()
        assert s.stats["valid"][-1, 0] != 0
    finally:
        s.close()
        with open(fifo, "wb"):                        # let the blocked open return
            pass


def test_a_process_list_asking_for_absurd_room_is_an_error_for_that_gpu_not_a_memory_error(fake):
    fake.configure(TWO_GPUS + "0.proc_need 2000000000\n" + f"1.proc {os.getpid()} 8192\n")
    with Sampler(containers=["/"], history=2, nvml_library=fake.path,
                 accelerators={"mode": True, "process_interval": 0}) as s:
        s.sample()
        devices = s.accelerators.devices
        assert devices[0]["unsupported"]["processes"] == "Insufficient Size (7)"
        assert s.accelerators._nv.process_capacity < 1 << 20   # no 2e9-entry buffer was made
        assert [u["pids"] for u in s.accelerator_usage("/")] == [[os.getpid()]]   # the other GPU's list


def test_a_bad_process_interval_in_the_environment_matters_only_where_nvml_is_loaded(fake, monkeypatch):
    monkeypatch.setenv(accelerators.PROCESS_INTERVAL_ENV, "5s")
    with Sampler(containers=["/"], history=2, accelerators=False) as s:
        assert s.accelerator_status == "disabled"
    with pytest.raises(cgsampler.errors.InvalidOption, match="CGSAMPLER_NVML_PROCESS_INTERVAL"):
        Sampler(containers=["/"], history=2, nvml_library=fake.path, accelerators=True)


def test_uninitialized_is_recovered_when_one_gpu_had_no_handle(fake, monkeypatch):
    fake.configure(TWO_GPUS + "1.err.handle 15\n")
    acc = Accelerators(4, True, fake.path, interval=0, version=2)
    try:
        acc.attach("/")
        acc._procs = {"/": {0: [(1, 1)]}}            # attribute GPU 0 without the process path
        acc.sample(0)
        assert acc.stats(0, "/")[0].memory_used == 81604378624
        assert fake.lib.nvmlShutdown() == 0           # another user's extra nvmlShutdown
        acc.sample(1)
        assert acc.status == "uninitialized" and acc.stats(1, "/") is None
        acc.refresh()
        assert acc.status == "ok"
    finally:
        acc.close()


def test_host_pids_are_not_attributed_from_inside_a_pid_namespace(fake, tmp_path):
    # A proc root whose "self" lives in a child PID namespace (NSpid lists two
    # pids): NVML's host pid 1 must not be read as this namespace's pid 1.
    proc = tmp_path / "proc"
    (proc / "self").mkdir(parents=True)
    (proc / "self" / "status").write_text("Name:\tpython\nNSpid:\t4242\t7\n")
    (proc / "1").mkdir()
    (proc / "1" / "cgroup").write_text("0::/inside\n")
    fake.configure(TWO_GPUS + "0.proc 1 4096\n")
    acc = Accelerators(2, True, fake.path, process_interval=0, proc_root=str(proc), version=2)
    try:
        acc.attach("/")
        acc.attach("/inside")
        acc.sample(0)
        assert acc.usage("/inside") == [] and acc.usage("/") == []
        assert "PID namespace of its own" in acc.devices[0]["unsupported"]["processes"]
        (proc / "self" / "status").write_text("Name:\tpython\nNSpid:\t4242\n")   # the host's namespace
        acc._next_procs = 0
        acc.sample(1)
        assert [u["pids"] for u in acc.usage("/inside")] == [[1]]
    finally:
        acc.close()


def test_many_samplers_with_gpus_close_their_nvml_threads(fake):
    fake.configure(TWO_GPUS)
    before = threading.active_count()
    for _ in range(20):
        with Sampler(containers=["/"], history=2, nvml_library=fake.path, accelerators=True) as s:
            s.sample()
    assert wait_for(lambda: threading.active_count() == before)
    assert fake.init_count() == 0


def test_a_sweep_racing_close_in_a_subprocess(fake, hang):
    # close() from another thread while sweeps run and a read is blocked: no
    # exception, no hang, and the process exits.
    code = f"""
import threading, time
from cgsampler import errors
from cgsampler.sampler import Sampler
s = Sampler(containers=["/"], history=4, nvml_library={fake.path!r},
            accelerators={{"mode": True, "interval": 0}})
bad = []
def loop():
    while True:
        try:
            s.sample()
        except errors.SamplerClosed:
            return
        except Exception as e:
            bad.append(repr(e)); return
t = threading.Thread(target=loop); t.start()
time.sleep(0.3)
open({str(hang)!r}, "w").close()
time.sleep(0.3)
s.close()
t.join(5)
print("alive", t.is_alive(), "bad", bad)
"""
    fake.configure(TWO_GPUS + f"hang_file {hang}\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, PYTHONPATH=SRC, FAKE_NVML_CONFIG=fake.config_path))
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "alive False bad []"


FOUR_GPUS = "count 4\n" + "".join(f"{i}.uuid GPU-B-{i}\n{i}.minor {i}\n{i}.memory_total 1000\n{i}.memory_used {10 + i}\n"
                                   for i in range(4))


def test_a_reload_that_finds_other_gpus_does_not_relabel_the_old_rows(fake):
    two = TWO_GPUS + f"0.proc {os.getpid()} 4096\n"
    fake.configure(two)
    with Sampler(containers=["/"], history=8, nvml_library=fake.path,
                 accelerators={"mode": True, "process_interval": 0, "idle_timeout": 0, "interval": 0}) as s:
        s.sample()
        assert [a["id"] for a in s.accelerator_usage("/")] == ["GPU-0b9f3c2e-1111-2222-3333-444455556666"]
        fake.configure(TWO_GPUS)                     # no process: the next sweep shuts NVML down
        s.sample()
        assert s.accelerator_status == "idle"
        fake.configure(FOUR_GPUS + f"2.proc {os.getpid()} 4096\n")     # other GPUs, found by the reload
        s.refresh()
        assert s.accelerator_status == "ok"
        rows, _ = s.gpu_history
        assert rows.shape[1] == 4 and len(s.accelerators.devices) == 4    # at once, before a sweep
        assert not rows["valid"].any()               # the old GPUs' rows are not shown as the new ones'
        s.sample()
        info = s.container_info("/")
        assert [a.id for st in info.stats for a in (st.accelerators or [])] == ["GPU-B-2"]


def test_a_fork_child_has_no_gpu_data_and_says_why(fake):
    fake.configure(TWO_GPUS + f"0.proc {os.getpid()} 4096\n")
    with Sampler(containers=["/"], history=4, nvml_library=fake.path,
                 accelerators={"mode": True, "interval": 0}) as s:
        s.sample()
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:                                  # the child: one line back, then out
            try:
                s.sample()
                status, valid = s.accelerator_status, bool(s.gpu_history[0]["valid"][-1].any())
                t0 = time.monotonic()
                s.close()
                msg = f"{status} {valid} {time.monotonic() - t0 < 0.5} {s.accelerator_status}"
            except Exception as e:                    # noqa: BLE001 - reported to the parent
                msg = f"error {e!r}"
            os.write(w, msg.encode())
            os._exit(0)
        os.close(w)
        os.waitpid(pid, 0)
        with os.fdopen(r) as f:
            got = f.read()
        assert got == "forked False True closed", got
        s.sample()                                    # the parent goes on
        assert s.accelerator_status == "ok" and all(s.gpu_history[0]["valid"][-1])


def test_a_fork_child_marks_the_gpus_forked_before_close(fake):
    fake.configure(TWO_GPUS)
    acc = Accelerators(4, True, fake.path, interval=0, version=2)
    try:
        acc.attach("/")
        acc._procs = {"/": {0: [(1, 1)]}}
        acc.sample(0)
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            acc.sample(1)
            os.write(w, f"{acc.status} {acc.stats(1, '/')}".encode())
            os._exit(0)
        os.close(w)
        os.waitpid(pid, 0)
        with os.fdopen(r) as f:
            assert f.read() == "forked None"
    finally:
        acc.close()


def test_close_called_on_the_nvml_thread_itself_does_not_wait_for_itself(fake):
    # (a garbage collection on that thread can run a forgotten Sampler's __del__)
    fake.configure(TWO_GPUS)
    acc = Accelerators(2, True, fake.path, version=2)
    t0 = time.monotonic()
    job = acc._nvt.call(acc.close, 5.0)
    assert job.done.is_set() and job.error is None and time.monotonic() - t0 < 1.0
    assert acc.status == "closed"
    assert wait_for(lambda: fake.init_count() == 0)


def test_attach_and_detach_racing_refresh_while_idle(fake):
    fake.configure(TWO_GPUS)
    acc = Accelerators(2, True, fake.path, process_interval=None, idle_timeout=0, version=2)
    try:
        acc.sample(0)
        assert acc.status == "idle"
        errors, stop = [], threading.Event()

        def churn():
            i = 0
            while not stop.is_set():
                acc.attach(f"/c{i % 50}")
                acc.detach(f"/c{(i + 25) % 50}")
                i += 1
        t = threading.Thread(target=churn)
        t.start()
        try:
            for _ in range(3000):
                try:
                    acc.refresh()
                except Exception as e:               # noqa: BLE001 - the race under test
                    errors.append(repr(e))
                    break
        finally:
            stop.set()
            t.join()
        assert errors == []
    finally:
        acc.close()
