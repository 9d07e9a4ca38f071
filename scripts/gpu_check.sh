#!/usr/bin/env bash
# The GPU check of issue 5: on a machine with an NVIDIA driver, runs the
# accelerator tests (tests/test_nvml.py and tests/test_accelerators.py, fake and real) and a short benchmark
# against the real libnvidia-ml.so.1, and prints what it saw: devices, names,
# UUIDs, memory, utilization, processes, per-sample cost. Under three minutes.
# Without a driver it says so and exits 0.
#   scripts/gpu_check.sh            (PYTHON=... to pick the interpreter)
set -u
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
LIB=${CGSAMPLER_NVML_LIBRARY:-libnvidia-ml.so.1}

if ! "$PY" -c "import ctypes, sys; ctypes.CDLL(sys.argv[1])" "$LIB" 2>/dev/null; then
    echo "gpu_check: no $LIB on this machine (no NVIDIA driver): nothing to check, exiting 0"
    exit 0
fi
echo "gpu_check: $(date -u +%FT%TZ) on $(uname -n), library $LIB"
command -v nvidia-smi >/dev/null && timeout 30 nvidia-smi -L

if ! "$PY" -c "import cgsampler._native.nvml" 2>/dev/null && ! PYTHONPATH=src "$PY" -c "import cgsampler._native.nvml" 2>/dev/null; then
    echo "gpu_check: building the extensions"
    timeout 120 "$PY" setup.py build_ext --inplace -q || { echo "gpu_check: build failed"; exit 1; }
fi
export PYTHONPATH="src${PYTHONPATH:+:$PYTHONPATH}"

echo "== what cgsampler's NVML layer sees"
timeout 60 "$PY" - "$LIB" <<'PYEOF'
import sys, time
import numpy as np
from cgsampler._native.nvml import ACCELERATOR_DTYPE, Nvml, NvmlError
nv = Nvml()
t0 = time.perf_counter()
ok = nv.load(sys.argv[1], timeout_s=30)
print(f"load: {nv.status!r} {nv.detail!r} in {time.perf_counter() - t0:.3f} s, {nv.device_count} row(s)")
if not ok:
    sys.exit(3 if nv.status not in ("driver not loaded", "no devices", "not found") else 4)
for d in nv.devices:
    print(f"  {d}")
out = np.zeros(nv.device_count, ACCELERATOR_DTYPE)
for k in range(3):
    n = nv.sample(out)
    for r in out:
        print(f"  sample {k}: row index={r['index']} minor={r['minor']} flags={r['flags']} "
              f"memory used/total={int(r['memory_used'])}/{int(r['memory_total'])} reserved={int(r['memory_reserved'])} "
              f"duty_cycle={int(r['duty_cycle'])}% mem_duty={int(r['memory_duty_cycle'])}% valid={r['valid']} "
              f"errors mem={r['memory_error']} util={r['utilization_error']}")
    time.sleep(0.2)
for i in range(nv.device_count):
    for g in (False, True):
        t0 = time.perf_counter()
        try:
            p = nv.processes(i, graphics=g)
            print(f"  row {i} {'graphics' if g else 'compute'} processes ({(time.perf_counter() - t0) * 1e3:.2f} ms): {p.tolist()}")
        except NvmlError as e:
            print(f"  row {i} {'graphics' if g else 'compute'} processes: {e}")
ns = nv.bench_loop(out, 1000)
print(f"  nogil sample cost: {ns / 1000 / 1000:.3f} us per sample, {ns / 1000 / nv.device_count / 1000:.3f} us per device")
nv.close()
print(f"close: {nv.status}")
PYEOF
rc=$?
if [ $rc -eq 4 ]; then
    echo "gpu_check: the library is there but NVML has no usable GPU (see the status above): exiting 0"
    exit 0
fi
[ $rc -eq 0 ] || { echo "gpu_check: NVML layer check failed (rc $rc)"; exit 1; }

echo "== the Sampler's view (cgsampler.accelerators): status, devices, GPU processes attributed to /"
timeout 60 "$PY" - "$LIB" <<'PYEOF'
import sys, time
from cgsampler.sampler import Sampler
with Sampler(containers=["/"], history=8, nvml_library=sys.argv[1],
             accelerators={"mode": True, "process_interval": 0, "init_timeout": 30}) as s:
    print(f"status: {s.accelerator_status!r} {s.accelerators.detail!r}")
    for k in range(3):
        t0 = time.perf_counter()
        s.sample()
        print(f"  sweep {k}: {(time.perf_counter() - t0) * 1e3:.2f} ms")
        time.sleep(0.2)
    for d in s.accelerators.devices:
        print(f"  row {d['row']}: {d['name']!r} {d['uuid']} minor={d['minor']} mig={d['mig_enabled']}/{d['mig_instance']} unsupported={d['unsupported']}")
    print(f"  usage of /: {s.accelerator_usage('/')}")
    st = s.container_info("/").stats[-1]
    print(f"  accelerators of / (v1 JSON, process path): {[a.to_json() for a in st.accelerators or []]}")
PYEOF

echo "== tests/test_nvml.py and tests/test_accelerators.py (fake library and the real one)"
timeout 120 "$PY" -m pytest tests/test_nvml.py tests/test_accelerators.py -q -rs -p no:cacheprovider
trc=$?

echo "== benchmark against the real NVML"
timeout 60 "$PY" benchmarks/nvml_bench.py --library "$LIB" --iterations 2000 --repeat 3
brc=$?

echo "gpu_check: tests rc=$trc, benchmark rc=$brc"
[ $trc -eq 0 ] && [ $brc -eq 0 ]
