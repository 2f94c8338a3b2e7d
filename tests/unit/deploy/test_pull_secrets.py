"""The pull-secrets guard: every imagePullSecret the pods name exists, by name only."""

from __future__ import annotations

import subprocess
from typing import Any

from periph_env.deploy.pull_secrets import pull_secret_guard, pull_secret_names


class FakeKube:
    """Answers ``kubectl get secrets NAME... -o name`` from a set of existing names."""

    namespace = "peripheral-demo"

    def __init__(self, existing: set[str], returncode: int = 0) -> None:
        self.existing = existing
        self.returncode = returncode
        self.calls: list[tuple[str, ...]] = []

    def run(self, *args: str, **_: Any) -> subprocess.CompletedProcess[str]:
        self.calls.append(args)
        names = [a for a in args[2:] if not a.startswith("-") and a != "name"]
        out = "".join(f"secret/{n}\n" for n in names if n in self.existing)
        return subprocess.CompletedProcess(args, self.returncode, out, "")


def _deployment(name: str, *secrets: str) -> dict[str, Any]:
    spec = {"containers": [{"name": name}], "imagePullSecrets": [{"name": s} for s in secrets]}
    return {"kind": "Deployment", "metadata": {"name": name}, "spec": {"template": {"spec": spec}}}


def test_names_are_collected_with_the_workloads_naming_them() -> None:
    objs = [
        _deployment("backend", "peripheral-registry"),
        _deployment("worker", "peripheral-registry"),
    ]
    assert pull_secret_names(objs) == {
        "peripheral-registry": ["Deployment/backend", "Deployment/worker"]
    }


def test_a_present_pull_secret_passes() -> None:
    result = pull_secret_guard(
        FakeKube({"peripheral-registry"}), [_deployment("backend", "peripheral-registry")]
    )
    assert result.ok


def test_a_missing_pull_secret_refuses_naming_it_its_readers_and_the_fix() -> None:
    kube = FakeKube({"peripheral-demo"})  # the namespace exists, the Secret does not
    result = pull_secret_guard(kube, [_deployment("backend", "peripheral-registry")])
    assert not result.ok
    assert result.message == (
        "namespace peripheral-demo lacks pull Secret(s) peripheral-registry "
        "(named by Deployment/backend)"
    )
    assert result.hint and "kubectl -n peripheral-demo create secret generic" in result.hint
    assert "kubernetes.io/dockerconfigjson" in result.hint


def test_a_namespace_that_does_not_exist_yet_says_to_create_it_before_the_secret() -> None:
    result = pull_secret_guard(FakeKube(set()), [_deployment("backend", "peripheral-registry")])
    assert not result.ok
    assert "namespace peripheral-demo does not exist yet" in result.message
    assert "peripheral-registry (named by Deployment/backend)" in result.message
    hint = result.hint or ""
    assert hint.index("k8s/overlays/<env>/persistent") < hint.index("create secret generic")


def test_an_unreachable_cluster_counts_as_missing_not_as_present() -> None:
    kube = FakeKube({"peripheral-registry"}, returncode=1)
    kube.existing = set()
    assert not pull_secret_guard(kube, [_deployment("backend", "peripheral-registry")]).ok


def test_pods_naming_no_pull_secret_need_nothing() -> None:
    kube = FakeKube(set())
    assert pull_secret_guard(kube, [_deployment("backend")]).ok
    assert kube.calls == []
