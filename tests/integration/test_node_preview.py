"""``periph preview`` on real pods: the prod images of this checkout, in a preview namespace
on the real node, answering ``/api/health``; listed, expired and collected by ``gc``.

The project is ``real_demo_support.DemoProject`` (demo on the real node, images built and
pinned by ``periph build --pin demo``); the preview copies the demo namespace's registry pull
Secret, so its pods pull with it. Health goes through the API server's service proxy, as
``periph verify`` checks it.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from typing import Any

import pytest

from periph_env.common.poll import wait_for
from periph_env.deploy import preview_plan as pp
from periph_env.deploy.kube import Kube
from periph_env.deploy.verify import proxy_get
from periph_env.testenv import node
from tests.integration.real_demo_support import DemoProject, assert_no_secret

pytestmark = [pytest.mark.node, pytest.mark.docker, pytest.mark.registry]


@pytest.fixture(scope="module")
def project(
    real_node: node.NodeInfo, registry: Any, base_images: object, tmp_path_factory
) -> Iterator[DemoProject]:
    """The demo project with its prod images built, pushed and pinned (nothing deployed)."""
    made = DemoProject.create(tmp_path_factory.mktemp("preview"), real_node.cluster, registry)
    made.create_namespace(registry)
    try:
        built = made.periph("build", "--pin", "demo", "-j", "1", timeout=1800)
        assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
        made.commit("pin the demo images")
        yield made
    finally:
        made.delete_namespace()


def health(project: DemoProject, namespace: str) -> int | None:
    """The status of the backend's /api/health through the API server's service proxy
    (``KUBECONFIG`` is the project's: the test sets it)."""
    kube = Kube(project.cluster.context, namespace)
    path = f"/api/v1/namespaces/{namespace}/services/backend:5058/proxy/api/health"
    status, _body = proxy_get(kube, path, timeout=5)
    return status


def test_a_preview_comes_up_answers_health_is_listed_expires_and_is_collected(project, monkeypatch):
    monkeypatch.setenv("KUBECONFIG", project.env["KUBECONFIG"])
    branch = f"feat/Real-{secrets.token_hex(3)}"
    slug = pp.slug(branch)
    ns = pp.namespace(slug)
    outputs: list[str] = []
    try:
        up = project.periph("preview", "up", branch, "--ttl", "1h")
        outputs += [up.stdout, up.stderr]
        assert up.returncode == 0, up.stdout[-4000:] + up.stderr[-4000:]

        # kube-proxy programs a new Service's rules a moment after its pods are Ready.
        wait_for(lambda: health(project, ns) == 200, f"{ns} /api/health", 90, every=1)

        listed = project.periph("preview", "list", "--format", "json")
        outputs += [listed.stdout, listed.stderr]
        assert slug in {p["slug"] for p in json.loads(listed.stdout)}

        # Not expired yet: gc keeps it.
        kept = project.periph("preview", "gc")
        outputs += [kept.stdout, kept.stderr]
        assert kept.returncode == 0 and f"deleted {ns}" not in kept.stdout

        # Its TTL runs out (the annotation rewritten, as time would).
        project.cluster.kubectl(
            "annotate", "namespace", ns, "--overwrite",
            f"{pp.EXPIRES_ANNOTATION}=2000-01-01T00:00:00Z",
        )  # fmt: skip
        gc = project.periph("preview", "gc")
        outputs += [gc.stdout, gc.stderr]
        assert gc.returncode == 0, gc.stderr
        assert f"deleted {ns}" in gc.stdout
        live = project.cluster.kubectl("get", "namespace", ns, "-o", "json", check=False)
        assert live.returncode != 0 or json.loads(live.stdout)["metadata"].get("deletionTimestamp")
        # The demo namespace the preview was made from is untouched.
        demo = json.loads(project.cluster.kubectl("get", "namespace", project.namespace,
                                                  "-o", "json").stdout)  # fmt: skip
        assert not demo["metadata"].get("deletionTimestamp")
    finally:
        project.cluster.kubectl("delete", "namespace", ns, "--wait=false", check=False)
    assert_no_secret("\n".join(outputs))
