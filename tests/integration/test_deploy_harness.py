"""Shared set-up for the deploy tests: pushed images, a throw-away project, a flaky proxy.

- ``pushed_images``: two versions (v1, v2) of a tiny image built FROM the debian stand-in,
  pushed under the five service names; kwok runs no containers, the images only need to
  exist in the registry at their digests.
- ``make_project``: a git repository on the environment's branch holding a copy of k8s/,
  .env.example, a periph.toml pointing at a test namespace of the kwok cluster, the release
  pins and a valid secrets file with recognisable secret values.
- ``FlakyProxy``: a TCP proxy in front of the API server that can drop every connection
  and refuse new ones for a while, as an API server restart does.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from periph_env.common.process import run
from periph_env.testenv.node_config import pull_secret_document
from tests.fixtures import namespaces

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("backend", "frontend", "worker", "db", "cache")
DEPLOYMENTS = ("backend", "frontend", "worker")  # db and cache are StatefulSets
# Values no output, log, JSON document, history record or notification may contain.
SECRET_VALUES = (
    "sEcr3t-db-pass-XYZ",
    "redis-SECRET-pass-456-0123456789abcdef",
    "0123456789abcdef0123456789abcdef-jwt-SECRET-value",
    "smtp-SECRET-pw-123",
    "polygon-SECRET-key-789",
    "sk_test_SECRETstripe123",
    "SECRET-hook-path",
    "123456:SECRET-telegram-token",
)
ENV_FILE = """\
DB_HOST=db
DB_PORT=5432
DB_USER="peripheral"
DB_PASSWORD=sEcr3t-db-pass-XYZ
POSTGRES_DB=${{DB_USER}}_app
REDIS_HOST=cache
REDIS_PORT=6379
REDIS_PASSWORD=redis-SECRET-pass-456-0123456789abcdef
JWT_SECRET=0123456789abcdef0123456789abcdef-jwt-SECRET-value
SMTP_HOST=smtp.peripheral.internal
SMTP_PORT=587
SMTP_USER=no-reply@example.com
SMTP_PASSWORD=smtp-SECRET-pw-123
EMAIL_FROM_ADDRESS="Peripheral Support <support@peripheral.internal>"
POLYGON_API_KEY=polygon-SECRET-key-789
STRIPE_SECRET_KEY=sk_test_SECRETstripe123
STRIPE_PUBLISHABLE_KEY=pk_test_publishable123
VITE_PUBLIC_STRIPE_KEY=${{STRIPE_PUBLISHABLE_KEY}}
VITE_ENVIRONMENT={vite}
BACKEND_URL=https://demo.peripheral.internal
SLACK_WEBHOOK_URL={slack}
TELEGRAM_BOT_TOKEN={telegram}
TELEGRAM_CHAT_ID={chat}
"""


@dataclass(frozen=True)
class ImageSet:
    """References ``registry/peripheral-<svc>@sha256:...`` per version and service."""

    registry: str
    digests: dict[str, dict[str, str]]  # version -> service -> sha256:...

    def ref(self, version: str, service: str) -> str:
        """The pinned reference a Deployment's container should show."""
        return f"{self.registry}/peripheral-{service}@{self.digests[version][service]}"


_PUSHED: dict[str, ImageSet] = {}


def push_images(registry: Any, versions: tuple[str, ...] = ("v1", "v2")) -> ImageSet:
    """Build and push every version under the five names (once per session); their digests."""
    if registry.address in _PUSHED:
        return _PUSHED[registry.address]
    digests: dict[str, dict[str, str]] = {}
    with tempfile.TemporaryDirectory(prefix="periphtest-docker-") as config:
        env = {**os.environ, "DOCKER_CONFIG": config}
        run(
            ["docker", "login", registry.address, "-u", registry.username, "--password-stdin"],
            input=registry.password, env=env,
        )  # fmt: skip
        for version in versions:
            local = f"periphtest-deploy:{version}"
            dockerfile = f"FROM debian:bookworm-slim\nLABEL org.periph.test-version={version}\n"
            run(["docker", "build", "-q", "-t", local, "-"], input=dockerfile, env=env, timeout=300)
            digests[version] = {}
            for service in SERVICES:
                tag = f"{registry.address}/peripheral-{service}:{version}"
                run(["docker", "tag", local, tag], env=env)
                out = run(["docker", "push", tag], env=env, timeout=300).stdout
                digest = next(w for w in out.split() if w.startswith("sha256:"))
                digests[version][service] = digest
    _PUSHED[registry.address] = ImageSet(registry.address, digests)
    return _PUSHED[registry.address]


