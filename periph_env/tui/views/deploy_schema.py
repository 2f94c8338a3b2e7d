"""What the schema check says about a rollback, before the maintainer confirms it.

Read-only: the same steps ``RollbackRun`` takes up to its schema step (context guard, the
revisions it would return to, ``schema_read.check`` without force), so the confirmation
shows "rolling back to deploy #N leaves 0007, 0008 applied" or the refusal across a
contract migration with its hint. No logic of its own: ``periph_env.deploy.operations``
and ``schema_read`` decide; the rollback run checks again when it runs (the database may
move meanwhile), so this only informs the question. No Textual here.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from periph_env.errors import PeriphError


@dataclass(frozen=True)
class SchemaPreview:
    """The schema check's answer for one rollback: ``ok`` (go ahead) or refused with
    ``message``/``hint``; ``lines`` are its notes ("... leaves 0007 (expand) applied")."""

    ok: bool
    lines: list[str] = field(default_factory=list)
    message: str = ""
    hint: str = ""
    forceable: bool = False  # refused by the schema check itself: --force-schema goes on


def moving_to(to_revision: int | None) -> str:
    """The words the rollback run uses for where it goes (the same as its notes)."""
    if to_revision:
        return f"rolling back to deploy #{to_revision}"
    return "rolling back to the previous revisions"


def _drive(work: Generator[Any, None, Any], lines: list[str]) -> Any:
    """Run a generator of deploy events to its return value, keeping the notes' text."""
    while True:
        try:
            event = next(work)
        except StopIteration as stop:
            return stop.value
        text = getattr(event, "text", None)
        if type(event).__name__ == "Note" and text:
            lines.append(text)


def stoppable_sleep(stop: threading.Event | None) -> Callable[[float], None]:
    """A ``sleep`` for the read Job's wait that ends it when ``stop`` is set (quitting
    must not wait for the Job)."""

    def sleep(seconds: float) -> None:
        if stop is None:
            threading.Event().wait(seconds)
        elif stop.wait(seconds):
            raise PeriphError("the schema check was stopped")

    return sleep


def rollback_schema(
    root: str | Path,
    environment: str,
    to_revision: int | None,
    stop: threading.Event | None = None,
) -> SchemaPreview:
    """What rolling ``environment`` back (to deploy #``to_revision``) means for the schema.

    A refusal that is not the schema check's (no cluster, no such deploy, nothing to roll
    back) comes back with ``forceable`` False: --force-schema would not change it.
    ``stop`` set ends the wait for the read Job.
    """
    from periph_env.deploy import guards, schema_read
    from periph_env.deploy.operations import deployments, targets_for
    from periph_env.deploy.session import open_session

    try:
        session = open_session(root, environment)
        target, kube = session.target, session.kube
        context = guards.context_guard(target, kube)
        if not context.ok:
            return SchemaPreview(False, message=context.message, hint=context.hint or "")
        names = deployments(kube, environment)
        if not names:
            return SchemaPreview(False, message=f"no Deployments in {kube.namespace}")
        targets = targets_for(kube, environment, names, to_revision)
        if not targets:
            return SchemaPreview(True, ["every Deployment already runs that revision"])
        lines: list[str] = []
        check = _drive(
            schema_read.check(
                kube,
                target.root,
                moving_to(to_revision),
                schema_read.deployment_images(kube, names, targets),
                schema_read.deployment_images(kube, names, {}),
                sleep=stoppable_sleep(stop),
            ),
            lines,
        )
    except PeriphError as exc:
        return SchemaPreview(False, message=exc.message, hint=getattr(exc, "hint", "") or "")
    return SchemaPreview(check.ok, lines, check.message, check.hint, forceable=not check.ok)
