"""The pull-secrets guard: every imagePullSecret the pods name exists, by name only."""

from __future__ import annotations

from typing import Any

from periph_env.deploy import guards
from periph_env.deploy.pull_secrets import METADATA_ONLY, pull_secret_guard, pull_secret_names
from periph_env.errors import PeriphError


class FakeRest:
    """Answers the namespace's Secret list (metadata only) from a set of names."""

    def __init__(self, kube: FakeKube) -> None:
        self.kube = kube

    def request(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        self.kube.calls.append((method, path, kwargs.get("accept", "")))
        if self.kube.down:
            raise PeriphError("the API server https://127.0.0.1:6443 refused the connection")
        names = sorted(self.kube.existing - {self.kube.namespace})
        return {"items": [{"metadata": {"name": n}} for n in names]}


class FakeKube:
    """A namespace holding Secrets named ``existing`` (the namespace exists when its own
    name is in the set too)."""

    namespace = "peripheral-demo"

    def __init__(self, existing: set[str], *, down: bool = False) -> None:
        self.existing, self.down = existing, down
        self.calls: list[tuple[str, ...]] = []
        self.rest = FakeRest(self)

    def get(self, kind: str, name: str, **_: Any) -> dict[str, Any] | None:
        assert kind == "Namespace"
        return {"metadata": {"name": name}} if name in self.existing else None


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


def test_only_the_secrets_metadata_is_asked_for() -> None:
    kube = FakeKube({"peripheral-demo", "peripheral-registry"})
    pull_secret_guard(kube, [_deployment("backend", "peripheral-registry")])
    assert [call[2] for call in kube.calls] == [METADATA_ONLY]


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


def test_an_unreachable_cluster_refuses_naming_the_endpoint() -> None:
    kube = FakeKube({"peripheral-registry"}, down=True)
    result = guards.safely(
        "pull-secrets",
        lambda: pull_secret_guard(kube, [_deployment("backend", "peripheral-registry")]),
    )
    assert not result.ok and "refused the connection" in result.message


def test_pods_naming_no_pull_secret_need_nothing() -> None:
    kube = FakeKube(set())
    assert pull_secret_guard(kube, [_deployment("backend")]).ok
    assert kube.calls == []
