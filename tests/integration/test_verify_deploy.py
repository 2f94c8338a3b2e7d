"""`periph deploy --verify` end to end, with the backend and frontend on the real node.

A throw-away project (test_deploy_harness.make_project) deploys demo into a namespace of
its own: db, cache, worker and the migration Job run on kwok's simulated nodes; backend and
frontend are patched onto the real node (kwok pods run no containers, and the watch scrapes
real ``/metrics``). Their image is a tiny HTTP server built FROM the python stand-in that
answers like the backend (/api/health, /api/strategies, /healthz, /livez, /readyz, /metrics with
``backend_http_requests_total``), in three builds:

- good: every route answers;
- bad: ``GET /api/orders`` answers 500, and a test client keeps calling it;
- broken: ``GET /api/strategies`` answers 500 (a smoke check fails; readiness still passes).

The scenarios run in order on one environment (pods are slow to start on two cores).
"""

from __future__ import annotations

import json
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from periph_env.common.process import run
from periph_env.deploy import Options, deploy, read_history
from periph_env.deploy import events as ev
from periph_env.deploy.kube import Kube
from periph_env.deploy.verify import proxy_get
from periph_env.testenv import node_config as ncfg
from tests.integration.test_deploy_harness import (
    SECRET_VALUES,
    commit,
    deploy_env,
    drop_namespace,
    images_of,
    json_patch,
    make_project,
    new_namespace,
    patch_overlay,
    periph_cli,
    pin,
    push_images,
    receiver,
)

pytestmark = [pytest.mark.k8s, pytest.mark.registry, pytest.mark.node]

PULL_SECRET = "periph-registry"
WINDOW = 10  # seconds of error-rate watch per deploy (the default is minutes)
SERVER = r"""
import os, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

FAIL = {r for r in os.environ.get("FAIL_ROUTES", "").split(",") if r}
COUNTS, LOCK = {}, threading.Lock()


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        path = self.path.split("?")[0]
        port = self.server.server_port
        if port == 9091:
            if path == "/metrics":
                with LOCK:
                    lines = [
                        'backend_http_requests_total{method="GET",route="GET %s",status="%d"} %d'
                        % (route, status, n) for (route, status), n in sorted(COUNTS.items())
                    ]
                body = "# TYPE backend_http_requests_total counter\n" + "\n".join(lines)
                status = 200
            else:
                # The backend's internal probes: /livez, and /readyz (readiness since the
                # drain work: 503 while draining, else the database check).
                ok = path in ("/livez", "/readyz")
                status, body = (200, "ok") if ok else (404, "not found")
        elif path in FAIL:
            status, body = 500, '{"error":"internal"}'
        elif path in ("/api/health", "/healthz"):
            status, body = 200, '{"status":"ok"}'
        elif path == "/api/strategies":
            status, body = 200, "[]"
        elif path.startswith("/api/"):
            status, body = 200, "{}"
        else:
            status, body = 404, "not found"
        if port == 5058:
            with LOCK:
                COUNTS[(path, status)] = COUNTS.get((path, status), 0) + 1
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


servers = [ThreadingHTTPServer(("", int(p)), Handler) for p in os.environ["PORTS"].split(",")]
for s in servers[1:]:
    threading.Thread(target=s.serve_forever, daemon=True).start()
servers[0].serve_forever()
"""
BUILDS = {"good": "", "bad": "/api/orders", "broken": "/api/strategies"}


def push_builds(registry: Any) -> dict[str, str]:
    """Each build pushed as peripheral-backend and peripheral-frontend: build -> digest."""
    digests: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="periphtest-verify-") as tmp:
        context = Path(tmp) / "context"
        context.mkdir()
        (context / "server.py").write_text(SERVER)
        config = str(Path(tmp) / "docker")
        docker = ["docker", "--config", config]
        run(
            [*docker, "login", registry.address, "-u", registry.username, "--password-stdin"],
            input=registry.password,
        )
        for build, fail in BUILDS.items():
            (context / "Dockerfile").write_text(
                "FROM python:3.11-slim-bookworm\nCOPY server.py /srv/server.py\n"
                f'ENV PYTHONDONTWRITEBYTECODE=1 PORTS=5058,9091,3000 FAIL_ROUTES="{fail}"\n'
                'CMD ["python", "/srv/server.py"]\n'
            )
            local = f"periphtest-verify:{build}"
            run([*docker, "build", "-q", "-t", local, str(context)], timeout=300)
            for service in ("backend", "frontend"):
                tag = f"{registry.address}/peripheral-{service}:verify-{build}"
                run([*docker, "tag", local, tag])
                out = run([*docker, "push", tag], timeout=300).stdout
                # Same image, same digest under both names.
                digests[build] = next(w for w in out.split() if w.startswith("sha256:"))
    return digests


