"""kwok's stages for the test cluster: every pod state has exactly one next step.

kwok picks at random between stages whose selectors overlap, so each sample pod below must
match exactly the stage named. The selectors are evaluated by a tiny interpreter for the
jq-like subset the stage file uses.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from periph_env.testenv.kube_config import PHASE_LABEL, READY_LABEL, stage_documents

SELECT = re.compile(
    r'(?P<path>.+?) \| select\( \.(?P<key>\w+) == "(?P<value>\w+)" \) \| (?P<rest>.+)'
)
TOKEN = re.compile(r'\.\[\]|\.(\w+)|\["([^"]+)"\]')


def walk(path: str, values: list[Any]) -> list[Any]:
    for match in TOKEN.finditer(path):
        if match.group(0) == ".[]":
            values = [x for v in values if isinstance(v, list) for x in v]
        else:
            key = match.group(1) or match.group(2)
            values = [v[key] for v in values if isinstance(v, dict) and v.get(key) is not None]
    return values


def evaluate(expression: str, obj: dict[str, Any]) -> list[str]:
    select = SELECT.fullmatch(expression)
    if select:
        picked = [v for v in walk(select["path"], [obj]) if v.get(select["key"]) == select["value"]]
        return [str(v) for v in walk(select["rest"], picked)]
    return [str(v) for v in walk(expression, [obj])]


def matches(stage: dict[str, Any], obj: dict[str, Any]) -> bool:
    for requirement in stage["spec"]["selector"].get("matchExpressions", []):
        found = evaluate(requirement["key"], obj)
        wanted = set(requirement.get("values", []))
        ok = {
            "In": bool(wanted & set(found)),
            "NotIn": not (wanted & set(found)),
            "Exists": bool(found),
            "DoesNotExist": not found,
        }[requirement["operator"]]
        if not ok:
            return False
    return True


def pod(
    phase: str = "Pending",
    labels: dict[str, str] | None = None,
    restart_policy: str = "Always",
    owner: str = "ReplicaSet",
    ready: bool = False,
    terminating: bool = False,
) -> dict[str, Any]:
    metadata: dict[str, Any] = {"labels": labels or {}, "ownerReferences": [{"kind": owner}]}
    if terminating:
        metadata["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    conditions = [{"type": "Ready", "status": "True" if ready else "False"}]
    return {
        "metadata": metadata,
        "spec": {"restartPolicy": restart_policy},
        "status": {"phase": phase, "conditions": conditions},
    }


def next_stages(obj: dict[str, Any], kind: str = "Pod") -> list[str]:
    return [
        s["metadata"]["name"]
        for s in stage_documents()
        if s["spec"]["resourceRef"]["kind"] == kind and matches(s, obj)
    ]


@pytest.mark.parametrize(
    ("sample", "stage"),
    [
        (pod(), "pod-ready"),
        (pod(labels={READY_LABEL: "never"}), "periph-pod-never-ready"),
        (pod(labels={PHASE_LABEL: "failed"}), "periph-pod-crashloop"),
        (pod(labels={PHASE_LABEL: "failed"}, restart_policy="Never"), "periph-pod-failed"),
        (pod(labels={READY_LABEL: "never", PHASE_LABEL: "failed"}), "periph-pod-crashloop"),
        (pod(owner="Job", restart_policy="Never"), "pod-ready"),
        (pod("Running", owner="Job", restart_policy="Never", ready=True), "pod-complete"),
        (pod("Running", ready=True, terminating=True), "pod-delete"),
    ],
)
def test_each_pod_state_has_exactly_one_next_stage(sample, stage):
    assert next_stages(sample) == [stage]


@pytest.mark.parametrize(
    "sample",
    [
        pod("Running", ready=True),
        pod("Running", labels={READY_LABEL: "never"}),
        pod("Running", labels={PHASE_LABEL: "failed"}),
        pod("Running", owner="Job", labels={READY_LABEL: "never"}),
        pod("Succeeded", owner="Job", ready=True),
        pod("Failed", labels={PHASE_LABEL: "failed"}, restart_policy="Never"),
    ],
)
def test_settled_pods_stay_where_they_are(sample):
    assert next_stages(sample) == []


def test_a_new_node_is_initialised_and_a_ready_one_keeps_its_heartbeat():
    new = {"status": {}}
    ready = {"status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}}

    assert next_stages(new, "Node") == ["node-initialize"]
    assert next_stages(ready, "Node") == ["node-heartbeat-with-lease"]
