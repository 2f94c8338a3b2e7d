"""One deploy, rollback or verify per environment at a time: a Lease in its namespace.

The lock lives in the cluster, so it holds across maintainers and CI: a
``coordination.k8s.io/v1`` Lease ``periph-deploy-lock`` in the environment's namespace.
``spec.holderIdentity`` names the holder as a person reads it (``alice@host pid 123
(deploy, commit abc1234) #5f2c9a``; the last part is random, so two runs in one process
differ), annotations hold the same facts field by field, and ``renewTime`` is renewed by a
background thread every third of ``leaseDurationSeconds``.

- Taking it: ``create``; 409 means someone holds it. A lease whose ``renewTime +
  leaseDurationSeconds`` lies in the past belongs to a process that stopped renewing (killed,
  lost its machine): it is taken over with ``replace`` at the resourceVersion read, so of two
  takers one wins and the other gets 409 and sees the winner.
- Releasing it: ``delete`` with the resourceVersion of the last renewal as a precondition
  (never someone else's lease), on every exit path (``locked`` closes the run first).
- A namespace that does not exist yet (the first deploy) is created to hold the lease; the
  deploy applies its own Namespace object over it. Rollback and verify never create one
  (there is nothing to roll back or verify) and run without the lock there.

The lease length is ``PERIPH_LOCK_SECONDS`` (default 30; tests shorten it). Expiry is judged
with this machine's clock against the holder's: clocks more than a lease length apart could
take a live lock (the holder then says it lost the lock).
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from periph_env.deploy.events import Event, Finished, Note
from periph_env.deploy.kube import Kube
from periph_env.deploy.kube_rest import namespaced
from periph_env.deploy.lock_state import (
    BUSY,
    CREATE,
    LEASE_NAME,
    OURS,
    TAKE_OVER,
    LeaseState,
    busy_message,
    decide,
    describe,
    lease_body,
    lease_seconds,
    live_holder,
    this_process,
)
from periph_env.errors import EngineError, PeriphError, UsageError

WAIT_POLL = 2.0  # seconds between attempts with --wait
WAIT_SAY_EVERY = 10.0  # seconds between "still waiting" notes (and at every change of holder)
REQUEST_TIMEOUT = (5, 15)  # connect, read: a lock call never hangs the deploy
NO_NAMESPACE = "no-namespace"

Obj = dict[str, Any]

# --- API calls (plain REST through the Kube's client, JSON in and out) --------------------


def lease_path(namespace: str, name: str = "") -> str:
    """The REST path of the namespace's Leases (``name``: one of them)."""
    return namespaced("coordination.k8s.io/v1", "leases", namespace, name)


def api_json(kube: Kube, what: str, method: str, path: str, body: Obj | None = None) -> Obj:
    """One request through ``kube.rest`` (plain JSON, no generated API classes), with
    timeouts; an error status passes as the ``KubeApiError`` it is (the caller knows what
    404 and 409 mean: ``status_of``), anything unexpected becomes an ``EngineError`` naming
    ``what``."""
    try:
        return kube.rest.request(method, path, body=body, timeout=REQUEST_TIMEOUT) or {}
    except PeriphError:  # the Kube's own translation (unreachable, an error status)
        raise
    except Exception as exc:
        raise EngineError(
            f"cannot {what} (context {kube.context}): {type(exc).__name__}",
            hint=f"is the API server reachable? kubectl --context {kube.context} get --raw /readyz",
        ) from None


def status_of(exc: PeriphError) -> int | None:
    """The HTTP status of an API server's refusal, or None (not an answer: re-raise)."""
    status = getattr(exc, "status", None)
    return status if isinstance(status, int) and status else None


def api_failure(what: str, exc: Any) -> EngineError:
    """An error status as one line: status and the API server's message."""
    reason = ""
    with contextlib.suppress(ValueError, AttributeError, TypeError):
        reason = str(json.loads(exc.body or "{}").get("message", ""))
    forbidden = exc.status == 403 and "terminat" not in reason
    return EngineError(
        f"cannot {what}: {exc.status} {reason or exc.reason}".rstrip(),
        hint="periph needs get/create/update/delete on leases.coordination.k8s.io and "
        "configmaps in the environment's namespace"
        if forbidden
        else None,
    )


def read_lease(kube: Kube) -> LeaseState | None:
    """The environment's lock Lease as it is now (None: no lease, or no namespace)."""
    what = f"read Lease {kube.namespace}/{LEASE_NAME}"
    try:
        return LeaseState.of(api_json(kube, what, "GET", lease_path(kube.namespace, LEASE_NAME)))
    except PeriphError as exc:
        if status_of(exc) is None:
            raise
        if status_of(exc) == 404:
            return None
        raise api_failure(what, exc) from None


# --- the lock ---------------------------------------------------------------------------------


