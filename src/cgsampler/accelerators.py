"""GPUs for the Sampler: NVML loaded once, sampled on its own cadence into a
ring of its own, and attributed to containers (cAdvisor's AcceleratorStats).

    acc = Accelerators(history=60, mode="auto")     # Sampler(accelerators=...) makes one
    acc.status, acc.detail      # "ok", "disabled", "no NVIDIA device", "not found",
                                # "driver not loaded", "no permission", "init timed out", "idle", ...
    acc.attach(name, devices_dir)   # at container add / refresh: devices.list -> GPUs (v1)
    acc.sample(t)               # every sweep: reads NVML at most every `interval`, else carries
    acc.stats(t, name)          # [v1.AcceleratorStats] of the container at ring row t, or None
    acc.usage(name)             # per-container view: sources, GPU memory of its processes, pids

Attribution (docs/compat.md, "Accelerators"):
  devices   cgroup v1 only: `c 195:N` lines of <devices>/devices.list with N < 128
            name the GPU whose NVML minor number is N. A container allowed every
            device (`a *:*`, `c 195:*`) gets nothing by this path, as in cAdvisor.
  processes opt-in (process_interval): the host pids of NVML's compute and graphics
            process lists, mapped to cgroups through <proc>/<pid>/cgroup (v2: the
            `0::` line; v1: the devices hierarchy, else cpu), attributed to that
            cgroup and each tracked ancestor. Works on v2 and for containers that
            see every device; gives the container's own GPU memory.

Lifetime: every NVML call (dlopen and init included) is made on one thread of
its own (_NvmlThread), so a call that blocks (a GPU fallen off the bus, a hung
library load) never blocks a sweep, refresh() or close(): the caller waits a
bounded time for the answer and goes on without it. NVML is loaded when the
object is made and, later, by refresh(); it is shut down by close(), and after
`idle_timeout` seconds in which no container was attributed a GPU (a held NVML
blocks driver upgrades). After such an idle shutdown, refresh() loads it again
when a container's device cgroup names a known GPU, or, with the process path on,
to look for GPU processes every max(process_interval, idle_timeout) seconds.
Nothing here raises for a missing or broken NVML, and nothing is logged:
`status` and `detail` say why there is no data."""
from __future__ import annotations

import glob
import os
import threading
import time
import weakref
from collections import deque

import numpy as np

from cgsampler import errors, v1
from cgsampler._native import nvml
from cgsampler._native.nvml import ACCELERATOR_DTYPE, Nvml, NvmlError

INTERVAL = 0.15             # s between NVML reads: utilization is already a 1/6-1 s window average
IDLE_TIMEOUT = 60.0         # s with no container on a GPU before nvmlShutdown
INIT_TIMEOUT = 10.0         # s nvmlInit_v2 + device enumeration may take
RETRY_INTERVAL = 60.0       # s between reload attempts after a transient failure
READ_WAIT = 0.05            # s a sweep waits for the NVML read it asked for (else: last values)
HUNG_AFTER = 5.0            # s an NVML call may take before the GPUs are "not answering"
LOAD_GRACE = 2.0            # s beyond init_timeout that a load (dlopen included) may take
CLOSE_WAIT = 2.0            # s close() waits for nvmlShutdown
PROCESS_INTERVAL_ENV = "CGSAMPLER_NVML_PROCESS_INTERVAL"   # default process_interval (for the CLI)
NVIDIA_MAJOR = 195          # /dev/nvidiaN; N >= 128 are nvidiactl, nvidia-modeset
NVIDIA_VENDOR = "0x10de"
# Statuses worth another load at a later refresh(); the others need a person.
_TRANSIENT = {"driver not loaded", "init failed", "device count failed", "no devices", "uninitialized"}
_UNSET = object()
PID_NAMESPACE = -1          # a process-list "error": host pids, and this process in a PID namespace of its own


