"""Alerts: one per incident, for crashes, crash loops and failed reloads; what a terminal
receives never carries a service's raw control text or a secret."""

from __future__ import annotations

import pytest

from periph_env.errors import UsageError
from periph_env.stack.alerts import (
    Alert,
    AlertDetector,
    AlertSettings,
    complete,
    desktop_kind,
    terminal_sequence,
)
from periph_env.stack.hints import rules_from_text
from periph_env.stack.models import ReloadEvent, ServiceStatus


def running(name="app", restarts=0, cid="c1"):
    return ServiceStatus(name, "running", restart_count=restarts, container_id=cid)


def exited(name="app", code=1, restarts=0, one_shot=False):
    return ServiceStatus(
        name, "exited", exit_code=code, restart_count=restarts, container_id="c1",
        one_shot=one_shot,
    )  # fmt: skip


def detector(**settings) -> AlertDetector:
    made = AlertDetector(AlertSettings(**settings))
    made.statuses([running()], now=0)  # what is there at start is not news
    return made


def test_a_service_that_exits_with_an_error_raises_one_alert():
    alerts = detector().statuses([exited(code=2)], now=10)
    assert [(a.kind, a.summary) for a in alerts] == [
        ("exited", "app exited unexpectedly with exit code 2")
    ]


def test_a_clean_exit_or_a_stop_raises_nothing():
    assert detector().statuses([exited(code=0)], now=10) == []
    assert detector().statuses([exited(code=143)], now=10) == []


def test_a_failed_one_shot_raises_an_alert():
    made = AlertDetector()
    made.statuses([ServiceStatus("migrate", "running", container_id="m", one_shot=True)], 0)
    alerts = made.statuses([exited("migrate", code=1, one_shot=True)], now=5)
    assert alerts[0].summary == "migrate failed with exit code 1"


def test_an_exit_the_user_asked_for_raises_nothing():
    made = detector()
    made.expect(["app"], now=5)
    assert made.statuses([exited(code=1)], now=10) == []


def test_a_crash_loop_raises_exactly_one_alert_after_n_restarts_in_the_window():
    made = detector(crash_restarts=3, crash_window=60)
    raised = []
    for second in range(1, 9):  # a restart every second, eight times
        raised += made.statuses([running(restarts=second, cid="c1")], now=second)
    assert [a.kind for a in raised] == ["crash-loop"]
    assert raised[0].summary == "app restarted 3 times in 60 s (crash loop)"


def test_restarts_spread_wider_than_the_window_are_no_crash_loop():
    made = detector(crash_restarts=3, crash_window=10)
    raised = []
    for n in range(1, 6):
        raised += made.statuses([running(restarts=n)], now=n * 30)
    assert raised == []


def test_a_crash_loop_that_ends_in_an_exit_is_still_one_incident():
    made = detector(crash_restarts=2, crash_window=60)
    raised = made.statuses([running(restarts=1)], 1) + made.statuses([running(restarts=2)], 2)
    raised += made.statuses([exited(code=1, restarts=2)], 3)
    assert [a.kind for a in raised] == ["crash-loop"]


def test_a_new_failure_after_a_quiet_window_is_a_new_incident():
    made = detector(crash_window=60)
    first = made.statuses([exited(code=1)], 10)
    made.statuses([running(restarts=0, cid="c2")], 20)
    second = made.statuses([exited(code=1)], 200)
    assert len(first) == 1 and len(second) == 1


def reload(ok: bool, kind="sync") -> ReloadEvent:
    return ReloadEvent("app", kind, ["a.go"], 0.0, ok=ok, done=True, error=None if ok else "x")


def oom(state="exited", restarts=0, limit=64 * 1024 * 1024):
    return ServiceStatus(
        "app", state, exit_code=137 if state == "exited" else None, restart_count=restarts,
        container_id="c1", oom_killed=True, memory_limit=limit,
    )  # fmt: skip


def test_an_out_of_memory_kill_is_an_alert_with_the_limit_not_a_stop():
    alerts = detector().statuses([oom()], now=10)
    assert [(a.kind, a.summary) for a in alerts] == [
        ("out-of-memory", "app was killed: out of memory (limit 64 MiB)")
    ]
    assert "mem_limit" in (alerts[0].hint or "")