def edit_yaml(path: Path, change) -> None:
    """Load ``path``, let ``change`` edit the data in place, write it back."""
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def pin(
    root: Path, env: str, images: ImageSet, version: str, digest_override: dict | None = None
) -> None:
    """Write the release pins of ``env`` for ``version`` (as ``periph build --push`` would)."""

    def change(data: dict) -> None:
        data["images"] = [
            {
                "name": f"peripheral-{s}",
                "newName": f"{images.registry}/peripheral-{s}",
                "digest": (digest_override or {}).get(s, images.digests[version][s]),
            }
            for s in SERVICES
        ]

    edit_yaml(root / "k8s" / "overlays" / env / "release" / "kustomization.yaml", change)


def patch_overlay(root: Path, env: str, *patches: dict, migrate: bool = False) -> None:
    """Append kustomize patches to the overlay (or its migrate kustomization)."""
    directory = root / "k8s" / "overlays" / env / ("migrate" if migrate else "")
    edit_yaml(
        directory / "kustomization.yaml",
        lambda data: data.setdefault("patches", []).extend(patches),
    )


def json_patch(kind: str, name: str | None, *ops: dict) -> dict:
    """A kustomize JSON 6902 patch for objects of ``kind`` (and ``name``)."""
    target = {"kind": kind, **({"name": name} if name else {})}
    return {"target": target, "patch": yaml.safe_dump(list(ops))}


def git(root: Path, *args: str) -> str:
    """git in ``root`` with a fixed identity."""
    argv = ["git", "-C", str(root), "-c", "user.email=ci@periph.test", "-c", "user.name=ci"]
    return run([*argv, *args]).stdout


def commit(root: Path, message: str = "release") -> None:
    """Commit everything (the clean-tree guard wants a committed tree)."""
    git(root, "add", "-A")
    git(root, "commit", "-q", "--allow-empty", "-m", message)


def make_project(
    base: Path, env: str, namespace: str, context: str, images: ImageSet, slack_url: str
) -> Path:
    """A committed project deploying ``env`` into ``namespace`` with the v1 images pinned."""
    root = base / "project"
    shutil.copytree(ROOT / "k8s", root / "k8s")
    shutil.copy(ROOT / ".env.example", root / ".env.example")
    (root / "compose").mkdir()
    (root / "compose" / "compose.yaml").write_text("services: {}\n")
    (root / ".gitignore").write_text(".env\n.env.*\n!.env.example\n")
    prod = env == "prod"
    (root / "periph.toml").write_text(
        f'[images]\nregistry = "{images.registry}"\n\n'
        f"[environments.{env}]\n"
        f'branch = "{env}"\nnamespace = "{namespace}"\ncontext = "{context}"\n'
        f'overlay = "k8s/overlays/{env}"\ntag = "{env}"\nsecrets_file = ".env.{env}"\n'
        f"allow_branch_override = {'false' if prod else 'true'}\n"
    )
    vite = "production" if prod else "staging"
    # Notifications only where the test asks for them (a placeholder URL): never the internet.
    notify = not slack_url.startswith("<")
    text = ENV_FILE.format(
        vite=vite,
        slack=slack_url if notify else "",
        telegram="123456:SECRET-telegram-token" if notify else "",
        chat="4242" if notify else "",
    )
    if prod:
        text = text.replace("sk_test_", "sk_live_").replace("pk_test_", "pk_live_")
    (root / f".env.{env}").write_text(text)
    edit_yaml(
        root / "k8s" / "overlays" / env / "release" / "kustomization.yaml",
        lambda data: data.__setitem__("namespace", namespace),
    )
    pin(root, env, images, "v1")
    run(["git", "init", "-q", "-b", env, str(root)])
    commit(root, "initial")
    return root


