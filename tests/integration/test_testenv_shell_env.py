"""``eval "$(periph testenv env)"`` points a shell, and periph in it, at the running test engines.

Each test runs a real ``bash`` with a scrubbed environment (no credentials, no contexts) that
evals the command's output, then runs ``periph``, ``kubectl`` or ``docker`` in it.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from periph_env.testenv import kube, registry

ROOT = Path(__file__).resolve().parents[2]
PERIPH = f"{sys.executable} -m periph_env"
# What a developer's shell may carry that would make these tests pass for the wrong reason.
SCRUBBED = (
    "KUBECONFIG",
    "PERIPH_DEMO_CONTEXT",
    "PERIPH_PROD_CONTEXT",
    "PERIPH_KUBECTL",
    "PERIPH_REGISTRY",
    "DOCKER_CONFIG",
    "DOCKER_USERNAME",
    "DOCKER_PASSWORD",
    "PERIPH_REGISTRY_USERNAME",
    "PERIPH_REGISTRY_PASSWORD",
)


def shell(script: str, tmp_path: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    """Run ``script`` in bash in the project with a scrubbed environment (plus ``extra``)."""
    env = {k: v for k, v in os.environ.items() if k not in SCRUBBED}
    # An empty Docker config of its own: no login from ~/.docker can leak into the result.
    base = tmp_path / "docker-base"
    base.mkdir(exist_ok=True)
    env.update(DOCKER_CONFIG=str(base), XDG_CONFIG_HOME=str(tmp_path / "xdg"), **extra)
    return subprocess.run(
        ["bash", "-c", f"set -e\n{script}"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


@pytest.fixture
def engines(registry, kube_cluster) -> tuple[registry.RegistryInfo, kube.ClusterInfo]:
    """The running registry and cluster (the fixtures start them when they are down)."""
    return registry, kube_cluster


def test_env_prints_exports_and_never_the_password(engines, tmp_path):
    reg, cluster = engines
    proc = shell(f"{PERIPH} testenv env", tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert reg.password not in proc.stdout + proc.stderr
    for line in (
        f"export KUBECONFIG={cluster.kubeconfig}",
        f"export PERIPH_DEMO_CONTEXT={cluster.context}",
        f"export PERIPH_PROD_CONTEXT={cluster.context}",
        f"export PERIPH_REGISTRY={reg.address}",
    ):
        assert line in proc.stdout.splitlines()
    assert "PASSWORD" not in proc.stdout and "USERNAME" not in proc.stdout


def test_docker_config_it_writes_is_private_and_holds_the_login(engines, tmp_path):
    reg, _ = engines
    proc = shell(f'eval "$({PERIPH} testenv env)"; echo "$DOCKER_CONFIG"', tmp_path)
    assert proc.returncode == 0, proc.stderr
    directory = Path(proc.stdout.splitlines()[-1])
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert stat.S_IMODE((directory / "config.json").stat().st_mode) == 0o600
    assert reg.address in json.loads((directory / "config.json").read_text())["auths"]


def test_periph_images_reaches_the_registry_with_the_login(engines, tmp_path):
    proc = shell(f'eval "$({PERIPH} testenv env)"\n{PERIPH} images --format json', tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "credentials" not in proc.stdout
    assert engines[0].password not in proc.stdout + proc.stderr
    for service in json.loads(proc.stdout):
        assert service["remote_error"] is None, service


def test_without_it_periph_images_finds_no_credentials(engines, tmp_path):
    proc = shell(f"{PERIPH} images", tmp_path, PERIPH_REGISTRY=engines[0].address)
    assert "requires credentials and none were found" in proc.stdout


def test_deploy_target_context_resolves_for_periph_and_kubectl(engines, tmp_path):
    script = f"""eval "$({PERIPH} testenv env)"
kubectl --context "$PERIPH_DEMO_CONTEXT" get --raw /readyz
{PERIPH} history demo
"""
    proc = shell(script, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("ok")
    assert "cannot load kube context" not in proc.stderr


def test_docker_compose_still_works_in_the_pointed_shell(engines, tmp_path):
    # Compose is a CLI plugin under the Docker config directory: the new one must link it.
    plugins = Path.home() / ".docker" / "cli-plugins"
    proc = shell(
        f'ln -s {plugins} "$DOCKER_CONFIG/cli-plugins"\n'
        f'eval "$({PERIPH} testenv env)"\ndocker compose version',
        tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Docker Compose version" in proc.stdout


def test_fails_naming_what_is_not_running(engines, tmp_path):
    proc = shell(f"{PERIPH} testenv env", tmp_path, PERIPH_REGISTRY_PORT="1")
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert "not running: the test registry on 127.0.0.1:1" in proc.stderr
    assert "periph testenv up --tier registry" in proc.stderr
