"""``doctor``: is this machine ready to run the stack? One ``Check`` per concern.

Each failure carries its remedy. Checks never raise: an engine that does not answer is
a failed check (and the checks that need it say so), so ``periph doctor`` is the one
command that works when nothing else does.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
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


def configured_contexts(root: str | Path | None) -> dict[str, str]:
    """Environment name -> the kube context periph deploys it with (``periph.toml`` with
    ``PERIPH_<ENV>_CONTEXT`` applied); empty when nothing is configured or readable."""
    if root is None:
        return {}
    from periph_env.common.config import load

    try:
        envs = load(root).get("environments", {})
    except PeriphError:
        return {}
    if not isinstance(envs, dict):
        return {}
    return {
        str(name): str(env["context"])
        for name, env in sorted(envs.items())
        if isinstance(env, dict) and env.get("context")
    }


def _env_var(name: str) -> str:
    return "PERIPH_" + re.sub(r"[^A-Z0-9]", "_", name.upper()) + "_CONTEXT"


def _testenv_hint() -> str:
    """Where the contexts come from: the test cluster's kubeconfig, or the user's own."""
    try:
        from periph_env.testenv.kube_config import periph_dir

        kubeconfig = periph_dir() / "kubeconfig"
    except Exception:  # doctor never raises; the hint just gets less specific
        kubeconfig = None
    if kubeconfig is not None and kubeconfig.is_file():
        return f"for the test cluster: export KUBECONFIG={kubeconfig} (after `periph testenv up`)"
    return "run `periph testenv up` for the test cluster, or set KUBECONFIG"


def check_kubectl(root: str | Path | None = None) -> Check:
    """kubectl is installed and the kubeconfig holds the contexts periph deploys with
    (needed for deploys, not for the stack)."""
    binary = os.environ.get("PERIPH_KUBECTL") or shutil.which("kubectl")
    if not binary:
        return Check("kubectl", "warn", "not installed (only deploys need it)", "install kubectl")
    proc = _run([binary, "config", "get-contexts", "-o", "name"])
    if proc is None or proc.returncode != 0:
        # Its stderr is not echoed: a broken kubeconfig's error can quote its lines.
        return Check(
            "kubectl",
            "warn",
            "kubectl cannot read the kubeconfig"
            + (f" (exit {proc.returncode})" if proc is not None else " (it did not answer)"),
            "run `kubectl config get-contexts` to see why, or set KUBECONFIG",
        )
    contexts = proc.stdout.split()
    wanted = configured_contexts(root)
    testenv = _testenv_hint()
    if not contexts:
        return Check(
            "kubectl",
            "warn",
            "no contexts in the kubeconfig (only deploys need them)",
            f"{testenv} (deploys need the demo/prod contexts)",
        )
    current = _run([binary, "config", "current-context"])
    now = current.stdout.strip() if current and current.returncode == 0 else "none"
    missing = {name: ctx for name, ctx in wanted.items() if ctx not in contexts}
    if wanted and len(missing) == len(wanted):
        names = ", ".join(f"{ctx} ({name})" for name, ctx in missing.items())
        variables = " / ".join(_env_var(name) for name in missing)
        return Check(
            "kubectl",
            "warn",
            f"none of the configured contexts is in the kubeconfig: {names} "
            f"({len(contexts)} other context(s), current: {now}); deploys cannot run",
            f"{testenv}, or set {variables} to contexts you have",
        )
    found = [f"{name}: {ctx}" for name, ctx in wanted.items() if name not in missing]
    detail = f"{len(contexts)} context(s), current: {now}"
    if found:
        detail += f"; deploys use {', '.join(found)}"
    if missing:
        detail += "; not in the kubeconfig: " + ", ".join(
            f"{ctx} ({name})" for name, ctx in missing.items()
        )
    return Check("kubectl", "ok", detail)


def check_env(stack: Stack) -> Check:
    """The .env passes the env check (findings counted, never shown with values).

    What sits at the env file's path is named as it is: a directory or a FIFO is not
    "missing", and a dangling link says where it points.
    """
    from periph_env.env.files import problem, shown_path

    example_problem = problem(str(stack.example_file))
    if example_problem is not None and example_problem[0] == "missing":
        return Check(".env", "ok", "no .env.example: nothing to check")
    if example_problem is not None:
        return Check(
            ".env",
            "fail",
            f"{shown_path(str(stack.example_file))} {example_problem[1]}",
            "make .env.example a readable plain file (it is the contract)",
        )
    env_problem = problem(str(stack.env_file))
    if env_problem is not None:
        state, phrase = env_problem
        shown = shown_path(str(stack.env_file))
        if state == "missing":
            return Check(
                ".env",
                "warn",
                f"{shown} does not exist",
                "`periph up` creates it, or run `periph env init`",
            )
        remedy = (
            "create the link's target or remove the link, then run `periph env init`"
            if state == "dangling"
            else "move it out of the way (periph reads it as the stack's env file), "
            "then run `periph env init`"
        )
        return Check(".env", "fail", f"{shown} {phrase}", remedy)
    from periph_env import env as env_engine

    try:
        report = env_engine.check(
            str(stack.env_file), str(stack.example_file), "local", env_required=True
        )
    except PeriphError as exc:  # unreadable, too big, an unusable example: say which
        return Check(".env", "fail", exc.message, exc.hint or "run `periph env check`")
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


def check_hints(stack: Stack) -> Check:
    """The ``x-periph`` hint rules of the compose file parse (a broken one would otherwise
    be met only when an alert fires, and that alert would come without its hint)."""
    from periph_env.stack.hints import load_rules

    try:
        rules = load_rules(stack.compose_path)
    except PeriphError as exc:
        return Check("hints", "fail", exc.message, exc.hint or "fix the rule in x-periph.hints")
    count = sum(len(r) for r in rules.values())
    return Check("hints", "ok", f"{count} alert hint rule(s) in {stack.compose_path.name}")


def check_migrations(stack: Stack) -> Check:
    """Every migration declares ``-- periph: expand`` or ``contract`` in its header (an
    undeclared one counts as contract: a rollback past it is refused)."""
    from periph_env.common import migration_kinds as kinds

    folder = kinds.migrations_folder(Path(stack.root))
    try:
        found = kinds.read_folder(folder)
    except kinds.HeaderError as exc:
        return Check("migrations", "fail", str(exc), "write `-- periph: expand` or `contract`")
    undeclared = [m.name for m in found if m.kind is None]
    if undeclared:
        return Check(
            "migrations",
            "warn",
            f"{', '.join(undeclared)} declare(s) no kind: treated as contract",
            "add `-- periph: expand` or `-- periph: contract` to the header comment "
            '(docs/deploy-runbook.md, "Expand and contract")',
        )
    return Check("migrations", "ok", f"{len(found)} migration(s), each declaring its kind")


def doctor(stack: Stack) -> list[Check]:
    """Every check, in the order a user fixes things."""
    engine = check_engine(stack)
    checks = [
        engine,
        check_compose(),
        check_kubectl(stack.root),
        check_env(stack),
        check_hints(stack),
        check_migrations(stack),
    ]
    if engine.status == "ok":
        checks.append(check_ports(stack))
    else:
        checks.append(Check("ports", "fail", "not checked: the engine is unreachable"))
    return checks