class LockBusy(UsageError):
    """Someone else holds the environment's lock (exit 2)."""

    def __init__(self, environment: str, namespace: str, lease: LeaseState) -> None:
        super().__init__(
            f"{busy_message(environment, lease)} — `--wait` to wait for it",
            hint=f"kubectl get lease {LEASE_NAME} -n {namespace} -o yaml (docs/deploy-runbook.md)",
        )
        self.lease = lease


class DeployLock:
    """The environment's Lease, held by this run; a context manager.

    ``start()`` takes it (``LockBusy`` if someone renews it) and starts the renewal thread;
    ``acquire(wait)`` does the same as a generator of ``Note`` events (waiting if asked);
    ``stop()`` ends renewal and deletes the lease; ``join()`` waits for the thread.
    """

    def __init__(self, kube: Kube, environment: str, operation: str, commit: str = "", *,
                 create_namespace: bool = True, seconds: int | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:  # fmt: skip
        self.kube = kube
        self.environment = environment
        self.holder = this_process(operation, commit)
        self.create_namespace = create_namespace
        self.seconds = seconds or lease_seconds()
        self.clock = clock
        self.held = False
        self.lost: str | None = None  # why renewal found someone else holding it
        self._acquired = clock()
        self._transitions = 0
        self._version = ""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def identity(self) -> str:
        """This run's ``holderIdentity`` (stored in its history record)."""
        return self.holder.identity

    # -- API calls ---------------------------------------------------------------------------

    def _call(self, what: str, method: str, body: Obj, *, collection: bool = False) -> Obj:
        """``method`` on the lock's Lease (``collection``: on the namespace's Leases)."""
        path = lease_path(self.kube.namespace, "" if collection else LEASE_NAME)
        return api_json(self.kube, f"{what} Lease {self.kube.namespace}/{LEASE_NAME}", method,
                        path, body)  # fmt: skip

    def read(self) -> LeaseState | None:
        """The lease as it is now (None: no lease, or no namespace)."""
        return read_lease(self.kube)

    def _failure(self, what: str, exc: Any) -> EngineError:
        return api_failure(f"{what} Lease {self.kube.namespace}/{LEASE_NAME}", exc)

    def _body(self, now: datetime, version: str = "") -> Obj:
        return lease_body(self.holder, self.kube.namespace, self.seconds, now, self._acquired,
                          self._transitions, version)  # fmt: skip

    def try_acquire(self, _made_namespace: bool = False) -> tuple[bool, str, LeaseState | None]:
        """One attempt: (taken, what happened, the lease that stands in the way or was taken
        over). ``what`` is CREATE, TAKE_OVER, OURS, BUSY, or NO_NAMESPACE."""
        lease = self.read()
        now = self.clock()
        decision = decide(lease, self.identity, now)
        if decision == BUSY:
            return False, BUSY, lease
        if decision == OURS:
            return True, OURS, lease
        self._acquired = now
        try:
            if decision == CREATE:
                self._transitions = 0
                written = self._call("create", "POST", self._body(now), collection=True)
            else:
                assert lease is not None
                self._transitions = lease.transitions + 1
                written = self._call("take over", "PUT", self._body(now, lease.resource_version))
        except PeriphError as exc:
            if status_of(exc) is None:
                raise
            if status_of(exc) == 409:  # another run created or took it between read and write
                return False, BUSY, self.read()
            if status_of(exc) == 404 and decision == CREATE and not _made_namespace:
                if not self.create_namespace:
                    return False, NO_NAMESPACE, None
                self._make_namespace()
                return self.try_acquire(_made_namespace=True)
            raise self._failure("create" if decision == CREATE else "take over", exc) from None
        self._version = str((written.get("metadata") or {}).get("resourceVersion") or "")
        self.held = True
        return True, decision, lease

    def _make_namespace(self) -> None:
        body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": self.kube.namespace}}
        what = f"create namespace {self.kube.namespace}"
        try:
            api_json(self.kube, what, "POST", "/api/v1/namespaces", body)
        except PeriphError as exc:
            if status_of(exc) is None:
                raise
            if status_of(exc) != 409:  # 409: a concurrent first deploy created it
                raise api_failure(f"create namespace {self.kube.namespace}", exc) from None

    def acquire(self, wait: bool = False, poll: float = WAIT_POLL) -> Iterator[Event]:
        """Take the lock, saying what happened (and, with ``wait``, what it waits for);
        ``LockBusy`` when someone holds it and ``wait`` is off. Starts renewing."""
        said_at, said_holder = 0.0, ""
        first = time.monotonic()
        while True:
            taken, what, lease = self.try_acquire()
            if taken or what == NO_NAMESPACE:
                break
            assert lease is not None or what == BUSY
            if lease is None:  # it vanished between the 409 and the read: try again now
                continue
            if not wait:
                raise LockBusy(self.environment, self.kube.namespace, lease)
            if lease.holder != said_holder or time.monotonic() - said_at >= WAIT_SAY_EVERY:
                expires = lease.expires()
                left = (
                    f"; its lease lapses at {expires:%H:%M:%S} UTC unless renewed"
                    if expires
                    else ""
                )
                waited = time.monotonic() - first
                yield Note(
                    f"waiting for the lock ({waited:.0f}s): {busy_message(self.environment, lease)}"
                    f"{left}"
                )  # fmt: skip
                said_at, said_holder = time.monotonic(), lease.holder
            time.sleep(poll)
        if what == NO_NAMESPACE:
            yield Note(f"namespace {self.kube.namespace} does not exist: nothing to lock")
            return
        if what == TAKE_OVER and lease is not None and lease.holder:
            lapsed = lease.expires()
            when = f"lease lapsed at {lapsed:%H:%M:%S} UTC" if lapsed else "never renewed"
            yield Note(
                f"took over the lock of {describe(lease)}: it stopped renewing "
                f"({when}; killed or lost?)"
            )
        self.start_renewing()

    # -- holding and renewing ----------------------------------------------------------------

    def start(self) -> DeployLock:
        """Take the lock now (``LockBusy`` if held) and start renewing it."""
        for _ in self.acquire(wait=False):
            pass
        return self

    def start_renewing(self) -> None:
        """Renew every third of the lease length in a daemon thread (idempotent)."""
        if self._thread is None and self.held:
            self._thread = threading.Thread(
                target=self._renew_loop, name=f"periph-lock-{self.environment}", daemon=True
            )
            self._thread.start()

    def _renew_loop(self) -> None:
        interval = max(self.seconds / 3, 0.5)
        delay = interval
        while not self._stop.wait(delay):
            try:
                if not self.renew():
                    return
                delay = interval
            except Exception:  # the API server is away: try again soon, before the lease lapses
                delay = min(interval, 1.0)

    def renew(self) -> bool:
        """Write a new renewTime at the version last written; False once the lock is lost."""
        for _ in range(3):
            try:
                written = self._call("renew", "PUT", self._body(self.clock(), self._version))
            except PeriphError as exc:
                if status_of(exc) not in (404, 409):
                    raise
                lease = self.read()
                if lease is None or lease.holder != self.identity:
                    self.lost = (
                        f"{describe(lease)} holds it now" if lease else "its lease was deleted"
                    )
                    self.held = False
                    return False
                self._version = lease.resource_version  # changed by someone (annotate?)
                continue
            self._version = str((written.get("metadata") or {}).get("resourceVersion") or "")
            return True
        return True

    def stop(self) -> None:
        """Stop renewing and delete the lease if it is still this run's (never raises)."""
        self._stop.set()
        if self._thread is not None:
            # A renewal stuck on a stalled API server does not hold up ctrl+c for long; the
            # delete below then fails its precondition and the lease lapses by itself.
            self._thread.join(timeout=REQUEST_TIMEOUT[0])
        if not self.held:
            return
        self.held = False
        # Taken over, gone, or unreachable: it lapses by itself within its length.
        with contextlib.suppress(PeriphError):
            self._call("release", "DELETE", {"preconditions": {"resourceVersion": self._version}})

    def join(self, timeout: float | None = None) -> None:
        """Wait for the renewal thread to end (after ``stop``)."""
        if self._thread is not None:
            self._thread.join(timeout)

    def __enter__(self) -> DeployLock:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
        self.join()


def peek(kube: Kube, environment: str) -> str | None:
    """``busy_message`` when someone holds the environment's lock now (for a dry run)."""
    try:
        lease = read_lease(kube)
    except EngineError:
        return None
    if lease is None or live_holder(lease, datetime.now(UTC)) is None:
        return None
    return busy_message(environment, lease)


def holder_now(kube: Kube) -> str | None:
    """Who holds the environment's lock and renews it now (None: nobody); EngineError when
    the Lease cannot be read."""
    return live_holder(read_lease(kube), datetime.now(UTC))


def locked(
    lock: DeployLock, run: Iterator[Event], *, wait: bool, started: float
) -> Iterator[Event]:
    """``run`` while holding ``lock``: refused (exit 2, naming the holder) when it is held
    and ``wait`` is off; released on every exit path, after ``run`` has been closed."""
    try:
        yield from lock.acquire(wait)
    except PeriphError as exc:  # held by someone (exit 2), or the API server failed (exit 1)
        run.close()
        result = "refused" if isinstance(exc, LockBusy) else "failed"
        yield Finished(result, exc.exit_code, time.monotonic() - started, message=str(exc))
        return
    except BaseException:
        run.close()
        lock.stop()
        raise
    told = False
    try:
        for event in run:
            yield event
            if lock.lost and not told:
                told = True
                yield Note(f"lost the {lock.environment} lock while running: {lock.lost}")
    finally:
        try:
            run.close()  # its own finally (an "interrupted" record) runs while still locked
        finally:
            lock.stop()
