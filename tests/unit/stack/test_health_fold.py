"""Health-check request lines are folded in `periph logs` and the Logs area: hidden, counted,
shown with `--all` (or a key). The lines here are what the services print.

The backend's lines are the JSON its request middleware writes with slog
(services/backend/internal/server/middleware.go, ``observe``): one per request, with the
compose healthcheck (``backend healthcheck`` -> GET /api/health from 127.0.0.1 in the
container) and the frontend's status poll (from the frontend's address) among them.
"""

from __future__ import annotations

import json

from periph_env.stack.logfilter import HealthFold, is_health_check, request_path
from periph_env.stack.models import LogLine


def backend(path: str, status: int = 200, remote: str = "127.0.0.1:41234") -> str:
    """A backend request line exactly as slog's JSON handler writes it."""
    route = "unmatched" if path.startswith("/nope") else f"GET {path.split('?')[0]}"
    return json.dumps(
        {
            "time": "2026-12-02T14:00:00.123456789Z",
            "level": "INFO",
            "msg": "request",
            "service": "backend",
            "method": "GET",
            "path": path,
            "route": route,
            "status": status,
            "bytes": 57,
            "duration_ms": 0.412,
            "remote": remote,
        },
        separators=(",", ":"),
    )


def test_the_backend_healthcheck_request_is_a_health_check():
    assert is_health_check(backend("/api/health"))


def test_the_frontends_status_poll_through_the_backend_is_a_health_check():
    assert is_health_check(backend("/api/health", remote="172.18.0.6:52810"))


def test_a_real_api_request_is_not():
    assert not is_health_check(backend("/api/strategies"))
    assert not is_health_check(backend("/api/strategies/health-report"))


def test_a_failing_probe_stays_in_view():
    assert not is_health_check(backend("/api/health", status=503))


def test_a_log_line_about_health_that_is_not_a_request_stays():
    line = '{"level":"WARN","msg":"health check failed","check":"db","error":"timeout"}'
    assert not is_health_check(line)
    assert not is_health_check("worker: health endpoint on :9102 ready")


def test_access_log_lines_of_probes_are_health_checks():
    nginx = (
        '172.18.0.1 - - [02/Dec/2026:14:00:00 +0000] "GET /healthz HTTP/1.1" 200 15 "-" '
        '"kube-probe/1.36"'
    )
    assert is_health_check(nginx)
    assert is_health_check("HEAD /health 200 0.3 ms")
    assert is_health_check("GET /readyz?verbose 200")
    assert not is_health_check('"GET /orders HTTP/1.1" 200 812')


def test_request_path_reads_json_and_access_logs():
    assert request_path(backend("/api/health?x=1")) == "/api/health"
    assert request_path('{"req":{"url":"/healthz"},"res":{"statusCode":200}}') == "/healthz"
    assert request_path("GET /api/orders 200 4.8ms") == "/api/orders"
    assert request_path("database system is ready") is None


def lines(*texts: str) -> list[LogLine]:
    return [LogLine("backend", 1.0 + i, text) for i, text in enumerate(texts)]


def test_the_fold_hides_and_counts_health_checks():
    fold = HealthFold()
    shown = fold(lines(backend("/api/health"), backend("/api/orders"), backend("/healthz")))
    assert [request_path(line.text) for line in shown] == ["/api/orders"]
    assert fold.summary() == "2 health-check lines hidden — --all shows them"


def test_all_shows_every_line_and_counts_nothing():
    fold = HealthFold(show_all=True)
    assert len(fold(lines(backend("/api/health"), backend("/api/orders")))) == 2
    assert fold.summary() is None


def test_nothing_hidden_says_nothing():
    fold = HealthFold()
    fold(lines(backend("/api/orders")))
    assert fold.summary() is None


def _cli_logs(monkeypatch, capsys, *flags: str):
    """`periph logs FLAGS` over three backend request lines (the engine read stubbed)."""
    import periph_env.stack as stack_pkg
    from periph_env.cli import main

    read = lines(backend("/api/health"), backend("/api/orders"), backend("/api/health"))
    monkeypatch.setattr(stack_pkg, "read_logs", lambda *a, **k: read)
    monkeypatch.setattr("periph_env.cli.stack_cmd._stack", lambda: None)
    assert main(["logs", *flags]) == 0
    return capsys.readouterr()


def test_periph_logs_hides_health_checks_and_says_how_many(monkeypatch, capsys):
    out = _cli_logs(monkeypatch, capsys)
    assert "/api/orders" in out.out and "/api/health" not in out.out
    assert "2 health-check lines hidden — --all shows them" in out.err


def test_periph_logs_all_shows_them(monkeypatch, capsys):
    out = _cli_logs(monkeypatch, capsys, "--all")
    assert out.out.count('"path":"/api/health"') == 2 and "hidden" not in out.err
