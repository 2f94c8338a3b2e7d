"""A throw-away copy of this project that deploys demo onto the real node with real images.

``DemoProject.create`` copies services/, k8s/ and compose/ with a periph.toml pointing at
the test registry and a fresh namespace of the test cluster, commits it on branch ``demo``,
and adds one kustomize Component, ``k8s/components/real-node``, to the demo overlay, its
migrate Job and its persistent objects. That component is the only difference from what a
maintainer deploys, and it changes placement only:

- every pod template (Deployments, StatefulSets, the migrate Job, the backup CronJob) gets
  the real node's selector and toleration and the registry's imagePullSecret;
- every claim (the StatefulSets' templates and the backup claims) gets the node's local
  StorageClass at the size of its volumes.

Images are built and pinned by ``periph build --pin demo`` itself, so the prod images of
this checkout are what runs.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from periph_env.testenv import node_config as ncfg
from tests.fixtures import namespaces
from tests.integration.test_deploy_harness import ENV_FILE, SECRET_VALUES, commit, edit_yaml

ROOT = Path(__file__).resolve().parents[2]
PULL_SECRET = "periph-registry"
COPIED = ("services", "k8s", "compose")
# Build output and dependencies the images make themselves; copying them is slow and
# they are .dockerignored anyway.
NOT_COPIED = shutil.ignore_patterns(
    "node_modules", "build", ".svelte-kit", "__pycache__", ".venv", ".env", ".env.*"
)


def real_node_component() -> dict[str, Any]:
    """The kustomize Component placing every pod and claim of the stack on the real node."""

    def pod_ops(prefix: str) -> list[dict[str, Any]]:
        return [
            {"op": "add", "path": f"{prefix}/nodeSelector", "value": ncfg.REAL_NODE_SELECTOR},
            {"op": "add", "path": f"{prefix}/tolerations", "value": [ncfg.REAL_NODE_TOLERATION]},
            {"op": "add", "path": f"{prefix}/imagePullSecrets", "value": [{"name": PULL_SECRET}]},
        ]

    def claim_ops(prefix: str) -> list[dict[str, Any]]:
        return [
            {"op": "add", "path": f"{prefix}/storageClassName", "value": ncfg.STORAGE_CLASS},
            {
                "op": "replace",
                "path": f"{prefix}/resources/requests/storage",
                "value": ncfg.LOCAL_VOLUME_SIZE,
            },
        ]

    def patch(kind: str, ops: list[dict[str, Any]]) -> dict[str, Any]:
        return {"target": {"kind": kind}, "patch": yaml.safe_dump(ops)}

    return {
        "apiVersion": "kustomize.config.k8s.io/v1alpha1",
        "kind": "Component",
        "patches": [
            *(patch(kind, pod_ops("/spec/template/spec")) for kind in ("Deployment", "Job")),
            patch("StatefulSet", pod_ops("/spec/template/spec")
                  + claim_ops("/spec/volumeClaimTemplates/0/spec")),
            patch("CronJob", pod_ops("/spec/jobTemplate/spec/template/spec")),
            patch("PersistentVolumeClaim", claim_ops("/spec")),
        ],
    }  # fmt: skip


@dataclass
class DemoProject:
    """The copy, the environment periph runs with there, and kubectl on its namespace."""

    root: Path
    namespace: str
    cluster: Any
    env: dict[str, str] = field(default_factory=dict)

    @classmethod
    def create(cls, base: Path, cluster: Any, registry: Any) -> DemoProject:
        """Copy the project, point it at ``registry`` and a new namespace, commit on demo."""
        root = base / "project"
        for name in COPIED:
            shutil.copytree(ROOT / name, root / name, symlinks=True, ignore=NOT_COPIED)
        shutil.copy(ROOT / ".env.example", root / ".env.example")
        (root / ".gitignore").write_text(".env\n.env.*\n!.env.example\n")
        namespace = f"periphdemo-{secrets.token_hex(4)}"
        config = (ROOT / "periph.toml").read_text()
        for old, new in (
            ('registry = "127.0.0.1:5000"', f'registry = "{registry.address}"'),
            ('namespace = "peripheral-demo"', f'namespace = "{namespace}"'),
            ('context = "peripheral-demo"', f'context = "{cluster.context}"'),
        ):
            assert old in config, f"periph.toml no longer has {old}"
            config = config.replace(old, new)
        (root / "periph.toml").write_text(config)
        (root / ".env.demo").write_text(
            ENV_FILE.format(vite="staging", slack="", telegram="", chat="")
        )
        demo = root / "k8s" / "overlays" / "demo"
        edit_yaml(demo / "release" / "kustomization.yaml", lambda d: d.update(namespace=namespace))
        component = root / "k8s" / "components" / "real-node"
        component.mkdir(parents=True)
        (component / "kustomization.yaml").write_text(yaml.safe_dump(real_node_component()))
        for sub in ("", "migrate", "persistent"):
            rel = os.path.relpath(component, demo / sub)
            edit_yaml(
                demo / sub / "kustomization.yaml",
                lambda d, rel=rel: d.setdefault("components", []).append(rel),
            )
        subprocess.run(["git", "init", "-q", "-b", "demo", str(root)], check=True)
        commit(root, "demo on the real node")
        docker_config = base / "docker"
        docker_config.mkdir()
        env = {
            "KUBECONFIG": str(cluster.kubeconfig),
            "PERIPH_KUBECTL": str(cluster.bin_dir / "kubectl"),
            "XDG_CONFIG_HOME": str(base / "xdg"),
            "DOCKER_CONFIG": str(docker_config),
            # `periph build --push` logs in with these; the deploy's image guard reads these.
            "DOCKER_USERNAME": registry.username,
            "DOCKER_PASSWORD": registry.password,
            "PERIPH_REGISTRY_USERNAME": registry.username,
            "PERIPH_REGISTRY_PASSWORD": registry.password,
        }
        return cls(root, namespace, cluster, env)

    def periph(self, *args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
        """``periph ARGS`` in the copy, as a separate process (what a maintainer runs)."""
        return subprocess.run(
            [sys.executable, "-m", "periph_env", *args],
            cwd=self.root, env={**os.environ, **self.env},
            capture_output=True, text=True, timeout=timeout,
        )  # fmt: skip

    def kubectl(
        self, *args: str, check: bool = True, timeout: float = 120, input: str | None = None
    ):
        """kubectl on the namespace."""
        return self.cluster.kubectl(
            "-n", self.namespace, *args, check=check, timeout=timeout, input=input
        )

    def json(self, *args: str) -> dict[str, Any]:
        """``kubectl get ARGS -o json`` on the namespace."""
        return json.loads(self.kubectl("get", *args, "-o", "json").stdout)

    def commit(self, message: str) -> None:
        """Commit every change (the deploy's clean-tree guard wants a committed tree)."""
        commit(self.root, message)

    def create_namespace(self, registry: Any) -> None:
        """The namespace with the registry's pull secret, as a cluster admin prepares it."""
        self.cluster.kubectl("create", "namespace", self.namespace)
        namespaces.label_owned(self.cluster.kubectl, self.namespace)
        secret = ncfg.pull_secret_document(
            PULL_SECRET, self.namespace, registry.address, registry.username, registry.password
        )
        self.kubectl("apply", "-f", "-", input=yaml.safe_dump(secret))

    def delete_namespace(self) -> None:
        """Delete the namespace (its claims' volumes are recycled by the next ``up``)."""
        self.cluster.kubectl("delete", "namespace", self.namespace, "--wait=false", check=False)

    def image(self, deployment: str) -> str:
        """The image a Deployment's first container runs now."""
        dep = self.json("deployment", deployment)
        return dep["spec"]["template"]["spec"]["containers"][0]["image"]

    def pinned(self, service: str) -> str:
        """``registry/peripheral-<service>@sha256:...`` as pinned in the release component."""
        path = self.root / "k8s" / "overlays" / "demo" / "release" / "kustomization.yaml"
        for image in yaml.safe_load(path.read_text())["images"]:
            if image["name"] == f"peripheral-{service}":
                return f"{image['newName']}@{image['digest']}"
        raise AssertionError(f"peripheral-{service} is not pinned")

    def pin(self, service: str, reference: str) -> None:
        """Pin ``service`` to ``registry/repo@sha256:...`` by hand (as for a hotfix image)."""
        name, digest = reference.split("@")
        path = self.root / "k8s" / "overlays" / "demo" / "release" / "kustomization.yaml"

        def change(data: dict[str, Any]) -> None:
            for image in data["images"]:
                if image["name"] == f"peripheral-{service}":
                    image.update(newName=name, digest=digest)

        edit_yaml(path, change)


CRASHING_ENTRYPOINT = '["sh", "-c", "echo worker: fatal: cannot start >&2; exit 1"]'


def push_crashing_image(project: DemoProject, registry: Any, base: str) -> str:
    """``base`` with an entrypoint that exits 1, pushed; its pinned reference."""
    ref = f"{registry.address}/peripheral-worker:crash-{time.time_ns()}"
    dockerfile = f"FROM {base}\nENTRYPOINT {CRASHING_ENTRYPOINT}\nCMD []\n"
    env = {**os.environ, **project.env}

    def docker(*args: str, input: str | None = None) -> str:
        return subprocess.run(
            ["docker", *args], input=input, text=True, check=True, capture_output=True, env=env
        ).stdout

    login = ("login", registry.address, "-u", registry.username, "--password-stdin")
    docker(*login, input=registry.password)
    docker("build", "-q", "-t", ref, "-", input=dockerfile)
    digest = re.search(r"digest: (sha256:[0-9a-f]{64})", docker("push", ref))
    assert digest, f"no digest in the push output of {ref}"
    docker("image", "rm", ref)
    return f"{ref.rsplit(':', 1)[0]}@{digest.group(1)}"


def assert_no_secret(text: str) -> None:
    """No secret value of the demo env file appears in ``text``."""
    leaked = [s for s in SECRET_VALUES if s in text]
    assert not leaked, f"secret values leaked: {leaked}"
