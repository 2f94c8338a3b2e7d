"""--auto-rollback and StatefulSets, on the kwok cluster: the Deployments go back, a
StatefulSet the failed deploy changed is left as it is and the ending says so (a
database's data may not suit the older version; a stuck pod needs deleting by hand: see
docs/deploy-runbook.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from periph_env.deploy import Options, deploy
from periph_env.deploy import events as ev
from tests.integration import test_deploy_verdict as verdict_tests
from tests.integration.test_deploy_harness import (
    DEPLOYMENTS,
    commit,
    images_of,
    json_patch,
    make_project,
    patch_overlay,
    pin,
)

pytestmark = [pytest.mark.k8s, pytest.mark.registry]
# The verdict tests' fixtures: a fresh namespace, periph's environment, the v1/v2 images.
env, images, namespace = verdict_tests.env, verdict_tests.images, verdict_tests.namespace
NEVER_READY = {
    "op": "add",
    "path": "/spec/template/metadata/labels/periph.dev~1test-ready",
    "value": "never",
}


def test_auto_rollback_leaves_a_changed_statefulset_as_is_and_says_so(
    kube_cluster: Any,
    env: dict,
    images: Any,
    namespace: str,
    tmp_path: Path,
) -> None:
    root = make_project(tmp_path, "demo", namespace, kube_cluster.context, images, "<webhook>")
    assert list(deploy(root, "demo", Options()))[-1].result == "succeeded"
    patch_overlay(root, "demo", json_patch("StatefulSet", "db", NEVER_READY))
    pin(root, "demo", images, "v2")
    commit(root, "v2, db never ready")
    events = list(deploy(root, "demo", Options(auto_rollback=True, rollout_timeout=25)))
    end = events[-1]
    assert (end.result, end.exit_code) == ("rolled-back", 1), end
    [rolled] = [e for e in events if isinstance(e, ev.RolledBack)]
    assert set(rolled.revisions) == set(DEPLOYMENTS)  # the Deployments went back
    said = "periph does not roll a StatefulSet back by itself"
    assert said in rolled.message and said in end.message
    left = end.message.split("; ")[-1]
    assert "statefulset/db" in left.split(" left as this deploy made")[0]
    assert f"`kubectl -n {namespace} rollout undo statefulset/db`" in left
    db = json.loads(
        kube_cluster.kubectl("get", "statefulset", "db", "-n", namespace, "-o", "json").stdout
    )
    assert db["spec"]["template"]["metadata"]["labels"]["periph.dev/test-ready"] == "never"
    assert images_of(kube_cluster, namespace) == {n: images.ref("v1", n) for n in DEPLOYMENTS}
