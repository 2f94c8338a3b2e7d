"""Engine inspect JSON (recorded from engine 20.10) → service statuses."""

from __future__ import annotations

import json
from pathlib import Path

from periph_env.stack.models import ReloadEvent, ServiceStatus
from periph_env.stack.status_parse import parse_time, status_from_inspect, statuses

DATA = Path(__file__).parent / "data"


def recorded(name: str) -> dict:
    return json.loads((DATA / name).read_text())


def test_a_running_container_reports_state_health_ports_and_start():
    status = status_from_inspect(recorded("inspect_running.json"))
    assert status.service == "web"
    assert status.state == "running"
    assert status.health == "healthy"
    assert status.ports == ["127.0.0.1:18777->8080/tcp"]
    assert status.started_at is not None and status.exit_code is None
    assert status.image == "debian:bookworm-slim"


def test_an_exited_one_shot_reports_its_exit_code_and_no_health():
    status = status_from_inspect(recorded("inspect_exited.json"), one_shot=True)
    assert (status.state, status.exit_code, status.health) == ("exited", 3, None)
    assert status.one_shot and status.started_at is None


def test_a_container_killed_for_memory_reports_it_and_its_limit():
    inspect = recorded("inspect_exited.json")
    inspect["State"].update(OOMKilled=True, ExitCode=137)
    inspect["HostConfig"] = {**(inspect.get("HostConfig") or {}), "Memory": 16 * 1024 * 1024}
    status = status_from_inspect(inspect)
    assert (status.exit_code, status.oom_killed, status.memory_limit) == (137, True, 16777216)


def test_a_stopped_container_is_no_oom_kill_and_no_limit_is_none():
    inspect = recorded("inspect_exited.json")
    inspect.setdefault("HostConfig", {})["Memory"] = 0
    status = status_from_inspect(inspect)
    assert (status.oom_killed, status.memory_limit) == (False, None)


def test_services_without_a_container_are_missing_in_dependency_order():
    out = statuses([recorded("inspect_running.json")], ["db", "web"], set())
    assert [(s.service, s.state) for s in out] == [("db", "missing"), ("web", "running")]


def test_the_newest_container_of_a_service_wins():
    old = recorded("inspect_exited.json")
    new = recorded("inspect_running.json")
    old["Config"]["Labels"]["com.docker.compose.service"] = "web"
    old["Created"], new["Created"] = "2026-01-02T00:00:00Z", "2026-01-01T00:00:00Z"
    assert statuses([new, old], ["web"], set())[0].state == "exited"


def test_engine_times_keep_their_fraction_and_the_zero_time_is_none():
    assert parse_time("2026-11-27T06:10:09.500000000Z") == parse_time("2026-11-27T06:10:09Z") + 0.5
    assert parse_time("0001-01-01T00:00:00Z") is None


def test_ps_json_has_the_fields_scripts_rely_on():
    status = ServiceStatus("worker", "running", "healthy", ["127.0.0.1:9102->9102/tcp"])
    status.last_reload = ReloadEvent("worker", "sync", ["a.py"], 10.0, 10.1, None, 10.6)
    obj = status.to_json()
    assert {"service", "state", "health", "ports"} <= set(obj)
    assert abs(obj["last_reload"]["latency"] - 0.6) < 1e-9


def test_a_reload_breakdown_reads_left_to_right():
    event = ReloadEvent("app", "rebuild", ["r.txt"], 100.0, None, 104.0, 106.5, trigger="r.txt")
    assert event.breakdown() == "seen → rebuilt +4.00s → serving +6.50s"
    assert event.latency == 6.5
