"""The Deploy area's Previews pane over the real preview engine and the kwok cluster: a
preview namespace on the API server shows up in the pane, with its branch and time left."""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from periph_env.deploy import preview_plan as pp
from periph_env.tui.app import PeriphApp
from tests.integration.test_deploy_harness import (
    deploy_env,
    drop_namespace,
    make_project,
    new_namespace,
    push_images,
)
from tests.unit.tui.conftest import settings
from tests.unit.tui.screen import screen_text

pytestmark = [pytest.mark.anyio, pytest.mark.k8s, pytest.mark.registry]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def shows(app: PeriphApp, pilot, text: str, tries: int = 600) -> None:
    for _ in range(tries):
        if text in screen_text(app):
            return
        await pilot.pause(0.1)
    raise AssertionError(f"{text!r} never showed; the screen:\n{screen_text(app)}")


async def test_the_previews_pane_lists_a_preview_on_the_cluster(
    kube_cluster: Any, registry: Any, base_images: Any, tmp_path: Path, monkeypatch
):
    for key, value in deploy_env(kube_cluster, registry, tmp_path / "xdg").items():
        monkeypatch.setenv(key, value)
    demo = new_namespace(kube_cluster)
    root = make_project(
        tmp_path, "demo", demo, kube_cluster.context, push_images(registry), "<webhook>"
    )
    slug = f"tui-{secrets.token_hex(3)}"
    ns = pp.namespace_object(
        None, slug, "feat/tui", pp.expires_at(datetime.now(UTC), 3 * 3600 + 600)
    )
    kube_cluster.kubectl("apply", "-f", "-", input=json.dumps(ns))
    try:
        app = PeriphApp(root, settings=settings(connect=False))
        async with app.run_test(size=(130, 34)) as pilot:
            await pilot.press("5")
            await pilot.pause(0.3)
            await pilot.press("v")
            await shows(app, pilot, slug)
            text = screen_text(app)
            assert "feat/tui" in text and pp.namespace(slug) in text
            assert "in 3h" in text
    finally:
        kube_cluster.kubectl("delete", "namespace", pp.namespace(slug), "--wait=false", check=False)
        drop_namespace(kube_cluster, demo)


async def test_u_brings_up_the_checked_out_branch_and_x_deletes_it_once_its_slug_is_typed(
    kube_cluster: Any, registry: Any, base_images: Any, tmp_path: Path, monkeypatch
):
    from periph_env.common.process import run

    for key, value in deploy_env(kube_cluster, registry, tmp_path / "xdg").items():
        monkeypatch.setenv(key, value)
    demo = new_namespace(kube_cluster)
    root = make_project(
        tmp_path, "demo", demo, kube_cluster.context, push_images(registry), "<webhook>"
    )
    branch = f"feat/tui-{secrets.token_hex(3)}"  # its own: previews share the cluster
    run(["git", "-C", str(root), "checkout", "-q", "-b", branch])
    slug = pp.slug(branch)
    try:
        app = PeriphApp(root, settings=settings(connect=False))
        async with app.run_test(size=(130, 40)) as pilot:
            await pilot.press("5")
            await pilot.pause(0.3)
            await pilot.press("u")
            await shows(app, pilot, f"preview up of {branch}: running…")
            await shows(app, pilot, f"preview up of {branch}: succeeded", tries=3000)
            text = screen_text(app)
            assert f"https://{slug}.peripheral.internal/" in text
            assert "backend: 2/2 ready" in text or "backend: 1/1 ready" in text, text
            table = app.query_one("#deploy-previews-table")
            for _ in range(600):  # listed again once the up ended
                if pp.namespace(slug) in [k.value for k in table.rows]:
                    break
                await pilot.pause(0.1)
            table.move_cursor(row=[k.value for k in table.rows].index(pp.namespace(slug)))
            await pilot.press("x")
            await shows(app, pilot, f"Type {slug} and press enter")
            await pilot.press(*slug, "enter")
            await shows(app, pilot, f"preview down of {branch}: succeeded — deleting preview")
        live = kube_cluster.kubectl(
            "get", "namespace", pp.namespace(slug), "-o", "json", check=False
        )
        assert live.returncode != 0 or '"deletionTimestamp"' in live.stdout
    finally:
        kube_cluster.kubectl("delete", "namespace", pp.namespace(slug), "--wait=false", check=False)
        drop_namespace(kube_cluster, demo)
