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

Lifetime: NVML is loaded in the constructor and, later, only in refresh() (never
inside a sweep); it is shut down by close(), and after `idle_timeout` seconds
in which no container was attributed a GPU (a held NVML blocks driver upgrades).
After such an idle shutdown, refresh() loads it again when a container's device
cgroup names a known GPU, or, with the process path on, to look for GPU
processes once per process interval. Nothing here raises for a missing or broken
NVML, and nothing is logged: `status` and `detail` say why there is no data."""
from __future__ import annotations

import glob
import os
import time

import numpy as np

from cgsampler import errors, v1
from cgsampler._native import nvml
from cgsampler._native.nvml import ACCELERATOR_DTYPE, Nvml, NvmlError

INTERVAL = 0.15             # s between NVML reads: utilization is already a 1/6-1 s window average
IDLE_TIMEOUT = 60.0         # s with no container on a GPU before nvmlShutdown
INIT_TIMEOUT = 10.0         # s nvmlInit_v2 + device enumeration may take
RETRY_INTERVAL = 60.0       # s between reload attempts after a transient failure
PROCESS_INTERVAL_ENV = "CGSAMPLER_NVML_PROCESS_INTERVAL"   # default process_interval (for the CLI)
NVIDIA_MAJOR = 195          # /dev/nvidiaN; N >= 128 are nvidiactl, nvidia-modeset
NVIDIA_VENDOR = "0x10de"
# Statuses worth another load at a later refresh(); the others need a person.
_TRANSIENT = {"driver not loaded", "init failed", "device count failed", "no devices", "uninitialized"}
_UNSET = object()


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


class Accelerators:
    """The Sampler's GPUs. mode: True (load NVML), False (never), "auto" (load
    when a library is named, by `library` or $CGSAMPLER_NVML_LIBRARY, or an
    NVIDIA PCI device is present). interval: least seconds between NVML reads
    (sweeps between carry the last values and their timestamp). process_interval:
    seconds between process-list reads, None = off (default: $CGSAMPLER_NVML_PROCESS_INTERVAL,
    else off)."""

    def __init__(self, history, mode="auto", library=None, *, interval=INTERVAL, process_interval=_UNSET,
                 idle_timeout=IDLE_TIMEOUT, init_timeout=INIT_TIMEOUT, proc_root="/proc", sys_root="/sys",
                 version=1, **unknown):
        if unknown:
            raise errors.InvalidOption(f"unknown accelerators option {sorted(unknown)[0]!r}; options are interval, "
                                       "process_interval, idle_timeout, init_timeout, mode")
        if process_interval is _UNSET:
            env = os.environ.get(PROCESS_INTERVAL_ENV)
            try:
                process_interval = float(env) if env else None
            except ValueError:
                raise errors.InvalidOption(f"${PROCESS_INTERVAL_ENV} must be a number of seconds, "
                                           f"got {env!r}") from None
        for what, v in (("interval", interval), ("idle_timeout", idle_timeout), ("init_timeout", init_timeout),
                        ("process_interval", 0 if process_interval is None else process_interval)):
            if not isinstance(v, (int, float)) or not 0 <= v <= 10 * 365 * 86400:
                raise errors.InvalidOption(f"accelerators: {what} must be a number of seconds >= 0, got {v!r}")
        if mode not in (True, False, "auto"):
            raise errors.InvalidOption(f"accelerators must be True, False or 'auto', got {mode!r}")
        self._T = int(history)
        self._library = library
        self._interval_ns = int(interval * 1e9)
        self._process_ns = None if process_interval is None else int(process_interval * 1e9)
        self._idle_ns = int(idle_timeout * 1e9)
        self._init_timeout = float(init_timeout)
        self._proc_root = proc_root
        self._version = version
        self._nv = Nvml()
        self._ring = None           # [T, G] ACCELERATOR_DTYPE
        self._read_ns = None        # [T] wall ns when row t's values were read (0: no data)
        self._views = []            # self._ring[t], made once
        self._prev = None           # ring row of the previous sweep
        self._next_read = 0         # monotonic ns
        self._next_procs = 0
        self._next_retry = 0
        self._last_attributed = 0
        self._devices = []          # Nvml.devices of the last load (kept across an idle shutdown)
        self._by_minor = {}         # minor -> row of the physical GPU
        self._minors = {}           # container -> GPU minors its devices.list allows
        self._names = set()         # containers attached
        self._procs = {}            # container -> {row: [bytes or None per pid], "pids": ...}
        self._procs_read_ns = 0
        self._process_errors = {}   # row -> NVML code of its last process query
        self._closed = False
        self.status, self.detail = "disabled", "accelerators=False"
        if mode is False:
            return
        explicit = library is not None or os.environ.get(nvml.LIBRARY_ENV)
        if mode == "auto" and not explicit and not nvidia_pci_present(sys_root):
            self.status = "no NVIDIA device"
            self.detail = f"no PCI device with vendor {NVIDIA_VENDOR} under {sys_root}/bus/pci/devices"
            return
        self._load()

    # --- lifetime ---------------------------------------------------------------

    def _load(self):
        now = time.monotonic_ns()
        ok = self._nv.load(self._library, timeout_s=self._init_timeout)
        self.status, self.detail = self._nv.status, self._nv.detail
        self._next_retry = now + int(RETRY_INTERVAL * 1e9)
        if not ok:
            return False
        self._devices = self._nv.devices
        self._by_minor = {d["minor"]: d["row"] for d in self._devices
                          if d["minor"] is not None and not d["mig_instance"]}
        g = len(self._devices)
        if self._ring is None or self._ring.shape[1] != g:
            self._ring = np.zeros((self._T, g), ACCELERATOR_DTYPE)
            self._read_ns = np.zeros(self._T, np.int64)
            self._views = list(self._ring)
            self._raw = list(self._ring.view(np.uint8).reshape(self._T, -1))   # rows as bytes: a fast copy
        self._procs, self._process_errors = {}, {}
        self._next_read = self._next_procs = 0
        self._last_attributed = now
        return True

    def _shutdown(self, status, detail):
        self._nv.close()
        self.status, self.detail = status, detail
        self._procs = {}

    def close(self):
        """nvmlShutdown; the object answers "closed" from then on."""
        if not self._closed:
            self._shutdown("closed", "")
            self._closed = True

    @property
    def loaded(self) -> bool:
        return self._nv.available

    # --- containers ----------------------------------------------------------------

    def attach(self, name, devices_dir=None):
        """(Re)reads the container's devices.list (devices_dir: its v1 devices
        cgroup directory; None on v2)."""
        self._names.add(name)
        minors = frozenset()
        if devices_dir is not None:
            try:
                with open(os.path.join(devices_dir, "devices.list")) as f:
                    minors = device_minors(f.read())
            except OSError:
                pass
        if minors:
            self._minors[name] = minors
        else:
            self._minors.pop(name, None)

    def detach(self, name):
        self._names.discard(name)
        self._minors.pop(name, None)
        self._procs.pop(name, None)

    def refresh(self):
        """Off the hot path (Sampler.refresh): loads NVML again where wanted."""
        if self._closed or self._nv.available or self.status in ("disabled", "no NVIDIA device"):
            return
        now = time.monotonic_ns()
        if self.status == "idle":
            if any(m in self._by_minor for ms in self._minors.values() for m in ms):
                self._load()
            elif self._process_ns is not None and now >= self._next_procs:
                # Look for GPU processes; with none found, the next sweep's idle
                # check shuts NVML down again.
                if self._load():
                    self._read_processes(now)
                    if not self._procs:
                        self._shutdown("idle", self._idle_detail())
                        self._next_procs = now + self._process_ns
        elif self.status in _TRANSIENT and now >= self._next_retry:
            self._load()

    def _idle_detail(self):
        return (f"NVML shut down: no container used a GPU for {self._idle_ns / 1e9:g} s; "
                "refresh() loads it again when one does")

    # --- the sweep hook ----------------------------------------------------------------

    def sample(self, t):
        """Fills ring row t: a fresh NVML read when `interval` has passed since
        the last one, else the previous row's values and read time."""
        views = self._views
        if not views:
            return
        prev, self._prev = self._prev, t
        if not self._nv.available:
            views[t]["valid"] = 0
            self._read_ns[t] = 0
            return
        now = time.monotonic_ns()
        if now >= self._next_read or prev is None or self._read_ns[prev] == 0:
            ok = self._nv.sample(views[t])
            self._read_ns[t] = time.time_ns()
            self._next_read = now + self._interval_ns
            if not ok and (views[t]["memory_error"] == nvml.ERROR_UNINITIALIZED).all():
                self._shutdown("uninitialized", "NVML answers ERROR_UNINITIALIZED (shut down by another "
                               "user of the library?); refresh() loads it again")
                self._next_retry = 0
                views[t]["valid"] = 0
                self._read_ns[t] = 0
                return
        else:
            self._raw[t][:] = self._raw[prev]
            self._read_ns[t] = self._read_ns[prev]
        if self._process_ns is not None and now >= self._next_procs:
            self._read_processes(now)
        if self._procs or any(m in self._by_minor for ms in self._minors.values() for m in ms):
            self._last_attributed = now
        elif now - self._last_attributed > self._idle_ns:
            self._shutdown("idle", self._idle_detail())

    def _leaf_rows(self):
        """Rows whose process lists are read: GPUs not in MIG mode, and MIG
        instances (a MIG GPU without enumerable instances: the GPU itself)."""
        parents = {d["parent"] for d in self._devices if d["mig_instance"]}
        return [d["row"] for d in self._devices
                if not d["handle_error"] and (not d["mig_enabled"] or d["row"] not in parents)]

    def _read_processes(self, now):
        self._next_procs = now + self._process_ns
        seen = {}                   # (row, pid) -> bytes; a C+G process is in both lists once
        errs = {}
        for row in self._leaf_rows():
            for graphics in (False, True):
                try:
                    procs = self._nv.processes(row, graphics)
                except NvmlError as e:
                    errs[row] = e.code
                    continue
                for pid, mem in zip(procs["pid"].tolist(), procs["used_gpu_memory"].tolist()):
                    seen.setdefault((row, pid), None if mem == nvml.VALUE_NOT_AVAILABLE else mem)
        cgroups, out = {}, {}
        for (row, pid), mem in seen.items():
            if pid not in cgroups:
                try:
                    # bytes, decoded as cgroup directory names are (a cgroup name
                    # may be any bytes: strict UTF-8 would raise out of the sweep)
                    with open(os.path.join(self._proc_root, str(pid), "cgroup"), "rb") as f:
                        cgroups[pid] = cgroup_of(os.fsdecode(f.read()), self._version)
                except OSError:
                    cgroups[pid] = None     # exited, or another pid namespace's
            name = cgroups[pid]
            if name is None:
                continue
            for n in _ancestors(name):
                if n in self._names:
                    per = out.setdefault(n, {})
                    per.setdefault(row, []).append((pid, mem))
        self._procs, self._process_errors = out, errs
        self._procs_read_ns = time.time_ns()

    # --- queries ------------------------------------------------------------------------

    def _rows_of(self, name):
        rows = {self._by_minor[m] for m in self._minors.get(name, ()) if m in self._by_minor}
        return sorted(rows | set(self._procs.get(name, ())))

    def stats(self, t, name):
        """The container's AcceleratorStats at ring row t (devices with data
        there), or None."""
        if self._ring is None or self._read_ns[t] == 0:
            return None
        out = []
        for r in self._rows_of(name):
            if r >= self._ring.shape[1]:
                continue
            row = self._ring[t, r]
            valid = int(row["valid"])
            if not valid:
                continue
            mem = valid & nvml.VALID_MEMORY
            d = self._devices[r]
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
        minors = self._minors.get(name, ())
        procs = self._procs.get(name, {})
        out = []
        for r in self._rows_of(name):
            d = self._devices[r]
            sources = [s for s, on in (("devices", d["minor"] in minors and not d["mig_instance"]),
                                       ("processes", r in procs)) if on]
            mems = [m for _, m in procs.get(r, ())]
            out.append({"row": r, "id": d["uuid"], "model": d["name"], "minor": d["minor"],
                        "mig_instance": d["mig_instance"], "sources": sources,
                        "memory_used": None if not mems or None in mems else sum(mems),
                        "pids": sorted({p for p, _ in procs.get(r, ())}),
                        "read_at_ns": self._procs_read_ns if r in procs else 0})
        return out

    @property
    def devices(self) -> list:
        """The GPUs (and MIG instances) of the last load, each with "unsupported":
        what NVML refuses for it and why (utilization on MIG, process lists...)."""
        out = []
        last = self._views[self._prev] if self._views and self._prev is not None else None
        for d in self._devices:
            d = dict(d)
            why = {}
            if last is not None and d["row"] < len(last):
                for field, key in (("utilization_error", "duty_cycle"), ("memory_error", "memory")):
                    code = int(last[d["row"]][field])
                    if code:
                        why[key] = f"{self._nv.error_string(code) or 'NVML error'} ({code})"
            if d["mig_enabled"] and d["mig_error"]:
                why["mig_instances"] = f"{self._nv.error_string(d['mig_error']) or 'NVML error'} ({d['mig_error']})"
            if d["row"] in self._process_errors:
                code = self._process_errors[d["row"]]
                why["processes"] = f"{self._nv.error_string(code) or 'NVML error'} ({code})"
            d["unsupported"] = why
            out.append(d)
        return out

    def history(self, rows):
        """(ring [len(rows), G] copy, read times [len(rows)]) for ring rows."""
        if self._ring is None:
            return np.zeros((len(rows), 0), ACCELERATOR_DTYPE), np.zeros(len(rows), np.int64)
        return self._ring[rows], self._read_ns[rows]

    def __repr__(self):
        return f"<Accelerators {self.status!r} devices={len(self._devices)}>"
