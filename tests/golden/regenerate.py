"""Rewrite every NAME.KIND.go.json from NAME.KIND.input.json with the Go oracle.

    python tests/golden/regenerate.py        # needs Go, or V1ORACLE=/path/to/v1oracle

Each .go.json holds exactly the bytes Go's json.Marshal wrote (no newline).
"""

import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from go_oracle import build_oracle  # noqa: E402


def main() -> None:
    binary = os.environ.get("V1ORACLE") or build_oracle(Path(tempfile.mkdtemp()) / "v1oracle")
    for src in sorted(HERE.glob("*.input.json")):
        name, kind = src.name.removesuffix(".input.json").rsplit(".", 1)
        out = subprocess.run([binary, "roundtrip", kind], input=src.read_bytes(),
                             capture_output=True, check=True).stdout
        (HERE / f"{name}.{kind}.go.json").write_bytes(out.removesuffix(b"\n"))
        print(f"{name}.{kind}.go.json")


if __name__ == "__main__":
    main()
