"""End to end: a demo deploy from the real ``periph`` command in tmux, driven by keys,
against the test registry and the kwok cluster (the project of test_deploy_harness)."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from tests.e2e.test_tui_tmux import PERIPH, Tmux
from tests.integration.test_deploy import images, namespace  # noqa: F401 (fixtures)
from tests.integration.test_deploy_harness import (
    DEPLOYMENTS,
    deploy_env,
    images_of,
    make_project,
)

pytestmark = [pytest.mark.k8s, pytest.mark.registry]


def test_a_demo_deploy_driven_by_keys_rolls_out(
    kube_cluster,
    registry,
    images,  # noqa: F811
    namespace,  # noqa: F811
    tmp_path: Path,
) -> None:
    if shutil.which("tmux") is None:
        pytest.fail("tmux is needed for the end-to-end test: apt-get install tmux")
    root = make_project(tmp_path, "demo", namespace, kube_cluster.context, images, "<webhook>")
    env = {
        **os.environ,
        **deploy_env(kube_cluster, registry, tmp_path / "xdg"),
        "TERM": "xterm-256color",
        "DOCKER_HOST": f"unix://{tmp_path}/no-engine.sock",
        "PERIPH_PROJECT": str(root),
    }
    status = tmp_path / "status"
    tmux = Tmux(f"periph-deploy-e2e-{os.getpid()}", f"{PERIPH}; echo $? > {status}; sleep 30",
                env, root)  # fmt: skip
    try:
        tmux.wait_for("Deploy")
        tmux.keys("5")
        tmux.wait_for("Guards")
        tmux.keys("c")
        tmux.wait_for("demo: check dry-run", timeout=120)  # the check has finished
        tmux.keys("D")
        tmux.wait_for("Press enter or y")
        tmux.keys("Enter")
        screen = tmux.wait_for("deploy succeeded", timeout=240)
        assert "rolled out" in screen
        tmux.keys("C-q")
        deadline = time.monotonic() + 20
        while not status.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert status.read_text().strip() == "0"
    finally:
        tmux.close()
    assert images_of(kube_cluster, namespace) == {n: images.ref("v1", n) for n in DEPLOYMENTS}
