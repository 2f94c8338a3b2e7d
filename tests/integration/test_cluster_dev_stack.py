"""``periph up|ps|down --cluster`` on the real node: the dev stack in a namespace of its own.

One module project (a copy of services/ and compose/ whose periph.toml has a
[dev.cluster] table for the test cluster, placing pods on the real node, and a .env with
recognisable secrets) is brought up once by the CLI, as a developer runs it; the tests
read what the developer sees: ``ps --cluster``, HTTP through the forwards, and nothing
left after ``down --cluster``. They run in file order (``down`` last).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from periph_env.cluster import translate as t
from periph_env.cluster.forward import Forwarder
from periph_env.common.poll import wait_for
from periph_env.deploy.kube import Kube
from periph_env.testenv import node_config as ncfg

pytestmark = pytest.mark.node

ROOT = Path(__file__).resolve().parents[2]
NOT_COPIED = shutil.ignore_patterns(
    "node_modules", "build", ".svelte-kit", "__pycache__", ".venv", ".env", ".env.*"
)
SECRETS = {
    "DB_PASSWORD": "c26-db-SECRET-pass-Q8x",
    "JWT_SECRET": "c26-jwt-SECRET-0123456789abcdef0123",
}


class DevProject:
    """The copy, the environment ``periph`` runs with there, and the cluster."""

    def __init__(self, base: Path, cluster, registry) -> None:
        self.root = base / "project"
        for name in ("services", "compose"):
            shutil.copytree(ROOT / name, self.root / name, symlinks=True, ignore=NOT_COPIED)
        shutil.copy(ROOT / ".env.example", self.root / ".env.example")
        lines = (ROOT / ".env.example").read_text().splitlines()
        self.root.joinpath(".env").write_text(
            "\n".join(
                f"{k}={SECRETS[k]}" if (k := line.split("=", 1)[0]) in SECRETS else line
                for line in lines
            )
            + "\n"
        )
        self.user = f"c26-{secrets.token_hex(3)}"
        self.namespace = t.namespace_for(self.user)
        toleration = json.dumps(ncfg.REAL_NODE_TOLERATION).replace('":', '" =')
        selector = json.dumps(ncfg.REAL_NODE_SELECTOR).replace('":', '" =')
        config = (ROOT / "periph.toml").read_text() + (
            "\n[dev.cluster]\n"
            f'context = "{cluster.context}"\n'
            f'registry = "{registry.address}"\n'
            f'user = "{self.user}"\n'
            'storage = "ephemeral"\n'
            # The backend's dev server compiles at start: minutes on a loaded test machine.
            "timeout = 1500\n"
            f"node_selector = {selector}\n"
            f"tolerations = [{toleration}]\n"
        )
        (self.root / "periph.toml").write_text(config)
        self.cluster = cluster
        self.env = {
            "KUBECONFIG": str(cluster.kubeconfig),
            "XDG_CONFIG_HOME": str(base / "xdg"),
            "PERIPH_CACHE": str(base / "cache"),
            "PERIPH_REGISTRY_USERNAME": registry.username,
            "PERIPH_REGISTRY_PASSWORD": registry.password,
            "PERIPH_PROJECT": str(self.root),
        }

    def periph(self, *args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
        """``periph ARGS`` in the copy, as a separate process."""
        return subprocess.run(
            [sys.executable, "-m", "periph_env", *args],
            cwd=self.root, env={**os.environ, **self.env},
            capture_output=True, text=True, timeout=timeout,
        )  # fmt: skip

    def ps(self) -> dict[str, dict]:
        out = self.periph("ps", "--cluster", "--format", "json", timeout=120)
        assert out.returncode == 0, out.stderr
        return {s["service"]: s for s in json.loads(out.stdout)}

    def kube(self) -> Kube:
        os.environ["KUBECONFIG"] = self.env["KUBECONFIG"]
        return Kube(self.cluster.context, self.namespace)


def assert_no_secret(text: str) -> None:
    leaked = [name for name, value in SECRETS.items() if value in text]
    assert not leaked, f"secret values of {leaked} were printed"


@pytest.fixture(scope="module")
def dev(tmp_path_factory, real_node, registry):
    """The dev stack brought up by ``periph up --cluster --no-forward``; taken down after."""
    project = DevProject(tmp_path_factory.mktemp("cluster-dev"), real_node.cluster, registry)
    up = project.periph("up", "--cluster", "--no-forward")
    project.up_output = up.stdout + up.stderr
    try:
        assert up.returncode == 0, project.up_output[-4000:]
        yield project
    finally:
        project.periph("down", "--cluster", timeout=300)


@pytest.fixture(scope="module")
def forwarder(dev):
    """The stack's forwards on free local ports, in this process."""
    from periph_env.cluster import translate as tr

    forwards = [tr.Forward(s, port, 0) for s, port in (("backend", 5058), ("frontend", 5173))]
    fwd = Forwarder(dev.kube(), dev.namespace, forwards, publish=False).start()
    yield fwd
    fwd.stop()


