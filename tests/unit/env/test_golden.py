"""Golden outputs of the three formats for one broken file (PERIPH_UPDATE_GOLDEN=1 rewrites)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

GOLDEN = Path(__file__).parent / "golden"
ARGS = ("--env-file", "broken.env.sample", "--example", "example.env.sample", "--target", "demo")


@pytest.mark.parametrize(("fmt", "suffix"), [("text", "txt"), ("json", "json"), ("sarif", "sarif")])
def test_output_matches_golden_file(run_cli, fmt: str, suffix: str):
    code, out, err = run_cli("env", "check", *ARGS, "--format", fmt, cwd=GOLDEN)
    expected = GOLDEN / f"check.{suffix}"
    if os.environ.get("PERIPH_UPDATE_GOLDEN"):
        expected.write_text(out)
    assert (code, err) == (1, "")
    assert out == expected.read_text()
