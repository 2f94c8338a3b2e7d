"""The GitHub Actions workflows validate with actionlint (built from the Go module proxy,
cached outside the repo), including the shell in their ``run:`` steps where shellcheck is
present."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from periph_env.common.paths import cache_dir

REPO = Path(__file__).resolve().parents[2]
ACTIONLINT = "github.com/rhysd/actionlint/cmd/actionlint@v1.7.12"

pytestmark = pytest.mark.tools


@pytest.fixture(scope="session")
def actionlint() -> Path:
    """The actionlint binary, built once per machine into periph's cache."""
    bin_dir = cache_dir() / "tools" / "bin"
    binary = bin_dir / "actionlint"
    if not binary.exists():
        go = shutil.which("go") or "/usr/local/go/bin/go"
        env = {**os.environ, "GOBIN": str(bin_dir), "CGO_ENABLED": "0"}
        proc = subprocess.run(
            [go, "install", ACTIONLINT], env=env, capture_output=True, text=True, timeout=600
        )
        if proc.returncode != 0:
            pytest.fail(f"could not build actionlint:\n{proc.stderr[-3000:]}", pytrace=False)
    return binary


def test_workflows_pass_actionlint(actionlint: Path):
    workflows = sorted((REPO / ".github" / "workflows").glob("*.yml"))
    assert workflows
    proc = subprocess.run(
        [str(actionlint), "-no-color", *map(str, workflows)],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_actionlint_rejects_a_broken_workflow(actionlint: Path, tmp_path: Path):
    broken = tmp_path / ".github" / "workflows" / "broken.yml"
    broken.parent.mkdir(parents=True)
    broken.write_text("on: push\njobs:\n  x:\n    runs-on: ubuntu-24.04\n    step: []\n")
    proc = subprocess.run([str(actionlint), str(broken)], capture_output=True, text=True)
    assert proc.returncode != 0
