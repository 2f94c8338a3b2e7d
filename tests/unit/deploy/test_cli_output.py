"""The deploy commands' text and JSON output, from engine events (no cluster)."""

from __future__ import annotations

import json

import pytest

from periph_env.cli import deploy_cmd, main
from periph_env.deploy import events as ev

EVENTS = [
    ev.Step("guards"),
    ev.GuardResult("branch", False, "on branch main, demo deploys demo", hint="check out demo"),
    ev.Summary(
        (ev.ImageChange("Deployment/backend", "backend", "r/b@sha256:aa", "r/b@sha256:bb"),),
        (
            ev.ObjectChange("Deployment", "backend", "changed", ("spec.template",)),
            ev.ObjectChange("Service", "backend", "unchanged"),
        ),
    ),
    ev.DeploymentProgress("backend", 2, 1, 2, 2, 1, "waiting"),
    ev.PodProblem("backend", "backend-x", "CrashLoopBackOff", "backend: back-off"),
    ev.RolloutVerdict("backend", False, 'deployment "backend" exceeded its progress deadline'),
    ev.RolledBack({"backend": 3}, True, "rolled back backend to revision 3"),
    ev.Finished("rolled-back", 1, 12.3, 4, message="rollout failed"),
]


def test_text_output_reads_like_a_report():
    lines = "\n".join(filter(None, map(deploy_cmd._text, EVENTS)))
    assert "FAIL branch: on branch main" in lines and "hint: check out demo" in lines
    assert "image Deployment/backend/backend: r/b@sha256:aa -> r/b@sha256:bb" in lines
    assert "changed  Deployment/backend (spec.template)" in lines
    assert "1 added" not in lines and "1 changed, 0 removed, 1 unchanged" in lines
    assert "backend: 1/2 updated, 2 ready, 2 available, 1 old" in lines
    assert "! backend pod/backend-x: CrashLoopBackOff" in lines
    assert "ROLLED-BACK in 12.3s (history #4): rollout failed" in lines


def test_json_output_is_one_document_with_every_event(capsys):
    code = deploy_cmd._drive(iter(EVENTS), "json", "demo", "deploy")
    document = json.loads(capsys.readouterr().out)
    assert code == 1
    assert document["result"] == "rolled-back" and document["exit_code"] == 1
    assert [e["event"] for e in document["events"]][:3] == ["step", "guard", "summary"]


def test_unknown_environment_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["deploy", "staging"])
    assert exc.value.code == 2


def failing_in_summary():
    """A deploy whose summary step raises (the server-side dry-run refused the manifests)."""
    from periph_env.errors import EngineError

    yield ev.Step("render")
    yield ev.Step("guards")
    yield ev.GuardResult("context", True, "kube context peripheral-demo")
    yield ev.Step("summary")
    raise EngineError("`kubectl apply --dry-run=server` exited with 1\nspec.replicas: Invalid")


def test_json_output_is_printed_when_a_step_fails(capsys):
    code = deploy_cmd._drive(failing_in_summary(), "json", "demo", "deploy")
    document = json.loads(capsys.readouterr().out)
    assert code == 1
    assert document["result"] == "failed" and document["exit_code"] == 1
    assert document["step"] == "summary"
    assert document["error"].startswith("`kubectl apply --dry-run=server` exited with 1")
    assert [e["event"] for e in document["events"]] == ["step", "step", "guard", "step"]


def test_text_output_names_the_step_that_failed(capsys):
    code = deploy_cmd._drive(failing_in_summary(), "text", "demo", "deploy")
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith("periph: error in step summary: `kubectl apply --dry-run=server`")


def test_history_rows_escape_control_characters(capsys, monkeypatch):
    from periph_env.deploy import history as h

    record = h.Record("demo", 3, "deploy", "failed", "dev\x1b]0;owned\x07", "2026-01-01",
                      message="line one\nline\x1b[2J two")  # fmt: skip
    monkeypatch.setattr("periph_env.deploy.read_history", lambda _root, _env: [record])
    monkeypatch.setattr(deploy_cmd, "_root", lambda: ".")
    assert main(["history", "demo"]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out
    assert "dev\\x1b]0;owned\\x07" in out
    assert "      line one\n      line\\x1b[2J two" in out
