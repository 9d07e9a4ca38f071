"""Per-device sample cost of cgsampler's NVML layer against the floor (the same
NVML calls in a plain C loop, benchmarks/nvml_floor.c, dlopen of the same
library) and against nvidia-ml-py (pynvml) making the same calls.

Each path makes, per device and per sample, nvmlDeviceGetMemoryInfo_v2 (or the
unversioned call where _v2 is missing) and nvmlDeviceGetUtilizationRates.

    python benchmarks/nvml_bench.py                  # against the fake library (tests/fake_nvml), 2 and 8 devices
    python benchmarks/nvml_bench.py --library libnvidia-ml.so.1 --iterations 2000   # a real GPU

Against the fake, each NVML call costs a few ns, so the ratios measure our own
overhead; against the real library the driver's cost dominates. Figures are
the best of --repeat runs, in ns per device per sample:
  cgsampler nogil loop   Nvml.bench_loop: sample_into() in one nogil loop (what a sweep runs)
  cgsampler sample()     one Python call of Nvml.sample(out) per sample
  C floor                nvml_floor.c
  pynvml                 nvmlDeviceGetMemoryInfo(h, version=nvmlMemory_v2) + nvmlDeviceGetUtilizationRates(h)
"""
import argparse
import ctypes
import itertools
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "src"))

from cgsampler._native.nvml import ACCELERATOR_DTYPE, Nvml  # noqa: E402


def cc():
    c = shutil.which("cc") or shutil.which("gcc")
    if c is None:
        sys.exit("needs a C compiler (cc)")
    return c


def build_fake(tmp, devices):
    lib = os.path.join(tmp, "libnvidia-ml.so.1")
    subprocess.run([cc(), "-shared", "-fPIC", "-O2", "-o", lib,
                    os.path.join(ROOT, "tests", "fake_nvml", "fake_nvml.c")], check=True)
    config = os.path.join(tmp, "fake.conf")
    with open(config, "w") as f:
        f.write(f"count {devices}\n")
        for i in range(devices):
            f.write(f"{i}.name Fake GPU {i}\n{i}.uuid GPU-{i:08d}-0000-0000-0000-000000000000\n{i}.minor {i}\n"
                    f"{i}.memory_total {80 << 30}\n{i}.memory_used {i << 30}\n{i}.util_gpu {i % 101}\n")
    os.environ["FAKE_NVML_CONFIG"] = config
    return lib


def build_floor(tmp):
    exe = os.path.join(tmp, "nvml_floor")
    subprocess.run([cc(), "-O2", "-o", exe, os.path.join(HERE, "nvml_floor.c"), "-ldl"], check=True)
    return exe


def floor_ns(exe, lib, iterations, repeat):
    best = None
    for _ in range(repeat):
        out = subprocess.run([exe, lib, str(iterations)], check=True, capture_output=True, text=True).stdout
        n, it, ns = (int(x) for x in out.split())
        v = ns / (n * it)
        best = v if best is None else min(best, v)
    return best


def ours_ns(lib, iterations, repeat):
    nv = Nvml()
    if not nv.load(lib, timeout_s=60):
        sys.exit(f"cgsampler could not load {lib}: {nv.status} ({nv.detail})")
    n = nv.device_count
    out = np.zeros(n, ACCELERATOR_DTYPE)
    loop_best = call_best = None
    for _ in range(repeat):
        v = nv.bench_loop(out, iterations) / (n * iterations)
        loop_best = v if loop_best is None else min(loop_best, v)
        sample = nv.sample
        it = itertools.repeat(out, iterations)
        t0 = time.perf_counter_ns()
        for o in it:
            sample(o)
        v = (time.perf_counter_ns() - t0) / (n * iterations)
        call_best = v if call_best is None else min(call_best, v)
    devices = nv.devices
    nv.sample(out)
    nv.close()
    return n, loop_best, call_best, devices, out


