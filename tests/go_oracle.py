"""The Go oracle: cAdvisor's v1 types compiled with Go's encoding/json (../shared/oracle).

`v1oracle` is a session fixture for tests marked ``oracle``: it uses the binary
named by $V1ORACLE, or builds one from ../shared/oracle (relative to the repo
root), and skips when neither Go nor the oracle source is there.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
ORACLE_SRC = REPO.parent / "shared" / "oracle"


class Oracle:
    """Runs v1oracle verbs; every method returns what the Go code printed."""

    def __init__(self, binary: str, workdir: Path):
        self.binary, self.workdir = binary, workdir

    def _run(self, *args: str, stdin: str | bytes = b"") -> str:
        data = stdin.encode() if isinstance(stdin, str) else stdin
        p = subprocess.run([self.binary, *args], input=data, capture_output=True, timeout=60)
        if p.returncode != 0:
            raise OracleError(p.stderr.decode(errors="replace").strip())
        return p.stdout.decode().removesuffix("\n")

    def _file(self, name: str, text: str) -> str:
        path = self.workdir / name
        path.write_text(text, encoding="utf-8")
        return str(path)

    def roundtrip(self, kind: str, text: str | bytes) -> str:
        """Go's json.Marshal of the value Go decodes (strictly) from text."""
        return self._run("roundtrip", kind, stdin=text)

    def eq(self, kind: str, a: str, b: str) -> str:
        """'true', 'false' or 'panic: ...' for a.Eq(b) (Equals for kind 'request')."""
        return self._run("eq", kind, self._file("a.json", a), self._file("b.json", b))

    def stats_after(self, info: str, ref: str) -> str:
        return self._run("statsafter", self._file("info.json", info), ref)

    def start_end(self, info: str) -> tuple[str, str]:
        start, end = self._run("startend", self._file("info.json", info)).split("\n")
        return start, end

    def default_request(self) -> str:
        return self._run("default-request")


class OracleError(Exception):
    """The oracle refused its input (Go's decoder error message)."""


def build_oracle(dest: Path) -> str:
    """Build v1oracle into dest with the local Go toolchain; return its path."""
    env = dict(os.environ, GOCACHE=os.environ.get("GOCACHE", str(dest.parent / "gocache")),
               GOFLAGS="-mod=mod", GO111MODULE="on")
    subprocess.run(["go", "build", "-o", str(dest), "."], cwd=ORACLE_SRC, env=env,
                   check=True, capture_output=True, timeout=600)
    return str(dest)


_built: dict[str, str] = {}  # one build per session, whichever module asks first


@pytest.fixture(scope="session")
def v1oracle(tmp_path_factory: pytest.TempPathFactory) -> Oracle:
    work = tmp_path_factory.mktemp("v1oracle")
    binary = os.environ.get("V1ORACLE") or _built.get("binary")
    if binary:
        if not os.access(binary, os.X_OK):
            pytest.fail(f"V1ORACLE={binary} is not an executable")
    elif not (ORACLE_SRC / "main.go").is_file():
        pytest.skip(f"the Go oracle source {ORACLE_SRC} is missing")
    elif shutil.which("go") is None:
        pytest.skip("no Go toolchain to build the oracle (apt-get install golang-go)")
    else:
        try:
            binary = _built["binary"] = build_oracle(work / "v1oracle")
        except subprocess.CalledProcessError as e:
            pytest.fail(f"building the oracle failed:\n{e.stderr.decode(errors='replace')}")
    return Oracle(binary, Path(tempfile.mkdtemp(dir=work)))
