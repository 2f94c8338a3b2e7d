"""The Logs area over fake log lines: merged and per-service views, filter, search,
follow/pause, timestamps and bounded memory."""

from __future__ import annotations

import pytest
from textual.widgets import Input, Log

from periph_env.stack.models import LogLine
from tests.unit.tui.conftest import make_app, settle, wait_until
from tests.unit.tui.fakes import NOW, fake_api
from tests.unit.tui.screen import screen_text

pytestmark = [pytest.mark.anyio, pytest.mark.tui]


async def _logs(app, pilot):
    """Open the Logs area once the fake stack's lines (posted by the batcher thread) are in."""
    await settle(app, pilot)
    await pilot.press("2")
    view = app.query_one("#logs-view")
    await wait_until(pilot, lambda: view.received >= 10, "the fake stack's 10 lines")
    await settle(app, pilot)
    return app.query_one("#logs-lines", Log)


async def test_the_merged_view_shows_every_service_in_time_order(project):
    app = make_app(project)
    async with app.run_test(size=(100, 30)) as pilot:
        log = await _logs(app, pilot)
        assert log.lines[0] == "db       | database system is ready to accept connections"
        assert log.lines[-1] == "worker   | reload: worker restarted"
        assert "following · all services · 9 lines" in screen_text(app)


async def test_the_regex_filter_narrows_the_lines(project):
    app = make_app(project)
    async with app.run_test(size=(100, 30)) as pilot:
        log = await _logs(app, pilot)
        await pilot.press("slash", *"GET /api")
        await pilot.pause()
        assert log.lines == ["backend  | GET /api/orders 200 4.8ms"]
        assert "filter /GET /api/" in screen_text(app)


async def test_health_check_lines_are_hidden_counted_and_shown_with_h(project):
    app = make_app(project)
    async with app.run_test(size=(120, 30)) as pilot:
        log = await _logs(app, pilot)
        assert not any("/api/health" in line for line in log.lines)
        assert "1 health-check line hidden — h to show" in screen_text(app)
        await pilot.press("h")
        await pilot.pause()
        assert "backend  | GET /api/health 200 1.2ms" in log.lines
        assert "health-check" not in screen_text(app)
        await pilot.press("h")
        await pilot.pause()
        assert not any("/api/health" in line for line in log.lines)


async def test_backend_json_health_requests_are_folded_as_they_arrive(project):
    from tests.unit.stack.test_health_fold import backend

    app = make_app(project)
    async with app.run_test(size=(120, 30)) as pilot:
        log = await _logs(app, pilot)
        view = app.query_one("#logs-view")
        batch = [LogLine("backend", NOW + i, backend("/api/health")) for i in range(141)]
        view.add_lines([*batch, LogLine("backend", NOW + 200, backend("/api/orders"))])
        await pilot.pause()
        assert '"path":"/api/orders"' in log.lines[-1]
        assert "142 health-check lines hidden — h to show" in screen_text(app)


async def test_a_bad_regex_is_flagged_and_keeps_the_last_good_view(project):
    app = make_app(project)
    async with app.run_test(size=(100, 30)) as pilot:
        log = await _logs(app, pilot)
        await pilot.press("slash", "(")
        await pilot.pause()
        assert app.query_one("#logs-filter", Input).has_class("-invalid")
        assert "bad regex at 0" in screen_text(app)
        assert log.line_count == 9  # the health check is folded


async def test_v_cycles_from_merged_through_each_service(project):
    app = make_app(project)
    async with app.run_test(size=(100, 30)) as pilot:
        log = await _logs(app, pilot)
        await pilot.press("v")
        await pilot.pause()
        assert {line.split()[0] for line in log.lines} == {"db"}
        await pilot.press("a")
        await pilot.pause()
        assert log.line_count == 9


async def test_search_jumps_to_matches_and_pauses_following(project):
    app = make_app(project)
    async with app.run_test(size=(100, 30)) as pilot:
        await _logs(app, pilot)
        view = app.query_one("#logs-view")
        await pilot.press("ctrl+f", *"order", "enter")
        await pilot.pause()
        first = view.match_line
        assert first is not None and "order" in view.query_one(Log).lines[first]
        await pilot.press("n")
        assert view.match_line != first
        await pilot.press("N")
        assert view.match_line == first
        assert not view.following
        assert "5 matches at line" in screen_text(app)


async def test_pause_holds_new_lines_and_follow_catches_up(project):
    app = make_app(project)
    async with app.run_test(size=(100, 30)) as pilot:
        log = await _logs(app, pilot)
        await pilot.press("f")
        view = app.query_one("#logs-view")
        view.add_lines([LogLine("backend", NOW, "late line")])
        await pilot.pause()
        assert log.line_count == 9 and "paused · 1 new" in screen_text(app)
        await pilot.press("f")
        await pilot.pause()
        assert log.lines[-1] == "backend  | late line"


async def test_t_toggles_timestamps(project):
    app = make_app(project)
    async with app.run_test(size=(100, 30)) as pilot:
        log = await _logs(app, pilot)
        await pilot.press("t")
        await pilot.pause()
        assert log.lines[0][2] == ":" and log.lines[0].endswith("accept connections")
        await pilot.press("t")
        await pilot.pause()
        assert log.lines[0].startswith("db ")


async def test_memory_stays_bounded_by_max_lines(project):
    many = [LogLine("worker", NOW + i / 1000, f"line {i}") for i in range(5000)]
    app = make_app(project, api=fake_api(many), max_lines=1000)
    async with app.run_test(size=(100, 30)) as pilot:
        log = await _logs(app, pilot)
        view = app.query_one("#logs-view")
        assert len(view.buffer) == 1000 and log.line_count == 1000
        assert log.lines[-1].endswith("line 4999")


async def test_lines_read_while_the_tab_is_hidden_appear_when_shown(project):
    app = make_app(project, api=fake_api([]), mount_hidden=True)  # the view, hidden
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        app.query_one("#logs-view").add_lines([LogLine("db", NOW, "while hidden")])
        await pilot.press("2")
        await settle(app, pilot)
        assert app.query_one("#logs-lines", Log).lines == ["db       | while hidden"]
