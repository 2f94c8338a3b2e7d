"""Smoke-check results as the user reads them (the API server answer faked)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from periph_env.cli.deploy_cmd import _text
from periph_env.deploy import verify
from periph_env.deploy.events import ErrorRateSample, VerifyCheck
from periph_env.deploy.verify_config import Check

SECRET = "sEcr3t-db-pass-XYZ"
CHECK = Check("api-strategies", "backend", "5058", "/api/strategies")


@pytest.fixture
def kube():
    return SimpleNamespace(namespace="peripheral-demo", secrets=[SECRET])


def answer(monkeypatch, status, body):
    monkeypatch.setattr(verify, "proxy_get", lambda _kube, path, timeout=10: (status, body))


def test_a_check_goes_through_the_service_proxy():
    assert verify.service_path("ns", CHECK) == (
        "/api/v1/namespaces/ns/services/backend:5058/proxy/api/strategies"
    )


def test_a_failing_check_names_the_answer_and_masks_secrets(kube, monkeypatch):
    answer(monkeypatch, 500, f'{{"error": "db login failed for password {SECRET}"}}')
    result = verify.run_check(kube, CHECK)
    assert not result.ok and result.status == 500
    assert result.message.startswith("answered 500, expected 200")
    assert SECRET not in result.message


def test_the_api_servers_own_reason_is_shown_not_its_json(kube, monkeypatch):
    answer(
        monkeypatch, 503,
        '{"kind":"Status","message":"no endpoints available for service \\"backend:5058\\""}',
    )  # fmt: skip
    message = verify.run_check(kube, CHECK).message
    assert (
        message == 'answered 503, expected 200: no endpoints available for service "backend:5058"'
    )


def test_an_unreachable_api_server_is_said_so(kube, monkeypatch):
    answer(monkeypatch, None, "MaxRetryError: connection refused")
    assert verify.run_check(kube, CHECK).message.startswith("API server unreachable")


def test_a_failing_smoke_check_stops_before_the_watch(kube, monkeypatch):
    answer(monkeypatch, 500, "boom")
    monkeypatch.setattr(verify, "watch_error_rate", lambda *a, **k: pytest.fail("watched"))
    config = verify.VerifyConfig(checks=(CHECK,))
    gen = verify.run(kube, config, window=60)
    events = []
    try:
        while True:
            events.append(next(gen))
    except StopIteration as stop:
        outcome = stop.value
    assert not outcome.ok
    assert outcome.reason.startswith("smoke check failed: api-strategies")
    assert outcome.as_record()["checks"][0]["status"] == 500


def test_cli_lines_for_checks_and_the_error_rate():
    check = VerifyCheck("api-health", "backend:5058/api/health", True, 200, "200", 0.02)
    assert _text(check) == "   ok   api-health GET backend:5058/api/health: 200"
    sample = ErrorRateSample(4.0, 10.0, 2, 40, 12, 0.3, 0.05, 0, True, "5xx ratio 30.0%")
    assert _text(sample).startswith("   FAIL error rate 30.0% at 4/10s, 2 pod(s), 0 restart(s)")
