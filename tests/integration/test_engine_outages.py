"""Every Docker-side command against an engine or registry that is down, hangs or lies.

The endpoints are real sockets (``tests/fixtures/endpoints.py``): one that accepts and
never answers, one that refuses, one that answers 200 with garbage. Against each, every
command fails with exit 1, names the endpoint, prints no traceback, and ends within 15 s;
a wait longer than two seconds says what it waits for. ``logs -f`` follows a real
container through a proxy that the test cuts and restores: it says it lost the engine,
retries, and says it reconnected. The shared engine and registry are never touched.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.fixtures.endpoints import Lying, Proxy, Silent, refused_port

# The Docker tier: the fake endpoints need no engine, but these are process-level tests
# of the Docker side (minutes, not the unit tier's seconds); the log tests use the engine.
pytestmark = pytest.mark.docker

REPO = Path(__file__).resolve().parents[2]
LIMIT = 15.0

ENGINE_COMMANDS = [
    ["images"],
    ["build", "--branch", "outage"],
    ["build", "--branch", "outage", "--push"],
    ["push"],
    ["ps"],
    ["up"],
    ["down"],
    ["logs"],
    ["logs", "-f"],
    ["start"],
    ["stop"],
    ["restart"],
    ["rebuild"],
    ["watch"],
]


def periph(*args: str, env: dict[str, str], cwd: Path = REPO, timeout: float = 60):
    """Run ``periph`` as a user does; (process, seconds it took)."""
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "periph_env", *args],
        cwd=cwd, env={**os.environ, **env}, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip
    return proc, time.monotonic() - started


@pytest.fixture
def user_env(tmp_path: Path) -> dict[str, str]:
    """No stored logins, a cache and an env file of this test (never the repo's)."""
    (tmp_path / "docker-config").mkdir()
    return {
        "DOCKER_CONFIG": str(tmp_path / "docker-config"),
        "PERIPH_CACHE": str(tmp_path / "cache"),
        "PERIPH_ENV_FILE": str(tmp_path / ".env"),
        "COMPOSE_PROJECT_NAME": "periphtest-outage",
        "PYTHONPATH": str(REPO),
    }


def assert_clean_failure(proc, seconds: float, endpoint: str, command: list[str]) -> None:
    shown = proc.stdout + proc.stderr
    assert proc.returncode == 1, (command, shown)
    assert endpoint in shown, (command, shown)
    assert "Traceback" not in shown, (command, shown)
    assert seconds < LIMIT, (command, seconds)


@pytest.mark.parametrize("command", ENGINE_COMMANDS, ids=" ".join)
def test_an_engine_that_accepts_and_never_answers_fails_within_15s_naming_it(
    command, tmp_path, user_env
):
    with Silent(tmp_path / "silent.sock") as engine:
        proc, seconds = periph(*command, env={**user_env, "DOCKER_HOST": engine.docker_host})
    assert_clean_failure(proc, seconds, engine.docker_host, command)
    assert f"waiting for the Docker engine at {engine.docker_host}" in proc.stderr


@pytest.mark.parametrize("command", [*ENGINE_COMMANDS, ["doctor"]], ids=" ".join)
def test_an_engine_that_is_not_there_fails_at_once_naming_it(command, tmp_path, user_env):
    host = f"unix://{tmp_path}/nothing.sock"
    proc, seconds = periph(*command, env={**user_env, "DOCKER_HOST": host})
    assert_clean_failure(proc, seconds, host, command)


@pytest.mark.parametrize(
    "host", ["tcp://", "tcp://engine:abc", "garbage", "tcp://no-such-host.invalid:2375"]
)
@pytest.mark.parametrize("command", [["ps"], ["images"], ["logs"]], ids=" ".join)
def test_a_docker_host_periph_cannot_use_is_named_without_a_traceback(command, host, user_env):
    proc, seconds = periph(*command, env={**user_env, "DOCKER_HOST": host})
    assert_clean_failure(proc, seconds, f"the Docker engine at {host}", command)


def test_an_engine_refusing_tcp_connections_fails_naming_it(user_env):
    host = f"tcp://127.0.0.1:{refused_port()}"
    for command in (["ps"], ["images"]):
        proc, seconds = periph(*command, env={**user_env, "DOCKER_HOST": host})
        assert_clean_failure(proc, seconds, host, command)
        assert "connection refused" in proc.stderr


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"<html><body>It works!</body></html>", "text/html"),
        (b'{"Containers": [', "application/json"),
        (b'["not", "the", "engine"]', "application/json"),
    ],
    ids=["html page", "truncated json", "wrong shape"],
)
@pytest.mark.parametrize("command", [["ps"], ["images"], ["up"], ["logs", "-f"]], ids=" ".join)
def test_an_endpoint_that_answers_but_is_not_an_engine_is_named_as_such(
    command, body, content_type, tmp_path, user_env
):
    with Lying(body, content_type, unix_path=tmp_path / "lying.sock") as engine:
        proc, seconds = periph(*command, env={**user_env, "DOCKER_HOST": engine.docker_host})
    assert_clean_failure(proc, seconds, engine.docker_host, command)
    assert "not" in proc.stderr and "Docker Engine API" in proc.stderr


def test_engine_down_gives_the_same_exit_code_from_images_ps_and_stack_commands(tmp_path, user_env):
    env = {**user_env, "DOCKER_HOST": f"unix://{tmp_path}/nothing.sock"}
    codes = {c[0]: periph(*c, env=env)[0].returncode for c in (["images"], ["ps"], ["up"])}
    assert codes == {"images": 1, "ps": 1, "up": 1}


# --- the registry ---------------------------------------------------------------------


def registry_project(root: Path, address: str) -> Path:
    """A one-service project whose registry is ``address``."""
    (root / "services" / "alpha").mkdir(parents=True)
    (root / "services" / "alpha" / "Dockerfile.prod").write_text("FROM debian:bookworm-slim\n")
    (root / "compose").mkdir()
    (root / "compose" / "compose.yaml").write_text("services: {}\n")
    (root / ".env.example").write_text("A=1\n")
    (root / "periph.toml").write_text(
        f'[images]\nregistry = "{address}/outage"\nservices = ["alpha"]\n'
    )
    return root


REGISTRY_COMMANDS = [["images"], ["push"], ["build", "--branch", "outage", "--push"]]


@pytest.mark.registry
@pytest.mark.parametrize("command", REGISTRY_COMMANDS, ids=" ".join)
def test_a_registry_that_accepts_and_never_answers_fails_within_15s_naming_it(
    command, tmp_path, user_env, docker_engine
):
    with Silent() as registry:
        root = registry_project(tmp_path / "project", registry.address)
        proc, seconds = periph(*command, env=user_env, cwd=root)
    assert_clean_failure(proc, seconds, f"http://{registry.address}", command)
    assert f"waiting for the registry at http://{registry.address}" in proc.stderr
    assert "did not answer" in proc.stdout + proc.stderr


@pytest.mark.registry
@pytest.mark.parametrize("command", REGISTRY_COMMANDS, ids=" ".join)
def test_a_registry_that_refuses_connections_fails_naming_it(
    command, tmp_path, user_env, docker_engine
):
    address = f"127.0.0.1:{refused_port()}"
    root = registry_project(tmp_path / "project", address)
    proc, seconds = periph(*command, env=user_env, cwd=root)
    assert_clean_failure(proc, seconds, address, command)
    assert "connection refused" in proc.stdout + proc.stderr


@pytest.mark.registry
@pytest.mark.parametrize(
    ("body", "content_type"),
    [(b"<html>login</html>", "text/html"), (b'{"tags": ["a"', "application/json")],
    ids=["html page", "truncated json"],
)
@pytest.mark.parametrize("command", REGISTRY_COMMANDS, ids=" ".join)
def test_a_registry_that_answers_garbage_is_named_as_such(
    command, body, content_type, tmp_path, user_env, docker_engine
):
    with Lying(body, content_type) as registry:
        root = registry_project(tmp_path / "project", registry.address)
        proc, seconds = periph(*command, env=user_env, cwd=root)
    assert_clean_failure(proc, seconds, registry.address, command)
    assert "not the Registry API's" in proc.stdout + proc.stderr


