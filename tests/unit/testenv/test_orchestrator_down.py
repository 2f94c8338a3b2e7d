"""``testenv down --tier X`` stops what only X needs, never what another tier still uses."""

from __future__ import annotations

import io
import types
from collections.abc import Sequence

import pytest

from periph_env.testenv import orchestrator
from periph_env.testenv.state import Log


@pytest.fixture
def stopped(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Records which component modules' ``stop`` ran, instead of stopping real engines."""
    calls: list[str] = []

    def component(name: str) -> types.ModuleType:
        module = types.ModuleType(f"periph_env.testenv.{name}")
        module.stop = lambda log: calls.append(name)  # type: ignore[attr-defined]
        return module

    def components(tiers: Sequence[str]) -> list[types.ModuleType]:
        names: list[str] = []
        for tier in tiers:
            names += [n for n in orchestrator.TIERS[tier] if n not in names]
        return [component(n) for n in names]

    monkeypatch.setattr(orchestrator, "components", components)
    return calls


def test_down_of_one_tier_keeps_the_engine_another_tier_needs(stopped: list[str]) -> None:
    out = io.StringIO()
    orchestrator.down(["registry"], Log(stream=out))

    assert stopped == ["registry"]
    assert "docker_engine: kept (the docker tier needs it)" in out.getvalue()


def test_down_of_every_tier_stops_everything_in_reverse_order(stopped: list[str]) -> None:
    orchestrator.down(orchestrator.ALL_TIERS, Log(stream=io.StringIO()))

    assert stopped == ["node", "kube", "registry", "base_images", "compose_plugin", "docker_engine"]
