"""`periph deploy demo --canary` on the real node: a bad canary is aborted, a good one promoted.

The environment is test_verify_deploy's: a throw-away demo project whose backend and
frontend run on the real node as the tiny HTTP stand-in (its ``/metrics`` counts
``backend_http_requests_total`` by status), two backend pods (the HPA's floor), db, cache and
worker on kwok's nodes. A client calls ``GET /api/orders`` through the backend Service (the
API server's service proxy, which picks one ready endpoint per request, as kube-proxy does)
for the whole module, one request at a time, never retrying: what it records is what a user
would have seen. Builds:

- good / good2: every route answers (two digests, so promoting good2 changes the pods);
- bad: ``GET /api/orders`` answers 500.
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
    commit,
    deploy_env,
    drop_namespace,
    images_of,
    make_project,
    new_namespace,
    patch_overlay,
    pin,
    push_images,
)
from tests.integration.test_verify_deploy import SERVER, on_real_node

pytestmark = [pytest.mark.k8s, pytest.mark.registry, pytest.mark.node]

PULL_SECRET = "periph-registry"
SCRAPE = 2.0  # seconds between scrapes (scrape_interval)
BUILDS = {"good": ("", "1"), "good2": ("", "2"), "bad": ("/api/orders", "1")}


def push_builds(registry: Any) -> dict[str, str]:
    """Each build pushed as peripheral-backend and peripheral-frontend: build -> digest."""
    digests: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="periphtest-canary-") as tmp:
        context = Path(tmp) / "context"
        context.mkdir()
        (context / "server.py").write_text(SERVER)
        docker = ["docker", "--config", str(Path(tmp) / "docker")]
        run(
            [*docker, "login", registry.address, "-u", registry.username, "--password-stdin"],
            input=registry.password,
        )
        for build, (fail, generation) in BUILDS.items():
            (context / "Dockerfile").write_text(
                "FROM python:3.11-slim-bookworm\nCOPY server.py /srv/server.py\n"
                f'ENV PYTHONDONTWRITEBYTECODE=1 PORTS=5058,9091,3000 FAIL_ROUTES="{fail}" '
                f"GENERATION={generation}\n"
                'CMD ["python", "/srv/server.py"]\n'
            )
            local = f"periphtest-canary:{build}"
            run([*docker, "build", "-q", "-t", local, str(context)], timeout=300)
            for service in ("backend", "frontend"):
                tag = f"{registry.address}/peripheral-{service}:canary-{build}"
                run([*docker, "tag", local, tag])
                out = run([*docker, "push", tag], timeout=300).stdout
                digests[build] = next(w for w in out.split() if w.startswith("sha256:"))
    return digests


class Client:
    """One request at a time to ``GET /api/orders`` through the Service, no retries: each
    answer with the times its request was sent and answered."""

    def __init__(self, kube: Kube) -> None:
        self.kube, self.stop = kube, threading.Event()
        self.answers: list[tuple[float, float, int | None]] = []
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        path = f"/api/v1/namespaces/{self.kube.namespace}/services/backend:5058/proxy/api/orders"
        while not self.stop.is_set():
            sent = time.monotonic()
            status, _ = proxy_get(self.kube, path, timeout=5)
            self.answers.append((sent, time.monotonic(), status))
            self.stop.wait(0.05)

    def since(self, moment: float) -> list[int | None]:
        """Statuses of the requests sent from ``moment`` on."""
        return [status for sent, _, status in list(self.answers) if sent >= moment]


class Env:
    """The module's demo environment."""

    def __init__(self, root: Path, namespace: str, cluster: Any, images: Any) -> None:
        self.root, self.namespace, self.cluster, self.images = root, namespace, cluster, images
        self.digests: dict[str, str] = {}
        self.client: Client | None = None

    def release(self, build: str) -> None:
        digest = self.digests[build]
        pin(self.root, "demo", self.images, "v1", {"backend": digest, "frontend": digest})
        commit(self.root, f"release {build}")

    def deploy(self, **options: Any) -> list[tuple[float, ev.Event]]:
        return [(time.monotonic(), e) for e in deploy(self.root, "demo", Options(**options))]

    def get(self, *args: str) -> dict[str, Any]:
        out = self.cluster.kubectl("-n", self.namespace, "get", *args, "-o", "json").stdout
        return json.loads(out)

    def backend_pods(self) -> set[str]:
        """The old backend pods: running, not the canary's."""
        pods = self.get("pods", "-l", "app.kubernetes.io/name=backend")["items"]
        return {
            p["metadata"]["name"] for p in pods
            if "periph.dev/track" not in p["metadata"].get("labels", {})
            and not p["metadata"].get("deletionTimestamp")
        }  # fmt: skip


@pytest.fixture(scope="module")
def demo(
    real_node: Any, kube_cluster: Any, registry: Any, base_images: Any,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Env]:  # fmt: skip
    """demo with the good build on the real node, deployed once, and the client running."""
    base = tmp_path_factory.mktemp("canary")
    ns = new_namespace(kube_cluster)
    secret = ncfg.pull_secret_document(
        PULL_SECRET, ns, registry.address, registry.username, registry.password
    )
    kube_cluster.kubectl("apply", "-f", "-", input=json.dumps(secret))
    images = push_images(registry)
    with pytest.MonkeyPatch.context() as mp:
        for key, value in deploy_env(kube_cluster, registry, base / "xdg").items():
            mp.setenv(key, value)
        root = make_project(base, "demo", ns, kube_cluster.context, images, "<none>")
        with (root / "periph.toml").open("a") as toml:
            toml.write(
                f'\n[verify]\nwatch_window = "10s"\nscrape_interval = "{SCRAPE:.0f}s"\n'
                "min_requests = 5\nmax_error_ratio = 0.05\n"
            )
        patch_overlay(root, "demo", on_real_node("backend"), on_real_node("frontend"))
        state = Env(root, ns, kube_cluster, images)
        state.digests = push_builds(registry)
        state.release("good")
        first = state.deploy()
        assert first[-1][1].result == "succeeded", first[-1][1]
        state.client = Client(Kube(kube_cluster.context, ns))
        state.client.thread.start()
        try:
            yield state
        finally:
            state.client.stop.set()
            state.client.thread.join(10)
            drop_namespace(kube_cluster, ns)


