"""``doctor``: is this machine ready to run the stack? One ``Check`` per concern.

Each failure carries its remedy. Checks never raise: an engine that does not answer is
a failed check (and the checks that need it say so), so ``periph doctor`` is the one
command that works when nothing else does.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from typing import TYPE_CHECKING

from periph_env.errors import PeriphError

if TYPE_CHECKING:
    from periph_env.stack.control import Stack


@dataclass(slots=True, frozen=True)
class Check:
    """One doctor check: ``status`` is ``ok``, ``warn`` or ``fail``."""

    name: str
    status: str
    detail: str
    remedy: str | None = None


def _run(argv: list[str], timeout: float = 10) -> subprocess.CompletedProcess[str] | None:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired):
        return None


def check_engine(stack: Stack) -> Check:
    """The Docker engine answers."""
    try:
        stack.check_engine()
        version = stack.api.get("/version") or {}
    except PeriphError as exc:
        return Check("docker engine", "fail", exc.message, exc.hint)
    return Check(
        "docker engine",
        "ok",
        f"{stack.api.host} (engine {version.get('Version', '?')}, "
        f"API {version.get('ApiVersion', '?')})",
    )


def check_compose() -> Check:
    """``docker compose`` is Compose v2."""
    if shutil.which("docker") is None:
        return Check("compose v2", "fail", "no `docker` CLI on PATH", "install the docker CLI")
    proc = _run(["docker", "compose", "version", "--short"])
    version = proc.stdout.strip() if proc and proc.returncode == 0 else ""
    if not version:
        return Check(
            "compose v2",
            "fail",
            "`docker compose` is not available",
            "install the Compose v2 plugin (`periph testenv up --tier docker` does it)",
        )
    if not version.lstrip("v").startswith("2"):
        return Check("compose v2", "fail", f"compose {version}", "install Compose v2")
    return Check("compose v2", "ok", f"docker compose {version}")


def check_kubectl() -> Check:
    """kubectl is installed and has contexts (needed for deploys, not for the stack)."""
    if shutil.which("kubectl") is None:
        return Check("kubectl", "warn", "not installed (only deploys need it)", "install kubectl")
    proc = _run(["kubectl", "config", "get-contexts", "-o", "name"])
    contexts = proc.stdout.split() if proc and proc.returncode == 0 else []
    if not contexts:
        return Check(
            "kubectl",
            "warn",
            "no contexts configured (only deploys need them)",
            "add the demo/prod contexts to your kubeconfig",
        )
    current = _run(["kubectl", "config", "current-context"])
    now = current.stdout.strip() if current and current.returncode == 0 else "none"
    return Check("kubectl", "ok", f"{len(contexts)} context(s), current: {now}")


def check_env(stack: Stack) -> Check:
    """The .env passes the env check (findings counted, never shown with values)."""
    if not stack.example_file.is_file():
        return Check(".env", "ok", "no .env.example: nothing to check")
    if not stack.env_file.is_file():
        return Check(
            ".env",
            "warn",
            f"{stack.env_file} does not exist",
            "`periph up` creates it, or run `periph env init`",
        )
    from periph_env import env as env_engine

    report = env_engine.check(
        str(stack.env_file), str(stack.example_file), "local", env_required=True
    )
    if report.errors:
        return Check(
            ".env",
            "fail",
            f"{report.errors} error(s), {report.warnings} warning(s) in {stack.env_file}",
            "run `periph env check` to see them and fix the file",
        )
    if report.warnings:
        return Check(
            ".env", "warn", f"{report.warnings} warning(s)", "run `periph env check` to see them"
        )
    return Check(".env", "ok", f"{stack.env_file} passes the env check")


def check_ports(stack: Stack) -> Check:
    """The ports the stack publishes are free (or already the stack's own)."""
    from periph_env.stack.errors import PortInUse
    from periph_env.stack.ports import check_free

    try:
        check_free(stack)
    except PortInUse as exc:
        return Check("ports", "fail", exc.message, exc.hint)
    except PeriphError as exc:
        return Check("ports", "fail", f"cannot read the stack's ports: {exc.message}", exc.hint)
    return Check("ports", "ok", "every published port is free or the stack's own")


def doctor(stack: Stack) -> list[Check]:
    """Every check, in the order a user fixes things."""
    engine = check_engine(stack)
    checks = [engine, check_compose(), check_kubectl(), check_env(stack)]
    if engine.status == "ok":
        checks.append(check_ports(stack))
    else:
        checks.append(Check("ports", "fail", "not checked: the engine is unreachable"))
    return checks
