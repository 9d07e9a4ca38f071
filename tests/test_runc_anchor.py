"""Our values against runc's cgroup parser (the one cAdvisor uses), on a frozen
workload so the counters stand still between the two reads.

The anchor is ../shared/tools/runc-anchor, built with Go against Debian's runc
sources (CI installs golang-go and golang-github-opencontainers-runc-dev); the
test skips with a reason where it cannot be built, or uses $RUNC_ANCHOR."""
import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from cgsampler import Sampler
from conftest import MEMORY_ALLOCATOR

pytestmark = pytest.mark.real
ANCHOR_SRC = Path(__file__).resolve().parents[1].parent / "shared" / "tools" / "runc-anchor"


@pytest.fixture(scope="session")
def runc_anchor(tmp_path_factory):
    binary = os.environ.get("RUNC_ANCHOR")
    if binary:
        return binary
    if not (ANCHOR_SRC / "build.sh").is_file():
        pytest.skip(f"runc-anchor source {ANCHOR_SRC} is missing")
    if shutil.which("go") is None or not os.path.isdir("/usr/share/gocode/src/github.com/opencontainers/runc"):
        pytest.skip("runc-anchor needs golang-go and golang-github-opencontainers-runc-dev (CI installs them)")
    out = tmp_path_factory.mktemp("anchor") / "runc-anchor"
    p = subprocess.run(["bash", str(ANCHOR_SRC / "build.sh"), str(out)], capture_output=True, timeout=600)
    if p.returncode != 0:
        pytest.skip(f"runc-anchor did not build: {p.stderr.decode(errors='replace')[-300:]}")
    return str(out)


def anchor_sample(binary, name):
    p = subprocess.run([binary, name, "3"], capture_output=True, timeout=60, check=True)
    return json.loads(p.stdout)


def test_frozen_workload_matches_runc_field_by_field(v1_cgroup, runc_anchor):
    cg = v1_cgroup
    cg.write("cpu", "cpu.cfs_quota_us", 50000)           # so CFS periods and throttling are non-zero
    p = cg.spawn(MEMORY_ALLOCATOR.replace("sys.stdin.read()", "exec('while True: pass')"))
    assert p.stdout.readline() == b"ready\n"
    time.sleep(0.3)
    os.kill(p.pid, signal.SIGSTOP)
    # The CFS period timer goes on for a period or two after the last runnable
    # task stops (nr_periods still moves): wait until cpu.stat is at rest.
    deadline, last = time.monotonic() + 5, None
    while time.monotonic() < deadline:
        time.sleep(0.25)
        now = cg.read("cpu", "cpu.stat")
        if now == last:
            break
        last = now
    with Sampler(containers=[cg.name]) as s:
        s.sample()
        row = s.stats[0][0]
        percpu = [int(x) for x in s.percpu[0][0][: row["cpu_percpu_count"]]]
        ours = s.container_info(cg.name).stats[-1]
    theirs = anchor_sample(runc_anchor, cg.name)
    os.kill(p.pid, signal.SIGCONT)

    cpu = theirs["cpu_stats"]["cpu_usage"]
    assert ours.cpu.usage.total == cpu["total_usage"]
    assert percpu == cpu["percpu_usage"]
    assert ours.cpu.usage.user == cpu["usage_in_usermode"]
    assert ours.cpu.usage.system == cpu["usage_in_kernelmode"]
    thr = theirs["cpu_stats"]["throttling_data"]
    assert ours.cpu.cfs.periods == thr.get("periods", 0) > 0
    assert ours.cpu.cfs.throttled_periods == thr.get("throttled_periods", 0)
    assert ours.cpu.cfs.throttled_time == thr.get("throttled_time", 0)

    mem = theirs["memory_stats"]
    stats = mem["stats"]
    assert ours.memory.usage == mem["usage"]["usage"]
    assert ours.memory.max_usage == mem["usage"]["max_usage"]
    assert ours.memory.failcnt == mem["usage"].get("failcnt", 0)
    assert ours.memory.cache == stats["total_cache"]
    assert ours.memory.rss == stats["total_rss"]
    assert ours.memory.swap == stats.get("total_swap", 0)
    assert ours.memory.mapped_file == stats["total_mapped_file"]
    assert ours.memory.working_set == max(mem["usage"]["usage"] - stats["total_inactive_file"], 0)
    assert ours.memory.container_data.pgfault == stats["pgfault"]
    assert ours.memory.container_data.pgmajfault == stats["pgmajfault"]

    # runc reports threads (pids.current); the frozen workload is one single-threaded process.
    assert ours.processes.process_count == theirs["pids_stats"].get("current", 1) == 1

    def runc_disk(key):
        out = {}
        for e in theirs["blkio_stats"].get(key) or []:
            out.setdefault((e["major"], e["minor"]), {})[e["op"] or "Count"] = e["value"]
        return out

    def our_disk(lst):
        return {(d.major, d.minor): d.stats for d in (lst or [])}

    assert our_disk(ours.diskio.io_service_bytes) == runc_disk("io_service_bytes_recursive")
    assert our_disk(ours.diskio.io_serviced) == runc_disk("io_serviced_recursive")
