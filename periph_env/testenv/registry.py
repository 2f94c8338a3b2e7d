"""A local container registry with htpasswd auth: Debian's ``docker-registry`` (distribution 2.8).

It listens on ``127.0.0.1:$PERIPH_REGISTRY_PORT`` (default 5000, stable across runs so image
references in tests and demos do not move), which dockerd treats as an insecure registry
without configuration (127.0.0.0/8 always is). It runs from its own config file in the state
dir, not via systemd, and stores blobs in a temporary directory removed by ``stop``.

The test user's random password lives in ``STATE_DIR/registry/credentials.json`` (mode 0600)
and is never logged; the htpasswd file holds its bcrypt hash.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import shutil
import socket
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import bcrypt
import yaml

from periph_env.errors import EngineError
from periph_env.testenv.debian_host import ensure_packages
from periph_env.testenv.state import (
    Log,
    clear_started,
    mark_started,
    spawn,
    started_pid,
    state_path,
    stop_started,
)

COMPONENT = "registry"
USERNAME = "periph-test"
DEFAULT_PORT = 5000
START_TIMEOUT = 30.0


@dataclass(frozen=True)
class RegistryInfo:
    """Where the registry listens and how to log in (the password never shows in repr)."""

    address: str
    username: str
    password: str = field(repr=False)
    started_by_periph: bool = False


def registry_dir() -> Path:
    path = state_path("registry")
    path.mkdir(mode=0o700, exist_ok=True)
    return path


def address() -> str:
    """``127.0.0.1:<port>``; the port comes from ``$PERIPH_REGISTRY_PORT`` (default 5000)."""
    return f"127.0.0.1:{int(os.environ.get('PERIPH_REGISTRY_PORT', DEFAULT_PORT))}"


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` readable by its owner only (created 0600, never wider)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    path.chmod(0o600)


def credentials(directory: Path) -> tuple[str, str]:
    """The test user and its password, created (random) on first use and kept afterwards."""
    path = directory / "credentials.json"
    if path.exists():
        data = json.loads(path.read_text())
        return data["username"], data["password"]
    password = secrets.token_urlsafe(24)
    write_private(path, json.dumps({"username": USERNAME, "password": password}) + "\n")
    return USERNAME, password


# bcrypt's cost for the test user: Apache's `htpasswd -B` default. distribution checks the
# hash on every request with basic auth (no token to reuse), on the same 2 cores as the
# tests: at cost 10 each request paid ~76 ms of registry CPU, a third of a no-op
# `periph build --push` of five images.
ROUNDS = 5


def htpasswd_line(username: str, password: str, rounds: int = ROUNDS) -> str:
    """An htpasswd entry with a bcrypt hash (``$2y$``, the only scheme distribution accepts)."""
    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=rounds, prefix=b"2b"))
    return f"{username}:$2y${hashed.decode()[4:]}"


def htpasswd_matches(line: str, username: str, password: str) -> bool:
    """Whether an htpasswd entry is ``username``'s and accepts ``password``."""
    user, _, hashed = line.strip().partition(":")
    if user != username or not hashed.startswith("$2y$"):
        return False
    return bcrypt.checkpw(password.encode(), ("$2b$" + hashed[4:]).encode())


def htpasswd_rounds(line: str) -> int | None:
    """The bcrypt cost of an htpasswd entry (None: not a bcrypt entry)."""
    parts = line.strip().partition(":")[2].split("$")
    return int(parts[2]) if len(parts) > 3 and parts[2].isdigit() else None


def write_htpasswd(path: Path, username: str, password: str) -> None:
    """(Re)write the htpasswd file unless it already accepts these credentials at
    ``ROUNDS``."""
    if path.exists():
        line = path.read_text()
        if htpasswd_rounds(line) == ROUNDS and htpasswd_matches(line, username, password):
            return
    write_private(path, htpasswd_line(username, password) + "\n")