def device_minors(text) -> frozenset:
    """GPU minors a v1 devices.list allows: `c 195:N ...` with N < 128.
    Wildcards (`a *:*`, `c 195:*`) and malformed lines give nothing."""
    out = set()
    for line in (text or "").splitlines():
        f = line.split()
        if len(f) != 3 or f[0] != "c":
            continue
        major, _, minor = f[1].partition(":")
        if major == str(NVIDIA_MAJOR) and minor.isdigit() and int(minor) < 128:
            out.add(int(minor))
    return frozenset(out)


def cgroup_of(text, version) -> str | None:
    """The container name of a /proc/<pid>/cgroup: the `0::` path on v2; on v1
    the devices hierarchy's path, else cpu's, else cpuacct's or memory's."""
    paths = {}
    for line in (text or "").splitlines():
        hid, _, rest = line.partition(":")
        controllers, _, path = rest.partition(":")
        if not path.startswith("/"):
            continue
        if hid == "0" and controllers == "":
            paths[""] = path
        for c in controllers.split(","):
            paths.setdefault(c, path)
    for key in ([""] if version == 2 else ["devices", "cpu", "cpuacct", "memory"]):
        if key in paths:
            return "/" + "/".join(p for p in paths[key].split("/") if p)
    return None


def nvidia_pci_present(sys_root="/sys") -> bool:
    """An NVIDIA PCI device (vendor 0x10de) is on this machine (cAdvisor's test)."""
    for path in glob.glob(os.path.join(sys_root, "bus/pci/devices/*/vendor")):
        try:
            with open(path) as f:
                if f.read().strip().lower() == NVIDIA_VENDOR:
                    return True
        except OSError:
            continue
    return False


def _ancestors(name):
    """name and each parent up to "/"."""
    out = [name]
    while name != "/":
        name = name.rsplit("/", 1)[0] or "/"
        out.append(name)
    return out


def _minor_rows(devices) -> dict:
    """minor -> row of each physical GPU of a device list (MIG instances share their GPU's)."""
    return {d["minor"]: d["row"] for d in devices if d["minor"] is not None and not d["mig_instance"]}


def _in_child_pid_namespace(proc_root) -> bool:
    """This process lives in a PID namespace below the host's (its NSpid line
    lists more than one pid): NVML's host pids mean other processes here."""
    try:
        with open(os.path.join(proc_root, "self", "status"), "rb") as f:
            for line in f:
                if line.startswith(b"NSpid:"):
                    return len(line.split()) > 2
    except OSError:
        pass
    return False


class _Job:
    __slots__ = ("fn", "done", "result", "error")

    def __init__(self, fn):
        self.fn, self.done, self.result, self.error = fn, threading.Event(), None, None


class _NvmlThread:
    """The one thread that makes an Accelerators' NVML calls, in order. Callers
    wait for a call a bounded time; a call that never returns (a lost GPU, a
    hung driver) holds this thread only, and is seen as busy_for() growing."""

    def __init__(self):
        self._cond = threading.Condition()
        self._jobs = deque()
        self._started_ns = 0        # monotonic ns the running job started (0: none)
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="cgsampler-nvml", daemon=True)
        self._thread.start()

    def call(self, fn, timeout) -> _Job:
        """Runs fn() on the thread; waits at most `timeout` s (job.done tells;
        never done once the thread is stopped)."""
        job = _Job(fn)
        with self._cond:
            if self._stop:
                return job
            self._jobs.append(job)
            self._cond.notify()
        if not self.is_current():          # a job of this thread cannot wait for another
            job.done.wait(timeout)
        return job

    def is_current(self) -> bool:
        return threading.current_thread() is self._thread

    @property
    def idle(self) -> bool:
        return not self._jobs and not self._started_ns

    def busy_for(self) -> float:
        """Seconds the running call has taken so far (0 when none runs)."""
        started = self._started_ns
        return (time.monotonic_ns() - started) / 1e9 if started else 0.0

    def stop(self, timeout):
        with self._cond:
            self._stop = True
            self._cond.notify()
        if not self.is_current():
            self._thread.join(timeout)

    def _run(self):
        while True:
            with self._cond:
                while not self._jobs and not self._stop:
                    self._cond.wait()
                if not self._jobs:
                    return
                job = self._jobs.popleft()
                self._started_ns = time.monotonic_ns()
            try:
                job.result = job.fn()
            except BaseException as e:       # kept for the caller; the thread goes on
                job.error = e
            finally:
                self._started_ns = 0
                job.done.set()


