"""Start-up: what the first frame costs, and what follows it (no timing thresholds here:
the speed itself is bench/tui.py's business; these pin down the behaviour behind it)."""

from __future__ import annotations

import gc
import subprocess
import sys
from pathlib import Path

import pytest

from periph_env.stack.models import LogLine
from periph_env.tui import app as app_module
from periph_env.tui.views import AREAS
from tests.unit.tui.conftest import make_app, settle, wait_until
from tests.unit.tui.fakes import NOW

pytestmark = [pytest.mark.anyio, pytest.mark.tui]

ROOT = Path(__file__).resolve().parents[3]


def _modules_after(code: str) -> set[str]:
    """The modules a fresh interpreter holds after running ``code``."""
    probe = f"{code}\nimport sys\nprint('\\n'.join(sorted(sys.modules)))\n"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT
    )
    return set(done.stdout.split())


def test_the_app_module_imports_no_area_view_and_no_engine():
    loaded = _modules_after("import periph_env.tui.app")
    views = sorted(m for m in loaded if m.startswith("periph_env.tui.views."))
    engines = sorted(
        m
        for m in loaded
        if m.split(".")[0] in {"docker", "yaml", "kubernetes", "requests", "urllib3"}
        or m.startswith(("periph_env.stack.control", "periph_env.env.", "periph_env.deploy"))
    )
    assert views == [], f"imported before the first frame: {views}"
    assert engines == [], f"imported before the first frame: {engines}"


async def test_the_first_frame_shows_the_tabs_before_any_area_view(project):
    app = make_app(project, mount_hidden=True)
    first_frame: list[list[str]] = []
    original = app._display

    def display(*args, **kwargs):
        if not first_frame and app.screen.query("#areas"):  # the first with the tabs
            first_frame.append([view.id or "" for view in app.query(".area-view")])
        return original(*args, **kwargs)

    app._display = display  # type: ignore[method-assign]
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: bool(first_frame), "a first frame")
        assert first_frame[0] == []


async def test_every_area_mounts_after_the_first_frame_and_the_visible_one_has_focus(project):
    app = make_app(project, mount_hidden=True)
    async with app.run_test(size=(100, 30)) as pilot:
        everything = {area.id for area in AREAS}
        await wait_until(pilot, lambda: app._mounted_areas == everything, "every area mounted")
        await settle(app, pilot)
        assert app.area == "stack"
        assert app.focused is not None
        assert app.view("stack") in app.focused.ancestors_with_self


async def test_an_area_shown_before_its_turn_mounts_at_once_and_gets_focus(project):
    app = make_app(project, mount_hidden=True)
    async with app.run_test(size=(100, 30)) as pilot:
        app.show_area("deploy")  # before the hidden areas' turn
        await wait_until(pilot, lambda: "deploy" in app._mounted_areas, "the Deploy area")
        await settle(app, pilot)
        assert app.focused is not None
        assert app.view("deploy") in app.focused.ancestors_with_self
        everything = {area.id for area in AREAS}
        await wait_until(pilot, lambda: app._mounted_areas == everything, "every area mounted")


async def test_once_every_area_mounted_start_up_objects_are_out_of_the_collectors_walk(
    project,
):
    app = make_app(project, mount_hidden=True)
    async with app.run_test(size=(100, 30)) as pilot:
        everything = {area.id for area in AREAS}
        await wait_until(pilot, lambda: app._mounted_areas == everything, "every area mounted")
        await wait_until(pilot, lambda: gc.get_freeze_count() > 0, "start-up objects frozen")
    # The process goes on (here: the test run) and collects everything as before.
    assert gc.get_freeze_count() == 0


def _stream_logs(app):
    """Draw a batch of log lines on the Logs area every 20 ms (a chatty service); returns
    the timer (stop it to end the stream)."""
    count = 0

    def feed() -> None:
        nonlocal count
        if "logs" in app._mounted_areas and app.view("logs").query("#logs-lines"):
            batch = [LogLine("web", NOW + count + i, "line") for i in range(50)]
            app.view("logs").add_lines(batch)
            count += 50

    return app.set_interval(0.02, feed)


