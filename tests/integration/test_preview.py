"""``periph preview`` on the kwok cluster: a preview of the demo release in a namespace of its
own, listed, taken down; ``gc`` deleting expired previews and nothing else.

Every command runs as a separate ``periph`` process in a throw-away project
(``test_deploy_harness.make_project``) whose demo namespace holds the registry pull Secret
the preview copies. kwok runs no containers: the real pods are the real-node module's
(``test_node_preview.py``).
"""

from __future__ import annotations

import json
import secrets
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from periph_env.deploy import preview_plan as pp
from periph_env.deploy.manifests import MANAGED_BY
from tests.integration.test_deploy_harness import (
    SECRET_VALUES,
    ImageSet,
    deploy_env,
    drop_namespace,
    make_project,
    new_namespace,
    periph_cli,
    push_images,
)

pytestmark = [pytest.mark.k8s, pytest.mark.registry]


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        for value in SECRET_VALUES:
            assert value not in text, f"secret value leaked: {value[:6]}..."


class Project:
    """A demo project on the kwok cluster and the previews its tests made."""

    def __init__(self, root: Path, env: dict[str, str], cluster: Any) -> None:
        self.root, self.env, self.cluster = root, env, cluster
        self.outputs: list[str] = []

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        proc = periph_cli(self.root, self.env, *args)
        self.outputs += [proc.stdout, proc.stderr]
        return proc

    def namespace(self, name: str) -> dict[str, Any] | None:
        proc = self.cluster.kubectl("get", "namespace", name, "-o", "json", check=False)
        return json.loads(proc.stdout) if proc.returncode == 0 else None

    def get(self, namespace: str, *what: str) -> dict[str, Any]:
        out = self.cluster.kubectl("get", *what, "-n", namespace, "-o", "json").stdout
        return json.loads(out)


def gone_or_going(ns: dict[str, Any] | None) -> bool:
    """Deleted, or being deleted (the namespace controller empties it first)."""
    return ns is None or bool(ns["metadata"].get("deletionTimestamp"))


@pytest.fixture(scope="module")
def images(registry: Any, base_images: Any) -> ImageSet:
    return push_images(registry)


@pytest.fixture
def project(
    kube_cluster: Any, registry: Any, images: ImageSet, tmp_path: Path
) -> Iterator[Project]:
    demo = new_namespace(kube_cluster)
    root = make_project(tmp_path, "demo", demo, kube_cluster.context, images, "<webhook>")
    made = Project(root, deploy_env(kube_cluster, registry, tmp_path / "xdg"), kube_cluster)
    yield made
    drop_namespace(kube_cluster, demo)


def create(cluster: Any, ns: dict[str, Any]) -> str:
    cluster.kubectl("apply", "-f", "-", input=json.dumps({"apiVersion": "v1", **ns}))
    return ns["metadata"]["name"]


def test_preview_up_runs_the_demo_release_in_its_own_labelled_namespace(project, images):
    branch = f"feat/Preview-{secrets.token_hex(3)}"
    slug = pp.slug(branch)
    ns = pp.namespace(slug)
    try:
        up = project.cli("preview", "up", branch, "--ttl", "2h")
        assert up.returncode == 0, up.stdout[-3000:] + up.stderr[-3000:]
        assert f"https://{slug}.peripheral.internal/" in up.stdout

        live = project.namespace(ns)
        assert live is not None
        labels, annotations = live["metadata"]["labels"], live["metadata"]["annotations"]
        assert labels[MANAGED_BY] == "periph" and labels[pp.PREVIEW_LABEL] == slug
        assert annotations[pp.BRANCH_ANNOTATION] == branch
        expires = pp.parse_time(annotations[pp.EXPIRES_ANNOTATION])
        assert expires is not None
        assert timedelta(hours=1) < expires - datetime.now(UTC) <= timedelta(hours=2)

        deployments = project.get(ns, "deployments")["items"]
        assert {
            d["metadata"]["name"]: d["spec"]["template"]["spec"]["containers"][0]["image"]
            for d in deployments
        } == {n: images.ref("v1", n) for n in ("backend", "frontend", "worker")}
        assert [q["metadata"]["name"] for q in project.get(ns, "resourcequota")["items"]] == [
            "preview"
        ]
        assert [q["metadata"]["name"] for q in project.get(ns, "limitrange")["items"]] == [
            "preview"
        ]
        hosts = {r["host"] for i in project.get(ns, "ingress")["items"] for r in i["spec"]["rules"]}
        assert hosts == {f"{slug}.peripheral.internal"}
        secret_names = {s["metadata"]["name"] for s in project.get(ns, "secrets")["items"]}
        assert "peripheral-registry" in secret_names  # copied from demo
        assert "peripheral-secrets" in secret_names or len(secret_names) > 1

        listed = project.cli("preview", "list", "--format", "json")
        assert listed.returncode == 0, listed.stderr
        mine = [p for p in json.loads(listed.stdout) if p["slug"] == slug]
        assert mine and mine[0]["branch"] == branch and mine[0]["namespace"] == ns

        down = project.cli("preview", "down", branch)
        assert down.returncode == 0, down.stderr
        assert gone_or_going(project.namespace(ns))
    finally:
        project.cluster.kubectl("delete", "namespace", ns, "--wait=false", check=False)
    assert_no_secret(*project.outputs)


