"""ContainerStats.accelerators: NVML wired into the Sampler (cgsampler.accelerators),
against the fake libnvidia-ml.so.1 of tests/fake_nvml (see tests/test_nvml.py for
how it is configured) and, in the tests marked `gpu`, against the real library.

The GPU processes are real processes, in real test cgroups where a test says so;
the fake lists their host PIDs as compute processes. The expected values are the
fake's configuration (TWO_GPUS), written out."""
import json
import os
import subprocess
import sys
import time

import pytest

import cgsampler

from cgsampler import accelerators
from cgsampler._native import nvml
from cgsampler.accelerators import cgroup_of, device_minors
from cgsampler.sampler import Sampler
from test_nvml import REAL_LIBRARY, TWO_GPUS, fake_libs, make_fake, real, real_library  # noqa: F401  (fake_libs: fixture)

SRC = os.path.dirname(os.path.dirname(os.path.abspath(cgsampler.__file__)))   # the package under test (installed, or src/)
GIB = 1 << 30
H200 = {"make": "nvidia", "model": "NVIDIA H200", "id": "GPU-0b9f3c2e-1111-2222-3333-444455556666",
        "memory_total": 150754820096, "memory_used": 81604378624, "duty_cycle": 37}
P100 = {"make": "nvidia", "model": "Tesla P100-PCIE-16GB", "id": "GPU-7d1e0a55-aaaa-bbbb-cccc-ddddeeeeffff",
        "memory_total": 17071734784, "memory_used": 1048576, "duty_cycle": 100}
SLEEPER = "import time; time.sleep(120)\n"


@pytest.fixture
def fake(fake_libs, tmp_path, monkeypatch):
    monkeypatch.delenv(accelerators.PROCESS_INTERVAL_ENV, raising=False)
    return make_fake(fake_libs, tmp_path, monkeypatch)


@pytest.fixture
def workers():
    """Real processes (in this test's own cgroup) that the fake lists as GPU processes."""
    procs = [subprocess.Popen([sys.executable, "-c", SLEEPER]) for _ in range(3)]
    yield [p.pid for p in procs]
    for p in procs:
        p.kill()
        p.wait()


def sampler(fake, containers=("/",), **acc):
    return Sampler(containers=list(containers), history=8, nvml_library=fake.path,
                   accelerators={"mode": True, **acc})


def acc_json(s, name="/"):
    """The `accelerators` of the newest sample in the container's v1 JSON."""
    st = json.loads(s.container_info(name).to_json())["stats"][-1]
    return st.get("accelerators")


