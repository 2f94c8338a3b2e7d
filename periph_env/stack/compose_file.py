"""What periph needs from the compose file, read without running Compose (pure).

Services in dependency order, which of them are one-shots, their ``develop.watch`` rules
and reload markers. Reading the YAML ourselves keeps ``ps`` and ``watch`` start-up fast
(``docker compose config`` is a subprocess of ~0.2 s) and lets a broken file be reported
with its file and line. Interpolation is not needed for any of these fields; paths in
watch rules are resolved against the compose file's directory as Compose does.

periph's own per-service extension (Compose ignores ``x-`` keys)::

    x-periph:
      reload_marker: "periph:reloaded"   # regex the service logs once new code serves
      reload_timeout: 15                 # seconds to wait for it (default 15)
      sync_signal: SIGWINCH              # sent to the container after each sync, so an
                                         # in-process reloader starts at once instead
                                         # of at its next poll (optional)
"""

from __future__ import annotations

import re
import signal
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from periph_env.stack.errors import ComposeFileError

WATCH_ACTIONS = ("sync", "rebuild", "sync+restart", "sync+exec")


@dataclass(frozen=True, slots=True)
class WatchRule:
    """One ``develop.watch`` entry, with its path made absolute."""

    service: str
    action: str
    path: Path
    target: str | None = None
    ignore: tuple[str, ...] = ()
    initial_sync: bool = False
    include: tuple[str, ...] = ()
    exec_command: tuple[str, ...] = ()


@dataclass(slots=True)
class ServiceSpec:
    """One service as the compose file declares it."""

    name: str
    depends_on: dict[str, str] = field(default_factory=dict)  # service -> condition
    watch: list[WatchRule] = field(default_factory=list)
    one_shot: bool = False
    has_build: bool = False
    reload_marker: str | None = None
    has_healthcheck: bool = False
    reload_timeout: float | None = None  # x-periph.reload_timeout, seconds
    sync_signal: str | None = None  # x-periph.sync_signal, e.g. "SIGHUP"
    build_context: Path | None = None  # absolute; its .dockerignore also filters watch
    dockerfile: str | None = None


@dataclass(slots=True)
class ComposeModel:
    """The parts of a compose file periph uses."""

    path: Path
    name: str | None
    services: dict[str, ServiceSpec]

    def ordered(self) -> list[str]:
        """Service names in dependency order (dependencies first, then by file order)."""
        order: list[str] = []
        seen: set[str] = set()

        def visit(name: str, stack: tuple[str, ...]) -> None:
            if name in seen or name not in self.services:
                return
            if name in stack:
                raise ComposeFileError(
                    f"{self.path}: dependency cycle: {' -> '.join((*stack, name))}"
                )
            for dep in self.services[name].depends_on:
                visit(dep, (*stack, name))
            seen.add(name)
            order.append(name)

        for name in self.services:
            visit(name, ())
        return order

    def rules(self, services: list[str] | None = None) -> list[WatchRule]:
        """Every watch rule, optionally only for ``services``."""
        return [
            rule
            for spec in self.services.values()
            if services is None or spec.name in services
            for rule in spec.watch
        ]


def _yaml_error(path: Path, exc: Exception) -> ComposeFileError:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark is not None else str(path)
    return ComposeFileError(f"{where}: invalid YAML: {problem}", hint="fix the compose file")


def load(path: str | Path) -> ComposeModel:
    """Read and parse the compose file at ``path`` (``ComposeFileError`` names file:line)."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ComposeFileError(f"{path}: cannot read the compose file: {exc.strerror}") from None
    return parse(text, path)


def _line_of(text: str, key: str) -> int | None:
    match = re.search(rf"^\s*{re.escape(key)}\s*:", text, re.MULTILINE)
    return None if match is None else text.count("\n", 0, match.start()) + 1


def parse(text: str, path: Path) -> ComposeModel:
    """Parse compose YAML ``text`` read from ``path`` (pure: no file access)."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        data = yaml.load(text, Loader=loader)
    except yaml.YAMLError as exc:
        raise _yaml_error(path, exc) from None
    if not isinstance(data, dict) or not isinstance(data.get("services"), dict):
        raise ComposeFileError(f"{path}: no `services:` mapping", hint="is this a compose file?")
    base = path.parent
    services: dict[str, ServiceSpec] = {}
    for name, raw in data["services"].items():
        where = f"{path}:{_line_of(text, str(name)) or 1}"
        if not isinstance(raw, dict):
            raise ComposeFileError(f"{where}: service {name!r} must be a mapping")
        services[name] = _service(name, raw, base, where)
    for spec in services.values():
        for dep, condition in spec.depends_on.items():
            if condition == "service_completed_successfully" and dep in services:
                services[dep].one_shot = True
    return ComposeModel(path=path, name=data.get("name"), services=services)