def deploy_env(
    cluster: Any, registry: Any, xdg: Path, kubeconfig: Path | None = None
) -> dict[str, str]:
    """Process environment for periph: the test cluster, its kubectl, registry credentials."""
    return {
        "KUBECONFIG": str(kubeconfig or cluster.kubeconfig),
        "PERIPH_KUBECTL": str(cluster.bin_dir / "kubectl"),
        "PERIPH_REGISTRY_USERNAME": registry.username,
        "PERIPH_REGISTRY_PASSWORD": registry.password,
        "XDG_CONFIG_HOME": str(xdg),
    }


# The registry pull Secret every pod names (k8s/base): the deploy's pull-secrets guard
# refuses a namespace without it, so a test namespace gets it as a cluster admin creates it
# (docs/deploy-runbook.md, "Registry credentials in the cluster"). kwok never pulls, so its
# content only has to be a valid docker config.
PULL_SECRET = "peripheral-registry"


def new_namespace(cluster: Any, *, pull_secret: bool = True) -> str:
    """A fresh test namespace with its default ServiceAccount and the registry pull Secret."""
    name = f"periphtest-{secrets.token_hex(4)}"
    cluster.kubectl("create", "namespace", name)
    namespaces.label_owned(cluster.kubectl, name)
    cluster.kubectl("wait", "--for=create", "serviceaccount/default", "-n", name, "--timeout=60s")
    if pull_secret:
        add_pull_secret(cluster, name)
    return name


def add_pull_secret(cluster: Any, namespace: str) -> None:
    """Create the ``peripheral-registry`` dockerconfigjson Secret in ``namespace``."""
    doc = pull_secret_document(PULL_SECRET, namespace, "registry.invalid", "kwok", "never-pulls")
    cluster.kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(doc))


def drop_namespace(cluster: Any, name: str) -> None:
    """Delete a test namespace without waiting."""
    cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)


def images_of(cluster: Any, namespace: str) -> dict[str, str]:
    """Deployment name -> its first container's image."""
    out = cluster.kubectl("get", "deployments", "-n", namespace, "-o", "json").stdout
    return {
        d["metadata"]["name"]: d["spec"]["template"]["spec"]["containers"][0]["image"]
        for d in json.loads(out)["items"]
    }


class FlakyProxy:
    """A TCP proxy to the API server that can cut every connection, like a restart."""

    def __init__(self, upstream: str) -> None:
        host, port = upstream.removeprefix("https://").rsplit(":", 1)
        self.upstream = (host, int(port))
        self.server = socket.socket()
        self.server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(64)
        self.port = self.server.getsockname()[1]
        self.down_until = 0.0
        self.sockets: list[socket.socket] = []
        self.lock = threading.Lock()
        self.drops = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def kubeconfig(self, original: Path, target: Path) -> Path:
        """A copy of ``original`` whose clusters point at the proxy."""
        data = yaml.safe_load(original.read_text())
        for cluster in data["clusters"]:
            cluster["cluster"]["server"] = f"https://127.0.0.1:{self.port}"
        target.write_text(yaml.safe_dump(data))
        target.chmod(0o600)
        return target

    def outage(self, seconds: float) -> None:
        """Drop every open connection and refuse new ones for ``seconds``."""
        self.drops += 1
        with self.lock:
            self.down_until = time.monotonic() + seconds
            for s in self.sockets:
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                    s.close()
            self.sockets.clear()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            if time.monotonic() < self.down_until:
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self.lock:
                if time.monotonic() < self.down_until:  # an outage began meanwhile
                    client.close()
                    upstream.close()
                    continue
                self.sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.close()

    def close(self) -> None:
        """Stop accepting and cut everything."""
        self.outage(0)
        self.drops -= 1  # closing is not an outage
        self.server.close()


@contextlib.contextmanager
def receiver() -> Iterator[tuple[str, list[tuple[str, bytes]]]]:
    """A local HTTP server recording (path, body) of every POST; yields its base URL."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    received: list[tuple[str, bytes]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            received.append((self.path, body))
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b'{"ok": true}')

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", received
    finally:
        server.shutdown()


def periph_cli(
    root: Path, env: dict[str, str], *args: str, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    """Run ``periph ARGS`` in ``root`` as a user would (a separate process)."""
    import sys

    return subprocess.run(
        [sys.executable, "-m", "periph_env", *args],
        cwd=root, env={**os.environ, **env}, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip
