"""Helpers for the Peripheral stack tests: a generated env file, compose and docker calls.

Plain functions (not fixtures) so both stack test modules share them without a
conftest that other suites would also load.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import socket
import subprocess
import tarfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "compose" / "compose.yaml"
SERVICES = REPO / "services"
PORT_VARS = (
    "PERIPH_BACKEND_PORT",
    "PERIPH_FRONTEND_PORT",
    "PERIPH_DB_PORT",
    "PERIPH_REDIS_PORT",
    "PERIPH_WORKER_METRICS_PORT",
)


def stack_env_values() -> dict[str, str]:
    """A complete env file for the stack: fixed names, random secrets, localhost hosts
    (as a developer's .env has them; compose must override them inside the network)."""
    return {
        "DB_HOST": "localhost",
        "DB_PORT": "5432",
        "DB_USER": "peripheral",
        "DB_PASSWORD": "pw" + secrets.token_hex(12),
        "POSTGRES_DB": "peripheral",
        "REDIS_HOST": "localhost",
        "REDIS_PORT": "6379",
        "REDIS_PASSWORD": "rp" + secrets.token_hex(12),
        "JWT_SECRET": "jwt" + secrets.token_hex(24),
        "HOT_RELOAD": "true",
        "VITE_ENVIRONMENT": "development",
        "BACKEND_URL": "http://localhost:5058",
    }


def write_env_file(path: Path, values: dict[str, str]) -> Path:
    """Write values as KEY=value lines (secrets are hex, so no quoting is needed)."""
    path.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
    path.chmod(0o600)
    return path


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(args: list[str], *, env: dict[str, str] | None = None, timeout: float = 900, check=True):
    """Run a command, capturing output; a failure shows the command's stderr."""
    proc = subprocess.run(args, capture_output=True, text=True, env=env, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(
            f"{' '.join(args[:6])} ... exited {proc.returncode}\n{proc.stdout[-4000:]}\n"
            f"{proc.stderr[-4000:]}"
        )
    return proc


@dataclass
class Compose:
    """`docker compose` bound to one project, env file and set of published ports."""

    project: str
    env_file: Path
    values: dict[str, str]
    ports: dict[str, int] = field(default_factory=dict)

    @property
    def env(self) -> dict[str, str]:
        """Process environment for compose: ours plus the published host ports."""
        return {**os.environ, **{k: str(v) for k, v in self.ports.items()}}

    def __call__(self, *args: str, timeout: float = 900, check: bool = True):
        """Run one compose subcommand for this project."""
        base = ["docker", "compose", "-p", self.project, "-f", str(COMPOSE_FILE)]
        base += ["--env-file", str(self.env_file)]
        return run([*base, *args], env=self.env, timeout=timeout, check=check)

    def ps(self) -> list[dict]:
        """Every container of the project (running or exited) as compose reports it."""
        out = self("ps", "-a", "--format", "json").stdout
        return [json.loads(line) for line in out.splitlines() if line.strip()]

    def container_id(self, service: str) -> str:
        """The id of the (single) container of service, including exited ones."""
        return self("ps", "-a", "-q", service).stdout.strip()

    def url(self, var: str, path: str) -> str:
        """http://127.0.0.1:<published port>/path."""
        return f"http://127.0.0.1:{self.ports[var]}{path}"


def inspect(ref: str, kind: str = "container") -> dict:
    """`docker <kind> inspect` as a dict."""
    return json.loads(run(["docker", kind, "inspect", ref]).stdout)[0]


def wait_until(predicate, what: str, timeout: float = 120, every: float = 1.0):
    """Poll predicate until it returns a truthy value; fail the test naming what never happened."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(every)
    pytest.fail(f"timed out waiting for {what} (last: {last!r})")


def exported_paths(container: str) -> Iterator[str]:
    """Every path in a container's filesystem, streamed from `docker export`."""
    proc = subprocess.Popen(["docker", "export", container], stdout=subprocess.PIPE)
    assert proc.stdout is not None
    try:
        with tarfile.open(fileobj=proc.stdout, mode="r|") as tar:
            for member in tar:
                yield member.name
    finally:
        proc.stdout.close()
        proc.wait()


@contextlib.contextmanager
def running_stack(directory: Path, name: str, services: tuple[str, ...] = ()) -> Iterator[Compose]:
    """The dev stack (``services``, default all) up and healthy under a fresh project with
    generated secrets and free ports; removed with its volumes afterwards. A stack that
    does not come up fails the test with compose's error and the services' log tails."""
    values = stack_env_values()
    compose = Compose(
        project=f"periph-{name}-{secrets.token_hex(4)}",
        env_file=write_env_file(directory / "test.env", values),
        values=values,
        ports={var: free_port() for var in PORT_VARS},
    )
    try:
        up = compose(
            "up", "--build", "--detach", "--wait", "--wait-timeout", "600", *services, check=False
        )
        if up.returncode != 0:
            logs = compose("logs", "--no-color", "--tail", "60", check=False).stdout
            pytest.fail(f"stack did not come up:\n{up.stderr[-3000:]}\n{logs[-6000:]}")
        yield compose
    finally:
        compose("down", "--volumes", "--remove-orphans", "--timeout", "5", check=False)
