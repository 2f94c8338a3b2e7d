"""`rollback` and `rollout status` of an environment with nothing deployed: exit 1 saying
so, with the command that deploys it (a script must never read success there)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.integration.test_deploy_harness import make_project
from tests.integration.test_kube_lying import env_for, fake_images, periph

pytestmark = [pytest.mark.k8s]


@pytest.fixture
def empty_demo(kube_cluster: Any, k8s_namespace: str, tmp_path: Path) -> tuple[Path, dict]:
    """A demo project over a namespace with nothing deployed in it."""
    root = make_project(tmp_path, "demo", k8s_namespace, kube_cluster.context, fake_images(),
                        "<none>")  # fmt: skip
    return root, env_for(kube_cluster, tmp_path)


@pytest.mark.parametrize("command", [["rollback", "demo"], ["rollout", "status", "demo"]])
def test_nothing_deployed_exits_1_saying_so_and_naming_the_deploy(empty_demo, command):
    root, env = empty_demo

    proc = periph(root, env, *command)

    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert "nothing deployed: no Deployments in " in out
    assert "periph deploy demo" in out
    assert "SUCCEEDED" not in out and "Traceback" not in out
