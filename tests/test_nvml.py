"""The NVML layer (cgsampler._native.nvml) against a fake libnvidia-ml.so.1 that
this suite compiles from tests/fake_nvml/fake_nvml.c, and against the real
library where one is installed (tests marked `gpu`, skipped elsewhere).

The fake is configured per test through a text file named by $FAKE_NVML_CONFIG
(read at the init that takes NVML from 0 to 1 users) and a few exported hooks
called through ctypes. The loader code under test is the real one: dlopen,
dlsym of the versioned names, init in a helper thread with a timeout."""
import ctypes
import ctypes.util
import itertools
import os
import shutil
import subprocess
import sys
import threading
import time
import tracemalloc

import numpy as np
import pytest

from cgsampler._native import nvml
from cgsampler._native.nvml import ACCELERATOR_DTYPE, PROCESS_DTYPE, Nvml, NvmlError

HERE = os.path.dirname(os.path.abspath(__file__))
FAKE_SRC = os.path.join(HERE, "fake_nvml", "fake_nvml.c")
VARIANTS = {
    "full": [],
    "hang": [],                                  # its own copy: an abandoned init thread lives in it
    "no_init_v2": ["-DFAKE_NO_INIT_V2"],
    "no_memory_v2": ["-DFAKE_NO_MEMORY_V2"],
    "legacy_processes": ["-DFAKE_LEGACY_PROCESSES"],
}

GIB = 1 << 30


