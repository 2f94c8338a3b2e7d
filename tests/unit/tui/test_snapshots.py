"""Snapshot tests: each screen at 100×30 and 80×24, compared as SVG with files in
tests/unit/tui/snapshots/. Regenerate after an intended change with

    PERIPH_UPDATE_SNAPSHOTS=1 .venv/bin/python -m pytest tests/unit/tui/test_snapshots.py

Deterministic by construction: a fixed clock, no cursor blink, no file polling, the dark
theme, fake-but-typed stack data (tests/unit/tui/fakes.py). A mismatch writes the new SVG
next to the expected one as ``*.actual.svg`` so the two can be opened side by side.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from periph_env.tui.widgets.service_table import ServiceTable
from tests.unit.tui.conftest import make_app, settle, wait_text, wait_until

pytestmark = [pytest.mark.anyio, pytest.mark.tui]

SNAPSHOTS = Path(__file__).parent / "snapshots"
SIZES = [(100, 30), (80, 24)]


async def _stack(app, pilot):
    table = app.query_one(ServiceTable)
    table.move_cursor(row=[k.value for k in table.rows].index("migrate"))
    await settle(app, pilot)


async def _press(keys, app, pilot):
    await pilot.press(*keys)
    await settle(app, pilot)


async def _env(app, pilot):
    await _press(["3"], app, pilot)
    await wait_text(app, pilot, "Diff against")  # the check runs in a worker
    await settle(app, pilot)


async def _logs(keys, app, pilot):
    await pilot.press("2")
    view = app.query_one("#logs-view")
    # The fake stack's lines come through the batcher thread: wait for them, not a time.
    await wait_until(pilot, lambda: view.received >= 10, "the fake stack's 10 lines")
    await _press(keys, app, pilot)


SCREENS = {
    "stack": _stack,
    "logs": lambda app, pilot: _logs([], app, pilot),
    "logs-filtered": lambda app, pilot: _logs(["slash", *"order", "enter"], app, pilot),
    "env": _env,
    "help": lambda app, pilot: _press(["question_mark"], app, pilot),
}


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("screen", list(SCREENS))
async def test_screen_matches_its_snapshot(screen, size, tmp_path):
    root = tmp_path / "peripheral"
    root.mkdir()
    (root / ".env.example").write_text(
        "# @port required\nDB_PORT=5432\n# @host required\nDB_HOST=x\n"
    )
    (root / ".env").write_text("DB_PORT=99999\nEXTRA=1\n")
    app = make_app(root)
    async with app.run_test(size=size) as pilot:
        await settle(app, pilot)
        await SCREENS[screen](app, pilot)
        svg = app.export_screenshot(title="periph")
    expected = SNAPSHOTS / f"{screen}_{size[0]}x{size[1]}.svg"
    actual = expected.with_suffix(".actual.svg")
    if os.environ.get("PERIPH_UPDATE_SNAPSHOTS") == "1" or not expected.exists():
        SNAPSHOTS.mkdir(exist_ok=True)
        expected.write_text(svg)
        actual.unlink(missing_ok=True)
        if os.environ.get("PERIPH_UPDATE_SNAPSHOTS") != "1":
            pytest.fail(f"new snapshot {expected.name} written; check it and commit it")
        return
    if svg != expected.read_text():
        actual.write_text(svg)
        pytest.fail(f"{screen} at {size[0]}x{size[1]} differs from {expected.name}; see {actual}")
    actual.unlink(missing_ok=True)
