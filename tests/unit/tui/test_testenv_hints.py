"""The Build and Deploy areas name the next step that works when the test engines already run:
the eval line of ``periph testenv env``, not "start the test registry/cluster"."""

from __future__ import annotations

import pytest

from periph_env.images.listing import ServiceImages
from periph_env.testenv import shell_env
from periph_env.tui.views.build import LOGIN_REMEDY, REGISTRY_REMEDY, remedy_for
from tests.unit.tui.conftest import wait_text
from tests.unit.tui.part2_fakes import FakeImages
from tests.unit.tui.screen import screen_text
from tests.unit.tui.test_build_view import part2_app

pytestmark = [pytest.mark.anyio, pytest.mark.tui]
EVAL = 'eval "$(periph testenv env)"'
NO_LOGIN = "registry 127.0.0.1:5000 requires credentials and none were found"


class NoLogin(FakeImages):
    """The registry answers but this process has no login for it."""

    def list_images(self, root) -> list[ServiceImages]:
        return [
            ServiceImages("backend", "127.0.0.1:5000/peripheral-backend", remote_error=NO_LOGIN)
        ]


def test_a_registry_wanting_a_login_is_not_told_to_start():
    assert remedy_for(NO_LOGIN) == LOGIN_REMEDY
    assert remedy_for("Registry not reachable at 127.0.0.1:5000") == REGISTRY_REMEDY


def test_with_the_test_registry_running_the_step_is_the_eval_line(test_engines_running):
    hint = remedy_for(NO_LOGIN, "set DOCKER_USERNAME and DOCKER_PASSWORD")
    assert f"`{EVAL}`" in hint and "127.0.0.1:5000" in hint
    assert "does not switch" in hint  # it says periph will not use it on its own


def test_a_shell_already_pointed_gets_the_ordinary_step(test_engines_running, monkeypatch):
    monkeypatch.setenv("PERIPH_REGISTRY", "127.0.0.1:5000")
    monkeypatch.setenv("PERIPH_DEMO_CONTEXT", "periph-test")
    monkeypatch.setenv("KUBECONFIG", "/cache/kubeconfig")
    assert shell_env.remedy("registry", "start it") == "start it"


def test_a_docker_failure_keeps_the_docker_step(test_engines_running):
    assert EVAL not in remedy_for("Docker engine not reachable at unix:///var/run/docker.sock")


async def test_build_area_names_the_eval_line_when_the_test_registry_runs(
    project, test_engines_running
):
    app = part2_app(project, images=NoLogin())
    async with app.run_test(size=(130, 30)) as pilot:
        await pilot.press("4")
        text = await wait_text(app, pilot, EVAL)
        assert "requires credentials" in text
        assert "testenv up --tier registry" not in text


async def test_deploy_area_names_the_eval_line_when_the_test_cluster_runs(
    project, test_engines_running
):
    app = part2_app(project)
    async with app.run_test(size=(130, 34)) as pilot:
        await pilot.press("5")
        text = await wait_text(app, pilot, EVAL)
        assert "No cluster for demo" in text
        assert "The test cluster runs (context periph-test)" in text
        assert screen_text(app).count("testenv up --tier k8s") == 0
