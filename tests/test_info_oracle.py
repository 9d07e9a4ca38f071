"""`cgsampler info NAME` on a real cgroup prints JSON that the seed's own Go types
(../shared/oracle, built by the v1oracle fixture) decode strictly and re-encode
to the same bytes."""
import subprocess
import sys

import pytest

from conftest import CPU_BURNER
from go_oracle import v1oracle  # noqa: F401  (session fixture)

pytestmark = [pytest.mark.real, pytest.mark.oracle]


def test_info_json_of_a_real_cgroup_is_what_go_encodes(v1_cgroup, v1oracle):
    v1_cgroup.write("memory", "memory.limit_in_bytes", 128 << 20)
    v1_cgroup.spawn(CPU_BURNER)
    p = subprocess.run([sys.executable, "-m", "cgsampler", "info", v1_cgroup.name, "--num-stats", "3",
                        "--interval", "0.1"], capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr
    ours = p.stdout.decode().rstrip("\n")
    assert '"per_cpu_usage"' in ours and '"working_set"' in ours
    assert v1oracle.roundtrip("info", ours) == ours


def test_info_json_of_the_root_is_what_go_encodes(v1oracle):
    p = subprocess.run([sys.executable, "-m", "cgsampler", "info", "/", "--num-stats", "2", "--interval", "0.1"],
                       capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr
    ours = p.stdout.decode().rstrip("\n")
    assert v1oracle.roundtrip("info", ours) == ours