def _depends(raw: Any, where: str) -> dict[str, str]:
    if raw is None:
        return {}
    if isinstance(raw, list):
        return {str(d): "service_started" for d in raw}
    if isinstance(raw, dict):
        return {
            str(d): (v or {}).get("condition", "service_started")
            if isinstance(v, dict)
            else "service_started"
            for d, v in raw.items()
        }
    raise ComposeFileError(f"{where}: depends_on must be a list or a mapping")


def _reload_timeout(value: Any, name: str, where: str) -> float | None:
    if value is None:
        return None
    text = str(value).strip().removesuffix("s")
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if isinstance(value, bool) or not 0 < seconds <= 3600:
        raise ComposeFileError(
            f"{where}: service {name!r}: x-periph.reload_timeout must be a number of "
            f"seconds between 0 and 3600, got {value!r}",
            hint="e.g. `reload_timeout: 15`",
        )
    return seconds


def _sync_signal(value: Any, name: str, where: str) -> str | None:
    """``x-periph.sync_signal`` as the engine's kill API takes it (``SIGHUP``)."""
    if value is None:
        return None
    text = str(value).strip().upper()
    text = text if text.startswith("SIG") else f"SIG{text}"
    # Signals that stop the process would turn every sync into a restart: refused.
    stopping = {"SIGKILL", "SIGSTOP", "SIGTERM", "SIGINT", "SIGQUIT"}
    if isinstance(value, bool) or text not in signal.Signals.__members__ or text in stopping:
        raise ComposeFileError(
            f"{where}: service {name!r}: x-periph.sync_signal must name a signal the "
            f"service's reloader handles, got {value!r}",
            hint="e.g. `sync_signal: SIGHUP` (to restart instead, use `action: sync+restart`)",
        )
    return text


def _build(raw: Any, base: Path) -> tuple[Path | None, str | None]:
    """(absolute build context, dockerfile) as Compose resolves them."""
    if isinstance(raw, str):
        return (base / raw).resolve(), "Dockerfile"
    if isinstance(raw, dict):
        return (base / str(raw.get("context") or ".")).resolve(), str(
            raw.get("dockerfile") or "Dockerfile"
        )
    return None, None


def _service(name: str, raw: dict, base: Path, where: str) -> ServiceSpec:
    x_periph = raw.get("x-periph") or {}
    if not isinstance(x_periph, dict):
        x_periph = {}
    health = raw.get("healthcheck")
    context, dockerfile = _build(raw.get("build"), base)
    spec = ServiceSpec(
        name=name,
        depends_on=_depends(raw.get("depends_on"), where),
        has_build="build" in raw,
        reload_marker=x_periph.get("reload_marker"),
        has_healthcheck=isinstance(health, dict) and not health.get("disable"),
        reload_timeout=_reload_timeout(x_periph.get("reload_timeout"), name, where),
        sync_signal=_sync_signal(x_periph.get("sync_signal"), name, where),
        build_context=context,
        dockerfile=dockerfile,
    )
    develop = raw.get("develop") or {}
    for entry in develop.get("watch") or []:
        if not isinstance(entry, dict) or "path" not in entry or "action" not in entry:
            raise ComposeFileError(
                f"{where}: service {name!r}: each watch rule needs action and path"
            )
        action = entry["action"]
        if action not in WATCH_ACTIONS:
            raise ComposeFileError(
                f"{where}: service {name!r}: unknown watch action {action!r}",
                hint=f"use one of {', '.join(WATCH_ACTIONS)}",
            )
        if action != "rebuild" and not entry.get("target"):
            raise ComposeFileError(f"{where}: service {name!r}: a {action} rule needs a target")
        exec_cmd = (entry.get("exec") or {}).get("command") if action == "sync+exec" else None
        if isinstance(exec_cmd, str):
            exec_cmd = ["/bin/sh", "-c", exec_cmd]
        spec.watch.append(
            WatchRule(
                service=name,
                action=action,
                path=(base / str(entry["path"])).resolve(),
                target=entry.get("target"),
                ignore=tuple(str(p) for p in entry.get("ignore") or ()),
                initial_sync=bool(entry.get("initial_sync")),
                include=tuple(str(p) for p in entry.get("include") or ()),
                exec_command=tuple(exec_cmd or ()),
            )
        )
    return spec
