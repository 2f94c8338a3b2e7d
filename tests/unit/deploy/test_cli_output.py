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