def of(events: list[tuple[float, ev.Event]], kind: type) -> list[tuple[float, Any]]:
    return [(t, e) for t, e in events if isinstance(e, kind)]


def test_a_bad_canary_is_aborted_and_the_client_sees_only_the_old_pods_after(demo: Env) -> None:
    """Asserted precisely: the deploy ends failed with the canary's figures; only the canary
    was created and it is gone; the old pods are the same pods on the same image and their
    own counters show no 5xx over the canary's window; every request the client sent from
    one scrape interval after the abort on was answered 200 (the bench's bound)."""
    good, old_pods = images_of(demo.cluster, demo.namespace)["backend"], demo.backend_pods()
    demo.release("bad")
    events = demo.deploy(canary=True, canary_window=60)
    end = events[-1][1]
    assert (end.result, end.exit_code) == ("failed", 1), end.message
    assert end.message.startswith("canary aborted: canary ")
    assert "above the threshold 5.0% and the old pods' ratio; nothing else changed" in end.message
    aborted_at, failing = next((t, e) for t, e in of(events, ev.CanarySample) if e.failed)
    assert failing.canary_ratio > 0.05 and failing.elapsed < 60  # decided early, not at the end
    assert not [e for _, e in events if isinstance(e, ev.Step) and e.name == "deployments"]
    assert images_of(demo.cluster, demo.namespace)["backend"] == good
    assert demo.backend_pods() == old_pods
    deployments = [d["metadata"]["name"] for d in demo.get("deployments")["items"]]
    assert "backend-canary" not in deployments
    record = read_history(demo.root, "demo")[0]
    figures = record.verification["canary"]
    assert (record.status, figures["outcome"]) == ("failed", "aborted")
    assert figures["canary"]["errors"] >= 5 and figures["baseline"]["errors"] == 0
    assert figures["baseline"]["requests"] > 0
    time.sleep(2 * SCRAPE)  # let the client send requests after the bound
    after = demo.client.since(aborted_at + SCRAPE) if demo.client else []
    assert after and set(after) == {200}, after


def test_a_good_canary_is_promoted_and_removed(demo: Env) -> None:
    demo.release("good2")
    events = demo.deploy(canary=True, canary_window=12)
    end = events[-1][1]
    assert (end.result, end.exit_code) == ("succeeded", 0), end.message
    assert end.message == "canary promoted, rolled out"
    last = of(events, ev.CanarySample)[-1][1]
    assert not last.failed and last.elapsed >= 12 and last.canary_requests >= 5
    steps = [e.name for _, e in events if isinstance(e, ev.Step) and e.seconds is None]
    assert steps.index("canary") < steps.index("deployments")
    new = f"{demo.images.registry}/peripheral-backend@{demo.digests['good2']}"
    assert images_of(demo.cluster, demo.namespace)["backend"] == new
    deployments = [d["metadata"]["name"] for d in demo.get("deployments")["items"]]
    assert "backend-canary" not in deployments
    record = read_history(demo.root, "demo")[0]
    figures = record.verification["canary"]
    assert (record.status, figures["outcome"]) == ("succeeded", "promoted")
    assert figures["canary"]["errors"] == 0 and figures["canary"]["requests"] >= 5


def test_a_canary_of_a_release_changing_a_secret_is_refused_naming_it(demo: Env) -> None:
    env_file = demo.root / ".env.demo"
    before = env_file.read_text()
    assert "-jwt-SECRET-value" in before
    env_file.write_text(before.replace("-jwt-SECRET-value", "-jwt-SECRET-value-rotated"))
    try:
        events = demo.deploy(canary=True, dry_run=True)
    finally:
        env_file.write_text(before)
    end = events[-1][1]
    assert (end.result, end.exit_code) == ("refused", 2), end.message
    assert end.message.startswith("--canary judges new pods against the live objects, but ")
    assert "Secret/" in end.message and " changed" in end.message
    assert end.hint == "deploy those changes without --canary first"


def test_a_canary_left_behind_is_removed_by_the_next_deploy(demo: Env) -> None:
    from periph_env.deploy.canary_judge import canary_deployment

    live = demo.get("deployment", "backend")
    for key in ("resourceVersion", "uid", "creationTimestamp", "generation", "managedFields"):
        live["metadata"].pop(key, None)
    live["metadata"].pop("annotations", None)
    demo.cluster.kubectl(
        "-n", demo.namespace, "apply", "-f", "-", input=json.dumps(canary_deployment(live))
    )
    events = demo.deploy()
    assert events[-1][1].result == "succeeded", events[-1][1]
    notes = [e.text for _, e in events if isinstance(e, ev.Note)]
    assert "backend-canary removed: a canary left behind by an earlier deploy" in notes
    deployments = [d["metadata"]["name"] for d in demo.get("deployments")["items"]]
    assert "backend-canary" not in deployments
