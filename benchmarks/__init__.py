"""cgsampler's benchmarks: real cgroups (cgroups.py), the naive Python sampler
(naive.py), the exact kernel floor (floor.py + floor.c), the side-by-side script
(compare.py) and the pytest-benchmark suite (test_sweep.py). See README.md.

Importing the package makes `cgsampler` importable from the in-place build
(src/) when it is not installed, so `python -m benchmarks.floor` and
`python -m pytest benchmarks/ --benchmark-only` work without PYTHONPATH."""
import os as _os
import sys as _sys

try:
    import cgsampler as _cgsampler  # noqa: F401
except ImportError:
    _sys.path.insert(0, _os.path.join(_os.path.dirname(_os.path.dirname(_os.path.abspath(__file__))), "src"))