def on_real_node(name: str) -> dict:
    """Patch a Deployment onto the real node, pulling with the namespace's secret."""
    return json_patch(
        "Deployment", name,
        {"op": "add", "path": "/spec/template/spec/nodeSelector", "value": ncfg.REAL_NODE_SELECTOR},
        {"op": "add", "path": "/spec/template/spec/tolerations",
         "value": [ncfg.REAL_NODE_TOLERATION]},
        {"op": "add", "path": "/spec/template/spec/imagePullSecrets",
         "value": [{"name": PULL_SECRET}]},
    )  # fmt: skip


class Env:
    """The module's demo environment and what its scenarios leave behind."""

    def __init__(self, root: Path, namespace: str, env: dict[str, str], images: Any):
        self.root, self.namespace, self.env, self.images = root, namespace, env, images
        self.digests: dict[str, str] = {}
        self.received: list[tuple[str, bytes]] = []
        self.cluster: Any = None
        self.first: list[tuple[float, ev.Event]] = []

    def release(self, build: str) -> None:
        """Pin ``build`` for backend and frontend (v1 for the rest) and commit."""
        digest = self.digests[build]
        pin(self.root, "demo", self.images, "v1", {"backend": digest, "frontend": digest})
        commit(self.root, f"release {build}")

    def deploy(self, **options: Any) -> list[tuple[float, ev.Event]]:
        """Drive the engine in-process; each event with the time it arrived."""
        return [(time.monotonic(), e) for e in deploy(self.root, "demo", Options(**options))]


class Traffic:
    """A client calling ``GET /api/orders`` through the backend Service, as users would."""

    def __init__(self, kube: Kube) -> None:
        self.kube, self.stop, self.answers = kube, threading.Event(), 0
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        path = f"/api/v1/namespaces/{self.kube.namespace}/services/backend:5058/proxy/api/orders"
        while not self.stop.is_set():
            status, _ = proxy_get(self.kube, path, timeout=5)
            self.answers += status is not None
            self.stop.wait(0.1)


@pytest.fixture(scope="module")
def demo(
    real_node: Any, kube_cluster: Any, registry: Any, base_images: Any,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Env]:  # fmt: skip
    """demo with the good build on the real node, deployed (and verified) once."""
    base = tmp_path_factory.mktemp("verify")
    ns = new_namespace(kube_cluster)
    secret = ncfg.pull_secret_document(
        PULL_SECRET, ns, registry.address, registry.username, registry.password
    )
    kube_cluster.kubectl("apply", "-f", "-", input=json.dumps(secret))
    images = push_images(registry)
    with receiver() as (url, received), pytest.MonkeyPatch.context() as mp:
        env = {
            **deploy_env(kube_cluster, registry, base / "xdg"),
            "PERIPH_TELEGRAM_API_URL": f"{url}/telegram",
        }
        for key, value in env.items():
            mp.setenv(key, value)
        root = make_project(
            base, "demo", ns, kube_cluster.context, images, f"{url}/slack/SECRET-hook-path"
        )
        with (root / "periph.toml").open("a") as toml:
            toml.write(
                f'\n[verify]\nwatch_window = "{WINDOW}s"\nscrape_interval = "2s"\n'
                "min_requests = 5\nmax_error_ratio = 0.05\n"
            )
        patch_overlay(root, "demo", on_real_node("backend"), on_real_node("frontend"))
        state = Env(root, ns, env, images)
        state.received = received
        state.cluster = kube_cluster
        state.digests = push_builds(registry)
        state.release("good")
        traffic = Traffic(Kube(kube_cluster.context, ns))
        traffic.thread.start()
        state.first = state.deploy(verify=True, auto_rollback=True)
        try:
            yield state
        finally:
            traffic.stop.set()
            traffic.thread.join(10)
            drop_namespace(kube_cluster, ns)


