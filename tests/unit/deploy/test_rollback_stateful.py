"""What --auto-rollback says about StatefulSets (no cluster): only those the failed deploy
changed are named, each with the command that returns it by hand."""

from __future__ import annotations

from types import SimpleNamespace

from periph_env.deploy import rollback


def kube_with(generations: dict[str, int]) -> SimpleNamespace:
    items = [{"metadata": {"name": n, "generation": g}} for n, g in generations.items()]
    return SimpleNamespace(list=lambda kind: items if kind == "StatefulSet" else [])


def test_only_statefulsets_whose_spec_the_deploy_changed_are_named():
    kube = kube_with({"db": 3, "cache": 1})
    assert rollback.stateful_changed(kube, {"db": 2, "cache": 1}) == ["db"]  # type: ignore[arg-type]


def test_a_statefulset_the_deploy_created_is_not_named():
    kube = kube_with({"db": 1})
    assert rollback.stateful_changed(kube, {}) == []  # type: ignore[arg-type]


def test_the_refusal_gives_each_statefulset_its_undo_command():
    said = rollback.stateful_refusal(["cache", "db"], "demo")
    assert said.startswith("statefulset/cache, statefulset/db left as this deploy made them:")
    assert "`kubectl -n demo rollout undo statefulset/cache`" in said
    assert "`kubectl -n demo rollout undo statefulset/db`" in said
    assert said.endswith("by hand, see docs/deploy-runbook.md")
