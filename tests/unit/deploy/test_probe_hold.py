"""One command, one wait on a silent API server: a failed liveness probe answers for the
next step right after it (render, then the guards); retries always probe again."""

from __future__ import annotations

import pytest

from periph_env.deploy import kube as kube_module
from periph_env.deploy import kube_reach as reach
from periph_env.deploy.kube import Kube


@pytest.fixture
def probes(monkeypatch) -> list[str]:
    calls: list[str] = []

    def probe(ep: reach.Endpoint) -> str:
        calls.append(ep.context)
        return "accepted the connection but did not answer within 5 s"

    monkeypatch.setattr(reach, "probe", probe)
    monkeypatch.setenv("KUBECONFIG", "/nonexistent/kubeconfig")
    return calls


def _failure(kube: Kube, **kw) -> str:
    with pytest.raises(reach.ClusterUnreachable) as raised:
        kube.ensure_reachable(**kw)
    return str(raised.value)


def test_the_next_step_right_after_a_failed_probe_fails_with_it_without_waiting_again(probes):
    kube = Kube("peripheral-demo", "peripheral-demo", notice=lambda _line: None)
    first, second = _failure(kube), _failure(kube)
    assert probes == ["peripheral-demo"]
    assert first == second and "did not answer within 5 s" in second


def test_a_retry_probes_again(probes):
    kube = Kube("peripheral-demo", "peripheral-demo", notice=lambda _line: None)
    _failure(kube)
    _failure(kube, again=True)
    assert len(probes) == 2


def test_a_failure_older_than_the_hold_is_probed_again(probes, monkeypatch):
    monkeypatch.setattr(kube_module, "FAILED_PROBE_HOLD", 0.0)
    kube = Kube("peripheral-demo", "peripheral-demo", notice=lambda _line: None)
    _failure(kube)
    _failure(kube)
    assert len(probes) == 2
