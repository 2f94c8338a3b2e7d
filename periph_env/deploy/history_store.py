"""Reading and writing deploy history records in the cluster (see ``history`` for the format).

Writes go through the REST client (``kube_rest``: plain dicts), not kubectl, for their
status codes: a record's first write is a ``create`` (409: that revision exists, so take
the next one), later writes ``replace`` it at the resourceVersion last written (409:
someone wrote it since; re-read and write again only if it is still this run's record).
No record is overwritten blindly.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import socket
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from periph_env.deploy import history as h
from periph_env.deploy.kube import Kube
from periph_env.deploy.lock import api_failure, holder_now
from periph_env.errors import EngineError, PeriphError

CREATE_ATTEMPTS = 100  # revisions tried upwards before giving up (each 409 is one taken)
UPDATE_ATTEMPTS = 5


def who() -> str:
    """Who deploys: the CI actor, else git's user.email, else user@host."""
    for var in ("GITHUB_ACTOR", "GITLAB_USER_LOGIN", "PERIPH_DEPLOYER"):
        if os.environ.get(var):
            return os.environ[var]
    email = git_email()
    if email:
        return email
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def git_email() -> str:
    """git's ``user.email`` as ``git config user.email`` says it (in the current directory),
    read from the config files themselves: a deploy starts no process for a label. A config
    with ``include`` lines (which this reader does not follow) is asked of git itself."""
    files = [Path("/etc/gitconfig")]
    xdg = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    files += [Path(xdg) / "git" / "config", Path.home() / ".gitconfig"]
    for parent in (Path.cwd(), *Path.cwd().parents):
        if (parent / ".git").is_dir():
            files.append(parent / ".git" / "config")
            break
        if (parent / ".git").exists():  # a worktree or submodule: git knows where its config is
            return _ask_git()
    found = ""
    for path in files:
        try:
            text = path.read_text(errors="replace")
        except OSError:
            continue
        section = ""
        for raw in text.splitlines():
            line = raw.split("#", 1)[0].split(";", 1)[0].strip()
            if line.startswith("["):
                section = line.strip("[]").strip().lower()
                if section.startswith("include"):
                    return _ask_git()
            elif section == "user" and "=" in line:
                key, value = (part.strip() for part in line.split("=", 1))
                if key.lower() == "email":
                    found = value.strip('"')
    return found


def _ask_git() -> str:
    from periph_env.common.process import run

    return run(["git", "config", "user.email"], check=False).stdout.strip()


def now() -> str:
    """The current time, ISO 8601 in UTC, to the second."""
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def records(kube: Kube, environment: str) -> list[h.Record]:
    """Every stored record of ``environment``, newest first (none if the namespace is new)."""
    try:
        items = kube.list("ConfigMap", h.selector(environment))
    except EngineError as exc:
        if getattr(exc, "status", None) is None:
            raise  # the API server is gone: ClusterUnreachable as it is
        raise EngineError(
            f"cannot read the deploy history in {kube.namespace}: {exc.message}", hint=exc.hint
        ) from None
    found = h.ordered(items)
    versions = {
        (cm.get("metadata") or {}).get("name"): (cm.get("metadata") or {}).get("resourceVersion")
        for cm in items
        if isinstance(cm, dict)
    }
    for record in found:  # so that an update of one (mark_interrupted) is at its version
        record.resource_version = str(
            versions.get(h.object_name(record.environment, record.revision)) or ""
        )
    return found


def shown_records(kube: Kube, environment: str) -> list[h.Record]:
    """The records as ``periph history`` shows them: a ``running`` one whose run holds no
    live lock is ``abandoned`` (left as stored when the lock cannot be read)."""
    found = records(kube, environment)
    if not any(r.status == h.RUNNING for r in found):
        return found
    try:
        live = holder_now(kube)
    except EngineError:
        return found
    return [h.shown(r, live) for r in found]


def save(kube: Kube, record: h.Record) -> None:
    """Create ``record`` (a new one, at its revision or the next free one) or update it at
    the version last written."""
    if record.resource_version:
        _update(kube, record)
    else:
        create(kube, record)


def _call(kube: Kube, method: str, name: str = "", body: Any = None) -> Any:
    """One request on the namespace's ConfigMaps (an error status: an ``EngineError``
    with ``status``; an unreachable API server: one without)."""
    rest = kube.rest
    return rest.request(method, rest.path("v1", "ConfigMap", name), body=body)


def _status(exc: EngineError) -> int | None:
    return getattr(exc, "status", None)


def _failure(what: str, exc: EngineError) -> EngineError:
    """An error status as one line naming ``what``; any other error as it is."""
    return api_failure(what, exc) if _status(exc) is not None else exc


def create(kube: Kube, record: h.Record, attempts: int = CREATE_ATTEMPTS) -> None:
    """Create ``record``'s ConfigMap; when its revision exists already (a concurrent run
    took it), move ``record.revision`` up until a create succeeds."""
    for _ in range(attempts):
        what = f"create history record {h.object_name(record.environment, record.revision)}"
        record.resource_version = ""
        try:
            written = _call(kube, "POST", body=h.encode(record, kube.namespace))
        except EngineError as exc:
            if _status(exc) == 409:
                record.revision += 1
                continue
            raise _failure(what, exc) from None
        record.resource_version = _version(written)
        return
    raise EngineError(
        f"no free history revision for {record.environment} in {attempts} attempts "
        f"(up to #{record.revision})"
    )


def _update(kube: Kube, record: h.Record) -> None:
    name = h.object_name(record.environment, record.revision)
    what = f"update history record {name}"
    for _ in range(UPDATE_ATTEMPTS):
        try:
            written = _call(kube, "PUT", name, h.encode(record, kube.namespace))
        except EngineError as exc:
            if _status(exc) not in (404, 409):
                raise _failure(what, exc) from None
            current = _read(kube, name)
            if current is None or not _same_run(current[0], record):
                # Deleted, or replaced by another run's record: never write over that one.
                create(kube, record)
                return
            record.resource_version = current[1]
            continue
        record.resource_version = _version(written)
        return
    raise EngineError(f"cannot {what}: it kept changing under this run ({UPDATE_ATTEMPTS} tries)")


def _read(kube: Kube, name: str) -> tuple[h.Record, str] | None:
    """The record stored as ``name`` and its resourceVersion (None: gone or unreadable)."""
    what = f"read history record {name}"
    try:
        cm = _call(kube, "GET", name)
    except EngineError as exc:
        if _status(exc) == 404:
            return None
        raise _failure(what, exc) from None
    try:
        return h.decode(cm), _version(cm)
    except (KeyError, ValueError, TypeError):
        return None


def _same_run(stored: h.Record, mine: h.Record) -> bool:
    return (stored.started, stored.user, stored.holder, stored.action) == (
        mine.started, mine.user, mine.holder, mine.action,
    )  # fmt: skip


def _version(obj: dict[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("resourceVersion") or "")


def prune(kube: Kube, environment: str) -> None:
    """Delete records beyond the newest ``history.KEEP``."""
    old = h.expired(records(kube, environment))
    if old:
        names = [h.object_name(environment, r.revision) for r in old]
        for name in names:
            # Housekeeping: a record left over is deleted by the next deploy's prune.
            with contextlib.suppress(PeriphError):
                kube.delete("ConfigMap", name)


def mark_interrupted(kube: Kube, existing: list[h.Record]) -> None:
    """Records left ``running`` by a deploy that was killed become ``interrupted``."""
    for record in existing:
        if record.status == h.RUNNING:
            record.status = h.INTERRUPTED
            record.message = "the deploy stopped before recording a result (killed?)"
            save(kube, record)