def test_preview_up_again_extends_the_expiry(project):
    branch = f"again-{secrets.token_hex(3)}"
    ns = pp.namespace(pp.slug(branch))
    try:
        first = project.cli("preview", "up", branch, "--ttl", "1h")
        assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-2000:]
        second = project.cli("preview", "up", branch, "--ttl", "3d")
        assert second.returncode == 0, second.stdout[-2000:] + second.stderr[-2000:]
        live = project.namespace(ns)
        assert live is not None
        expires = pp.parse_time(live["metadata"]["annotations"][pp.EXPIRES_ANNOTATION])
        assert expires is not None and expires - datetime.now(UTC) > timedelta(days=2)
    finally:
        project.cluster.kubectl("delete", "namespace", ns, "--wait=false", check=False)


def test_gc_deletes_expired_previews_and_never_demo_prod_or_unlabelled_namespaces(
    project, kube_cluster
):
    tag = secrets.token_hex(3)
    past = "2000-01-01T00:00:00Z"
    future = pp.expires_at(datetime.now(UTC), 3600)
    expired_ns = pp.namespace_object(None, f"gc-old-{tag}", "old", past)
    fresh_ns = pp.namespace_object(None, f"gc-new-{tag}", "new", future)
    decoys = [
        # demo and prod as periph deploys them, with an expiry someone wrote on them
        {"kind": "Namespace", "metadata": {"name": f"periphtest-demo-{tag}",
         "labels": {MANAGED_BY: "periph", "periph.dev/environment": "demo"},
         "annotations": {pp.EXPIRES_ANNOTATION: past}}},
        {"kind": "Namespace", "metadata": {"name": f"periphtest-prod-{tag}",
         "labels": {MANAGED_BY: "periph", "periph.dev/environment": "prod"},
         "annotations": {pp.EXPIRES_ANNOTATION: past}}},
        # named like a preview, made by hand: no labels
        {"kind": "Namespace", "metadata": {"name": f"peripheral-pr-hand-{tag}",
         "annotations": {pp.EXPIRES_ANNOTATION: past}}},
        # the preview label without periph managing it
        {"kind": "Namespace", "metadata": {"name": f"peripheral-pr-other-{tag}",
         "labels": {pp.PREVIEW_LABEL: f"other-{tag}"},
         "annotations": {pp.EXPIRES_ANNOTATION: past}}},
        # both labels, but its name is not the preview's: not periph's preview either
        {"kind": "Namespace", "metadata": {"name": f"periphtest-team-{tag}",
         "labels": {MANAGED_BY: "periph", pp.PREVIEW_LABEL: f"team-{tag}"},
         "annotations": {pp.EXPIRES_ANNOTATION: past}}},
    ]  # fmt: skip
    names = [create(kube_cluster, ns) for ns in (expired_ns, fresh_ns, *decoys)]
    try:
        dry = project.cli("preview", "gc", "--dry-run", "--format", "json")
        assert dry.returncode == 0, dry.stderr
        assert pp.namespace(f"gc-old-{tag}") in {
            p["namespace"] for p in json.loads(dry.stdout)["deleted"]
        }
        assert not gone_or_going(project.namespace(pp.namespace(f"gc-old-{tag}")))

        gc = project.cli("preview", "gc")
        assert gc.returncode == 0, gc.stdout + gc.stderr
        assert f"deleted {pp.namespace(f'gc-old-{tag}')}" in gc.stdout
        assert gone_or_going(project.namespace(pp.namespace(f"gc-old-{tag}")))
        assert not gone_or_going(project.namespace(pp.namespace(f"gc-new-{tag}")))
        for decoy in decoys:
            assert not gone_or_going(project.namespace(decoy["metadata"]["name"])), decoy
        # The project's own demo namespace is untouched too.
        assert not gone_or_going(project.namespace(project_demo(project)))
    finally:
        for name in names:
            kube_cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)


