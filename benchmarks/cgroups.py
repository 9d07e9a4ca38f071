"""Real cgroup v1 containers for the benchmarks: N sibling cgroups under one
unique parent, in every v1 controller the sampler reads, removed reliably.

    with CgroupSet(1000, sleepers=10) as cs:
        cs.names        # ["/cgs-bench-<pid>-<hex>/c0000", ...]  (cAdvisor-style names)

Layout: /sys/fs/cgroup/<controller>/cgs-bench-<pid>-<hex>/cNNNN for each of
cpu, cpuacct, memory, blkio, pids and cpuset that is mounted as its own (or a
co-mounted) v1 hierarchy. cpuset's parent gets the root's cpuset.cpus/mems and
cgroup.clone_children=1, so its children inherit a usable cpuset without a
write per child. A "sleeper" is `sleep` started inside a container (it moves
itself into every controller's cgroup.procs before exec, so its memory is
charged there) and makes the container non-empty: cgroup.procs has a line,
memory.stat has rss/mapped_file, cpuacct has some usage.

Removal kills the sleepers, then rmdirs every child directory found under
each parent (not only those recorded: a signal can land between a mkdir and
its bookkeeping), then the parents, retrying briefly on EBUSY (a killed task
can take a moment to leave). It runs on normal exit of the `with` block, on
exceptions, on Ctrl-C, on SIGTERM/SIGHUP (turned into SystemExit while a set is
alive) and from atexit. Sleepers carry PR_SET_PDEATHSIG=SIGKILL, so they die
with this process even when it is SIGKILLed; `python -m benchmarks.cgroups
--clean` (also run at the start of compare.py and of the pytest suite) then
removes the empty trees such a run left: every cgs-bench-<pid>-* parent whose
pid is no longer alive.

Creating 1,000 containers in 6 controllers takes well under a second here
(mkdir costs ~40 us, ~200 us for memory).
"""
from __future__ import annotations

import atexit
import errno
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time

CGROUP_ROOT = "/sys/fs/cgroup"
# Controllers the sampler reads (cpu, cpuacct, memory, blkio) or that cAdvisor /
# runc read for a container (pids, cpuset).
DEFAULT_CONTROLLERS = ("cpu", "cpuacct", "memory", "blkio", "pids", "cpuset")
PREFIX = "cgs-bench"
_STALE = re.compile(rf"^{PREFIX}-(\d+)-[0-9a-f]+$")

_live: list["CgroupSet"] = []
_old_handlers: dict = {}


def unavailable(root: str = CGROUP_ROOT) -> str | None:
    """Why real v1 cgroups cannot be made here, or None."""
    if os.geteuid() != 0:
        return "needs root to make cgroups"
    for c in ("cpu", "cpuacct", "memory"):
        if not os.path.exists(os.path.join(root, c, "cgroup.procs")):
            return f"no cgroup v1 {c} controller mounted at {root}/{c}"
    return None


def mounted_controllers(root: str = CGROUP_ROOT, wanted=DEFAULT_CONTROLLERS) -> list[str]:
    """Controllers of `wanted` mounted as v1 hierarchies under root, one entry per
    distinct directory (co-mounted "cpu,cpuacct" counts once)."""
    out, seen = [], set()
    for c in wanted:
        d = os.path.join(root, c)
        if not os.path.exists(os.path.join(d, "cgroup.procs")):
            continue
        real = os.path.realpath(d)
        if real in seen:
            continue
        seen.add(real)
        out.append(c)
    return out


def _die_with_parent():
    """preexec_fn of the sleepers: SIGKILL them when this process dies, however it
    dies (PR_SET_PDEATHSIG survives the exec of sh and sleep)."""
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)   # PR_SET_PDEATHSIG = 1
    except Exception:
        pass


def _on_signal(signum, frame):
    raise SystemExit(128 + signum)


def _install_handlers():
    for sig in (signal.SIGTERM, signal.SIGHUP):
        if sig not in _old_handlers:
            try:
                _old_handlers[sig] = signal.signal(sig, _on_signal)
            except ValueError:      # not the main thread: rely on atexit / finally
                pass


def _restore_handlers():
    for sig, h in list(_old_handlers.items()):
        try:
            signal.signal(sig, h)
        except ValueError:
            pass
        del _old_handlers[sig]


@atexit.register
def _cleanup_all():
    for cs in list(_live):
        cs.remove()


def _rmdir(path: str, tries: int = 50) -> bool:
    for _ in range(tries):
        try:
            os.rmdir(path)
            return True
        except FileNotFoundError:
            return True
        except OSError as e:
            if e.errno != errno.EBUSY:
                raise
            time.sleep(0.02)
    return False


