"""pytest-benchmark suite: one sweep over 10 and 100 real cgroup v1 containers,
next to the kernel floor and the naive pure-Python sampler.

    sudo python -m pytest benchmarks/ --benchmark-only

Groups are per N; compare the rows of a group (pytest-benchmark prints them
side by side). These are measurements, not pass/fail performance tests: the
only assertions check that each series does the work it claims (the floor reads
exactly the files the sweep reads). The targets and the side-by-side table live
in compare.py and README.md.

Skips without root, without cgroup v1 controllers, or (floor only) without a C
compiler. Not collected by the project's normal test run (testpaths = tests).
"""
import pytest

from benchmarks import cgroups, floor, naive

pytestmark = pytest.mark.skipif(cgroups.unavailable() is not None,
                                reason=cgroups.unavailable() or "")

SIZES = (10, 100)


@pytest.fixture(scope="module", params=SIZES, ids=lambda n: f"N={n}")
def setup(request):
    from cgsampler import Sampler
    from benchmarks.compare import CGROUP_FILES_ONLY
    n = request.param
    cgroups.clean_stale(verbose=False)
    with cgroups.CgroupSet(n, sleepers=max(1, n // 10)) as cs:
        s = Sampler(containers=cs.names, history=64, disable=CGROUP_FILES_ONLY)
        fds = floor.open_fds_by_path()      # the sampler's fds, before anyone else opens more
        try:
            yield n, cs, s, fds
        finally:
            s.close()


def _per_container(benchmark, n, series):
    benchmark.group = f"N={n} containers"
    benchmark.extra_info["containers"] = n
    benchmark.extra_info["series"] = series


def test_sweep(benchmark, setup):
    """Sampler.sample(): pread + parse of every container into the ring."""
    n, cs, s, fds = setup
    _per_container(benchmark, n, "sweep")
    benchmark(s.sample)
    assert s.sweeps > 0


def test_kernel_floor(benchmark, setup):
    """C reads of exactly the files the sweep reads, the engine's way, on the sampler's fds, no parsing."""
    n, cs, s, fds = setup
    if floor.load() is None:
        pytest.skip(f"C floor unavailable: {floor.load_error()}")
    ex = floor.ExactFloor(s, cs.names, by_path=fds)
    assert ex.by_path == 0          # every file through the sampler's fd or directory fd
    assert floor.count_reads(ex) == floor.count_reads(s.sample)
    _per_container(benchmark, n, "kernel floor (C)")
    assert benchmark(ex) > 0


def test_engine_read_only_sweep(benchmark, setup):
    """Engine.read_only_sweep(): the jobs the last sweep read, same _read, no parsing."""
    n, cs, s, fds = setup
    assert floor.count_reads(s._engine.read_only_sweep) == floor.count_reads(s.sample)
    _per_container(benchmark, n, "engine read_only_sweep")
    assert benchmark(s._engine.read_only_sweep) > 0


def test_naive_python(benchmark, setup):
    """Pure Python, open/read/split per file per sample."""
    n, cs, s, fds = setup
    nv = naive.NaiveSampler(cs.names)
    _per_container(benchmark, n, "naive Python")
    out = benchmark(nv.sample)
    assert len(out) == n


def test_python_over_kept_fds(benchmark, setup):
    """Python parsing over the sampler's kept fds (os.pread): kept fds without the C parser."""
    n, cs, s, fds = setup
    py = naive.KeptFdPythonSampler(cs.names, fds_by_path=fds)
    _per_container(benchmark, n, "Python over kept fds")
    try:
        assert len(benchmark(py.sample)) == n
    finally:
        py.close()
