"""The compose dev stack, brought up for real: health, the job round trip, /ws, migrate.

One stack per module (a unique project name, torn down with its volumes). The env file
is generated with random secrets; no committed .env is involved.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest
import websockets

from tests.integration.stack_support import (
    Compose,
    inspect,
    running_stack,
    wait_until,
)

pytestmark = [pytest.mark.docker, pytest.mark.stack]

ROOT = Path(__file__).resolve().parents[2]
LONG_RUNNING = ("db", "cache", "backend", "worker", "frontend")


@pytest.fixture(scope="module")
def stack(docker_engine, compose_v2, base_images, tmp_path_factory):
    """The whole dev stack, up and healthy (`up --wait`), removed afterwards."""
    with running_stack(tmp_path_factory.mktemp("stack"), "stack") as compose:
        yield compose


def health(compose: Compose) -> httpx.Response:
    """GET /api/health on the published backend port."""
    return httpx.get(compose.url("PERIPH_BACKEND_PORT", "/api/health"), timeout=10)


def test_every_long_running_service_is_healthy(stack):
    states = {c["Service"]: c for c in stack.ps()}
    for service in LONG_RUNNING:
        assert states[service]["State"] == "running", service
        assert states[service]["Health"] == "healthy", service


def test_backend_health_reports_postgres_and_redis_ok(stack):
    response = health(stack)
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"postgres": "ok", "redis": "ok"}}


def test_migrate_exited_zero_once_and_has_no_watch_rule(stack):
    container = inspect(stack.container_id("migrate"))
    assert container["State"]["Status"] == "exited"
    assert container["State"]["ExitCode"] == 0
    assert container["RestartCount"] == 0
    assert container["HostConfig"]["RestartPolicy"]["Name"] in ("", "no")
    config = json.loads(stack("config", "--format", "json").stdout)
    assert "develop" not in config["services"]["migrate"]


def test_migrations_are_recorded_in_schema_migrations(stack):
    values = stack.values
    out = stack(
        "exec",
        "-T",
        "db",
        "psql",
        "-tA",
        "-U",
        values["DB_USER"],
        "-d",
        values["POSTGRES_DB"],
        "-c",
        "SELECT string_agg(name, ',' ORDER BY version) FROM schema_migrations",
    ).stdout.strip()
    on_disk = sorted(p.name for p in (ROOT / "services" / "db" / "migrations").glob("*.sql"))
    assert out == ",".join(on_disk)
    assert out.startswith("0001_strategies.sql,0002_jobs.sql,0003_job_results.sql")


def test_strategy_created_through_the_api_is_processed_and_pushed_over_ws(stack):
    async def round_trip() -> tuple[dict, dict]:
        ws_url = f"ws://127.0.0.1:{stack.ports['PERIPH_BACKEND_PORT']}/ws"
        async with websockets.connect(ws_url) as ws:
            assert json.loads(await ws.recv()) == {"type": "hello"}
            async with httpx.AsyncClient() as client:
                created = await client.post(
                    stack.url("PERIPH_BACKEND_PORT", "/api/strategies"),
                    json={
                        "name": "golden cross",
                        "symbol": "SPY",
                        "fast_window": 5,
                        "slow_window": 20,
                    },
                )
            assert created.status_code == 201, created.text
            body = created.json()
            while True:
                pushed = json.loads(await asyncio.wait_for(ws.recv(), timeout=60))
                if pushed.get("job_id") == body["job"]["id"]:
                    return body, pushed

    created, pushed = asyncio.run(round_trip())
    assert pushed["type"] == "job_result"
    assert pushed["status"] == "done"
    assert pushed["strategy_id"] == created["strategy"]["id"]

    jobs_url = stack.url("PERIPH_BACKEND_PORT", f"/api/strategies/{created['strategy']['id']}/jobs")
    jobs = httpx.get(jobs_url, timeout=10).json()["jobs"]
    assert [j["status"] for j in jobs] == ["done"]
    stored = jobs[0]["result"]
    for key in ("total_return", "max_drawdown", "trades", "final_equity"):
        assert stored[key] == pushed["result"][key]


def test_logs_are_json_lines_naming_the_strategy_and_leak_no_secret(stack):
    httpx.get(stack.url("PERIPH_BACKEND_PORT", "/api/strategies"), timeout=10)
    logs = stack("logs", "--no-color", "--no-log-prefix", "backend", "worker").stdout
    lines = [json.loads(line) for line in logs.splitlines() if line.startswith("{")]
    assert any(r.get("msg") == "request" and r.get("route") == "GET /api/strategies" for r in lines)
    assert any(r.get("service") == "worker" and "strategy_id" in r for r in lines)
    everything = stack("logs", "--no-color").stdout
    for key in ("DB_PASSWORD", "REDIS_PASSWORD", "JWT_SECRET"):
        assert stack.values[key] not in everything, f"{key} leaked into logs"


def test_metrics_count_enqueued_and_processed_jobs(stack):
    httpx.get(stack.url("PERIPH_BACKEND_PORT", "/api/strategies"), timeout=10)
    backend = httpx.get(stack.url("PERIPH_BACKEND_PORT", "/metrics"), timeout=10).text
    worker = httpx.get(stack.url("PERIPH_WORKER_METRICS_PORT", "/metrics"), timeout=10).text
    assert "backend_jobs_enqueued_total" in backend
    assert 'backend_http_requests_total{method="GET",route="GET /api/strategies"' in backend
    # Health checks (compose's every few seconds) are not requests the error ratio judges.
    assert 'route="GET /api/health"' not in backend
    assert "worker_jobs_processed_total" in worker


def test_stopping_the_cache_turns_health_503_naming_redis(stack):
    stack("stop", "cache")
    try:
        response = wait_until(
            lambda: (r := health(stack)).status_code == 503 and r, "health to report 503"
        )
        body = response.json()
        assert body["status"] == "degraded"
        assert body["checks"]["postgres"] == "ok"
        assert body["checks"]["redis"].startswith("error")
        assert stack.values["REDIS_PASSWORD"] not in response.text
    finally:
        stack("start", "cache")
        wait_until(lambda: health(stack).status_code == 200, "health to recover", timeout=120)