@pytest.fixture(scope="session")
def fake_libs(tmp_path_factory):
    """Compiles every variant of the fake into <tmp>/<variant>/libnvidia-ml.so.1."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler to build the fake libnvidia-ml.so.1")
    root = tmp_path_factory.mktemp("fake_nvml")
    libs = {}
    for name, flags in VARIANTS.items():
        d = root / name
        d.mkdir()
        out = d / "libnvidia-ml.so.1"
        subprocess.run([cc, "-Wall", "-shared", "-fPIC", "-O1", *flags, "-o", str(out), FAKE_SRC],
                       check=True)
        libs[name] = str(out)
    return libs


class Fake:
    """One variant of the fake: writes its config and reaches its hooks."""

    def __init__(self, path, config_path):
        self.path = path
        self.config_path = config_path
        self.lib = ctypes.CDLL(path)             # same file, so the same loaded copy as Nvml's dlopen
        self.lib.fake_nvml_calls.restype = ctypes.c_ulonglong
        self.lib.fake_nvml_set_u64.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_ulonglong]

    def configure(self, text):
        with open(self.config_path, "w") as f:
            f.write(text)
        self.lib.fake_nvml_reload()

    def init_count(self):
        return self.lib.fake_nvml_init_count()

    def inits_total(self):
        return self.lib.fake_nvml_inits_total()

    def calls(self):
        return self.lib.fake_nvml_calls()

    def set(self, dev, key, value):
        keys = {"memory_used": 0, "util_gpu": 1, "err.memory": 2, "err.utilization": 3}
        assert self.lib.fake_nvml_set_u64(dev, keys[key], value) == 0


def make_fake(fake_libs, tmp_path, monkeypatch, variant="full"):
    config = tmp_path / f"fake-{variant}.conf"
    config.write_text("count 0\n")
    monkeypatch.setenv("FAKE_NVML_CONFIG", str(config))
    monkeypatch.delenv("CGSAMPLER_NVML_LIBRARY", raising=False)
    fake = Fake(fake_libs[variant], str(config))
    assert fake.init_count() == 0, "a previous test left the fake initialized"
    return fake


@pytest.fixture
def fake(fake_libs, tmp_path, monkeypatch):
    return make_fake(fake_libs, tmp_path, monkeypatch)


@pytest.fixture
def nv():
    n = Nvml()
    yield n
    n.close()


TWO_GPUS = """\
count 2
0.name NVIDIA H200
0.uuid GPU-0b9f3c2e-1111-2222-3333-444455556666
0.minor 3
0.memory_total 150754820096
0.memory_used 81604378624
0.memory_reserved 566231040
0.util_gpu 37
0.util_memory 12
1.name Tesla P100-PCIE-16GB
1.uuid GPU-7d1e0a55-aaaa-bbbb-cccc-ddddeeeeffff
1.minor 0
1.memory_total 17071734784
1.memory_used 1048576
1.memory_reserved 0
1.util_gpu 100
1.util_memory 0
"""


def sample(nv, n=None):
    out = np.zeros(n if n is not None else nv.device_count, ACCELERATOR_DTYPE)
    ok = nv.sample(out)
    return ok, out


# --- layout --------------------------------------------------------------------------

def test_accelerator_dtype_matches_the_native_row_byte_for_byte():
    layout = nvml.row_layout()
    assert layout["itemsize"] == ACCELERATOR_DTYPE.itemsize == 72
    for name in ACCELERATOR_DTYPE.names:
        assert ACCELERATOR_DTYPE.fields[name][1] == layout[name], name
    assert layout["process_itemsize"] == PROCESS_DTYPE.itemsize == 24
    for name in PROCESS_DTYPE.names:
        assert PROCESS_DTYPE.fields[name][1] == layout[name], name


# --- no library, missing symbols, failing or hanging init ---------------------------

def test_no_library_at_the_path_is_unavailable_with_reason_not_found(tmp_path, nv):
    missing = str(tmp_path / "nowhere" / "libnvidia-ml.so.1")
    assert nv.load(missing) is False
    assert nv.available is False
    assert nv.status == "not found"
    assert "nowhere" in nv.detail
    assert nv.device_count == 0
    ok, out = sample(nv, 1)
    assert ok == 0 and out[0]["valid"] == 0


def test_library_path_comes_from_the_environment_when_not_given(fake, monkeypatch, tmp_path, nv):
    fake.configure(TWO_GPUS)
    monkeypatch.setenv("CGSAMPLER_NVML_LIBRARY", fake.path)
    assert nv.load() is True, nv.status
    assert nv.path == fake.path
    monkeypatch.setenv("CGSAMPLER_NVML_LIBRARY", str(tmp_path / "absent.so"))
    assert nv.load() is False and nv.status == "not found"
    assert fake.init_count() == 0          # the reload closed the first one


def test_a_library_without_nvmlInit_v2_is_unavailable_naming_the_symbol(fake_libs, tmp_path, monkeypatch, nv):
    fake = make_fake(fake_libs, tmp_path, monkeypatch, "no_init_v2")
    fake.configure(TWO_GPUS)
    assert nv.load(fake.path) is False
    assert nv.status == "missing symbol nvmlInit_v2"
    assert fake.inits_total() == 0          # the legacy nvmlInit is never called instead


@pytest.mark.parametrize("code,status,detail", [
    (9, "driver not loaded", "Driver Not Loaded"),
    (4, "no permission", "Insufficient Permissions"),
    (999, "init failed", "Unknown Error"),
])
def test_an_init_error_is_a_status_with_nvmls_own_message(fake, nv, code, status, detail):
    fake.configure(TWO_GPUS + f"init_error {code}\n")
    assert nv.load(fake.path) is False
    assert (nv.status, nv.detail, nv.init_return) == (status, detail, code)
    assert nv.available is False


def test_an_init_that_hangs_times_out_and_the_caller_goes_on(fake_libs, tmp_path, monkeypatch, nv):
    fake = make_fake(fake_libs, tmp_path, monkeypatch, "hang")
    fake.configure(TWO_GPUS + "init_hang_ms 1500\n")
    t0 = time.monotonic()
    assert nv.load(fake.path, timeout_s=0.2) is False
    elapsed = time.monotonic() - t0
    assert nv.status == "init timed out"
    assert elapsed < 1.0
    ok, out = sample(nv, 2)
    assert ok == 0
    # The abandoned helper thread finishes the init later and balances it with
    # nvmlShutdown, so the driver is not left held.
    deadline = time.monotonic() + 10
    while fake.inits_total() < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    while fake.init_count() != 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert (fake.inits_total(), fake.init_count()) == (1, 0)
    # A later load of the same library works once init is fast again.
    fake.configure(TWO_GPUS)
    assert nv.load(fake.path, timeout_s=5) is True
    assert nv.device_count == 2


def test_a_failing_device_count_is_a_status_and_nvml_is_shut_down(fake, nv):
    fake.configure(TWO_GPUS + "count_error 15\n")
    assert nv.load(fake.path) is False
    assert (nv.status, nv.detail) == ("device count failed", "GPU is lost")
    assert fake.init_count() == 0


def test_no_devices_is_unavailable_and_does_not_hold_nvml(fake, nv):
    fake.configure("count 0\n")
    assert nv.load(fake.path) is False
    assert nv.status == "no devices"
    assert fake.init_count() == 0


# --- values ----------------------------------------------------------------------------

def test_devices_and_samples_read_back_exactly(fake, nv):
    fake.configure(TWO_GPUS)
    assert nv.load(fake.path) is True
    assert (nv.status, nv.available, nv.device_count) == ("ok", True, 2)
    assert nv.names == ["NVIDIA H200", "Tesla P100-PCIE-16GB"]
    assert nv.uuids == ["GPU-0b9f3c2e-1111-2222-3333-444455556666", "GPU-7d1e0a55-aaaa-bbbb-cccc-ddddeeeeffff"]
    assert nv.minors == [3, 0]
    assert [d["memory_call"] for d in nv.devices] == ["nvmlDeviceGetMemoryInfo_v2"] * 2
    assert [d["mig_error"] for d in nv.devices] == [nvml.ERROR_NOT_SUPPORTED] * 2
    ok, out = sample(nv)
    assert ok == 2
    all_valid = nvml.VALID_MEMORY | nvml.VALID_MEMORY_V2 | nvml.VALID_UTILIZATION
    assert out[0].tolist() == (0, 3, nvml.NONE, 0, 150754820096, 81604378624,
                               150754820096 - 81604378624 - 566231040, 566231040, 37, 12, all_valid, 0, 0, 0)
    assert out[1].tolist() == (1, 0, nvml.NONE, 0, 17071734784, 1048576,
                               17071734784 - 1048576, 0, 100, 0, all_valid, 0, 0, 0)


def test_each_sample_makes_two_calls_per_device_and_sees_new_values(fake, nv):
    fake.configure(TWO_GPUS)
    assert nv.load(fake.path)
    before = fake.calls()
    for _ in range(10):
        sample(nv)
    assert fake.calls() - before == 10 * 2 * 2      # memory + utilization; names and UUIDs are cached
    fake.set(0, "memory_used", 5 * GIB)
    fake.set(1, "util_gpu", 3)
    ok, out = sample(nv)
    assert (out[0]["memory_used"], out[1]["duty_cycle"]) == (5 * GIB, 3)
    assert nv.names[0] == "NVIDIA H200"


def test_without_memory_info_v2_the_old_call_is_used_and_used_includes_reserved(fake_libs, tmp_path,
                                                                               monkeypatch, nv):
    fake = make_fake(fake_libs, tmp_path, monkeypatch, "no_memory_v2")
    fake.configure(TWO_GPUS)
    assert nv.load(fake.path) is True
    assert [d["memory_call"] for d in nv.devices] == ["nvmlDeviceGetMemoryInfo"] * 2
    ok, out = sample(nv)
    assert ok == 2
    assert out[0]["valid"] == nvml.VALID_MEMORY | nvml.VALID_UTILIZATION
    assert (out[0]["memory_total"], out[0]["memory_used"], out[0]["memory_free"], out[0]["memory_reserved"]) == (
        150754820096, 81604378624 + 566231040, 150754820096 - 81604378624 - 566231040, 0)


def test_a_driver_that_refuses_the_v2_memory_struct_gets_the_old_call_for_that_device(fake, nv):
    fake.configure(TWO_GPUS + "1.err.memory_v2 25\n")       # ARGUMENT_VERSION_MISMATCH
    assert nv.load(fake.path)
    assert [d["memory_call"] for d in nv.devices] == ["nvmlDeviceGetMemoryInfo_v2", "nvmlDeviceGetMemoryInfo"]
    ok, out = sample(nv)
    assert ok == 2
    assert out["valid"].tolist() == [nvml.VALID_MEMORY | nvml.VALID_MEMORY_V2 | nvml.VALID_UTILIZATION,
                                     nvml.VALID_MEMORY | nvml.VALID_UTILIZATION]
    assert out["memory_used"].tolist() == [81604378624, 1048576]


def test_a_name_longer_than_the_buffer_is_reported_not_truncated(fake, nv):
    fake.configure(TWO_GPUS.replace("Tesla P100-PCIE-16GB", "X" * 120))
    assert nv.load(fake.path)
    assert nv.names == ["NVIDIA H200", None]
    assert nv.devices[1]["name_error"] == nvml.ERROR_INSUFFICIENT_SIZE


# --- error codes per device ----------------------------------------------------------

def test_a_lost_gpu_is_an_error_code_in_its_row_and_the_others_are_kept(fake, nv):
    fake.configure(TWO_GPUS + "1.err.memory 15\n1.err.utilization 15\n")
    assert nv.load(fake.path)
    ok, out = sample(nv)
    assert ok == 1
    assert out[0]["valid"] != 0 and out[0]["memory_used"] == 81604378624
    r = out[1]
    assert (r["memory_error"], r["utilization_error"], r["valid"]) == (15, 15, 0)
    assert (r["memory_total"], r["memory_used"], r["duty_cycle"]) == (0, 0, 0)


def test_a_gpu_lost_between_samples_then_back(fake, nv):
    fake.configure(TWO_GPUS)
    assert nv.load(fake.path)
    assert sample(nv)[0] == 2
    fake.set(0, "err.memory", nvml.ERROR_GPU_IS_LOST)
    ok, out = sample(nv)
    assert ok == 1
    assert (out[0]["memory_error"], out[0]["valid"]) == (15, nvml.VALID_UTILIZATION)
    fake.set(0, "err.memory", 0)
    assert sample(nv)[0] == 2


def test_unsupported_utilization_keeps_memory(fake, nv):
    fake.configure(TWO_GPUS + "0.err.utilization 3\n")
    assert nv.load(fake.path)
    ok, out = sample(nv)
    assert ok == 1
    assert out[0]["utilization_error"] == nvml.ERROR_NOT_SUPPORTED
    assert out[0]["valid"] == nvml.VALID_MEMORY | nvml.VALID_MEMORY_V2
    assert out[0]["memory_total"] == 150754820096


def test_no_permission_for_one_device_handle_marks_that_row(fake, nv):
    fake.configure(TWO_GPUS + "1.err.handle 4\n")
    assert nv.load(fake.path)
    assert nv.device_count == 2
    assert (nv.names[1], nv.uuids[1], nv.minors[1]) == (None, None, None)
    assert nv.devices[1]["handle_error"] == nvml.ERROR_NO_PERMISSION
    ok, out = sample(nv)
    assert ok == 1
    assert (out[1]["index"], out[1]["memory_error"], out[1]["utilization_error"], out[1]["valid"]) == (1, 4, 4, 0)


def test_nvml_shut_down_behind_our_back_reads_as_uninitialized_codes(fake, nv):
    fake.configure(TWO_GPUS)
    assert nv.load(fake.path)
    assert fake.lib.nvmlShutdown() == 0         # someone else's extra shutdown
    ok, out = sample(nv)
    assert ok == 0
    assert out["memory_error"].tolist() == [nvml.ERROR_UNINITIALIZED] * 2
    assert out["utilization_error"].tolist() == [nvml.ERROR_UNINITIALIZED] * 2
    assert out["valid"].tolist() == [0, 0]
    nv.close()                                   # its own shutdown then answers UNINITIALIZED: ignored
    assert nv.status == "closed"


# --- processes ---------------------------------------------------------------------------

@pytest.fixture
def workers():
    """Real processes whose PIDs the fake reports as GPU processes."""
    procs = [subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"]) for _ in range(3)]
    yield [p.pid for p in procs]
    for p in procs:
        p.kill()
        p.wait()


def test_processes_are_host_pids_with_their_memory(fake, nv, workers):
    a, b, c = workers
    fake.configure(TWO_GPUS + f"0.proc {a} 1073741824\n0.proc {b} 18446744073709551615\n1.gproc {c} 4096\n")
    assert nv.load(fake.path)
    assert nv.processes_call() == "versioned"
    p = nv.processes(0)
    assert p.dtype == PROCESS_DTYPE
    assert p.tolist() == [(a, GIB, nvml.NONE, nvml.NONE), (b, nvml.VALUE_NOT_AVAILABLE, nvml.NONE, nvml.NONE)]
    assert all(os.path.exists(f"/proc/{pid}/cgroup") for pid in p["pid"])
    assert nv.processes(1).tolist() == []
    assert nv.processes(1, graphics=True).tolist() == [(c, 4096, nvml.NONE, nvml.NONE)]
    assert nv.processes(0, graphics=True).tolist() == []


def test_more_processes_than_the_buffer_grow_it_by_the_two_call_dance(fake, nv, workers):
    pids = [workers[i % 3] for i in range(40)]
    fake.configure(TWO_GPUS + "".join(f"0.proc {pid} {1000 + i}\n" for i, pid in enumerate(pids)))
    assert nv.load(fake.path, process_capacity=4)
    assert nv.process_capacity == 4
    before = fake.calls()
    p = nv.processes(0)
    assert fake.calls() - before == 2            # INSUFFICIENT_SIZE, then the data
    assert nv.process_capacity == 2 * 40 + 5
    assert p["pid"].tolist() == pids
    assert p["used_gpu_memory"].tolist() == [1000 + i for i in range(40)]
    before = fake.calls()
    assert len(nv.processes(0)) == 40
    assert fake.calls() - before == 1            # the grown buffer is kept


def test_an_empty_process_buffer_starts_with_the_null_probe(fake, nv, workers):
    fake.configure(TWO_GPUS + f"0.proc {workers[1]} 512\n")
    assert nv.load(fake.path, process_capacity=0)
    assert nv.process_capacity == 0
    assert nv.processes(1).tolist() == []              # NULL buffer, count 0: SUCCESS, nothing to grow
    assert nv.process_capacity == 0
    assert nv.processes(0).tolist() == [(workers[1], 512, nvml.NONE, nvml.NONE)]
    assert nv.process_capacity == 2 * 1 + 5


def test_a_failing_process_query_raises_with_the_nvml_code(fake, nv):
    fake.configure(TWO_GPUS + "1.err.processes 4\n")
    assert nv.load(fake.path)
    with pytest.raises(NvmlError) as e:
        nv.processes(1)
    assert e.value.code == nvml.ERROR_NO_PERMISSION
    with pytest.raises(IndexError):
        nv.processes(2)


def test_the_unversioned_process_call_is_widened_to_the_v3_layout(fake_libs, tmp_path, monkeypatch, nv, workers):
    fake = make_fake(fake_libs, tmp_path, monkeypatch, "legacy_processes")
    a, b, c = workers
    fake.configure(TWO_GPUS + "".join(f"0.proc {pid} {7 << 20}\n" for pid in (a, b, c) * 3))
    assert nv.load(fake.path, process_capacity=2)
    assert nv.processes_call() == "unversioned"
    p = nv.processes(0)
    assert p.tolist() == [(pid, 7 << 20, nvml.NONE, nvml.NONE) for pid in (a, b, c) * 3]


def test_processes_when_not_loaded_raise_uninitialized(nv):
    with pytest.raises(NvmlError) as e:
        nv.processes(0)
    assert e.value.code == nvml.ERROR_UNINITIALIZED


# --- MIG -------------------------------------------------------------------------------------

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


def test_a_gpu_in_mig_mode_is_followed_by_one_row_per_mig_instance(fake, nv, workers):
    fake.configure(MIG + f"3.proc {workers[0]} 3000\n")
    assert nv.load(fake.path)
    assert nv.device_count == 4
    assert nv.names == ["NVIDIA H200", "NVIDIA H200 MIG 3g.71gb", "NVIDIA H200 MIG 1g.18gb", "Tesla P100-PCIE-16GB"]
    assert nv.uuids[1:3] == ["MIG-11111111-2222-3333-4444-555555555555", "MIG-66666666-7777-8888-9999-000000000000"]
    assert nv.minors == [3, 3, 3, 0]             # an instance sits behind its GPU's /dev/nvidia3
    devs = nv.devices
    assert [(d["mig_enabled"], d["mig_instance"], d["parent"]) for d in devs] == [
        (True, False, None), (False, True, 0), (False, True, 0), (False, False, None)]
    assert devs[3]["mig_error"] == nvml.ERROR_NOT_SUPPORTED   # GetMigMode unsupported when not set
    ok, out = sample(nv)
    assert ok == 1                                # only the non-MIG GPU has utilization
    assert out["flags"].tolist() == [nvml.FLAG_MIG_ENABLED, nvml.FLAG_MIG_INSTANCE, nvml.FLAG_MIG_INSTANCE, 0]
    assert out["parent"].tolist() == [nvml.NONE, 0, 0, nvml.NONE]
    assert out["index"].tolist() == [0, 0, 1, 1]
    assert out["utilization_error"].tolist() == [3, 3, 3, 0]
    assert out["memory_total"].tolist() == [150754820096, 76235669504, 18874368000, 17071734784]
    assert out["memory_used"].tolist() == [81604378624, 1000, 2000, 1048576]
    assert nv.processes(2).tolist() == [(workers[0], 3000, 1, 0)]


# --- the hot path ---------------------------------------------------------------------------

def test_sampling_allocates_no_python_memory(fake, nv):
    fake.configure(TWO_GPUS)
    assert nv.load(fake.path)
    out = np.zeros(nv.device_count, ACCELERATOR_DTYPE)
    nv.sample(out)
    tracemalloc.start()
    try:
        loop = itertools.repeat(None, 20000)
        before, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        for _ in loop:
            nv.sample(out)
        after, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (after - before, peak - before) == (0, 0)
    assert out[0]["memory_used"] == 81604378624


def test_sample_checks_the_array_it_is_given(fake, nv):
    fake.configure(TWO_GPUS)
    assert nv.load(fake.path)
    with pytest.raises(TypeError):
        nv.sample(np.zeros(2, np.uint64))
    with pytest.raises(ValueError):
        nv.sample(np.zeros(1, ACCELERATOR_DTYPE))
    with pytest.raises(ValueError):
        nv.sample(np.zeros(4, ACCELERATOR_DTYPE)[::2])
    ring = np.zeros((3, 2), ACCELERATOR_DTYPE)   # a row of a history ring
    assert nv.sample(ring[1]) == 2
    assert ring[1]["duty_cycle"].tolist() == [37, 100] and ring[0]["valid"].tolist() == [0, 0]


def test_bench_loop_runs_the_nogil_sample(fake, nv):
    fake.configure(TWO_GPUS)
    assert nv.load(fake.path)
    out = np.zeros(2, ACCELERATOR_DTYPE)
    before = fake.calls()
    assert nv.bench_loop(out, 1000) > 0
    assert fake.calls() - before == (1000 + 1) * 4


def test_sampling_while_another_thread_closes_and_reloads_never_crashes(fake, nv, workers):
    fake.configure(TWO_GPUS + f"0.proc {workers[0]} 4096\n")
    assert nv.load(fake.path)
    out = np.zeros(2, ACCELERATOR_DTYPE)
    seen = {"full": 0, "empty": 0, "procs": 0, "uninit": 0}
    stop = threading.Event()
    errors = []

    def sampler():
        try:
            sample_loop()
        except BaseException as e:      # a thread's exception would otherwise only be printed
            errors.append(e)

    def sample_loop():
        while not stop.is_set():
            ok = nv.sample(out)
            seen["full" if ok == 2 else "empty"] += 1
            assert ok in (0, 2)
            try:
                assert nv.processes(0)["pid"].tolist() == [workers[0]]
                seen["procs"] += 1
            except NvmlError as e:
                assert e.code == nvml.ERROR_UNINITIALIZED
                seen["uninit"] += 1
            except IndexError:
                seen["uninit"] += 1

    threads = [threading.Thread(target=sampler) for _ in range(2)]
    for t in threads:
        t.start()
    try:
        for _ in range(100):
            nv.close()
            time.sleep(0.0005)
            assert nv.load(fake.path)
            time.sleep(0.0005)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert errors == []
    assert seen["full"] > 0 and seen["procs"] > 0
    assert fake.init_count() == 1


def test_close_shuts_nvml_down_and_is_idempotent(fake, nv):
    fake.configure(TWO_GPUS)
    assert nv.load(fake.path)
    assert fake.init_count() == 1
    nv.close()
    assert fake.init_count() == 0
    assert (nv.status, nv.available, nv.device_count, nv.names) == ("closed", False, 0, [])
    assert sample(nv, 2)[0] == 0
    nv.close()
    with Nvml() as again:
        assert again.load(fake.path)
        assert fake.init_count() == 1
    assert fake.init_count() == 0


# --- the real library (a GPU machine) ---------------------------------------------------------

def real_library():
    """The driver's library ($CGSAMPLER_NVML_LIBRARY names another one, e.g. to
    dry-run these tests against the fake), or None when it does not load."""
    lib = os.environ.get("CGSAMPLER_NVML_LIBRARY") or "libnvidia-ml.so.1"
    try:
        ctypes.CDLL(lib)
    except OSError:
        return None
    return lib


REAL_LIBRARY = real_library()
real = pytest.mark.skipif(REAL_LIBRARY is None, reason="no libnvidia-ml.so.1 on this machine (no NVIDIA driver)")


@pytest.fixture
def real_nv():
    n = Nvml()
    if not n.load(REAL_LIBRARY, timeout_s=60):
        pytest.skip(f"real NVML is not usable here: {n.status} ({n.detail})")
    yield n
    n.close()


@pytest.mark.gpu
@real
def test_real_nvml_devices_look_like_gpus(real_nv):
    assert real_nv.device_count >= 1
    for d in real_nv.devices:
        if d["handle_error"]:
            continue
        assert d["name"], d
        assert d["uuid"].startswith("MIG-" if d["mig_instance"] else "GPU-"), d
        if not d["mig_instance"]:
            assert d["minor"] is not None, d
            if os.path.exists("/dev/nvidiactl"):    # device nodes visible here: the minor names one
                assert os.path.exists(f"/dev/nvidia{d['minor']}"), d


@pytest.mark.gpu
@real
def test_real_nvml_samples_are_consistent_and_match_pynvml(real_nv):
    ok, out = sample(real_nv)
    for i, r in enumerate(out):
        if r["valid"] & nvml.VALID_MEMORY:
            assert 0 < r["memory_total"]
            assert r["memory_used"] + r["memory_free"] + r["memory_reserved"] == r["memory_total"]
        if r["valid"] & nvml.VALID_UTILIZATION:
            assert 0 <= r["duty_cycle"] <= 100 and 0 <= r["memory_duty_cycle"] <= 100
        if not (r["flags"] & nvml.FLAG_MIG_INSTANCE) and not (r["flags"] & nvml.FLAG_MIG_ENABLED):
            assert r["valid"] & nvml.VALID_MEMORY, (i, r)
    # An independent reader of the same devices: pynvml, else nvidia-smi.
    gpus = [(i, d) for i, d in enumerate(real_nv.devices) if not d["mig_instance"] and not d["handle_error"]]
    try:
        import pynvml
    except ImportError:
        pynvml = None
    if pynvml is not None:
        pynvml.nvmlLib = ctypes.CDLL(REAL_LIBRARY)      # pynvml has no path setting of its own
        pynvml._nvmlGetFunctionPointer_cache.clear()
        pynvml.nvmlInit()
        try:
            for i, d in gpus:
                h = pynvml.nvmlDeviceGetHandleByIndex(d["index"])
                assert pynvml.nvmlDeviceGetUUID(h) == d["uuid"]
                assert pynvml.nvmlDeviceGetName(h) == d["name"]
                assert pynvml.nvmlDeviceGetMemoryInfo(h).total == out[i]["memory_total"]
        finally:
            pynvml.nvmlShutdown()
            pynvml.nvmlLib = None
    elif shutil.which("nvidia-smi") and REAL_LIBRARY == "libnvidia-ml.so.1":
        lines = subprocess.run(["nvidia-smi", "--query-gpu=index,uuid,name", "--format=csv,noheader"],
                               check=True, capture_output=True, text=True, timeout=30).stdout.splitlines()
        smi = {int(x.split(",")[0]): [y.strip() for y in x.split(",")[1:3]] for x in lines if x.strip()}
        for i, d in gpus:
            assert smi[d["index"]] == [d["uuid"], d["name"]]
    else:
        pytest.skip("neither pynvml nor nvidia-smi to compare with (the checks above passed)")


@pytest.mark.gpu
@real
def test_real_nvml_processes_and_no_allocation(real_nv):
    for i, d in enumerate(real_nv.devices):
        for graphics in (False, True):
            try:
                p = real_nv.processes(i, graphics=graphics)
            except NvmlError as e:
                assert e.code in (nvml.ERROR_NOT_SUPPORTED, nvml.ERROR_NO_PERMISSION), e
                continue
            assert p.dtype == PROCESS_DTYPE
    out = np.zeros(real_nv.device_count, ACCELERATOR_DTYPE)
    real_nv.sample(out)
    tracemalloc.start()
    try:
        loop = itertools.repeat(None, 200)
        before, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        for _ in loop:
            real_nv.sample(out)
        after, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (after - before, peak - before) == (0, 0)