def pynvml_ns(lib, iterations, repeat):
    try:
        import pynvml
    except ImportError:
        return None, "pynvml not installed (pip install nvidia-ml-py)"
    # pynvml always CDLLs the bare name "libnvidia-ml.so.1" and has no path
    # setting; its module global nvmlLib, when already set, is used as is.
    pynvml.nvmlLib = ctypes.CDLL(lib)
    pynvml._nvmlGetFunctionPointer_cache.clear()
    pynvml.nvmlInit()
    try:
        n = pynvml.nvmlDeviceGetCount()
        hs = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(n)]
        try:
            pynvml.nvmlDeviceGetMemoryInfo(hs[0], version=pynvml.nvmlMemory_v2)
            version = pynvml.nvmlMemory_v2
        except pynvml.NVMLError:
            version = None
        mem, util = pynvml.nvmlDeviceGetMemoryInfo, pynvml.nvmlDeviceGetUtilizationRates
        it_count = max(1, iterations // 10)
        best = None
        for _ in range(repeat):
            t0 = time.perf_counter_ns()
            for _ in range(it_count):
                for h in hs:
                    mem(h, version=version)
                    util(h)
            v = (time.perf_counter_ns() - t0) / (n * it_count)
            best = v if best is None else min(best, v)
        return best, pynvml.__file__
    finally:
        pynvml.nvmlShutdown()
        pynvml.nvmlLib = None


def hook_us(lib, iterations, repeat):
    """Per-sweep cost, in us, of the Sampler's accelerator hook (Accelerators.sample,
    what Sampler.sample() adds): a fresh NVML read every sweep (interval=0), a
    sweep that carries the last read (inside the 150 ms interval), and a sweep
    that also reads the process lists (process_interval=0; no process running)."""
    from cgsampler.accelerators import Accelerators
    out = {}
    for label, opts in (("read", {"interval": 0}), ("carry", {"interval": 3600}),
                        ("read + processes", {"interval": 0, "process_interval": 0})):
        acc = Accelerators(64, True, lib, init_timeout=60, idle_timeout=3600, **opts)
        acc.attach("/")
        best = None
        for _ in range(repeat):
            t0 = time.perf_counter_ns()
            for t in itertools.islice(itertools.cycle(range(64)), iterations):
                acc.sample(t)
            v = (time.perf_counter_ns() - t0) / iterations / 1000
            best = v if best is None else min(best, v)
        acc.close()
        out[label] = best
    return out


def run(lib, iterations, repeat, label, tmp):
    exe = build_floor(tmp)
    n, loop, call, devices, out = ours_ns(lib, iterations, repeat)
    floor = floor_ns(exe, lib, iterations, repeat)
    py, py_note = pynvml_ns(lib, iterations, repeat)
    print(f"\n== {label}: {n} device(s), {iterations} samples, best of {repeat} ==")
    for d, r in zip(devices, out):
        print(f"  [{d['row']}] {d['name']!r} {d['uuid']} minor={d['minor']} "
              f"memory {int(r['memory_used'])}/{int(r['memory_total'])} B  duty_cycle {int(r['duty_cycle'])}%  "
              f"errors mem={int(r['memory_error'])} util={int(r['utilization_error'])}")
    print(f"  {'path':<24}{'ns/device/sample':>18}{'x floor':>10}")
    print(f"  {'C floor':<24}{floor:>18.1f}{1.0:>10.2f}")
    print(f"  {'cgsampler nogil loop':<24}{loop:>18.1f}{loop / floor:>10.2f}")
    print(f"  {'cgsampler sample()':<24}{call:>18.1f}{call / floor:>10.2f}")
    if py is None:
        print(f"  pynvml: {py_note}")
    else:
        print(f"  {'pynvml':<24}{py:>18.1f}{py / floor:>10.2f}")
        over_py = py - floor
        for name, v in (("nogil loop", loop), ("sample()", call)):
            over = v - floor
            ratio = f"{over_py / over:.0f}x less" if over > 0 else "ours within noise of the floor"
            print(f"  overhead over the floor: pynvml {over_py:.1f} ns vs cgsampler {name} {over:.1f} ns ({ratio})")
    hook = hook_us(lib, max(1000, iterations // 20), repeat)
    print("  Sampler.sample() accelerator hook, us per sweep (all devices): "
          + ", ".join(f"{k} {v:.2f}" for k, v in hook.items()))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--library", help="a real libnvidia-ml.so.1 (default: the fake, built here)")
    ap.add_argument("--devices", type=int, nargs="*", default=[2, 8], help="fake device counts")
    ap.add_argument("--iterations", type=int, default=200000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.library:
            run(args.library, args.iterations, args.repeat, f"real NVML ({args.library})", tmp)
            return
        for n in args.devices:
            d = os.path.join(tmp, f"fake{n}")
            os.mkdir(d)
            lib = build_fake(d, n)
            run(lib, args.iterations, args.repeat, f"fake NVML ({n} devices)", d)


if __name__ == "__main__":
    main()
