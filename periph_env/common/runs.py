"""Owned runs: a long operation is one object that owns its threads and processes.

A deploy, a rollback, a verify, a build, a log follow: each is a ``Run``. The work checks
the run's stop request at its own pace (``check``, ``sleep``, ``stop_event``); every thread
and process it starts goes through ``thread`` / ``process`` so that ``stop`` reaches them
and ``join`` waits for them. Nothing of a run outlives ``stop(); join()``: that is what lets
``periph`` leave through an ordinary interpreter exit, with no thread left to block it or
to be killed in the middle of a write.

The protocol (``stop()``, ``join(timeout) -> bool``, ``running``) is the one the TUI's run
registry drives; the stack engine's followers and watchers speak the same ``stop``/``join``.
"""

from __future__ import annotations

import contextlib
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol

PROCESS_GRACE = 3.0  # seconds a terminated process gets before it is killed


class Stopped(BaseException):
    """Raised in a run's work when a stop was requested.

    A ``BaseException`` like ``KeyboardInterrupt``: it is not an error, and the ``except
    Exception`` of code it passes through must not swallow it.
    """


class Stoppable(Protocol):
    """What a run registry drives: anything with ``stop`` and ``join``."""

    def stop(self) -> None:
        """Ask the work to end (returns at once)."""

    def join(self, timeout: float | None = None) -> bool:
        """Wait for it to end; True when it has."""


class Run:
    """One long operation: a stop request, the threads and processes it owns, its step.

    ``name`` says what it is ("deploy of demo"); ``step`` says where it is ("migrations"),
    for the question the TUI asks before quitting and for the interruption's record.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.step = ""
        self._stop = threading.Event()
        self._done = threading.Event()
        self._begun = False
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._processes: list[subprocess.Popen[Any]] = []
        self._on_stop: list[Callable[[], None]] = []
        self._on_end: list[Callable[[], None]] = []

    # -- state ------------------------------------------------------------------------------

    @property
    def stop_event(self) -> threading.Event:
        """Set once a stop was requested (for code that waits on an Event)."""
        return self._stop

    @property
    def stop_requested(self) -> bool:
        """True once ``stop`` was called."""
        return self._stop.is_set()

    @property
    def running(self) -> bool:
        """True from the start of the work until it has ended."""
        return self._begun and not self._done.is_set()

    @property
    def done(self) -> bool:
        """True once the work has ended (and its threads and processes with it)."""
        return self._done.is_set()

    def describe(self) -> str:
        """``deploy of demo (step: rollout)``: what the TUI names before stopping it."""
        return f"{self.name} (step: {self.step})" if self.step else self.name

    # -- for the work -----------------------------------------------------------------------

    def check(self) -> None:
        """Raise ``Stopped`` if a stop was requested (call between steps)."""
        if self._stop.is_set():
            raise Stopped(self.describe())

    def sleep(self, seconds: float) -> None:
        """Sleep ``seconds``, or raise ``Stopped`` as soon as a stop is requested."""
        if self._stop.wait(max(0.0, seconds)):
            raise Stopped(self.describe())

    def on_stop(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` on ``stop`` (e.g. close a connection a thread is blocked on)."""
        with self._lock:
            if not self._stop.is_set():
                self._on_stop.append(callback)
                return
        callback()

    def on_end(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` once the work has ended, after its own ending (e.g. release a
        lock only after the run's record is written, however it was stopped)."""
        with self._lock:
            self._on_end.append(callback)

    def thread(self, target: Callable[..., Any], *args: Any, name: str = "") -> threading.Thread:
        """Start ``target(*args)`` in a thread the run owns (joined by ``join``).

        Daemon only as a last resort: ``join`` is what ends it, and a run is joined before
        the process exits.
        """
        thread = threading.Thread(
            target=target, args=args, name=name or f"periph-{self.name}", daemon=True
        )
        with self._lock:
            self._threads.append(thread)
        thread.start()
        return thread

    def process(self, argv: Sequence[str], **popen: Any) -> subprocess.Popen[Any]:
        """Start a process the run owns: terminated on ``stop``, reaped by ``join``."""
        proc = subprocess.Popen(list(argv), **popen)
        with self._lock:
            self._processes.append(proc)
            stopping = self._stop.is_set()
        if stopping:
            _terminate(proc)
        return proc

    def own(self, part: Stoppable) -> None:
        """Stop and join ``part`` (a watch, a follower) with the run."""
        self.on_stop(part.stop)
        with self._lock:
            self._threads.append(_Joiner(part))  # type: ignore[arg-type]

    @contextlib.contextmanager
    def working(self) -> Iterator[None]:
        """Mark the work's lifetime; on the way out, stop and reap what the run owns."""
        self._begun = True
        try:
            yield
        finally:
            self._release()
            self._done.set()

    # -- for the owner ----------------------------------------------------------------------

    def stop(self) -> None:
        """Ask the work to stop: wake its waits, run ``on_stop`` callbacks, end processes."""
        with self._lock:
            if self._stop.is_set():
                return
            self._stop.set()
            callbacks, processes = list(self._on_stop), list(self._processes)
        for callback in callbacks:
            with contextlib.suppress(Exception):  # stopping must not fail on a dead part
                callback()
        for proc in processes:
            _terminate(proc)

    def join(self, timeout: float | None = None) -> bool:
        """Wait until the work and everything it owns has ended; True when it has."""
        deadline = None if timeout is None else time.monotonic() + timeout
        if self._begun and not self._done.wait(_left(deadline)):
            return False
        return self._reap(deadline)

    def close(self, timeout: float | None = None) -> bool:
        """``stop()`` then ``join(timeout)``."""
        self.stop()
        return self.join(timeout)

    # -- inside -----------------------------------------------------------------------------

    def _release(self) -> None:
        """The work has ended: whatever it still owns is stopped and reaped."""
        with self._lock:
            callbacks = list(self._on_stop) + list(self._on_end)
            processes = list(self._processes)
        for callback in callbacks:
            with contextlib.suppress(Exception):
                callback()
        for proc in processes:
            _terminate(proc)
        self._reap(time.monotonic() + PROCESS_GRACE + 10)

    def _reap(self, deadline: float | None) -> bool:
        with self._lock:
            threads, processes = list(self._threads), list(self._processes)
        current = threading.current_thread()
        for thread in threads:
            if thread is not current:
                thread.join(_left(deadline))
        for proc in processes:
            try:
                proc.wait(_left(deadline, PROCESS_GRACE))
            except subprocess.TimeoutExpired:
                proc.kill()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(1.0)
        return not any(t.is_alive() for t in threads if t is not current) and all(
            p.poll() is not None for p in processes
        )


class _Joiner:
    """A stop/join part seen as a thread (``join``, ``is_alive``) by ``Run._reap``."""

    def __init__(self, part: Stoppable) -> None:
        self.part = part
        self._ended = False

    def join(self, timeout: float | None = None) -> None:
        ended = self.part.join(timeout)
        self._ended = ended is None or bool(ended)  # a Thread's join returns None

    def is_alive(self) -> bool:
        alive = getattr(self.part, "is_alive", None)
        return alive() if callable(alive) else not self._ended


def _left(deadline: float | None, cap: float | None = None) -> float | None:
    if deadline is None:
        return cap
    left = max(0.0, deadline - time.monotonic())
    return left if cap is None else min(left, cap)


def _terminate(proc: subprocess.Popen[Any]) -> None:
    if proc.poll() is None:
        with contextlib.suppress(OSError):
            proc.terminate()