# --- logs -f when the engine goes away --------------------------------------------------

TICKER = """\
services:
  ticker:
    image: debian:bookworm-slim
    command: ["sh", "-c", "i=0; while true; do echo tick $$i; i=$$((i+1)); sleep 0.2; done"]
"""


class Lines:
    """Lines a process writes to one stream, collected by a thread as they come."""

    def __init__(self, stream) -> None:
        import threading

        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream) -> None:
        for line in stream:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, text: str, after: int = 0, timeout: float = 60) -> int:
        """The index of the first line from ``after`` on that contains ``text``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for i, line in enumerate(self.lines[after:], start=after):
                if text in line:
                    return i
            time.sleep(0.05)
        raise AssertionError(f"no line with {text!r} in {timeout}s; got {self.lines[-20:]}")


@pytest.fixture
def ticker(tmp_path, user_env, compose_project, base_images, docker_engine):
    """A running one-service project that logs a numbered line every 0.2 s, and a proxy to
    the real engine in front of it; (env for periph through the proxy, the proxy)."""
    compose = tmp_path / "compose.yaml"
    compose.write_text(TICKER)
    subprocess.run(
        ["docker", "compose", "-p", compose_project, "-f", str(compose), "up", "-d"],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    real = docker_engine.host.removeprefix("unix://")
    with Proxy(real, tmp_path / "engine.sock") as proxy:
        env = {
            **user_env,
            "PERIPH_COMPOSE_FILE": str(compose),
            "COMPOSE_PROJECT_NAME": compose_project,
            "DOCKER_HOST": proxy.docker_host,
        }
        yield env, proxy


def follow_logs(env: dict[str, str], cwd: Path) -> tuple[subprocess.Popen, Lines, Lines]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "periph_env", "logs", "-f"],
        cwd=cwd, env={**os.environ, **env},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    return proc, Lines(proc.stdout), Lines(proc.stderr)


def assert_in_order_without_repeats(out: Lines) -> None:
    ticks = [int(line.rsplit(" ", 1)[1]) for line in out.lines if "tick" in line]
    assert ticks == sorted(set(ticks)), "a line was repeated or reordered across the loss"


def test_logs_follow_says_it_lost_the_engine_retries_and_reconnects(ticker, tmp_path):
    env, proxy = ticker
    proc, out, err = follow_logs(env, tmp_path)
    try:
        out.wait_for("tick")
        proxy.cut()
        lost = err.wait_for(f"lost the Docker engine at {proxy.docker_host}", timeout=20)
        err.wait_for("retrying in", after=lost)
        err.wait_for("still no Docker engine", after=lost, timeout=30)
        seen = len(out.lines)
        proxy.restore()
        err.wait_for(f"reconnected to the Docker engine at {proxy.docker_host}", timeout=30)
        out.wait_for("tick", after=seen)  # and the lines flow again
    finally:
        proc.terminate()
        proc.wait(15)
    assert not any("Traceback" in line for line in err.lines)
    assert_in_order_without_repeats(out)


def test_logs_follow_notices_an_engine_that_stops_answering_within_15s(ticker, tmp_path):
    env, proxy = ticker
    proc, out, err = follow_logs(env, tmp_path)
    try:
        out.wait_for("tick")
        frozen_at = time.monotonic()
        proxy.freeze()
        err.wait_for(f"lost the Docker engine at {proxy.docker_host}", timeout=LIMIT)
        assert time.monotonic() - frozen_at < LIMIT
        assert "did not answer" in "\n".join(err.lines)
        seen = len(out.lines)
        proxy.restore()
        err.wait_for("reconnected to the Docker engine", timeout=40)
        out.wait_for("tick", after=seen)
    finally:
        proc.terminate()
        proc.wait(15)
    assert_in_order_without_repeats(out)


def test_the_status_model_says_disconnected_when_the_engine_stops_answering(ticker, monkeypatch):
    from periph_env.stack import Stack, StatusModel

    env, proxy = ticker
    for name in ("DOCKER_HOST", "COMPOSE_PROJECT_NAME"):
        monkeypatch.setenv(name, env[name])
    compose = Path(env["PERIPH_COMPOSE_FILE"])
    stack = Stack(compose.parent, compose_path=compose, env_file=env["PERIPH_ENV_FILE"])
    model = StatusModel(stack).start()
    try:
        deadline = time.monotonic() + 30
        while not model.connected and time.monotonic() < deadline:
            time.sleep(0.05)
        assert model.connected
        frozen_at = time.monotonic()
        proxy.freeze()
        while model.connected and time.monotonic() - frozen_at < LIMIT:
            time.sleep(0.05)
        assert not model.connected, "still 'connected' to an engine that does not answer"
        assert proxy.docker_host in (model.error or "")
        proxy.restore()
        deadline = time.monotonic() + 40
        while not model.connected and time.monotonic() < deadline:
            time.sleep(0.05)
        assert model.connected
    finally:
        model.stop()


# --- a Docker config file periph cannot use ---------------------------------------------

SECRET = "Tr0ub4dor&3-config-secret"


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ('{"auths": ["' + SECRET + '"]}', "auths: expected an object, found a list"),
        ('{"auths": {"REG": {"auth": "' + SECRET + '"}}}', 'auths["REG"].auth: not valid base64'),
        ('{"credsStore": "periph-missing"}', "docker-credential-periph-missing is not installed"),
        ('{"auths": {"REG": {"auth": "' + SECRET, "not valid JSON"),
    ],
    ids=["auths a list", "auth not base64", "missing helper", "invalid json"],
)
@pytest.mark.parametrize(
    "command", [["images"], ["build", "--branch", "o", "--push"]], ids=" ".join
)
def test_a_malformed_docker_config_is_exit_2_naming_the_file_and_field_never_the_value(
    command, config, field, tmp_path, user_env, docker_engine
):
    address = f"127.0.0.1:{refused_port()}"
    root = registry_project(tmp_path / "project", address)
    path = Path(user_env["DOCKER_CONFIG"]) / "config.json"
    path.write_text(config.replace("REG", address))
    proc, _ = periph(*command, env=user_env, cwd=root)
    shown = proc.stdout + proc.stderr
    assert proc.returncode == 2, shown
    assert str(path) in shown and field.replace("REG", address) in shown
    assert SECRET not in shown and "Traceback" not in shown


# --- a build when the engine stops answering mid-way -----------------------------------


def test_a_build_notices_an_engine_that_stops_answering_mid_build(
    tmp_path, user_env, docker_engine, base_images
):
    root = registry_project(tmp_path / "project", f"127.0.0.1:{refused_port()}")
    marker = f"outage-{time.time_ns()}"  # a fresh RUN step: never served from the cache
    (root / "services" / "alpha" / "Dockerfile.prod").write_text(
        f"FROM debian:bookworm-slim\nRUN echo {marker} && sleep 60\n"
    )
    real = docker_engine.host.removeprefix("unix://")
    with Proxy(real, tmp_path / "engine.sock") as proxy:
        env = {**user_env, "DOCKER_HOST": proxy.docker_host}
        proc = subprocess.Popen(
            [sys.executable, "-m", "periph_env", "build", "--branch", "outage", "-v"],
            cwd=root, env={**os.environ, **env},
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        out, err = Lines(proc.stdout), Lines(proc.stderr)
        try:
            err.wait_for(marker, timeout=120)
            frozen_at = time.monotonic()
            proxy.freeze()
            code = proc.wait(60)
            took = time.monotonic() - frozen_at
        finally:
            if proc.poll() is None:
                proc.kill()
            proxy.restore()
    shown = "\n".join(out.lines + err.lines)
    assert code == 1, shown
    assert f"the Docker engine at {proxy.docker_host} stopped answering" in shown
    assert "Traceback" not in shown
    assert took < 30, took
