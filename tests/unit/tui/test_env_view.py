"""The Env area on files in a temporary project: findings, diff, add-missing, targets,
re-validation on edits, and masking."""

from __future__ import annotations

import os

import pytest

from tests.unit.tui.conftest import SECRET, make_app, settle, wait_text, workers_done, write_env
from tests.unit.tui.screen import screen_text

pytestmark = [pytest.mark.anyio, pytest.mark.tui]


async def _env(app, pilot, expect: str = "Diff against"):
    await settle(app, pilot)
    await pilot.press("3")
    await wait_text(app, pilot, expect)  # the first check runs in a worker
    await settle(app, pilot)


async def _wait_for(app, pilot, text: str, tries: int = 30) -> str:
    """Poll the screen until ``text`` shows (the Env view re-checks on a 1 s stat poll)."""
    for _ in range(tries):
        await workers_done(app)
        shown = screen_text(app)
        if text in shown:
            return shown
        await pilot.pause(0.2)
    raise AssertionError(f"{text!r} never appeared:\n{screen_text(app)}")


def _touch_later(path) -> None:
    # mtime granularity: make sure the poll sees a change even within one clock tick.
    stat = os.stat(path)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))


async def test_a_clean_env_says_so_and_shows_no_value(project):
    app = make_app(project)
    async with app.run_test(size=(100, 30)) as pilot:
        await _env(app, pilot)
        text = screen_text(app)
        assert "target local: 0 errors, 0 warnings" in text
        assert "same keys in both files" in text
        assert SECRET not in text and "db" not in text.split("Diff")[0].split("warnings")[1]


async def test_a_finding_appears_when_the_file_is_edited(project):
    app = make_app(project, watch_files=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await _env(app, pilot)
        write_env(project, f"DB_HOST=db\nDB_PORT=99999\nJWT_SECRET={SECRET}\n")
        _touch_later(project / ".env")
        text = await _wait_for(app, pilot, "PE111")
        assert "Errors (1)" in text and ".env:2" in text and "DB_PORT" in text
        assert SECRET not in text


async def test_add_missing_appends_the_keys_and_the_finding_goes(project):
    write_env(project, f"DB_HOST=db\nJWT_SECRET={SECRET}\n")
    app = make_app(project)
    async with app.run_test(size=(100, 30)) as pilot:
        await _env(app, pilot)
        text = screen_text(app)
        assert (
            "PE101" in text and "- DB_PORT" in text and "press a to append the missing key" in text
        )
        await pilot.press("a")
        text = await _wait_for(app, pilot, "same keys in both files")
        assert "PE101" not in text
        assert any("appended 1 key: DB_PORT" in n.message for n in app._notifications)
    assert "DB_PORT=5432" in (project / ".env").read_text()
    assert f"JWT_SECRET={SECRET}" in (project / ".env").read_text()


async def test_add_missing_creates_a_missing_env_file(project):
    (project / ".env").unlink()
    app = make_app(project)
    async with app.run_test(size=(100, 30)) as pilot:
        await _env(app, pilot)
        assert ".env does not exist; press a to create it" in screen_text(app)
        await pilot.press("a")
        await _wait_for(app, pilot, "same keys in both files")
    assert (project / ".env").exists()


async def test_the_target_selector_applies_prod_rules_and_masks_the_value(project):
    write_env(project, "DB_HOST=db\nDB_PORT=5432\nJWT_SECRET=tiny-secret-x\n")
    app = make_app(project)
    async with app.run_test(size=(100, 30)) as pilot:
        await _env(app, pilot)
        assert "target local: 0 errors" in screen_text(app)
        await pilot.press("g", "g")
        text = await _wait_for(app, pilot, "target prod")
        assert "PE301" in text and "JWT_SECRET" in text
        assert "tiny-secret-x" not in text


async def test_a_missing_example_is_a_clear_error_not_a_crash(project):
    (project / ".env.example").unlink()
    app = make_app(project)
    async with app.run_test(size=(100, 30)) as pilot:
        await _env(app, pilot, expect="does not")
        text = " ".join(screen_text(app).split())  # the message wraps
        assert "example file" in text and ".env.example does not exist" in text
        assert SECRET not in text