def _gate_hidden_mounts(monkeypatch) -> list[bool]:
    """Hold the hidden areas' mounting until the returned flag is set (``[True]``): the
    test's stream then starts before their turn, as a real backlog's does on a slower
    machine than this fake stack's."""
    opened = [False]
    original = app_module.PeriphApp._mount_hidden

    def gated(self) -> None:
        if opened[0]:
            original(self)
        else:
            self.set_timer(0.05, self._mount_hidden)

    monkeypatch.setattr(app_module.PeriphApp, "_mount_hidden", gated)
    return opened


async def _logs_streaming(app, pilot):
    """The Logs area shown and drawing a stream of lines; returns the stream's timer."""
    app.show_area("logs")
    await wait_until(pilot, lambda: "logs" in app._mounted_areas, "the Logs area")
    stream = _stream_logs(app)
    await wait_until(pilot, lambda: app.view("logs").drawing(), "lines being drawn")
    return stream


async def test_hidden_areas_wait_while_log_lines_stream_onto_the_screen(project, monkeypatch):
    opened = _gate_hidden_mounts(monkeypatch)
    app = make_app(project, mount_hidden=True)
    async with app.run_test(size=(100, 30)) as pilot:
        stream = await _logs_streaming(app, pilot)
        mounted = set(app._mounted_areas)
        opened[0] = True
        await pilot.pause(0.6)
        # A mount is a 30-50 ms frame: none lands in the middle of the scrolling.
        assert app._mounted_areas == mounted and gc.get_freeze_count() == 0
        stream.stop()
        everything = {area.id for area in AREAS}
        await wait_until(pilot, lambda: app._mounted_areas == everything, "every area mounted")
        await wait_until(pilot, lambda: gc.get_freeze_count() > 0, "start-up objects frozen")


async def test_a_log_stream_that_never_stops_delays_the_hidden_areas_only_so_long(
    project, monkeypatch
):
    monkeypatch.setattr(app_module, "DEFER_WHILE_DRAWING", 0.5)
    opened = _gate_hidden_mounts(monkeypatch)
    app = make_app(project, mount_hidden=True)
    async with app.run_test(size=(100, 30)) as pilot:
        stream = await _logs_streaming(app, pilot)
        opened[0] = True
        everything = {area.id for area in AREAS}
        await wait_until(pilot, lambda: app._mounted_areas == everything, "every area mounted")
        assert app.view("logs").drawing()  # mounted while the lines still came
        stream.stop()


async def test_an_area_shown_while_logs_stream_mounts_at_once_and_the_rest_follow(
    project, monkeypatch
):
    opened = _gate_hidden_mounts(monkeypatch)
    app = make_app(project, mount_hidden=True)
    async with app.run_test(size=(100, 30)) as pilot:
        stream = await _logs_streaming(app, pilot)
        opened[0] = True
        app.show_area("build")
        await wait_until(pilot, lambda: "build" in app._mounted_areas, "the Build area")
        # The Logs area buffers its lines while hidden (nothing streams on screen), so the
        # other areas mount as usual.
        everything = {area.id for area in AREAS}
        await wait_until(pilot, lambda: app._mounted_areas == everything, "every area mounted")
        stream.stop()


def test_without_a_keymap_file_no_toml_parser_is_imported(tmp_path):
    missing = tmp_path / "keymap.toml"
    code = "from pathlib import Path\nfrom periph_env.tui import keymap\n"
    loaded = _modules_after(f"{code}keymap.load(Path({str(missing)!r}))")
    assert "tomllib" not in loaded


@pytest.mark.parametrize("frames", [0, 1, 2, 3])
async def test_quitting_while_the_areas_mount_exits_cleanly_and_mounts_no_more(project, frames):
    app = make_app(project, mount_hidden=True)
    async with app.run_test(size=(100, 30)) as pilot:
        for _ in range(frames):
            await pilot.pause()
        await pilot.press("ctrl+q")
        await pilot.pause()
    assert app.return_code == 0
    assert app._exception is None  # a view's on_mount under an exit raised NoMatches


async def test_an_interrupt_exits_with_130_once_no_view_is_half_mounted(project):
    app = make_app(project, mount_hidden=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        app.interrupt()
        await pilot.pause(0.5)
    assert app.return_code == 130
    assert app._exception is None
