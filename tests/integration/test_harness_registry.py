"""The registry tier's harness: the local registry only serves clients with the test user's
credentials, through the real docker CLI and engine."""

from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import Iterator

import pytest

from periph_env.testenv.registry import RegistryInfo
from periph_env.testenv.state import run

pytestmark = pytest.mark.registry


class Docker:
    """The docker CLI with a client config of its own (no stored logins leak in or out)."""

    def __init__(self, config_dir: str) -> None:
        self.env = {**os.environ, "DOCKER_CONFIG": config_dir}

    def __call__(self, *args: str, input: str | None = None, check: bool = True):
        return run(["docker", *args], env=self.env, input=input, check=check, timeout=300)


@pytest.fixture
def docker_client() -> Iterator[Docker]:
    # Not tmp_path: a login's config.json holds the password and must not outlive the test.
    with tempfile.TemporaryDirectory(prefix="periphtest-docker-") as config_dir:
        yield Docker(config_dir)


@pytest.fixture
def pushed_ref(registry: RegistryInfo, base_images: object) -> Iterator[str]:
    """A fresh repository reference in the registry, tagged locally from the debian stand-in."""
    ref = f"{registry.address}/periphtest/hello:{secrets.token_hex(4)}"
    run(["docker", "tag", "debian:bookworm-slim", ref])
    yield ref
    run(["docker", "image", "rm", ref], check=False)


def login(docker: Docker, registry: RegistryInfo):
    return docker(
        "login", registry.address, "--username", registry.username, "--password-stdin",
        input=registry.password,
    )  # fmt: skip


def test_push_and_pull_succeed_with_credentials(
    registry: RegistryInfo, docker_client: Docker, pushed_ref: str
) -> None:
    assert "Login Succeeded" in login(docker_client, registry).stdout

    docker_client("push", pushed_ref)
    run(["docker", "image", "rm", pushed_ref])
    docker_client("pull", pushed_ref)

    assert run(["docker", "image", "inspect", pushed_ref], check=False).returncode == 0


def test_push_without_credentials_is_refused(
    registry: RegistryInfo, docker_client: Docker, pushed_ref: str
) -> None:
    push = docker_client("push", pushed_ref, check=False)

    assert push.returncode != 0
    assert "no basic auth credentials" in push.stderr or "unauthorized" in push.stderr


def test_pull_without_credentials_is_refused(
    registry: RegistryInfo, docker_client: Docker, pushed_ref: str
) -> None:
    with tempfile.TemporaryDirectory(prefix="periphtest-docker-") as other_config:
        pusher = Docker(other_config)
        login(pusher, registry)
        pusher("push", pushed_ref)
    run(["docker", "image", "rm", pushed_ref])

    pull = docker_client("pull", pushed_ref, check=False)

    assert pull.returncode != 0
    assert "no basic auth credentials" in pull.stderr or "unauthorized" in pull.stderr


def test_login_with_a_wrong_password_is_refused(
    registry: RegistryInfo, docker_client: Docker
) -> None:
    login = docker_client(
        "login", registry.address, "--username", registry.username, "--password-stdin",
        input="not-" + registry.password, check=False,
    )  # fmt: skip

    assert login.returncode != 0
    assert "unauthorized" in login.stderr.lower()
    assert registry.password not in login.stdout + login.stderr