def test_an_out_of_memory_kill_without_a_limit_says_the_host_ran_out():
    alerts = detector().statuses([oom(limit=None)], now=10)
    assert alerts[0].summary == (
        "app was killed: out of memory (no limit set: the engine's host ran out)"
    )


def test_oom_kills_a_restart_policy_brings_back_raise_one_alert_per_incident():
    made = detector(crash_restarts=3)
    seen = made.statuses([oom("restarting", restarts=1)], now=10)
    seen += made.statuses([running(restarts=1)], now=11)
    seen += made.statuses([oom("restarting", restarts=2)], now=12)
    seen += made.statuses([running(restarts=3)], now=13)
    assert [a.kind for a in seen] == ["out-of-memory"]


def test_a_log_rule_hint_wins_over_the_default_out_of_memory_hint():
    rules = rules_from_text(
        "x-periph:\n  hints:\n    - {match: 'cache grew', hint: 'cap the cache'}\n",
        __import__("pathlib").Path("c.yaml"),
    )
    alert = detector().statuses([oom()], now=10)[0]
    assert complete(alert, ["cache grew"], rules).hint == "cap the cache"
    assert "mem_limit" in (complete(alert, ["other"], rules).hint or "")


def test_a_failing_reload_streak_raises_one_alert_and_a_success_ends_it():
    made = detector()
    assert [a.kind for a in made.reload(reload(False), 1)] == ["reload-failed"]
    assert made.reload(reload(False), 2) == []
    assert made.reload(reload(True), 3) == []
    assert [a.kind for a in made.reload(reload(False), 4)] == ["reload-failed"]


def test_a_failed_rebuild_says_the_old_container_keeps_serving():
    alert = detector().reload(reload(False, kind="rebuild"), 1)[0]
    assert alert.kind == "rebuild-failed"
    assert alert.summary == "app: the rebuild failed; the old container keeps serving"


def test_an_alert_carries_the_masked_last_lines_and_the_hint():
    rules = rules_from_text(
        "x-periph:\n  hints:\n    - {match: 'port (?P<p>\\d+) taken', hint: 'free {p}'}\n",
        __import__("pathlib").Path("c.yaml"),
    )
    alert = complete(
        Alert("app", "exited", "app exited", 1.0),
        ["starting with pw=hunter2hunter2", "\x1b]0;evil\x07port 80 taken", ""],
        rules,
        secrets=["hunter2hunter2"],
    )
    assert alert.hint == "free 80"
    assert "hunter2hunter2" not in "".join(alert.lines)
    assert all("\x1b" not in line and "\x07" not in line for line in alert.lines)
    assert len(alert.lines) == 2


def test_the_terminal_gets_a_bell_and_one_desktop_notification_without_raw_controls():
    alert = Alert("app", "exited", "app\x1b]52;c;evil\x07 exited", 1.0, hint="a;b")
    out = terminal_sequence(alert, AlertSettings(desktop="osc777"))
    assert out.startswith("\a\x1b]777;notify;periph: app exited;")
    body = out[len("\a\x1b]777;notify;") : -2]
    assert "\x1b" not in body and "\x07" not in body
    assert body.count(";") == 1  # the field separator only: `;` in text cannot split it


def test_desktop_notifications_and_the_bell_can_be_turned_off():
    alert = Alert("app", "exited", "app exited", 1.0)
    assert terminal_sequence(alert, AlertSettings(desktop="off", bell=False)) == ""


def test_auto_picks_osc_777_for_foot_and_osc_9_elsewhere():
    assert desktop_kind("auto", {"TERM": "foot"}) == "osc777"
    assert desktop_kind("auto", {"TERM": "xterm-kitty"}) == "osc9"


def test_settings_come_from_the_alerts_table_and_a_bad_value_names_the_key():
    settings = AlertSettings.from_config({"alerts": {"crash_restarts": 5, "desktop": "off"}})
    assert (settings.crash_restarts, settings.desktop) == (5, "off")
    with pytest.raises(UsageError, match=r"\[alerts\] crash_window = -1: expected a number"):
        AlertSettings.from_config({"alerts": {"crash_window": -1}})
    with pytest.raises(UsageError, match="has no setting 'desktops'"):
        AlertSettings.from_config({"alerts": {"desktops": "off"}})
