"""Shared fixtures: real cgroups made on this machine, and real workloads in them.

Tests that need them skip with a reason where the machine has no writable cgroup
v1 controllers or the tests do not run as root (CI runs as root)."""
import os
import signal
import subprocess
import sys
import time
import uuid

import pytest

CGROUP = "/sys/fs/cgroup"
V1_CONTROLLERS = ("cpu", "cpuacct", "memory", "blkio", "pids", "cpuset", "devices")


def v1_available():
    if os.geteuid() != 0:
        return "needs root to make cgroups"
    for c in ("cpu", "cpuacct", "memory"):
        if not os.path.exists(os.path.join(CGROUP, c, "cgroup.procs")):
            return f"no cgroup v1 {c} controller mounted at {CGROUP}/{c}"
    return None


def v2_root():
    """A writable cgroup2 mount: the unified mount of a hybrid host, or /sys/fs/cgroup itself."""
    for d in (os.path.join(CGROUP, "unified"), CGROUP):
        if os.path.exists(os.path.join(d, "cgroup.controllers")):
            return d
    return None


class RealCgroup:
    """One cgroup made in every mounted v1 controller (or in the cgroup2 mount)."""

    def __init__(self, name, dirs):
        self.name = name          # cAdvisor-style name, e.g. "/cgs-test-1a2b"
        self.dirs = dirs          # controller -> directory
        self.procs = []

    def path(self, controller):
        return self.dirs[controller]

    def write(self, controller, fname, value):
        with open(os.path.join(self.dirs[controller], fname), "w") as f:
            f.write(str(value))

    def read(self, controller, fname):
        with open(os.path.join(self.dirs[controller], fname)) as f:
            return f.read()

    def add(self, pid):
        for d in self.dirs.values():
            with open(os.path.join(d, "cgroup.procs"), "w") as f:
                f.write(str(pid))

    def spawn(self, code):
        """Starts `python -c code` inside this cgroup (it moves itself in before running)."""
        prelude = (
            "import os,sys\n"
            f"for d in {list(self.dirs.values())!r}:\n"
            "    open(os.path.join(d,'cgroup.procs'),'w').write(str(os.getpid()))\n"
            "sys.stdout.write('in\\n'); sys.stdout.flush()\n"
        )
        p = subprocess.Popen([sys.executable, "-c", prelude + code], stdout=subprocess.PIPE,
                             stdin=subprocess.PIPE)
        assert p.stdout.readline() == b"in\n"
        self.procs.append(p)
        return p

    def kill_all(self):
        for p in self.procs:
            if p.poll() is None:
                try:
                    os.kill(p.pid, signal.SIGCONT)
                except ProcessLookupError:
                    pass
                p.kill()
            p.wait()
        self.procs = []

    def remove(self):
        self.kill_all()
        for d in sorted(self.dirs.values(), key=len, reverse=True):
            for _ in range(50):
                try:
                    os.rmdir(d)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.05)


def make_cgroups(names, version=1):
    made = []
    for name in names:
        if version == 1:
            dirs = {}
            for c in V1_CONTROLLERS:
                base = os.path.join(CGROUP, c)
                if os.path.exists(os.path.join(base, "cgroup.procs")):
                    d = base + name
                    os.makedirs(d, exist_ok=True)
                    dirs[c] = d
            if "cpuset" in dirs:
                # a new v1 cpuset is empty; copy the parent's so tasks may join
                for f in ("cpuset.cpus", "cpuset.mems"):
                    parent = os.path.dirname(dirs["cpuset"])
                    with open(os.path.join(parent, f)) as src, open(os.path.join(dirs["cpuset"], f), "w") as dst:
                        dst.write(src.read().strip() or "0")
        else:
            d = v2_root() + name
            os.makedirs(d, exist_ok=True)
            dirs = {"": d}
        made.append(RealCgroup(name, dirs))
    return made


@pytest.fixture
def v1_cgroup():
    reason = v1_available()
    if reason:
        pytest.skip(reason)
    (cg,) = make_cgroups([f"/cgs-test-{uuid.uuid4().hex[:8]}"])
    try:
        yield cg
    finally:
        cg.remove()


@pytest.fixture
def v2_cgroup():
    if os.geteuid() != 0:
        pytest.skip("needs root to make cgroups")
    if v2_root() is None:
        pytest.skip("no cgroup2 mount on this machine")
    (cg,) = make_cgroups([f"/cgs-test-{uuid.uuid4().hex[:8]}"], version=2)
    try:
        yield cg
    finally:
        cg.remove()


CPU_BURNER = "while True: pass\n"
MEMORY_ALLOCATOR = (
    "n = int(sys.argv[1]) if len(sys.argv) > 1 else 64 << 20\n"
    "buf = bytearray(64 << 20)\n"
    "for i in range(0, len(buf), 4096): buf[i] = 1\n"
    "sys.stdout.write('ready\\n'); sys.stdout.flush()\n"
    "sys.stdin.read()\n"
)
