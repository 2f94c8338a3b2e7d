"""A project on disk (periph.toml with two clusters, a compose file) and a fake
``ClusterStack`` for the ``periph <verb> --cluster`` CLI tests."""

from __future__ import annotations

from types import SimpleNamespace
from typing import ClassVar

import pytest

from periph_env.cluster import engine
from periph_env.cluster.engine import ServiceState

COMPOSE = """\
services:
  db:
    image: postgres:15
  worker:
    image: worker:dev
    develop:
      watch:
        - action: sync
          path: ../worker
          target: /app
"""
TOML = """\
[dev.cluster]
context = "dev"
registry = "reg:5000/dev"
user = "ann"

[dev.cluster.gpu]
context = "gpu"
"""


@pytest.fixture
def project(tmp_path, monkeypatch):
    (tmp_path / "compose").mkdir()
    (tmp_path / "compose" / "compose.yaml").write_text(COMPOSE)
    (tmp_path / "worker").mkdir()
    (tmp_path / ".env.example").write_text("")
    (tmp_path / ".env").write_text("")
    (tmp_path / "periph.toml").write_text(TOML)
    for name in ("PERIPH_COMPOSE_FILE", "PERIPH_ENV_FILE", "PERIPH_DEV_CLUSTER_CONTEXT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PERIPH_PROJECT", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    return tmp_path


class FakeClusterStack:
    """Ann's cluster stack: ``STATES`` as ``ps()`` answers, rules for the worker only."""

    STATES: ClassVar[list[ServiceState]] = []

    def __init__(self, stack, settings, notice=None) -> None:
        self.stack, self.settings = stack, settings
        self.kube = SimpleNamespace(mask=lambda s: s)

    @property
    def namespace(self) -> str:
        return self.settings.namespace

    def ps(self):
        return list(self.STATES)

    def pod_sync(self):
        rule = SimpleNamespace(rule=SimpleNamespace(service="worker"))
        return SimpleNamespace(rules=[rule], kube=self.kube)


@pytest.fixture
def cluster(monkeypatch):
    monkeypatch.setattr(engine, "ClusterStack", FakeClusterStack)
    up = [ServiceState("db", "Deployment", True, "Ready", "db-1", 0),
          ServiceState("worker", "Deployment", True, "Ready", "worker-1", 0)]  # fmt: skip
    monkeypatch.setattr(FakeClusterStack, "STATES", up)
    return FakeClusterStack
