"""The deploy operations as owned runs: one object per deploy, rollback, rollout status or
verify, with one ending.

An ``OperationRun`` is a ``periph_env.common.runs.Run`` whose work is a generator of events
(``work``). Iterating the run (``for event in run``) drives the work in the calling thread
and always ends with exactly one ``Finished``, produced by ``finish``: the only place that
writes the ending of the operation's history record, notifies and says how it ended.

How it ended, whatever happened inside:

* the work returned an ``Ending``: that one;
* a stop request (``run.stop()``), ctrl+c, or the consumer dropping the run mid-way:
  ``interrupted``, with the step it was in ("interrupted by the user during migrations");
* a ``PeriphError`` or any other error (the API server went away, a client library
  raised): ``failed``, with the cause, masked, on one line. No traceback reaches a user.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from periph_env.common.runs import Run, Stopped
from periph_env.deploy import history
from periph_env.deploy.events import Event, Finished, Note, Step
from periph_env.deploy.migrate import mask
from periph_env.deploy.session import Session, finish_record, notifications, open_session
from periph_env.errors import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, PeriphError

EXIT_INTERRUPTED = 130  # what a shell reports for ctrl+c
EXIT_CODES = {
    "succeeded": EXIT_OK,
    "dry-run": EXIT_OK,
    "verified": EXIT_OK,
    "refused": EXIT_USAGE,
    "failed": EXIT_FAILURE,
    "rolled-back": EXIT_FAILURE,
    history.INTERRUPTED: EXIT_INTERRUPTED,
}
CAUSE_CHARS = 400  # an unexpected error's cause, cut to one readable line
# Pauses before writing a record again (s): an API server that failed a deploy may be back
# within seconds, and the record should then say "failed", not stay "running".
RECORD_RETRIES = (1.0, 2.0, 4.0, 8.0)


@dataclass(frozen=True)
class Ending:
    """How the work says it ended: a status (a key of ``EXIT_CODES``), why, and (from a
    ``PeriphError``) what to do next."""

    status: str
    message: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    hint: str = ""
    error: str = ""  # the error that ended the work, when one did


Work = Generator[Event, None, Ending]


def cause(exc: BaseException) -> str:
    """One line naming what failed: the PeriphError's message, else the error's type and
    first line (a urllib3 ``MaxRetryError`` names the endpoint that did not answer)."""
    if isinstance(exc, PeriphError):
        hint = f" ({exc.hint})" if exc.hint else ""
        return f"{exc.message}{hint}"
    text = " ".join(str(exc).split())[:CAUSE_CHARS]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class OperationRun(Run):
    """A deploy operation on one environment; subclasses give ``action`` and ``work``."""

    action = "operation"
    changes_cluster = False  # True: stopping it midway leaves the cluster half-changed

    def __init__(self, root: str | Path, environment: str) -> None:
        super().__init__(f"{self.action} of {environment}")
        self.root, self.environment = root, environment
        self.started = time.monotonic()
        self.session: Session | None = None
        self.record: history.Record | None = None  # set once the work has written one
        self.result: Finished | None = None
        self.lock: Any = None  # the environment's DeployLock, once taken
        self._iterated = False

    # -- the work (subclasses) --------------------------------------------------------------

    def work(self) -> Work:
        """The operation's steps: yields events, returns its ``Ending``."""
        raise NotImplementedError

    def open(self) -> Session:
        """The environment, opened once per run (target, secrets source, kubectl)."""
        if self.session is None:
            self.session = open_session(self.root, self.environment)
        return self.session

    def elapsed(self) -> float:
        """Seconds since the run was created."""
        return time.monotonic() - self.started

    # -- driving ----------------------------------------------------------------------------

    def __iter__(self) -> Iterator[Event]:
        return self.events()

    def events(self) -> Iterator[Event]:
        """Drive the work in this thread; the last event is the one ``Finished``."""
        if self._iterated:
            raise RuntimeError(f"the {self.name} has already run")
        self._iterated = True
        with self.working():
            work = self.work()
            try:
                ending = yield from self._drive(work)
            except (Stopped, KeyboardInterrupt):
                ending = Ending(history.INTERRUPTED, self.interruption())
            except GeneratorExit:
                # The consumer let go of the run (ctrl+c in its own frame, a closed
                # iterator): nothing more can be yielded, but the record still ends.
                work.close()
                for _ in self.finish(history.INTERRUPTED, self.interruption()):
                    pass
                raise
            except PeriphError as exc:
                # A usage error (an unknown deploy #N, a bad periph.toml) keeps its exit 2.
                usage = exc.exit_code == EXIT_USAGE
                status = "refused" if usage else "failed"
                # A held lock is a refusal like a guard's, not an error.
                said = "" if _lock_busy(exc) else exc.message
                ending = Ending(status, self.failure(exc), hint=exc.hint or "", error=said)
            except Exception as exc:  # not periph's own error: one line, never a traceback
                ending = Ending("failed", self.failure(exc), error=cause(exc))
            finally:
                work.close()
            yield from self.finish(
                ending.status, ending.message, ending.details, ending.hint, ending.error
            )

    def _drive(self, work: Work) -> Generator[Event, None, Ending]:
        told = False
        while True:
            self.check()
            try:
                event = next(work)
            except StopIteration as end:
                return end.value or Ending("failed", "the operation ended without a result")
            if isinstance(event, Step) and event.seconds is None:
                self.step = event.name
            yield event
            if self.lock is not None and self.lock.lost and not told:
                told = True
                yield Note(f"lost the {self.environment} lock while running: {self.lock.lost}")

    def interruption(self) -> str:
        """``interrupted by the user during <step>``."""
        return (
            f"interrupted by the user during {self.step}"
            if self.step
            else ("interrupted by the user")
        )

    def failure(self, exc: BaseException) -> str:
        """The cause of a failure, with the step it happened in, masked. A refusal (a usage
        error: the lock is held, no deploy #N) says why on its own. A ``PeriphError``'s hint
        is not part of it: it goes to ``Finished.hint`` (its own ``hint:`` line)."""
        text = exc.message if isinstance(exc, PeriphError) else cause(exc)
        usage = isinstance(exc, PeriphError) and exc.exit_code == EXIT_USAGE
        if self.step and not usage:
            text = f"during {self.step}: {text}"
        return mask(text, self.secrets())

    def hold_lock(self, operation: str, *, wait: bool, create_namespace: bool = True) -> Work:
        """Take the environment's deploy lock (``deploy.lock``) for the rest of the run,
        saying what happens; released when the run has ended, after its record is written.
        Held by another run: ``LockBusy`` (refused, exit 2) unless ``wait``."""
        from periph_env.deploy.lock import DeployLock

        session = self.open()
        lock = DeployLock(
            session.kube, self.environment, operation, session.git().sha,
            create_namespace=create_namespace,
        )  # fmt: skip
        self.on_end(lock.stop)  # not on stop: the interrupted record is written under it
        self.lock, self.step = lock, "lock"
        yield from lock.acquire(wait)
        return Ending("succeeded")

    def secrets(self) -> list[str]:
        """The secret values to mask in anything this run says."""
        return self.session.kube.secrets if self.session is not None else []

    # -- the one ending ---------------------------------------------------------------------

    def finish(
        self,
        status: str,
        message: str = "",
        details: dict | None = None,
        hint: str = "",
        error: str = "",
    ) -> Iterator[Event]:
        """End the operation: the history record, the notifications, then ``Finished``
        (``hint``: what to do next, said on its own line; not part of the record).

        Called once per run (by ``events``); a second call yields nothing. A record that
        cannot be written (the API server is gone) is said in a Note, not raised: the next
        deploy shows it as left behind.
        """
        if self.result is not None:
            return
        message = mask(message, self.secrets())
        self.result = Finished(
            status,
            EXIT_CODES.get(status, EXIT_FAILURE),
            self.elapsed(),
            self.record.revision if self.record is not None else None,
            message=message,
            details=dict(details or {}),
            hint=mask(hint, self.secrets()),
            error=mask(error, self.secrets()),
        )
        said: list[Event] = []
        if self.record is not None and self.session is not None:
            kube = self.session.kube
            problem = self._write_record(status, message)
            if problem:
                said.append(Note(f"could not record the result in the cluster: {problem}"))
            with contextlib.suppress(Exception):  # a notifier is a help, not the result
                said += notifications(self.record, self.session.source, kube)
        for event in said:
            yield mask_note(event, self.secrets())
        yield self.result

    def _write_record(self, status: str, message: str) -> str:
        """Write the record's ending; when the API server is what failed, it may be back in
        a few seconds: retry (bounded) before giving up. "" or why it could not."""
        assert self.record is not None and self.session is not None
        kube, record = self.session.kube, self.record
        return _retrying(
            lambda: finish_record(kube, record, status, self.started, message), RECORD_RETRIES
        )


def _retrying(write: Callable[[], None], pauses: tuple[float, ...]) -> str:
    """Run ``write``, again after each pause while it fails; "" or the last failure."""
    problem = ""
    for pause in (0.0, *pauses):
        time.sleep(pause)
        try:
            write()
        except Exception as exc:  # the API server may be back in a moment
            problem = cause(exc)
        else:
            return ""
    return problem


def _lock_busy(exc: BaseException) -> bool:
    from periph_env.deploy.lock import LockBusy

    return isinstance(exc, LockBusy)


def mask_note(event: Event, secrets: list[str]) -> Event:
    """A Note with ``secrets`` masked (other events are masked where they are built)."""
    if isinstance(event, Note):
        return Note(mask(event.text, secrets))
    return event
