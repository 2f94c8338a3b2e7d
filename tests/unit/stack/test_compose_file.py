"""Reading the compose file: order, one-shots, watch rules, markers, file:line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from periph_env.stack.compose_file import load, parse
from periph_env.stack.errors import ComposeFileError

REPO = Path(__file__).resolve().parents[3]


def test_the_repo_stack_is_ordered_by_dependencies():
    model = load(REPO / "compose" / "compose.yaml")
    assert model.ordered() == ["db", "cache", "migrate", "backend", "worker", "frontend"]


def test_migrate_is_a_one_shot_and_has_no_watch_rules():
    model = load(REPO / "compose" / "compose.yaml")
    assert model.services["migrate"].one_shot
    assert not model.services["migrate"].watch
    assert not model.services["db"].one_shot


def test_watch_rule_paths_resolve_against_the_compose_directory():
    model = load(REPO / "compose" / "compose.yaml")
    worker = {r.action: r for r in model.services["worker"].watch if r.action == "sync"}
    assert worker["sync"].path == REPO / "services" / "worker" / "peripheral_worker"
    assert worker["sync"].target == "/app/peripheral_worker"
    assert "**/__pycache__/" in worker["sync"].ignore


def test_every_sync_rule_ignores_bytecode_and_dependencies_at_any_depth():
    # Compose's `*` stops at `/`: a bare `*.pyc` would only ignore top-level files.
    model = load(REPO / "compose" / "compose.yaml")
    for rule in model.rules():
        for entry in rule.ignore:
            assert "/" in entry.rstrip("/") or entry.startswith(("Dockerfile", "bin", "tmp")), (
                rule.service,
                entry,
            )


def test_reload_timeout_and_build_context_are_read_per_service(tmp_path):
    text = """
services:
  web:
    build: {context: ./web, dockerfile: Dockerfile.dev}
    x-periph: {reload_marker: "ready", reload_timeout: 2.5}
  api:
    build: ./api
"""
    model = parse(text, tmp_path / "compose.yaml")
    web, api = model.services["web"], model.services["api"]
    assert (web.reload_timeout, web.build_context, web.dockerfile) == (
        2.5,
        tmp_path / "web",
        "Dockerfile.dev",
    )
    assert (api.reload_timeout, api.build_context, api.dockerfile) == (
        None,
        tmp_path / "api",
        "Dockerfile",
    )


@pytest.mark.parametrize("value", ["soon", 0, -1, True])
def test_a_bad_reload_timeout_names_the_service_line(tmp_path, value):
    text = f"services:\n  web:\n    image: x\n    x-periph:\n      reload_timeout: {value}\n"
    with pytest.raises(ComposeFileError, match=r"compose.yaml:2: service 'web'.*reload_timeout"):
        parse(text, tmp_path / "compose.yaml")


def test_services_with_in_process_reload_declare_a_marker():
    model = load(REPO / "compose" / "compose.yaml")
    for name in ("backend", "worker", "frontend"):
        assert model.services[name].reload_marker, name


def test_broken_yaml_names_the_file_and_line(tmp_path):
    path = tmp_path / "compose.yaml"
    path.write_text("services:\n  app:\n    image: x\n   bad: [\n")
    with pytest.raises(ComposeFileError) as err:
        load(path)
    assert f"{path}:4:" in str(err.value)


def test_an_unknown_watch_action_names_the_service_line(tmp_path):
    text = "services:\n  app:\n    image: x\n    develop:\n      watch:\n"
    text += "        - action: teleport\n          path: .\n"
    with pytest.raises(ComposeFileError) as err:
        parse(text, tmp_path / "c.yaml")
    assert "c.yaml:2" in str(err.value) and "teleport" in str(err.value)


def test_a_sync_rule_without_target_is_refused(tmp_path):
    text = "services:\n  app:\n    image: x\n    develop:\n      watch:\n"
    text += "        - action: sync\n          path: .\n"
    with pytest.raises(ComposeFileError, match="needs a target"):
        parse(text, tmp_path / "c.yaml")


def test_a_dependency_cycle_is_reported(tmp_path):
    text = "services:\n  a:\n    depends_on: [b]\n  b:\n    depends_on: [a]\n"
    with pytest.raises(ComposeFileError, match="cycle"):
        parse(text, tmp_path / "c.yaml").ordered()


def test_a_file_without_services_is_refused(tmp_path):
    with pytest.raises(ComposeFileError, match="no `services:`"):
        parse("version: '3'\n", tmp_path / "c.yaml")


@pytest.mark.parametrize(("value", "expected"), [("SIGHUP", "SIGHUP"), ("winch", "SIGWINCH")])
def test_a_sync_signal_is_read_as_the_engine_names_it(tmp_path, value, expected):
    text = f"services:\n  web:\n    image: x\n    x-periph:\n      sync_signal: {value}\n"
    assert parse(text, tmp_path / "compose.yaml").services["web"].sync_signal == expected


@pytest.mark.parametrize("value", ["SIGKILL", "term", "SIGNOPE", "true", "9"])
def test_a_sync_signal_that_stops_the_service_or_is_no_signal_is_refused(tmp_path, value):
    text = f"services:\n  web:\n    image: x\n    x-periph:\n      sync_signal: {value}\n"
    with pytest.raises(ComposeFileError, match=r"compose.yaml:2: service 'web'.*sync_signal"):
        parse(text, tmp_path / "compose.yaml")


def test_the_backend_tells_devreload_after_each_sync():
    # devreload builds on SIGWINCH at once (services/backend/cmd/devreload); SIGWINCH is
    # ignored by default, so an older devreload is not killed by it.
    assert load(REPO / "compose" / "compose.yaml").services["backend"].sync_signal == "SIGWINCH"
