"""Every deploy guard refuses on its own, before anything reaches the cluster (exit 2)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from periph_env.deploy import Options, deploy
from periph_env.deploy import events as ev
from tests.integration.test_deploy_harness import (
    SECRET_VALUES,
    ImageSet,
    commit,
    deploy_env,
    drop_namespace,
    git,
    make_project,
    new_namespace,
    periph_cli,
    pin,
    push_images,
)

pytestmark = [pytest.mark.k8s, pytest.mark.registry]


@pytest.fixture(scope="module")
def images(registry: Any, base_images: Any) -> ImageSet:
    """v1 and v2 of the five images, pushed once per session."""
    return push_images(registry)


@pytest.fixture
def env_vars(kube_cluster, registry, tmp_path, monkeypatch) -> dict[str, str]:
    """periph's environment: the test cluster and registry credentials."""
    env = deploy_env(kube_cluster, registry, tmp_path / "xdg")
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


@pytest.fixture
def namespace(kube_cluster) -> Iterator[str]:
    """A prepared namespace (with its pull Secret) that a refused deploy must leave empty."""
    name = new_namespace(kube_cluster)
    yield name
    drop_namespace(kube_cluster, name)


@pytest.fixture
def bare_namespace(kube_cluster) -> Iterator[str]:
    """A namespace a maintainer created without the registry pull Secret."""
    name = new_namespace(kube_cluster, pull_secret=False)
    yield name
    drop_namespace(kube_cluster, name)


def project(tmp_path: Path, kube_cluster, images, namespace: str, env: str = "demo") -> Path:
    return make_project(tmp_path, env, namespace, kube_cluster.context, images, "<webhook>")


def refused_by(root: Path, env: str = "demo", **options: Any) -> tuple[list[str], list[ev.Event]]:
    """Names of the failing guards and every event, asserting the deploy was refused."""
    events = list(deploy(root, env, Options(**options)))
    end = events[-1]
    assert isinstance(end, ev.Finished)
    assert (end.result, end.exit_code) == ("refused", 2), end
    assert not any(isinstance(e, ev.Summary) for e in events)
    failing = [e.name for e in events if isinstance(e, ev.GuardResult) and not e.ok]
    return failing, events


def assert_untouched(kube_cluster, namespace: str) -> None:
    proc = kube_cluster.kubectl(
        "get",
        "deployments,statefulsets,configmaps",
        "-n",
        namespace,
        "-o",
        "name",
        "-l",
        "app.kubernetes.io/managed-by=periph",
    )
    assert not proc.stdout.split(), f"a refused deploy applied {proc.stdout.split()}"


def test_a_valid_project_passes_every_guard(tmp_path, kube_cluster, images, namespace, env_vars):
    root = project(tmp_path, kube_cluster, images, namespace)
    events = list(deploy(root, "demo", Options(dry_run=True)))
    guards = {e.name: e.ok for e in events if isinstance(e, ev.GuardResult)}
    assert all(guards.values()), [e for e in events if isinstance(e, ev.GuardResult)]
    assert events[-1].result == "dry-run"
    assert_untouched(kube_cluster, namespace)


def test_wrong_context_refuses(tmp_path, kube_cluster, images, namespace, env_vars, monkeypatch):
    root = project(tmp_path, kube_cluster, images, namespace)
    monkeypatch.setenv("PERIPH_DEMO_CONTEXT", "no-such-context")
    failing, events = refused_by(root)
    # The pull-secrets guard reads the cluster too, so it cannot pass through a bad context.
    assert failing[0] == "context" and set(failing) <= {"context", "pull-secrets"}
    [guard] = [e for e in events if isinstance(e, ev.GuardResult) and e.name == "context"]
    assert "no-such-context" in guard.message and "PERIPH_DEMO_CONTEXT" in (guard.hint or "")
    assert_untouched(kube_cluster, namespace)


def test_wrong_branch_refuses_unless_overridden_on_demo(
    tmp_path, kube_cluster, images, namespace, env_vars
):
    root = project(tmp_path, kube_cluster, images, namespace)
    git(root, "checkout", "-q", "-b", "feature/x")
    failing, _ = refused_by(root)
    assert failing == ["branch"]
    events = list(deploy(root, "demo", Options(dry_run=True, allow_branch=True)))
    assert events[-1].result == "dry-run"


def test_dirty_tree_refuses(tmp_path, kube_cluster, images, namespace, env_vars):
    root = project(tmp_path, kube_cluster, images, namespace)
    (root / "k8s" / "overlays" / "demo" / "notes.txt").write_text("uncommitted\n")
    failing, _ = refused_by(root)
    assert failing == ["clean-tree"]


def test_failing_env_check_refuses_without_showing_values(
    tmp_path, kube_cluster, images, namespace, env_vars
):
    root = project(tmp_path, kube_cluster, images, namespace)
    env_file = root / ".env.demo"
    env_file.write_text(
        env_file.read_text().replace("VITE_ENVIRONMENT=staging", "VITE_ENVIRONMENT=production")
        + "JWT_SECRET=weak-SECRET\n"
    )
    failing, events = refused_by(root)
    assert failing == ["env-check"]
    shown = "\n".join(repr(e.as_dict()) for e in events)
    assert "weak-SECRET" not in shown
    for value in SECRET_VALUES:
        assert value not in shown


def test_image_missing_from_the_registry_refuses(
    tmp_path, kube_cluster, images, namespace, env_vars
):
    root = project(tmp_path, kube_cluster, images, namespace)
    pin(root, "demo", images, "v1", {"backend": "sha256:" + "0" * 64})
    commit(root, "pin an image nobody pushed")
    failing, events = refused_by(root)
    assert failing == ["images"]
    [guard] = [e for e in events if isinstance(e, ev.GuardResult) and e.name == "images"]
    assert (
        "peripheral-backend@sha256:000" in guard.message and "not in the registry" in guard.message
    )


def test_a_namespace_without_the_registry_pull_secret_refuses_naming_the_fix(
    tmp_path, kube_cluster, images, bare_namespace, env_vars
):
    root = project(tmp_path, kube_cluster, images, bare_namespace)
    failing, events = refused_by(root)
    assert failing == ["pull-secrets"]
    [guard] = [e for e in events if isinstance(e, ev.GuardResult) and e.name == "pull-secrets"]
    assert f"namespace {bare_namespace} lacks pull Secret(s) peripheral-registry" in guard.message
    assert "Deployment/backend" in guard.message
    assert f"kubectl -n {bare_namespace} create secret generic peripheral-registry" in (
        guard.hint or ""
    )
    assert_untouched(kube_cluster, bare_namespace)


def test_prod_without_yes_refuses_with_exit_2(tmp_path, kube_cluster, images, namespace, env_vars):
    root = project(tmp_path, kube_cluster, images, namespace, env="prod")
    proc = periph_cli(root, env_vars, "deploy", "prod")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "FAIL confirmation" in proc.stdout
    assert "FAIL" not in proc.stdout.replace("FAIL confirmation", "")
    dry = periph_cli(root, env_vars, "deploy", "prod", "--yes", "--dry-run")
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert_untouched(kube_cluster, namespace)
