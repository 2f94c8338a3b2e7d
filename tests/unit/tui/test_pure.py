"""Pure TUI logic: formatting, log filtering and search, the keymap, the action registry."""

from __future__ import annotations

import inspect

import pytest

from periph_env.stack.models import LogLine, ReloadEvent, ServiceStatus
from periph_env.tui import actions, formatting, keymap, logfilter
from periph_env.tui.app import PeriphApp
from periph_env.tui.views.build import BuildView
from periph_env.tui.views.deploy import DeployView
from periph_env.tui.views.env import EnvView
from periph_env.tui.views.logs import LogsView
from periph_env.tui.views.stack import StackView


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(5, "5s"), (192, "3m"), (7500, "2h05m"), (3 * 86400 + 4 * 3600, "3d04h")],
)
def test_uptime_is_short_and_readable(seconds, shown):
    assert formatting.uptime(1000.0, 1000.0 + seconds) == shown


def test_uptime_of_a_stopped_service_is_a_dash():
    assert formatting.uptime(None, 1000.0) == "-"


def test_ports_are_shortened_and_deduplicated():
    ports = ["127.0.0.1:5058->5058/tcp", ":::5058->5058/tcp", "0.0.0.0:8080->80/udp"]
    assert formatting.ports(ports) == "5058,8080→80/udp"


def test_a_finished_one_shot_reads_done_and_a_failed_one_its_exit_code():
    done = ServiceStatus("migrate", "exited", exit_code=0, one_shot=True)
    failed = ServiceStatus("migrate", "exited", exit_code=3, one_shot=True)
    assert formatting.state(done) == "done"
    assert formatting.state(failed) == "exited 3"
    assert formatting.failed_one_shot(failed) and not formatting.failed_one_shot(done)
    assert formatting.severity(failed) == "bad" and formatting.severity(done) == "ok"


def test_reload_detail_shows_the_breakdown_and_why_it_rebuilt():
    event = ReloadEvent(
        "backend",
        "rebuild",
        ["go.mod"],
        100.0,
        synced_at=None,
        restarted_at=104.0,
        serving_at=105.5,
        trigger="go.mod",
    )
    lines = formatting.reload_detail("backend", True, event)
    assert lines[0] == "hot reload: on"
    assert "seen → rebuilt +4.00s → serving +5.50s" in lines[2]
    assert "rebuilt because go.mod" in lines[3]
    assert formatting.reload_cell(True, event) == "on 5.50s"


def test_a_failed_reload_says_the_old_container_keeps_serving():
    event = ReloadEvent("backend", "rebuild", ["main.go"], 1.0, ok=False, error="build failed")
    assert "old container keeps serving" in formatting.reload_detail("backend", True, event)[-1]
    assert formatting.reload_cell(True, event) == "on failed"


def _lines():
    return [
        LogLine("backend", 1.0, "GET /api/strategies 200"),
        LogLine("worker", 2.0, "processed order 7"),
        LogLine("backend", 3.0, "GET /api/orders 500"),
    ]


def test_filter_by_service_and_regex():
    pattern = logfilter.compile_regex(r"\b500\b")
    only_backend = logfilter.LineFilter("backend", None)
    assert [ln.text for ln in _lines() if only_backend.accepts(ln)] == [
        "GET /api/strategies 200",
        "GET /api/orders 500",
    ]
    both = logfilter.LineFilter("backend", pattern)
    assert [ln.text for ln in _lines() if both.accepts(ln)] == ["GET /api/orders 500"]


def test_regex_is_case_insensitive_until_it_has_a_capital():
    assert logfilter.compile_regex("get").search("GET /")
    assert not logfilter.compile_regex("Get").search("GET /")


def test_a_bad_regex_says_where():
    with pytest.raises(ValueError, match="bad regex at 0"):
        logfilter.compile_regex("(")


def test_render_pads_services_and_adds_timestamps_on_request():
    shown = logfilter.render(_lines()[:1], logfilter.LineFilter(), False, 7)
    assert shown == ["backend | GET /api/strategies 200"]
    stamped = logfilter.render_line(_lines()[0], True, 7)
    assert stamped.endswith("backend | GET /api/strategies 200") and stamped[2] == ":"


def test_search_wraps_in_both_directions():
    lines = ["a 500", "b", "c 500", "d"]
    pattern = logfilter.compile_regex("500")
    assert logfilter.find(lines, pattern, 0) == 2
    assert logfilter.find(lines, pattern, 2) == 0
    assert logfilter.find(lines, pattern, 0, backwards=True) == 2
    assert logfilter.find(lines, logfilter.compile_regex("zzz"), 0) is None
    assert logfilter.count_matches(lines, pattern) == 2


def test_keymap_remaps_known_ids_and_reports_the_rest(tmp_path):
    text = '"stack.restart" = "ctrl+r"\n"nope.thing" = "x"\n[keys]\n"app.help" = "f1, h"\n'
    result = keymap.parse(text, tmp_path / "keymap.toml")
    assert result.keys == {"stack.restart": "ctrl+r", "app.help": "f1,h"}
    assert result.problems == [f"{tmp_path / 'keymap.toml'}: unknown action id 'nope.thing'"]


def test_a_broken_keymap_is_a_problem_not_a_crash(tmp_path):
    path = tmp_path / "keymap.toml"
    path.write_text("stack.restart = \n")
    loaded = keymap.load(path)
    assert loaded.keys == {} and "invalid TOML" in loaded.problems[0]
    assert keymap.load(tmp_path / "missing.toml").problems == []


def test_keymap_lives_in_the_xdg_config_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert keymap.default_path() == tmp_path / "periph" / "keymap.toml"


VIEWS = {"app": PeriphApp, "stack": StackView, "logs": LogsView, "env": EnvView}
VIEWS |= {"build": BuildView, "deploy": DeployView}  # part 2


@pytest.mark.parametrize("action", actions.ACTIONS, ids=lambda a: a.id)
def test_every_registered_action_has_a_handler_a_key_and_a_tooltip(action):
    handler = getattr(VIEWS[action.area], f"action_{action.name}", None)
    assert handler is not None and inspect.isfunction(handler)
    assert action.key and action.tooltip


def test_keys_are_unique_within_each_area_and_against_global_keys():
    global_keys = {a.key for a in actions.for_area("app")}
    for area in ("stack", "logs", "env", "build", "deploy"):
        keys = [a.key for a in actions.for_area(area)]
        assert len(keys) == len(set(keys)), area
        assert not set(keys) & global_keys, area