class Accelerators:
    """The Sampler's GPUs. mode: True (load NVML), False (never), "auto" (load
    when a library is named, by `library` or $CGSAMPLER_NVML_LIBRARY, or an
    NVIDIA PCI device is present). interval: least seconds between NVML reads
    (sweeps between carry the last values and their timestamp). process_interval:
    seconds between process-list reads, None = off (default: $CGSAMPLER_NVML_PROCESS_INTERVAL,
    else off).

    Threads: sample() runs in the sweep (under the Sampler's lock), the NVML
    calls on _NvmlThread; `_lock` guards what both touch (the latest read, the
    device list, the attributions)."""

    def __init__(self, history, mode="auto", library=None, *, interval=INTERVAL, process_interval=_UNSET,
                 idle_timeout=IDLE_TIMEOUT, init_timeout=INIT_TIMEOUT, proc_root="/proc", sys_root="/sys",
                 version=1, **unknown):
        if unknown:
            raise errors.InvalidOption(f"unknown accelerators option {sorted(unknown)[0]!r}; options are interval, "
                                       "process_interval, idle_timeout, init_timeout, mode")
        if mode not in (True, False, "auto"):
            raise errors.InvalidOption(f"accelerators must be True, False or 'auto', got {mode!r}")
        explicit = library is not None or os.environ.get(nvml.LIBRARY_ENV)
        wanted = mode is True or (mode == "auto" and (explicit or nvidia_pci_present(sys_root)))
        if process_interval is _UNSET:
            # The environment's default matters only where NVML is loaded: a bad
            # value must not break a sampler that uses no GPU.
            env = os.environ.get(PROCESS_INTERVAL_ENV) if wanted else None
            try:
                process_interval = float(env) if env else None
            except ValueError:
                raise errors.InvalidOption(f"${PROCESS_INTERVAL_ENV} must be a number of seconds, "
                                           f"got {env!r}") from None
        for what, v in (("interval", interval), ("idle_timeout", idle_timeout), ("init_timeout", init_timeout),
                        ("process_interval", 0 if process_interval is None else process_interval)):
            if not isinstance(v, (int, float)) or not 0 <= v <= 10 * 365 * 86400:
                raise errors.InvalidOption(f"accelerators: {what} must be a number of seconds >= 0, got {v!r}")
        self._T = int(history)
        self._library = library
        self._interval_ns = int(interval * 1e9)
        self._process_ns = None if process_interval is None else int(process_interval * 1e9)
        self._idle_ns = int(idle_timeout * 1e9)
        self._init_timeout = float(init_timeout)
        self._proc_root = proc_root
        self._version = version
        self._nv = Nvml()
        self._nvt = None            # _NvmlThread, once NVML is wanted
        self._lock = threading.RLock()
        # written by the NVML thread (under _lock)
        self._gen = 0               # load generation: the device list below
        self._devices = []          # Nvml.devices of the last load (kept across an idle shutdown)
        self._by_minor = {}         # minor -> row of the physical GPU
        self._latest = None         # [G] the last NVML read, and its wall ns (0: none)
        self._latest_ns = 0
        self._procs = {}            # container -> {row: [(pid, bytes or None)]}
        self._procs_read_ns = 0
        self._process_errors = {}   # row -> NVML code of its last process query
        self._texts = {}            # NVML code -> nvmlErrorString
        # the sweep's (under the Sampler's lock)
        self._ring = None           # [T, G] ACCELERATOR_DTYPE
        self._read_ns = None        # [T] wall ns when row t's values were read (0: no data)
        self._ring_gen = -1
        self._ring_devices = []     # the device list the ring's columns follow
        self._next_read = 0         # monotonic ns
        self._next_procs = 0
        self._next_probe = 0        # idle, process path on: next look for GPU processes
        self._next_retry = 0
        self._last_attributed = 0
        self._minors = {}           # container -> GPU minors its devices.list allows
        self._names = set()         # containers attached
        self._closed = False
        self._forked = False
        self._loads = 0             # loads finished (under _lock)
        self._hung_s = 0.0          # how long the NVML call in flight has run, past HUNG_AFTER (0: none)
        self._status, self._detail = "disabled", "accelerators=False"
        if mode is False:
            return
        if not wanted:
            self._status = "no NVIDIA device"
            self._detail = f"no PCI device with vendor {NVIDIA_VENDOR} under {sys_root}/bus/pci/devices"
            return
        _LIVE.add(self)
        self._nvt = _NvmlThread()
        self._load_and_wait()
        with self._lock:
            self._adopt()

    # --- lifetime (the _load/_shutdown/_read* methods run on the NVML thread) ------------

    @property
    def status(self) -> str:
        """"ok", or why there is no GPU data (see the module docstring)."""
        return "not answering" if self._hung_s else self._status

    @property
    def detail(self) -> str:
        if self._hung_s:
            return (f"an NVML call has not returned for {self._hung_s:.0f} s (a GPU lost, or the "
                    "driver hung); the GPUs come back when it does")
        return self._detail

    def _load_and_wait(self):
        with self._lock:
            before = self._loads
        job = self._nvt.call(self._load, self._init_timeout + LOAD_GRACE)
        with self._lock:
            if self._loads == before and not self._closed:     # not finished, even now
                self._status = "init timed out"
                self._detail = (f"loading {self._library or nvml.DEFAULT_LIBRARY} took over "
                                f"{self._init_timeout + LOAD_GRACE:g} s (it goes on in the background)")
                self._next_retry = time.monotonic_ns() + int(RETRY_INTERVAL * 1e9)
        self._check(job)

    def _load(self):
        ok = self._nv.load(self._library, timeout_s=self._init_timeout)
        devices = self._nv.devices if ok else []
        now = time.monotonic_ns()
        with self._lock:
            self._loads += 1
            if self._closed:                 # close() gave up waiting for this load
                self._nv.close()
                return False
            self._status, self._detail = self._nv.status, self._nv.detail
            self._next_retry = now + int(RETRY_INTERVAL * 1e9)
            if not ok:
                return False
            self._gen += 1
            self._devices = devices
            self._by_minor = _minor_rows(devices)
            self._remember(d["mig_error"] for d in devices)
            self._latest = np.zeros(len(devices), ACCELERATOR_DTYPE)
            self._latest_ns = 0
            self._procs, self._process_errors = {}, {}
            self._next_read = self._next_procs = 0
            self._last_attributed = now
        return True

    def _shutdown(self, status, detail):
        self._nv.close()
        with self._lock:
            self._status, self._detail = status, detail
            self._procs = {}
            self._latest_ns = 0

    def adopt(self):
        """The ring follows the device list of the last load (the sweep's side:
        sample(), stats() and history(), all under the Sampler's lock). Other GPUs
        than before (another count, or other UUIDs) get a new ring: the old rows
        were read from the old ones."""
        with self._lock:
            self._adopt()

    def _adopt(self):
        if self._ring_gen == self._gen:
            return
        g = len(self._devices)
        same = [d["uuid"] for d in self._devices] == [d["uuid"] for d in self._ring_devices]
        if self._ring is None or self._ring.shape[1] != g or not same:
            self._ring = np.zeros((self._T, g), ACCELERATOR_DTYPE)
            self._read_ns = np.zeros(self._T, np.int64)
            self._views = list(self._ring)
            self._raw = list(self._ring.view(np.uint8).reshape(self._T, -1))   # rows as bytes: a fast copy
        self._ring_gen, self._ring_devices = self._gen, self._devices

    def close(self):
        """nvmlShutdown (waiting at most CLOSE_WAIT s for a call in flight); the
        object answers "closed" from then on."""
        if self._closed:
            return
        with self._lock:
            self._closed = True
        _LIVE.discard(self)
        if self._nvt is not None and not self._forked:
            # (from the NVML thread itself, e.g. a garbage collection there: queued, not waited for)
            self._nvt.call(self._nv.close, CLOSE_WAIT)
            self._nvt.stop(CLOSE_WAIT if self._nvt.idle else 0)
        with self._lock:
            self._status, self._detail = "closed", ""
            self._hung_s = 0.0
            self._procs = {}

    def _after_fork_in_child(self):
        """The child of a fork() has no NVML thread, and NVML's state is the
        parent's: no GPU data here (make a new Sampler in the child)."""
        self._forked = True
        self._lock = threading.RLock()       # the parent's may have been held by another thread
        self._status, self._detail = "forked", ("this process is a fork() child of the one that "
                                                "loaded NVML; make a new Sampler here for GPU data")
        self._hung_s = 0.0
        self._latest_ns = 0
        self._procs = {}

    @property
    def loaded(self) -> bool:
        return self._nv.available

    # --- containers ----------------------------------------------------------------

    def attach(self, name, devices_dir=None):
        """(Re)reads the container's devices.list (devices_dir: its v1 devices
        cgroup directory; None on v2)."""
        minors = frozenset()
        if devices_dir is not None:
            try:
                with open(os.path.join(devices_dir, "devices.list")) as f:
                    minors = device_minors(f.read())
            except OSError:
                pass
        with self._lock:
            self._names.add(name)
            if minors:
                self._minors[name] = minors
            else:
                self._minors.pop(name, None)

    def detach(self, name):
        with self._lock:
            self._names.discard(name)
            self._minors.pop(name, None)
            self._procs.pop(name, None)

    def _devices_attributed(self):
        with self._lock:        # attach()/detach() change _minors from the Sampler's refresh()
            return any(m in self._by_minor for ms in self._minors.values() for m in ms)

    def refresh(self):
        """Off the hot path (Sampler.refresh, outside the Sampler's lock): loads
        NVML again where wanted, waiting for it a bounded time."""
        if self._closed or self._forked or self._nvt is None or self._nv.available or not self._nvt.idle:
            return
        now = time.monotonic_ns()
        if self._status == "idle":
            if self._devices_attributed():
                self._load_and_wait()
            elif self._process_ns is not None and now >= self._next_probe:
                # Look for GPU processes; with none found, let go again.
                self._next_probe = now + max(self._process_ns, self._idle_ns)
                self._check(self._nvt.call(self._probe_processes, self._init_timeout + LOAD_GRACE))
        elif self._status in _TRANSIENT and now >= self._next_retry:
            self._load_and_wait()

    def _probe_processes(self):
        if self._load():
            self._read_processes()
            if not self._procs:
                self._shutdown("idle", self._idle_detail())

    def _idle_detail(self):
        return (f"NVML shut down: no container used a GPU for {self._idle_ns / 1e9:g} s; "
                "refresh() loads it again when one does")

    # --- the sweep hook ----------------------------------------------------------------

    def sample(self, t):
        """Fills ring row t with the last NVML read, asking for a new one (and
        waiting for it at most READ_WAIT s) when `interval` has passed."""
        nvt = self._nvt
        if nvt is None or self._closed or self._forked:
            if self._ring is not None:
                with self._lock:
                    self._views[t]["valid"] = 0
                    self._read_ns[t] = 0
            return
        now = time.monotonic_ns()
        if self._nv.available and nvt.idle:          # never queue behind a call that has not returned
            if now >= self._next_read:
                self._next_read = now + self._interval_ns
                self._check(nvt.call(self._read, READ_WAIT))
            if self._process_ns is not None and now >= self._next_procs and nvt.idle:
                self._next_procs = now + self._process_ns
                self._check(nvt.call(self._read_processes, READ_WAIT))
            with self._lock:
                attributed = bool(self._procs) or self._devices_attributed()
            if attributed:
                self._last_attributed = now
            elif now - self._last_attributed > self._idle_ns and nvt.idle:
                self._next_probe = now + max(self._process_ns or 0, self._idle_ns)
                nvt.call(lambda: self._shutdown("idle", self._idle_detail()), READ_WAIT)
        hung = nvt.busy_for()
        with self._lock:
            self._adopt()
            if self._ring is None or not self._ring_devices:
                return
            self._hung_s = hung if hung > HUNG_AFTER else 0.0
            if (self._latest_ns == 0 or hung > HUNG_AFTER or not self._nv.available
                    or len(self._latest) != self._ring.shape[1]):
                self._views[t]["valid"] = 0
                self._read_ns[t] = 0
                return
            self._raw[t][:] = self._latest.view(np.uint8)
            self._read_ns[t] = self._latest_ns

    @staticmethod
    def _check(job):
        """Raises what a finished job raised (a bug, not an NVML error: those are statuses)."""
        if job.done.is_set() and job.error is not None:
            raise job.error

    def _read(self):
        """One NVML read of every device (the NVML thread)."""
        with self._lock:
            buf = np.zeros(len(self._devices), ACCELERATOR_DTYPE)
            handles = [d["row"] for d in self._devices if not d["handle_error"]]
        ok = self._nv.sample(buf)
        read_ns = time.time_ns()
        if not ok and handles and (buf["memory_error"][handles] == nvml.ERROR_UNINITIALIZED).all():
            self._shutdown("uninitialized", "NVML answers ERROR_UNINITIALIZED (shut down by another "
                           "user of the library?); refresh() loads it again")
            with self._lock:
                self._next_retry = 0
            return
        self._remember(buf["memory_error"].tolist() + buf["utilization_error"].tolist())
        with self._lock:
            if len(buf) == len(self._latest):
                self._latest, self._latest_ns = buf, read_ns

    def _remember(self, codes):
        """nvmlErrorString of each new code, asked here (the library may be
        unloaded under a caller that asked it later)."""
        for code in set(codes) - set(self._texts) - {0}:
            self._texts[code] = self._nv.error_string(code) or "NVML error"

    def _leaf_rows(self):
        """Rows whose process lists are read: GPUs not in MIG mode, and MIG
        instances (a MIG GPU without enumerable instances: the GPU itself)."""
        parents = {d["parent"] for d in self._devices if d["mig_instance"]}
        return [d["row"] for d in self._devices
                if not d["handle_error"] and (not d["mig_enabled"] or d["row"] not in parents)]

    def _read_processes(self):
        """NVML's process lists, each host pid mapped to its cgroup (the NVML thread)."""
        with self._lock:
            rows, names = self._leaf_rows(), set(self._names)
        seen = {}                   # (row, pid) -> bytes; a C+G process is in both lists once
        errs = {}
        for row in rows:
            for graphics in (False, True):
                try:
                    procs = self._nv.processes(row, graphics)
                except NvmlError as e:
                    errs[row] = e.code
                    continue
                for pid, mem in zip(procs["pid"].tolist(), procs["used_gpu_memory"].tolist()):
                    seen.setdefault((row, pid), None if mem == nvml.VALUE_NOT_AVAILABLE else mem)
        if seen and _in_child_pid_namespace(self._proc_root):
            # NVML gives host pids: here they would name this namespace's processes.
            errs, seen = {row: PID_NAMESPACE for row in rows}, {}
        cgroups, out = {}, {}
        for (row, pid), mem in seen.items():
            if pid not in cgroups:
                try:
                    # bytes, decoded as cgroup directory names are (a cgroup name
                    # may be any bytes: strict UTF-8 would raise out of the sweep)
                    with open(os.path.join(self._proc_root, str(pid), "cgroup"), "rb") as f:
                        cgroups[pid] = cgroup_of(os.fsdecode(f.read()), self._version)
                except OSError:
                    cgroups[pid] = None     # exited
            name = cgroups[pid]
            if name is None:
                continue
            for n in _ancestors(name):
                if n in names:
                    per = out.setdefault(n, {})
                    per.setdefault(row, []).append((pid, mem))
        self._remember(c for c in errs.values() if c != PID_NAMESPACE)
        with self._lock:
            self._procs, self._process_errors = out, errs
            self._procs_read_ns = time.time_ns()

    # --- queries (under the Sampler's lock, like the sweep) ---------------------------------

    def _rows_of(self, name, devices):
        by_minor = _minor_rows(devices)
        with self._lock:
            minors, procs = self._minors.get(name, ()), self._procs.get(name, {})
        rows = {by_minor[m] for m in minors if m in by_minor}
        return sorted(r for r in rows | set(procs) if r < len(devices))

    def stats(self, t, name):
        """The container's AcceleratorStats at ring row t (devices with data
        there), or None."""
        self.adopt()
        if self._ring is None or self._read_ns[t] == 0:
            return None
        out = []
        devices = self._ring_devices
        for r in self._rows_of(name, devices):
            row = self._ring[t, r]
            valid = int(row["valid"])
            if not valid:
                continue
            mem = valid & nvml.VALID_MEMORY
            d = devices[r]
            out.append(v1.AcceleratorStats(
                make="nvidia", model=d["name"] or "", id=d["uuid"] or "",
                memory_total=int(row["memory_total"]) if mem else 0,
                memory_used=int(row["memory_used"]) if mem else 0,
                duty_cycle=int(row["duty_cycle"]) if valid & nvml.VALID_UTILIZATION else 0))
        return out or None

    def usage(self, name) -> list:
        """One dict per GPU attributed to the container: row, id, model, minor,
        mig_instance, sources ("devices", "processes"), memory_used (bytes of
        device memory its processes use; None when NVML cannot tell or the
        process path is off), pids, and read_at_ns of the process list."""
        with self._lock:
            devices, minors = self._devices, self._minors.get(name, ())
            procs, read_ns = self._procs.get(name, {}), self._procs_read_ns
        out = []
        for r in self._rows_of(name, devices):
            d = devices[r]
            sources = [s for s, on in (("devices", d["minor"] in minors and not d["mig_instance"]),
                                       ("processes", r in procs)) if on]
            mems = [m for _, m in procs.get(r, ())]
            out.append({"row": r, "id": d["uuid"], "model": d["name"], "minor": d["minor"],
                        "mig_instance": d["mig_instance"], "sources": sources,
                        "memory_used": None if not mems or None in mems else sum(mems),
                        "pids": sorted({p for p, _ in procs.get(r, ())}),
                        "read_at_ns": read_ns if r in procs else 0})
        return out

    def _why(self, code):
        if code == PID_NAMESPACE:
            return ("this process is in a PID namespace of its own: NVML's host pids "
                    "cannot be mapped to cgroups here (run with the host's PID namespace)")
        return f"{self._texts.get(code, 'NVML error')} ({code})"

    @property
    def devices(self) -> list:
        """The GPUs (and MIG instances) of the last load, each with "unsupported":
        what NVML refuses for it and why (utilization on MIG, process lists...)."""
        out = []
        with self._lock:
            devices, errs, last = self._devices, dict(self._process_errors), self._latest
        for d in devices:
            d = dict(d)
            why = {}
            if last is not None and d["row"] < len(last):
                for field, key in (("utilization_error", "duty_cycle"), ("memory_error", "memory")):
                    code = int(last[d["row"]][field])
                    if code:
                        why[key] = self._why(code)
            if d["mig_enabled"] and d["mig_error"]:
                why["mig_instances"] = self._why(d["mig_error"])
            if d["row"] in errs:
                why["processes"] = self._why(errs[d["row"]])
            d["unsupported"] = why
            out.append(d)
        return out

    def history(self, rows):
        """(ring [len(rows), G] copy, read times [len(rows)]) for ring rows."""
        self.adopt()                  # a reload's devices, even before the next sweep
        if self._ring is None:
            return np.zeros((len(rows), 0), ACCELERATOR_DTYPE), np.zeros(len(rows), np.int64)
        return self._ring[rows], self._read_ns[rows]

    def __repr__(self):
        return f"<Accelerators {self.status!r} devices={len(self._devices)}>"


# Accelerators with an NVML thread: a fork() child marks them unusable.
_LIVE = weakref.WeakSet()


def _after_fork_in_child():
    for acc in list(_LIVE):
        acc._after_fork_in_child()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
