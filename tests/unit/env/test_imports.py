"""The `periph env check` path stays light: no Textual, Docker, Kubernetes or pydantic."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

HEAVY = ("textual", "docker", "kubernetes", "pydantic", "python_on_whales")

PROBE = """
import io, json, sys
from contextlib import redirect_stdout
from periph_env.cli import main
with redirect_stdout(io.StringIO()):
    code = main(["env", "check"])
heavy = sorted({m.split(".")[0] for m in sys.modules} & set(%r))
print(json.dumps({"code": code, "heavy": heavy}))
"""


def test_env_check_imports_none_of_the_heavy_libraries(tmp_path: Path):
    root = Path(__file__).resolve().parents[3]
    (tmp_path / ".env.example").write_text((root / ".env.example").read_text())
    (tmp_path / ".env").write_text("DB_HOST=localhost\n")
    proc = subprocess.run(
        [sys.executable, "-c", PROBE % (HEAVY,)],
        cwd=tmp_path, capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    result = json.loads(proc.stdout)
    assert result["code"] == 1  # the file is incomplete: the check really ran
    assert result["heavy"] == []
