"""A registry that goes away in the middle of a push: retries, a clear failure, and a rerun
that completes once it is back.

The shared test registry is never touched: this test starts a throwaway instance of the
same docker-registry on a free port (same config code as ``periph testenv``), stops it
from inside the push stream and starts it again on the same storage.
"""

from __future__ import annotations

import os
import secrets
import socket
from pathlib import Path

import pytest
import yaml

from periph_env.common import spawn, terminate, wait_for
from periph_env.images.engine import RetryPolicy
from periph_env.images.models import Done, Failed, Retrying
from periph_env.images.pipeline import BuildOptions, build
from periph_env.testenv import registry as registry_mod
from periph_env.testenv.registry import RegistryInfo
from tests.integration.test_images_build import make_project, remove_local_images

pytestmark = pytest.mark.registry


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ThrowawayRegistry:
    """docker-registry with htpasswd auth on a free loopback port, in ``directory``."""

    def __init__(self, directory: Path, username: str, password: str) -> None:
        self.directory = directory
        self.address = f"127.0.0.1:{free_port()}"
        self.auth = (username, password)
        self.proc = None
        htpasswd = directory / "htpasswd"
        registry_mod.write_htpasswd(htpasswd, username, password)
        config = registry_mod.registry_config(self.address, directory / "storage", htpasswd)
        self.config = directory / "config.yml"
        registry_mod.write_private(self.config, yaml.safe_dump(config))

    def start(self) -> None:
        self.proc = spawn(["docker-registry", "serve", str(self.config)], self.directory / "log")
        wait_for(
            lambda: registry_mod.probe(self.address, self.auth) == 200,
            f"throwaway registry on {self.address}",
            timeout=30,
        )

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            terminate(self.proc.pid, timeout=5)
            self.proc.wait()

    def info(self) -> RegistryInfo:
        return RegistryInfo(self.address, *self.auth)


@pytest.fixture
def throwaway_registry(tmp_path, registry: RegistryInfo, monkeypatch):
    """Its own registry (the `registry` fixture makes sure docker-registry is installed)."""
    directory = tmp_path / "registry"
    directory.mkdir()
    instance = ThrowawayRegistry(directory, "outage-user", secrets.token_urlsafe(18))
    instance.start()
    yield instance
    instance.stop()


def test_a_registry_stopped_mid_push_is_retried_then_fails_clearly_and_a_rerun_completes(
    throwaway_registry, base_images, tmp_path, monkeypatch
):
    monkeypatch.setenv("PERIPH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker-config"))
    monkeypatch.setenv("DOCKER_USERNAME", throwaway_registry.auth[0])
    monkeypatch.setenv("DOCKER_PASSWORD", throwaway_registry.auth[1])
    monkeypatch.delenv("PERIPH_REGISTRY", raising=False)
    root = tmp_path / "project"
    root.mkdir()
    project = make_project(
        root, throwaway_registry.info(), {"blob": "FROM scratch\nCOPY payload.bin /\n"}
    )
    project.write("services/blob/payload.bin", "")
    (root / "services/blob/payload.bin").write_bytes(os.urandom(2 << 20))
    project.commit()
    stopped: list[dict] = []

    def stop_registry_once(message: dict) -> None:
        if not stopped:
            stopped.append(message)
            throwaway_registry.stop()

    try:
        quick = RetryPolicy(attempts=3, delay=0.2)
        options = BuildOptions(push=True, retry=quick, on_push_message=stop_registry_once)
        events = list(build(root, options))

        result = next(e.result for e in events if isinstance(e, Done))
        retries = [e for e in events if isinstance(e, Retrying)]
        failure = next(e for e in events if isinstance(e, Failed))
        assert stopped, "the push never started"
        assert result.status == "failed" and result.digest is None
        assert [r.attempt for r in retries] == [1, 2]
        assert "failed after 3 attempts" in failure.message
        assert "run the same command again" in (failure.hint or "")
        assert throwaway_registry.auth[1] not in "".join(e.line() for e in events)

        throwaway_registry.start()
        rerun = list(build(root, BuildOptions(push=True)))

        result = next(e.result for e in rerun if isinstance(e, Done))
        assert result.status == "unchanged" and result.where == "local"
        assert result.digest and project.remote_digest("blob", "main") == result.digest
    finally:
        remove_local_images(project)