def project_demo(project: Project) -> str:
    text = (project.root / "periph.toml").read_text()
    return text.split('namespace = "', 1)[1].split('"', 1)[0]


def test_preview_down_refuses_a_namespace_that_is_not_a_preview(project, kube_cluster):
    tag = secrets.token_hex(3)
    name = create(kube_cluster, {"kind": "Namespace", "metadata": {"name": f"peripheral-pr-{tag}"}})
    try:
        down = project.cli("preview", "down", tag)
        assert down.returncode == 2
        assert f"namespace peripheral-pr-{tag} is not a periph preview" in down.stderr
        assert not gone_or_going(project.namespace(name))
    finally:
        kube_cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)


def test_preview_down_of_a_branch_without_a_preview_says_so(project):
    down = project.cli("preview", "down", f"never-{secrets.token_hex(3)}")
    assert down.returncode == 0
    assert "no preview of" in down.stdout


def test_preview_up_refuses_a_namespace_of_that_name_that_is_not_a_preview(project, kube_cluster):
    tag = secrets.token_hex(3)
    name = create(kube_cluster, {"kind": "Namespace", "metadata": {"name": f"peripheral-pr-{tag}"}})
    try:
        up = project.cli("preview", "up", tag)
        assert up.returncode == 2, up.stdout[-2000:] + up.stderr[-2000:]
        assert f"namespace peripheral-pr-{tag} exists and is not a periph preview" in up.stdout
        live = project.namespace(name)
        assert live is not None and not live["metadata"].get("labels", {}).get(pp.PREVIEW_LABEL)
        assert project.get(name, "resourcequota")["items"] == []
    finally:
        kube_cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)


def test_preview_up_of_a_preview_still_being_deleted_is_refused_with_when_to_retry(
    project, kube_cluster
):
    tag = secrets.token_hex(3)
    name = create(
        kube_cluster, pp.namespace_object(None, f"going-{tag}", "going", "2099-01-01T00:00:00Z")
    )
    # A finalizer on an object inside keeps the namespace terminating while the test looks.
    meta = {"name": "hold", "namespace": name, "finalizers": ["periph.dev/test-hold"]}
    held = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta}
    kube_cluster.kubectl("apply", "-f", "-", input=json.dumps(held))
    kube_cluster.kubectl("delete", "namespace", name, "--wait=false")
    try:
        up = project.cli("preview", "up", f"going-{tag}")
        assert up.returncode == 2, up.stdout[-2000:] + up.stderr[-2000:]
        assert f"preview going-{tag} is still being deleted" in up.stdout
        assert "periph preview list" in up.stderr
    finally:
        kube_cluster.kubectl(
            "patch", "configmap", "hold", "-n", name, "--type=merge",
            "-p", '{"metadata":{"finalizers":null}}', check=False,
        )  # fmt: skip


def test_a_new_preview_beyond_the_configured_maximum_is_refused_before_anything_is_made(
    project, kube_cluster
):
    tag = secrets.token_hex(3)
    running = create(
        kube_cluster, pp.namespace_object(None, f"running-{tag}", "running", "2099-01-01T00:00:00Z")
    )
    with (project.root / "periph.toml").open("a") as config:
        config.write("\n[preview]\nmax = 1\n")
    try:
        up = project.cli("preview", "up", f"one-more-{tag}")
        assert up.returncode == 2, up.stdout[-2000:] + up.stderr[-2000:]
        assert "previews already run on the demo cluster (max 1)" in up.stdout
        assert "periph preview gc" in up.stderr
        assert project.namespace(pp.namespace(f"one-more-{tag}")) is None
    finally:
        kube_cluster.kubectl("delete", "namespace", running, "--wait=false", check=False)
