"""The tier rules: the unit tier (`./scripts/test --unit`) leaves every slow tier out, and
under CI leaving any of them out fails the run (tests/conftest.py)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from tests import conftest

REPO = Path(__file__).resolve().parents[2]


class Item:
    """Just enough of a pytest item: its markers."""

    def __init__(self, *markers: str) -> None:
        self.markers = markers

    def get_closest_marker(self, name: str):
        return name if name in self.markers else None


def test_under_ci_deselecting_the_frontend_tier_fails_the_run(monkeypatch):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.UsageError, match="deselected: frontend"):
        conftest.pytest_deselected([Item("frontend")])


def test_outside_ci_deselecting_a_tier_is_a_local_opt_out(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    conftest.pytest_deselected([Item("frontend"), Item("docker")])


def test_unit_only_leaves_out_every_declared_tier():
    script = (REPO / "scripts" / "test").read_text()
    expression = re.search(r'^unit_tier="([^"]+)"', script, re.M).group(1)
    left_out = set(re.findall(r"not (\w+)", expression))
    assert left_out == set(conftest.ENGINE_MARKERS)


def test_every_tier_marker_is_declared():
    markers = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"][
        "markers"
    ]
    declared = {m.split(":", 1)[0] for m in markers}
    assert set(conftest.ENGINE_MARKERS) <= declared


def test_every_pilot_test_file_is_in_the_tui_tier():
    # A pilot test mounts the whole app (about a second of CPU): in the unit tier, a few
    # dozen of them would take the on-save loop past a minute again.
    pilot_files = [
        path
        for path in sorted((REPO / "tests" / "unit").rglob("test_*.py"))
        if re.search(r"\.run_test\(", path.read_text())
    ]
    assert pilot_files
    for path in pilot_files:
        assert re.search(r"^pytestmark.*mark\.tui\b", path.read_text(), re.M), path


def test_the_frontend_tooling_tests_are_in_the_frontend_tier():
    from tests.unit.services import test_frontend

    assert test_frontend.pytestmark.name == "frontend"


def test_the_real_node_tests_are_whole_files_that_scripts_test_can_run_beside_the_rest():
    # scripts/test runs the node tier as files (module pytestmark) beside the main run; a
    # single test marked `node` in another file would run in the main run instead.
    for path in (REPO / "tests").rglob("test_*.py"):
        if path == Path(__file__):
            continue
        text = path.read_text()
        assert not re.search(r"^\s*@pytest\.mark\.node\b", text, re.M), f"{path}: mark the module"
        if re.search(r"mark\.node\b", text):
            assert re.search(r"^pytestmark.*mark\.node\b", text, re.M), path


def test_the_unit_tier_spreads_over_every_core():
    script = (REPO / "scripts" / "test").read_text()
    unit_line = next(line for line in script.splitlines() if '-m "$selection"' in line)
    assert '-n "${PERIPH_TEST_WORKERS:-auto}"' in unit_line
    dev = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert any(dep.startswith("pytest-xdist==") for dep in dev["dev"])
