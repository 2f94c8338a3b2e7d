"""The dev project ``periph up --cluster`` runs in, for the real-node tests and the bench.

A copy of services/ and compose/ whose periph.toml has a [dev.cluster] table for the test
cluster (pods placed on the real node) and a .env with recognisable secrets.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

from periph_env.cluster import translate as t
from periph_env.deploy.kube import Kube
from periph_env.testenv import node_config as ncfg

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