def registry_config(addr: str, storage: Path, htpasswd: Path) -> dict:
    """distribution's config for a loopback registry with htpasswd auth."""
    return {
        "version": 0.1,
        "log": {"level": "info", "fields": {"service": "registry"}},
        "storage": {
            "filesystem": {"rootdirectory": str(storage)},
            "delete": {"enabled": True},
            "cache": {"blobdescriptor": "inmemory"},
        },
        "http": {
            "addr": addr,
            "secret": secrets.token_hex(16),
            "headers": {"X-Content-Type-Options": ["nosniff"]},
        },
        "auth": {"htpasswd": {"realm": "periph-registry", "path": str(htpasswd)}},
    }


def probe(addr: str, auth: tuple[str, str] | None = None, timeout: float = 3) -> int | None:
    """HTTP status of ``GET /v2/`` (200 with valid credentials, 401 without), None if down."""
    request = urllib.request.Request(f"http://{addr}/v2/")
    if auth:
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (urllib.error.URLError, OSError):
        return None


def port_open(addr: str) -> bool:
    """True when something accepts TCP connections at ``addr`` (host:port)."""
    host, port = addr.rsplit(":", 1)
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex((host, int(port))) == 0


def ensure(log: Log) -> RegistryInfo:
    """Return the running registry, starting it when periph's is not up."""
    directory = registry_dir()
    username, password = credentials(directory)
    write_htpasswd(directory / "htpasswd", username, password)
    addr = address()
    if started_pid(COMPONENT) and probe(addr, (username, password)) == 200:
        log(f"registry: reused {addr} (started by periph)")
        return RegistryInfo(addr, username, password, True)
    if port_open(addr):
        if probe(addr, (username, password)) == 200:
            log(f"registry: reused {addr} (not started by periph)")
            return RegistryInfo(addr, username, password, False)
        raise EngineError(
            f"{addr} is taken by something that is not periph's registry",
            hint="stop it, or choose another port with PERIPH_REGISTRY_PORT",
        )
    ensure_packages({"docker-registry": "docker-registry"}, log, why="the registry")
    with log.step(f"registry: started docker-registry on {addr}"):
        _start(directory, addr, (username, password))
    return RegistryInfo(addr, username, password, True)


def _start(directory: Path, addr: str, auth: tuple[str, str]) -> None:
    _remove_storage(directory)
    storage = Path(tempfile.mkdtemp(prefix="periph-registry-"))
    (directory / "storage").write_text(f"{storage}\n")
    config = directory / "config.yml"
    write_private(config, yaml.safe_dump(registry_config(addr, storage, directory / "htpasswd")))
    logfile = state_path("registry.log")
    proc = spawn(["docker-registry", "serve", str(config)], logfile)
    mark_started(COMPONENT, proc.pid)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            clear_started(COMPONENT)
            tail = "\n".join(logfile.read_text(errors="replace").splitlines()[-15:])
            raise EngineError(f"docker-registry exited with {proc.returncode}:\n{tail}")
        if probe(addr, auth) == 200:
            return
        time.sleep(0.2)
    raise EngineError(f"docker-registry did not answer on {addr} within {START_TIMEOUT:.0f}s")


def _remove_storage(directory: Path) -> None:
    record = directory / "storage"
    if record.exists():
        shutil.rmtree(record.read_text().strip(), ignore_errors=True)
        record.unlink()


def status() -> str:
    """One line: address, whether it answers, who started it."""
    addr = address()
    code = probe(addr)
    if code is None:
        return f"not running ({addr})"
    who = "started by periph" if started_pid(COMPONENT) else "not started by periph"
    return f"listening on {addr}, auth {'on' if code == 401 else 'OFF'} ({who})"


def stop(log: Log) -> None:
    """Stop the registry periph started and delete its temporary storage."""
    if stop_started(COMPONENT, "registry: docker-registry", log, timeout=10):
        _remove_storage(registry_dir())