def finished(events: list[tuple[float, ev.Event]]) -> ev.Finished:
    last = events[-1][1]
    assert isinstance(last, ev.Finished), last
    return last


def of(events: list[tuple[float, ev.Event]], kind: type) -> list[Any]:
    return [e for _, e in events if isinstance(e, kind)]


def test_a_good_release_passes_every_check_and_the_watch(demo: Env) -> None:
    end = finished(demo.first)
    assert (end.result, end.exit_code) == ("succeeded", 0), end.message
    checks = of(demo.first, ev.VerifyCheck)
    assert [(c.name, c.ok, c.status) for c in checks] == [
        ("api-health", True, 200),
        ("frontend-healthz", True, 200),
        ("api-strategies", True, 200),
    ]
    samples = of(demo.first, ev.ErrorRateSample)
    assert samples[-1].elapsed >= WINDOW and not samples[-1].failed
    assert samples[-1].requests >= 5 and samples[-1].errors == 0
    record = read_history(demo.root, "demo")[0]
    assert record.status == "succeeded" and record.verification["ok"] is True
    assert [c["name"] for c in record.verification["checks"]] == [c.name for c in checks]


def test_a_release_answering_500_fails_the_watch_and_rolls_back_on_its_own(demo: Env) -> None:
    good = images_of_backend(demo)
    demo.release("bad")
    events = demo.deploy(verify=True, auto_rollback=True)
    end = finished(events)
    assert (end.result, end.exit_code) == ("rolled-back", 1), end.message
    assert "verification failed: error-rate watch: 5xx ratio" in end.message
    failing = [s for s in of(events, ev.ErrorRateSample) if s.failed]
    assert failing and failing[0].ratio > 0.05
    assert of(events, ev.RolledBack)[0].ok
    verify_at = next(t for t, e in events if isinstance(e, ev.Step) and e.name == "verify")
    rollback_at = next(t for t, e in events if isinstance(e, ev.Step) and e.name == "rollback")
    assert rollback_at - verify_at < WINDOW + 15  # the bound, scaled to the window
    assert images_of_backend(demo) == good
    record = read_history(demo.root, "demo")[0]
    assert record.status == "rolled-back" and "5xx ratio" in record.message
    assert record.verification["error_rate"]["errors"] > 0
    slack = [json.loads(body) for path, body in demo.received if path.startswith("/slack")]
    assert any("5xx ratio" in m["text"] for m in slack)
    for _, body in demo.received:
        assert not any(secret.encode() in body for secret in SECRET_VALUES)


def test_a_failing_smoke_check_stops_the_deploy_with_its_reason(demo: Env) -> None:
    demo.release("broken")
    events = demo.deploy(verify=True)
    end = finished(events)
    assert (end.result, end.exit_code) == ("failed", 1)
    assert "api-strategies (backend:5058/api/strategies) answered 500" in end.message
    assert not of(events, ev.ErrorRateSample)  # the watch never started
    record = read_history(demo.root, "demo")[0]
    assert record.status == "failed" and "api-strategies" in record.message
    assert not any(secret in end.message for secret in SECRET_VALUES)


def test_monitoring_is_skipped_with_a_notice_without_the_operator_crds(demo: Env) -> None:
    notes = [n.text for n in of(demo.first, ev.Note)]
    assert any(t.startswith("monitoring skipped: the cluster has no prom") for t in notes)


def test_periph_verify_reports_the_failing_check_of_what_is_deployed(demo: Env) -> None:
    proc = periph_cli(demo.root, demo.env, "verify", "demo", "--watch-window", "0")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "FAIL api-strategies GET backend:5058/api/strategies: answered 500" in proc.stdout
    assert "ok   api-health" in proc.stdout


def images_of_backend(demo: Env) -> str:
    return images_of(demo.cluster, demo.namespace)["backend"]
