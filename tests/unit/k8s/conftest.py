"""Rendered manifests, once per session: every overlay and every migrate kustomization."""

from __future__ import annotations

import pytest

from tests.unit.k8s.manifests import (
    ENVIRONMENTS,
    Doc,
    migrate_dir,
    overlay_dir,
    persistent_dir,
    render,
)


@pytest.fixture(scope="session")
def overlays() -> dict[str, list[Doc]]:
    """``kubectl kustomize k8s/overlays/<env>`` for demo and prod."""
    return {env: render(overlay_dir(env)) for env in ENVIRONMENTS}


@pytest.fixture(scope="session")
def migrations() -> dict[str, list[Doc]]:
    """``kubectl kustomize k8s/overlays/<env>/migrate`` for demo and prod."""
    return {env: render(migrate_dir(env)) for env in ENVIRONMENTS}


@pytest.fixture(scope="session")
def persistents() -> dict[str, list[Doc]]:
    """``kubectl kustomize k8s/overlays/<env>/persistent`` for demo and prod."""
    return {env: render(persistent_dir(env)) for env in ENVIRONMENTS}


@pytest.fixture(params=sorted(ENVIRONMENTS))
def env(request: pytest.FixtureRequest) -> str:
    """Each environment name in turn."""
    return request.param