class CgroupSet:
    """N real v1 cgroups under a unique parent. Use as a context manager."""

    def __init__(self, n: int, sleepers: int = 0, controllers=None, root: str = CGROUP_ROOT):
        self.n = int(n)
        self.root = root
        self.controllers = mounted_controllers(root, controllers or DEFAULT_CONTROLLERS)
        self.parent = f"{PREFIX}-{os.getpid()}-{secrets.token_hex(4)}"
        self.children = [f"c{i:04d}" for i in range(self.n)]
        self.names = [f"/{self.parent}/{c}" for c in self.children]
        self.nsleepers = min(int(sleepers), self.n)
        self.procs: list[subprocess.Popen] = []
        self._parents: list[str] = []  # parent directories, one per controller
        self._removed = False

    # --- creation ---------------------------------------------------------------

    def create(self) -> "CgroupSet":
        why = unavailable(self.root)
        if why:
            raise RuntimeError(why)
        _live.append(self)
        _install_handlers()
        try:
            for c in self.controllers:
                base = os.path.join(self.root, c, self.parent)
                self._parents.append(base)      # before mkdir: removal tolerates its absence
                os.mkdir(base)
                if c == "cpuset":
                    for f in ("cpuset.cpus", "cpuset.mems"):
                        with open(os.path.join(self.root, c, f)) as src:
                            value = src.read().strip()
                        with open(os.path.join(base, f), "w") as dst:
                            dst.write(value)
                    with open(os.path.join(base, "cgroup.clone_children"), "w") as f:
                        f.write("1")
                for child in self.children:
                    os.mkdir(os.path.join(base, child))
            if self.nsleepers:
                self._spawn_sleepers()
        except BaseException:
            self.remove()
            raise
        return self

    def dirs(self, i: int) -> dict:
        """controller -> directory of container i."""
        return {c: os.path.join(self.root, c, self.parent, self.children[i]) for c in self.controllers}

    def sleeper_indices(self) -> list[int]:
        """Which containers get a sleeper: spread evenly over the N."""
        if not self.nsleepers:
            return []
        step = self.n / self.nsleepers
        return sorted({int(k * step) for k in range(self.nsleepers)})

    def _spawn_sleepers(self):
        sleep = shutil.which("sleep") or "/bin/sleep"
        for i in self.sleeper_indices():
            procs_files = " ".join(os.path.join(d, "cgroup.procs") for d in self.dirs(i).values())
            # The shell moves itself in, then execs sleep: sleep's pages are charged here.
            script = f'for f in {procs_files}; do echo $$ > "$f" || exit 1; done; exec {sleep} 1000000'
            self.procs.append(subprocess.Popen(["/bin/sh", "-c", script], stdin=subprocess.DEVNULL,
                                               preexec_fn=_die_with_parent))
        # Wait until every sleeper is in place (its pid listed in its cpu cgroup).
        deadline = time.monotonic() + 10
        for i, p in zip(self.sleeper_indices(), self.procs):
            path = os.path.join(self.dirs(i)[self.controllers[0]], "cgroup.procs")
            while True:
                with open(path) as f:
                    if str(p.pid) in f.read().split():
                        break
                if p.poll() is not None:
                    raise RuntimeError(f"sleeper for container {i} exited with {p.returncode}")
                if time.monotonic() > deadline:
                    raise RuntimeError("sleepers did not start in 10 s")
                time.sleep(0.005)

    # --- removal ----------------------------------------------------------------

    def remove(self):
        """Kills the sleepers and removes every directory made. Idempotent."""
        if self._removed:
            return
        self._removed = True
        for p in self.procs:
            if p.poll() is None:
                p.kill()
        for p in self.procs:
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        failed = []
        for base in reversed(self._parents):
            try:
                children = sorted(e.path for e in os.scandir(base) if e.is_dir(follow_symlinks=False))
            except FileNotFoundError:
                continue
            except OSError as e:
                failed.append(f"{base} ({e})")
                continue
            for d in children + [base]:
                try:
                    if not _rmdir(d):
                        failed.append(d)
                except OSError as e:
                    failed.append(f"{d} ({e})")
        if self in _live:
            _live.remove(self)
        if not _live:
            _restore_handlers()
        if failed:
            print(f"cgroups.py: could not remove {len(failed)} cgroups, e.g. {failed[0]}; "
                  "run `python -m benchmarks.cgroups --clean`", file=sys.stderr)

    def __enter__(self):
        return self.create()

    def __exit__(self, *exc):
        self.remove()


def clean_stale(root: str = CGROUP_ROOT, verbose: bool = True) -> int:
    """Removes cgs-bench-<pid>-* trees whose creating process is gone. Returns how many."""
    removed = 0
    for c in DEFAULT_CONTROLLERS:
        base = os.path.join(root, c)
        try:
            entries = os.listdir(base)
        except OSError:
            continue
        for name in entries:
            m = _STALE.match(name)
            if not m:
                continue
            pid = int(m.group(1))
            try:
                os.kill(pid, 0)
                continue                # still running: not ours to remove
            except ProcessLookupError:
                pass
            except PermissionError:
                continue
            parent = os.path.join(base, name)
            for child in sorted(os.listdir(parent)):
                d = os.path.join(parent, child)
                if not os.path.isdir(d):
                    continue
                try:
                    with open(os.path.join(d, "cgroup.procs")) as f:
                        for pid_s in f.read().split():
                            try:
                                os.kill(int(pid_s), signal.SIGKILL)
                            except ProcessLookupError:
                                pass
                except OSError:
                    pass
                _rmdir(d)
            _rmdir(parent)
            removed += 1
            if verbose:
                print(f"removed {parent}")
    return removed


def main(argv=None):
    import argparse
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clean", action="store_true", help="remove cgs-bench trees left by dead runs")
    ap.add_argument("--time", type=int, metavar="N", help="time making and removing N cgroups")
    args = ap.parse_args(argv)
    if args.clean:
        print(f"{clean_stale()} stale trees removed")
    if args.time:
        t0 = time.perf_counter()
        cs = CgroupSet(args.time).create()
        t1 = time.perf_counter()
        cs.remove()
        t2 = time.perf_counter()
        print(f"{args.time} cgroups x {len(cs.controllers)} controllers ({','.join(cs.controllers)}): "
              f"create {t1 - t0:.2f} s, remove {t2 - t1:.2f} s")


if __name__ == "__main__":
    main()