def cli_info(name, library, config, process_interval=None, cgroup_root=None):
    env = dict(os.environ, PYTHONPATH=SRC, CGSAMPLER_NVML_LIBRARY=library, FAKE_NVML_CONFIG=config)
    env.pop(accelerators.PROCESS_INTERVAL_ENV, None)
    if process_interval is not None:
        env[accelerators.PROCESS_INTERVAL_ENV] = str(process_interval)
    args = [sys.executable, "-m", "cgsampler"] + (["--cgroup-root", cgroup_root] if cgroup_root else [])
    r = subprocess.run(args + ["info", name, "--num-stats", "2", "--interval", "0.2"], env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


# --- the two attribution sources, as pure functions -----------------------------------------

def test_devices_list_names_gpus_by_minor_below_128_and_wildcards_name_none():
    assert device_minors("c 195:0 rwm\nc 195:3 rw\nc 195:255 rwm\nc 195:254 rwm\nc 1:3 rwm\n") == {0, 3}
    assert device_minors("a *:* rwm\n") == set()
    assert device_minors("c 195:* rwm\nc *:* m\n") == set()
    assert device_minors("b 195:1 rwm\nc 195:1\nc 195:x rwm\n\n") == set()   # block, 2 fields, not a number
    assert device_minors("c 195:127 r\nc 195:128 r\n") == {127}


def test_proc_cgroup_names_the_container_v2_by_the_0_line_v1_by_devices_then_cpu():
    v1 = "12:devices:/docker/abc\n4:cpu,cpuacct:/kubepods/x\n1:name=systemd:/init.scope\n0::/\n"
    assert cgroup_of(v1, 1) == "/docker/abc"
    assert cgroup_of("4:cpu,cpuacct:/kubepods/x//\n0::/u\n", 1) == "/kubepods/x"
    assert cgroup_of(v1, 2) == "/"
    assert cgroup_of("0::/system.slice/a.service\n", 2) == "/system.slice/a.service"
    assert cgroup_of("0::/a\n", 1) is None
    assert cgroup_of("", 2) is None


# --- attribution end to end: `cgsampler info` JSON ---------------------------------------------

def test_v1_devices_path_shows_the_allowed_gpu_in_info_json(fake, v1_cgroup):
    fake.configure(TWO_GPUS)
    v1_cgroup.spawn(SLEEPER)
    if "devices" not in v1_cgroup.dirs:
        pytest.skip("no v1 devices controller")
    v1_cgroup.write("devices", "devices.deny", "a")
    for line in ("c 195:0 rwm", "c 195:255 rwm", "c 195:7 rwm"):    # P100, nvidiactl, a minor NVML lacks
        v1_cgroup.write("devices", "devices.allow", line)
    assert v1_cgroup.read("devices", "devices.list").split("\n")[:3] == ["c 195:0 rwm", "c 195:255 rwm",
                                                                         "c 195:7 rwm"]
    info = cli_info(v1_cgroup.name, fake.path, fake.config_path)
    assert [st["accelerators"] for st in info["stats"]] == [[P100], [P100]]
    assert info["stats"][-1]["memory"]["usage"] > 0                  # the cgroup itself is sampled as before
    root = cli_info("/", fake.path, fake.config_path)                # allowed every device: none, as cAdvisor
    assert all("accelerators" not in st for st in root["stats"])


def test_v1_process_path_shows_the_gpu_of_the_containers_process(fake, v1_cgroup, workers):
    p = v1_cgroup.spawn(SLEEPER)
    fake.configure(TWO_GPUS + f"0.proc {p.pid} {2 * GIB}\n1.proc {workers[0]} 4096\n")
    info = cli_info(v1_cgroup.name, fake.path, fake.config_path, process_interval=5)
    assert [st["accelerators"] for st in info["stats"]] == [[H200], [H200]]
    assert "accelerators" not in cli_info(v1_cgroup.name, fake.path, fake.config_path)["stats"][-1]  # opt-in
    with sampler(fake, [v1_cgroup.name], process_interval=5) as s:
        s.sample()
        assert s.accelerator_usage(v1_cgroup.name) == [{
            "row": 0, "id": H200["id"], "model": "NVIDIA H200", "minor": 3, "mig_instance": False,
            "sources": ["processes"], "memory_used": 2 * GIB, "pids": [p.pid],
            "read_at_ns": s.accelerator_usage(v1_cgroup.name)[0]["read_at_ns"]}]


def test_both_paths_on_v1_are_merged_per_gpu(fake, v1_cgroup):
    p = v1_cgroup.spawn(SLEEPER)
    if "devices" not in v1_cgroup.dirs:
        pytest.skip("no v1 devices controller")
    v1_cgroup.write("devices", "devices.deny", "a")
    v1_cgroup.write("devices", "devices.allow", "c 195:3 rwm")
    fake.configure(TWO_GPUS + f"0.proc {p.pid} 1000\n0.gproc {p.pid} 1000\n1.proc {p.pid} 5000\n")
    with sampler(fake, [v1_cgroup.name], process_interval=0) as s:
        s.sample()
        assert acc_json(s, v1_cgroup.name) == [H200, P100]
        use = s.accelerator_usage(v1_cgroup.name)
        # A process in both lists (compute + graphics) counts once.
        assert [(u["sources"], u["memory_used"], u["pids"]) for u in use] == [
            (["devices", "processes"], 1000, [p.pid]), (["processes"], 5000, [p.pid])]


def test_v2_process_path_shows_the_gpu_of_the_containers_process(fake, v2_cgroup):
    p = v2_cgroup.spawn(SLEEPER)
    fake.configure(TWO_GPUS + f"1.proc {p.pid} {3 * GIB}\n")
    root = os.path.dirname(v2_cgroup.dirs[""].rstrip("/"))
    info = cli_info(v2_cgroup.name, fake.path, fake.config_path, process_interval=5, cgroup_root=root)
    assert [st["accelerators"] for st in info["stats"]] == [[P100], [P100]]
    assert info["stats"][-1]["cpu"]["usage"]["total"] > 0


# --- values, cadence, per-container memory ----------------------------------------------------

def test_reads_are_at_most_every_interval_and_carried_between(fake, workers):
    fake.configure(TWO_GPUS + f"0.proc {workers[0]} 4096\n")
    # (a 1 s interval rather than the default 0.15 s: five sweeps of "/" fit in it
    # however loaded the machine is)
    with sampler(fake, process_interval=60, interval=1.0) as s:
        before = fake.calls()
        for _ in range(5):
            s.sample()
        assert fake.calls() - before == 2 * 2 + 2 * 2    # one read: memory + utilization; one process read
        rows, read_at = s.gpu_history
        assert rows.shape == (5, 2) and len(set(read_at.tolist())) == 1 and read_at[0] > 0
        assert rows["duty_cycle"].tolist() == [[37, 100]] * 5
        fake.set(0, "util_gpu", 91)
        fake.set(0, "memory_used", 5 * GIB)
        time.sleep(1.05)
        s.sample()
        assert acc_json(s) == [{**H200, "duty_cycle": 91, "memory_used": 5 * GIB}]
        assert s.gpu_history[1][-1] > read_at[0]


def test_unknown_process_memory_is_none_not_zero(fake, workers):
    fake.configure(TWO_GPUS + f"0.proc {workers[0]} 4096\n0.proc {workers[1]} 18446744073709551615\n"
                   f"1.proc {workers[2]} 8192\n")
    with sampler(fake, process_interval=0) as s:
        s.sample()
        assert [(u["memory_used"], u["pids"]) for u in s.accelerator_usage("/")] == [
            (None, sorted(workers[:2])), (8192, [workers[2]])]


def test_gpus_unused_for_idle_timeout_are_shut_down_and_loaded_again_when_a_process_appears(fake, workers):
    fake.configure(TWO_GPUS)
    with sampler(fake, process_interval=0, idle_timeout=0.2) as s:
        assert (s.accelerator_status, fake.init_count()) == ("ok", 1)    # the idle check runs in sweeps
        time.sleep(0.3)
        s.sample()
        assert (s.accelerator_status, fake.init_count()) == ("idle", 0)
        s.sample()
        assert acc_json(s) is None and s.container_info("/").stats[-1].cpu.usage.total > 0
        # With the process path on, refresh() looks for GPU processes once per
        # max(process_interval, idle_timeout): an nvmlInit each time.
        inits = fake.inits_total()
        s.refresh()                                  # too soon after the shutdown: does not look
        assert fake.inits_total() == inits
        time.sleep(0.25)
        s.refresh()                                  # looks, finds no GPU process, lets go again
        assert (s.accelerator_status, fake.init_count(), fake.inits_total()) == ("idle", 0, inits + 1)
        fake.configure(TWO_GPUS + f"1.proc {workers[0]} 4096\n")
        time.sleep(0.25)
        s.refresh()
        assert (s.accelerator_status, fake.init_count()) == ("ok", 1)
        s.sample()
        assert acc_json(s) == [P100]
    assert (s.accelerator_status, fake.init_count()) == ("closed", 0)


# --- error paths at the Sampler level: the cgroups are sampled regardless -----------------------

def assert_samples_cgroups(s):
    s.sample()
    st = s.container_info("/").stats[-1]
    assert st.cpu.usage.total > 0 and st.memory.usage > 0


def test_no_library_runs_exactly_as_before_and_says_not_found(tmp_path, monkeypatch):
    monkeypatch.delenv("CGSAMPLER_NVML_LIBRARY", raising=False)
    missing = str(tmp_path / "nowhere" / "libnvidia-ml.so.1")
    with Sampler(containers=["/"], history=4, nvml_library=missing) as s, \
            Sampler(containers=["/"], history=4, accelerators=False) as off:
        assert (s.accelerator_status, off.accelerator_status) == ("not found", "disabled")
        assert "nowhere" in s.accelerators.detail
        assert s.kept_fds == off.kept_fds
        assert_samples_cgroups(s)
        assert acc_json(s) is None
        assert s.gpu_history[0].shape == (1, 0) and s.accelerator_usage("/") == []


def test_auto_loads_only_with_an_nvidia_pci_device_or_a_named_library(tmp_path, monkeypatch, fake):
    monkeypatch.delenv("CGSAMPLER_NVML_LIBRARY", raising=False)
    sys_root = tmp_path / "sys"
    (sys_root / "bus/pci/devices/0000:00:02.0").mkdir(parents=True)
    (sys_root / "bus/pci/devices/0000:00:02.0/vendor").write_text("0x8086\n")
    with Sampler(containers=["/"], history=2, sys_root=str(sys_root)) as s:
        assert s.accelerator_status == "no NVIDIA device"
    (sys_root / "bus/pci/devices/0000:17:00.0").mkdir()
    (sys_root / "bus/pci/devices/0000:17:00.0/vendor").write_text("0x10DE\n")
    with Sampler(containers=["/"], history=2, sys_root=str(sys_root)) as s:
        if real_library() is None:                   # the driver's own libnvidia-ml.so.1, if any
            assert s.accelerator_status == "not found"
        else:
            assert s.accelerator_status not in ("not found", "no NVIDIA device")
    fake.configure(TWO_GPUS)
    monkeypatch.setenv("CGSAMPLER_NVML_LIBRARY", fake.path)
    with Sampler(containers=["/"], history=2) as s:
        assert s.accelerator_status == "ok" and fake.init_count() == 1
    assert fake.init_count() == 0


def test_missing_symbol_says_which(fake_libs, tmp_path, monkeypatch):
    fake = make_fake(fake_libs, tmp_path, monkeypatch, "no_init_v2")
    fake.configure(TWO_GPUS)
    with sampler(fake) as s:
        assert s.accelerator_status == "missing symbol nvmlInit_v2"
        assert_samples_cgroups(s)
        assert acc_json(s) is None


def test_a_hanging_init_times_out_and_the_sampler_goes_on(fake_libs, tmp_path, monkeypatch):
    fake = make_fake(fake_libs, tmp_path, monkeypatch, "hang")
    fake.configure(TWO_GPUS + "init_hang_ms 1500\n")
    t0 = time.monotonic()
    with sampler(fake, init_timeout=0.2) as s:
        assert time.monotonic() - t0 < 1.4
        assert s.accelerator_status == "init timed out"
        assert_samples_cgroups(s)
        assert acc_json(s) is None
        s.refresh()                                  # a timed-out init is not retried behind the user's back
        assert s.accelerator_status == "init timed out"
    deadline = time.monotonic() + 10                 # the abandoned init finishes and balances itself
    while (fake.inits_total(), fake.init_count()) != (1, 0) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert (fake.inits_total(), fake.init_count()) == (1, 0)


@pytest.mark.parametrize("code,status", [(4, "no permission"), (9, "driver not loaded")])
def test_an_init_error_is_the_status(fake, code, status):
    fake.configure(TWO_GPUS + f"init_error {code}\n")
    with sampler(fake) as s:
        assert s.accelerator_status == status
        assert_samples_cgroups(s)
        assert acc_json(s) is None


def test_uninitialized_behind_our_back_drops_gpu_data_until_refresh_reloads(fake, workers):
    fake.configure(TWO_GPUS + f"0.proc {workers[0]} 4096\n")
    with sampler(fake, process_interval=0, interval=0) as s:
        s.sample()
        assert acc_json(s) == [H200]
        assert fake.lib.nvmlShutdown() == 0          # another user's extra nvmlShutdown
        assert_samples_cgroups(s)
        assert s.accelerator_status == "uninitialized" and acc_json(s) is None
        s.sample()
        assert acc_json(s) is None
        s.refresh()
        assert (s.accelerator_status, fake.init_count()) == ("ok", 1)
        s.sample()
        assert acc_json(s) == [H200]


def test_unsupported_utilization_keeps_memory_with_duty_cycle_0_and_says_why(fake, workers):
    fake.configure(TWO_GPUS + "0.err.utilization 3\n" + f"0.proc {workers[0]} 4096\n")
    with sampler(fake, process_interval=0) as s:
        s.sample()
        assert acc_json(s) == [{**H200, "duty_cycle": 0}]
        assert s.accelerators.devices[0]["unsupported"] == {"duty_cycle": "Not Supported (3)"}


def test_a_lost_gpu_is_left_out_and_the_other_kept(fake, workers):
    fake.configure(TWO_GPUS + "1.err.memory 15\n1.err.utilization 15\n"
                   + f"0.proc {workers[0]} 4096\n1.proc {workers[1]} 4096\n")
    with sampler(fake, process_interval=0) as s:
        s.sample()
        assert acc_json(s) == [H200]
        assert s.accelerators.devices[1]["unsupported"] == {"duty_cycle": "GPU is lost (15)",
                                                            "memory": "GPU is lost (15)"}
        assert_samples_cgroups(s)


def test_no_permission_for_a_process_list_leaves_that_gpu_unattributed_by_processes(fake, workers):
    fake.configure(TWO_GPUS + "1.err.processes 4\n" + f"0.proc {workers[0]} 4096\n1.proc {workers[1]} 4096\n")
    with sampler(fake, process_interval=0) as s:
        s.sample()
        assert acc_json(s) == [H200]
        assert s.accelerators.devices[1]["unsupported"] == {"processes": "Insufficient Permissions (4)"}


def test_more_processes_than_the_buffer_take_the_two_call_dance(fake, workers):
    bogus = [4_000_000 + i for i in range(99)]       # above any pid_max: no /proc entry, not attributed
    fake.configure(TWO_GPUS + "".join(f"1.proc {pid} 1\n" for pid in bogus) + f"1.proc {workers[0]} 777\n")
    with sampler(fake, process_interval=0) as s:
        s.sample()
        assert acc_json(s) == [P100]
        assert [(u["memory_used"], u["pids"]) for u in s.accelerator_usage("/")] == [(777, [workers[0]])]


MIG = TWO_GPUS + """\
0.mig_mode 1
2.parent 0
2.name NVIDIA H200 MIG 3g.71gb
2.uuid MIG-11111111-2222-3333-4444-555555555555
2.memory_total 76235669504
2.memory_used 1000
3.parent 0
3.name NVIDIA H200 MIG 1g.18gb
3.uuid MIG-66666666-7777-8888-9999-000000000000
3.memory_total 18874368000
3.memory_used 2000
"""


def test_mig_instances_are_reported_per_instance_with_duty_cycle_unsupported(fake, workers):
    fake.configure(MIG + f"3.proc {workers[0]} 3000\n")
    with sampler(fake, process_interval=0) as s:
        s.sample()
        assert acc_json(s) == [{"make": "nvidia", "model": "NVIDIA H200 MIG 1g.18gb",
                                "id": "MIG-66666666-7777-8888-9999-000000000000",
                                "memory_total": 18874368000, "memory_used": 2000, "duty_cycle": 0}]
        (u,) = s.accelerator_usage("/")
        assert (u["row"], u["mig_instance"], u["memory_used"], u["minor"]) == (2, True, 3000, 3)
        devs = s.accelerators.devices
        assert devs[2]["unsupported"] == {"duty_cycle": "Not Supported (3)"}
        assert devs[0]["mig_enabled"] and devs[0]["unsupported"] == {"duty_cycle": "Not Supported (3)"}


def test_close_shuts_nvml_down(fake):
    fake.configure(TWO_GPUS)
    s = sampler(fake)
    assert fake.init_count() == 1
    s.close()
    assert (s.accelerator_status, fake.init_count()) == ("closed", 0)
    s.close()


def test_bad_options_are_invalid_option(fake):
    from cgsampler import errors
    with pytest.raises(errors.InvalidOption):
        Sampler(containers=["/"], accelerators="yes")
    with pytest.raises(errors.InvalidOption):
        Sampler(containers=["/"], accelerators={"interval": -1})
    with pytest.raises(errors.InvalidOption):
        Sampler(containers=["/"], accelerators={"intervall": 1})


# --- the real library (a GPU machine) -----------------------------------------------------------

@pytest.fixture
def real_sampler():
    s = Sampler(containers=["/"], history=8, nvml_library=REAL_LIBRARY,
                accelerators={"mode": True, "process_interval": 0, "init_timeout": 60})
    if s.accelerator_status != "ok":
        s.close()
        pytest.skip(f"real NVML is not usable here: {s.accelerator_status} ({s.accelerators.detail})")
    yield s
    s.close()


@pytest.mark.gpu
@real
def test_real_gpus_sample_and_attribute_the_running_processes(real_sampler):
    s = real_sampler
    s.sample()
    rows, read_at = s.gpu_history
    assert rows.shape[1] == len(s.accelerators.devices) >= 1 and read_at[-1] > 0
    for d in s.accelerators.devices:
        print(d["row"], d["name"], d["uuid"], d["minor"], d["unsupported"])
    usage = s.accelerator_usage("/")                # every GPU process on the host is under "/"
    print("usage of /:", usage)
    for u in usage:
        assert u["sources"] == ["processes"] and u["pids"]
    got = acc_json(s)
    assert [a["id"] for a in got or []] == [u["id"] for u in usage if rows[-1][u["row"]]["valid"]]
    for a in got or []:
        assert 0 < a["memory_total"] and a["memory_used"] <= a["memory_total"] and 0 <= a["duty_cycle"] <= 100


@pytest.mark.gpu
@real
def test_real_v1_devices_path_in_info_json(real_sampler, v1_cgroup):
    gpu = next((d for d in real_sampler.accelerators.devices if d["minor"] is not None
                and not d["mig_instance"]), None)
    if gpu is None or "devices" not in v1_cgroup.dirs:
        pytest.skip("no GPU with a minor number, or no v1 devices controller")
    v1_cgroup.spawn(SLEEPER)
    v1_cgroup.write("devices", "devices.deny", "a")
    v1_cgroup.write("devices", "devices.allow", f"c 195:{gpu['minor']} rwm")
    # (FAKE_NVML_CONFIG: only for a dry run against the fake, CGSAMPLER_NVML_LIBRARY=<fake>.)
    info = cli_info(v1_cgroup.name, REAL_LIBRARY, os.environ.get("FAKE_NVML_CONFIG", ""))
    (a,) = info["stats"][-1]["accelerators"]
    assert (a["make"], a["model"], a["id"]) == ("nvidia", gpu["name"], gpu["uuid"])
    assert a["memory_total"] > 0