def local(forwarder: Forwarder, service: str) -> int:
    return next(s.local for s in forwarder.states if s.service == service)


def http_status(url: str) -> int:
    with urllib.request.urlopen(url, timeout=60) as answer:
        return answer.status


def test_up_cluster_brings_every_service_ready(dev):
    states = dev.ps()
    assert {n: s["status"] for n, s in states.items()} == {
        "db": "Ready", "cache": "Ready", "backend": "Ready", "worker": "Ready",
        "frontend": "Ready", "migrate": "Completed",
    }  # fmt: skip


def test_no_secret_value_is_printed_by_up_or_ps(dev):
    assert "stack ready in namespace " + dev.namespace in dev.up_output
    assert_no_secret(dev.up_output)
    out = dev.periph("ps", "--cluster", timeout=120)
    assert_no_secret(out.stdout + out.stderr)


def test_api_health_answers_200_through_the_forward(forwarder):
    assert http_status(f"http://127.0.0.1:{local(forwarder, 'backend')}/api/health") == 200


def test_the_frontend_is_served_through_its_forward(forwarder):
    assert http_status(f"http://127.0.0.1:{local(forwarder, 'frontend')}/") == 200


def test_deleting_the_backend_pod_keeps_the_forward_working(dev, forwarder):
    url = f"http://127.0.0.1:{local(forwarder, 'backend')}/api/health"
    assert http_status(url) == 200
    old = dev.ps()["backend"]["pod"]
    dev.cluster.kubectl("delete", "pod", "-n", dev.namespace, old, "--wait=false")
    new = wait_for(
        lambda: (s := dev.ps()["backend"])["ready"] and s["pod"] != old and s["pod"],
        "a new backend pod to be Ready",
        timeout=300,
        every=1,
    )
    assert http_status(url) == 200
    backend = next(s for s in forwarder.states if s.service == "backend")
    assert backend.pod == new and backend.state == f"forwarding to {new}"


@pytest.fixture
def cluster_stack(dev, monkeypatch):
    """The dev stack's engine in this process (what ``up --cluster --watch`` runs)."""
    from periph_env.cluster.config import load
    from periph_env.cluster.engine import ClusterStack
    from periph_env.stack import Stack

    for key, value in dev.env.items():
        monkeypatch.setenv(key, value)
    stack = Stack(root=dev.root)
    return ClusterStack(stack, load(dev.root, None))


def test_a_worker_edit_reloads_in_the_pod_with_its_marker_seen(dev, cluster_stack):
    source = dev.root / "services/worker/peripheral_worker/__init__.py"
    line = f"# edited by the cluster test {secrets.token_hex(4)}\n"
    source.write_text(source.read_text() + line)
    [event] = cluster_stack.pod_sync().apply([source])
    assert (event.service, event.kind, event.ok, event.note) == ("worker", "sync", True, None)
    assert event.synced_at <= event.serving_at, event.breakdown()
    pod = cluster_stack.ready_pod("worker")
    inside = dev.cluster.kubectl(
        "exec", "-n", dev.namespace, pod, "--", "cat", "/app/peripheral_worker/__init__.py"
    ).stdout
    assert inside.endswith(line)


def test_up_again_forwards_in_the_foreground_and_ps_shows_each_forward(dev):
    up = subprocess.Popen(
        [sys.executable, "-m", "periph_env", "up", "--cluster", "--watch"],
        cwd=dev.root, env={**os.environ, **dev.env, "PERIPH_CLUSTER_PORT_OFFSET": "any"},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        forward = wait_for(
            lambda: up.poll() is None and dev.ps()["backend"]["forward"],
            "ps --cluster to show the backend's forward",
            timeout=600,
            every=2,
        )
        assert forward["remote"] == 5058 and forward["state"] == "listening"
        assert http_status(f"http://127.0.0.1:{forward['local']}/api/health") == 200
        assert dev.ps()["backend"]["forward"]["state"].startswith("forwarding to backend-")
    finally:
        up.send_signal(signal.SIGINT)
        output = up.communicate(timeout=120)[0]
    assert up.returncode == 0, output[-3000:]
    assert "stopped forwarding and watching" in output
    assert_no_secret(output)
    assert dev.ps()["backend"]["forward"] is None  # the forwarding process is gone


def test_down_cluster_leaves_no_object(dev):
    out = dev.periph("down", "--cluster", timeout=300)
    assert out.returncode == 0, out.stderr
    assert_no_secret(out.stdout + out.stderr)
    listing = dev.cluster.kubectl(
        "get", "all,secrets,configmaps,pvc,resourcequotas,limitranges", "-A",
        "-l", t.selector(dev.user), "-o", "name",
    ).stdout  # fmt: skip
    assert listing.strip() == ""
    gone = dev.cluster.kubectl("get", "namespace", dev.namespace, check=False)
    assert gone.returncode != 0 and "NotFound" in gone.stderr
