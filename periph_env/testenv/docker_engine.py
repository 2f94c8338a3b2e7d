"""The Docker engine: reuse a reachable one, otherwise install ``docker.io`` and run ``dockerd``.

periph's own dockerd listens on the default socket (so every docker client finds it without
configuration), logs to ``STATE_DIR/dockerd.log`` and keeps its pid in ``dockerd.pid``.
Options chosen for machines like these (no systemd as init, cgroup v1, no registry reachable):

- ``native.cgroupdriver=cgroupfs``: the systemd driver needs systemd running as init.
- ``--mtu`` copied from the default route's interface when it is below 1500: otherwise
  large TLS packets from containers (pip/npm/go downloads during builds) are silently dropped.
- no registry mirrors (none is reachable); 127.0.0.0/8 registries are insecure-allowed by
  default, which is what the local registry relies on.
- storage driver left to dockerd's choice (overlay2 on ext4 here).
"""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from periph_env.errors import EngineError
from periph_env.testenv.debian_host import ensure_packages
from periph_env.testenv.state import (
    Log,
    clear_started,
    mark_started,
    run,
    spawn,
    started_pid,
    state_path,
    stop_started,
)

COMPONENT = "dockerd"
DEFAULT_HOST = "unix:///var/run/docker.sock"
START_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0


@dataclass(frozen=True)
class DockerInfo:
    """How to reach the engine."""

    host: str
    started_by_periph: bool
    server_version: str


def engine_host() -> str:
    """The engine address docker clients use here: ``$DOCKER_HOST`` or the default socket."""
    return os.environ.get("DOCKER_HOST") or DEFAULT_HOST


def server_version(host: str, timeout: float = 10) -> str | None:
    """The engine's version at ``host``, or None when nothing answers there."""
    try:
        proc = run(
            ["docker", "version", "--format", "{{.Server.Version}}"],
            check=False,
            env={**os.environ, "DOCKER_HOST": host},
            timeout=timeout,
        )
    except (subprocess.TimeoutExpired, FileNotFoundError):
        return None
    version = proc.stdout.strip()
    return version if proc.returncode == 0 and version else None


def default_route_mtu(
    route_table: Path = Path("/proc/net/route"), net: Path = Path("/sys/class/net")
) -> int | None:
    """MTU of the interface carrying the default route, or None when unknown."""
    try:
        lines = route_table.read_text().splitlines()[1:]
    except OSError:
        return None
    for line in lines:
        fields = line.split()
        if len(fields) > 2 and fields[1] == "00000000":
            try:
                return int((net / fields[0] / "mtu").read_text())
            except (OSError, ValueError):
                return None
    return None


def dockerd_argv(pidfile: Path, mtu: int | None) -> list[str]:
    """The command line of periph's dockerd."""
    argv = [
        "dockerd",
        "--host",
        DEFAULT_HOST,
        "--pidfile",
        str(pidfile),
        "--exec-opt",
        "native.cgroupdriver=cgroupfs",
    ]
    if mtu and mtu < 1500:
        argv += ["--mtu", str(mtu)]
    return argv


def ensure(log: Log) -> DockerInfo:
    """Return a running engine, starting periph's own dockerd when none is reachable."""
    host = engine_host()
    version = server_version(host)
    if version:
        ours = host == DEFAULT_HOST and started_pid(COMPONENT) is not None
        log(f"docker: reused engine {version} at {host}" + (" (started by periph)" if ours else ""))
        return DockerInfo(host, ours, version)
    if os.environ.get("DOCKER_HOST"):
        raise EngineError(
            f"no Docker engine answers at DOCKER_HOST={host}",
            hint="start that engine, or unset DOCKER_HOST to let periph start its own dockerd",
        )
    ensure_packages({"dockerd": "docker.io", "docker": "docker.io"}, log, why="the Docker engine")
    with log.step("docker: started dockerd"):
        version = _start_dockerd()
    log(f"docker: engine {version} at {DEFAULT_HOST}, log {state_path('dockerd.log')}")
    return DockerInfo(DEFAULT_HOST, True, version)


def _start_dockerd() -> str:
    pidfile = state_path("dockerd.pid")
    logfile = state_path("dockerd.log")
    argv = dockerd_argv(pidfile, default_route_mtu())
    proc = spawn(argv, logfile)
    mark_started(COMPONENT, proc.pid)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            clear_started(COMPONENT)
            raise EngineError(f"dockerd exited with {proc.returncode}:\n{_tail(logfile)}")
        version = server_version(DEFAULT_HOST, timeout=5)
        if version:
            return version
        time.sleep(0.3)
    raise EngineError(f"dockerd did not answer within {START_TIMEOUT:.0f}s:\n{_tail(logfile)}")


def _tail(path: Path, lines: int = 20) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def status() -> str:
    """One line: version and whether periph started the engine."""
    host = engine_host()
    version = server_version(host)
    if not version:
        return f"not running ({host})"
    who = "started by periph" if started_pid(COMPONENT) else "not started by periph"
    return f"engine {version} at {host} ({who})"


def stop(log: Log) -> None:
    """Stop dockerd if periph started it (its containers stop with it; images stay)."""
    stop_started(COMPONENT, "docker: dockerd", log, STOP_TIMEOUT)
