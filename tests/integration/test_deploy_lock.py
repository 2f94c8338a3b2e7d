"""The deploy lock and the history store against the kwok cluster's real API server.

Races are run for real: threads released together by a barrier, each with its own client
(as separate processes would be), against one namespace.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from periph_env.deploy import history as h
from periph_env.deploy import history_store
from periph_env.deploy import lock as lk
from periph_env.deploy import lock_state as ls
from periph_env.deploy.events import Finished, Note
from periph_env.deploy.kube import Kube

pytestmark = pytest.mark.k8s


@pytest.fixture
def kube_for(kube_cluster: Any, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], Kube]:
    """A new ``Kube`` (its own client, like another process) bound to a namespace."""
    monkeypatch.setenv("KUBECONFIG", str(kube_cluster.kubeconfig))
    monkeypatch.setenv("PERIPH_KUBECTL", str(kube_cluster.bin_dir / "kubectl"))
    return lambda namespace: Kube(kube_cluster.context, namespace)


def lease_json(kube_cluster: Any, namespace: str) -> dict[str, Any] | None:
    proc = kube_cluster.kubectl(
        "get", "lease", ls.LEASE_NAME, "-n", namespace, "-o", "json", check=False
    )
    return json.loads(proc.stdout) if proc.returncode == 0 else None


def together(count: int, work: Callable[[int], Any]) -> list[Any]:
    """``work(i)`` in ``count`` threads released at the same moment; their results."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def one(i: int) -> None:
        barrier.wait()
        try:
            results[i] = work(i)
        except Exception as exc:  # reported by the assertion that follows
            results[i] = exc

    threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


# --- the lock -------------------------------------------------------------------------------


def test_the_lease_names_its_holder_is_renewed_and_released(
    kube_for, kube_cluster, k8s_namespace
) -> None:
    lock = lk.DeployLock(kube_for(k8s_namespace), "demo", "deploy", "abc1234def", seconds=3)
    with lock:
        first = lease_json(kube_cluster, k8s_namespace)
        assert first is not None
        assert first["spec"]["holderIdentity"] == lock.identity
        assert first["spec"]["leaseDurationSeconds"] == 3
        assert first["metadata"]["annotations"]["periph.dev/lock-commit"] == "abc1234def"
        time.sleep(2.5)  # past one renewal (every third of the length)
        renewed = lease_json(kube_cluster, k8s_namespace)
        assert renewed is not None
        assert renewed["spec"]["renewTime"] > first["spec"]["renewTime"]
    assert lease_json(kube_cluster, k8s_namespace) is None
    assert not lock._thread or not lock._thread.is_alive()


def test_a_second_taker_is_refused_naming_the_holder(kube_for, k8s_namespace) -> None:
    with lk.DeployLock(kube_for(k8s_namespace), "demo", "deploy", "abc1234def") as first:
        second = lk.DeployLock(kube_for(k8s_namespace), "demo", "rollback")
        with pytest.raises(lk.LockBusy) as refused:
            second.start()
    assert refused.value.exit_code == 2
    pid = first.holder.pid
    assert f"demo is being deployed by {first.holder.user}@" in refused.value.message
    assert f"pid {pid} (commit abc1234) since " in refused.value.message
    assert refused.value.message.endswith("— `--wait` to wait for it")


def test_of_many_takers_started_together_exactly_one_wins(kube_for, k8s_namespace) -> None:
    locks = [lk.DeployLock(kube_for(k8s_namespace), "demo", "deploy") for _ in range(8)]
    outcomes = together(len(locks), lambda i: locks[i].try_acquire())
    try:
        assert [type(o) for o in outcomes] == [tuple] * len(locks), outcomes
        winners = [lock for lock, (taken, _, _) in zip(locks, outcomes, strict=True) if taken]
        assert len(winners) == 1
        losers = [what for taken, what, _ in outcomes if not taken]
        assert losers == [ls.BUSY] * (len(locks) - 1)
    finally:
        for lock in locks:
            lock.stop()


def test_a_lapsed_lease_is_taken_over_by_exactly_one_of_many(
    kube_for, kube_cluster, k8s_namespace
) -> None:
    # A holder that died: it wrote the lease once and never renewed it.
    dead = lk.DeployLock(kube_for(k8s_namespace), "demo", "deploy", "deadbee", seconds=2)
    assert dead.try_acquire()[0]
    time.sleep(2.5)
    locks = [lk.DeployLock(kube_for(k8s_namespace), "demo", "deploy") for _ in range(6)]
    outcomes = together(len(locks), lambda i: locks[i].try_acquire())
    try:
        taken = [what for ok, what, _ in outcomes if ok]
        assert taken == [ls.TAKE_OVER], outcomes
        lease = lease_json(kube_cluster, k8s_namespace)
        assert lease is not None and lease["spec"]["leaseTransitions"] == 1
        assert lease["spec"]["holderIdentity"] != dead.identity
    finally:
        for lock in locks:
            lock.stop()


def test_taking_over_a_lapsed_lease_says_whose_it_was(kube_for, k8s_namespace) -> None:
    dead = lk.DeployLock(kube_for(k8s_namespace), "demo", "deploy", "deadbee", seconds=2)
    assert dead.try_acquire()[0]
    time.sleep(2.5)
    lock = lk.DeployLock(kube_for(k8s_namespace), "demo", "deploy")
    notes = [e.text for e in lock.acquire() if isinstance(e, Note)]
    lock.stop()
    assert len(notes) == 1
    assert notes[0].startswith(f"took over the lock of {dead.holder.user}@")
    assert "(commit deadbee)" in notes[0] and "it stopped renewing" in notes[0]


def test_waiting_says_for_whom_and_takes_the_lock_once_it_is_released(
    kube_for, k8s_namespace
) -> None:
    holder = lk.DeployLock(kube_for(k8s_namespace), "demo", "verify").start()
    threading.Timer(3.0, holder.stop).start()
    waiter = lk.DeployLock(kube_for(k8s_namespace), "demo", "deploy")
    notes = [e.text for e in waiter.acquire(wait=True, poll=0.5)]
    try:
        assert waiter.held
        assert notes and notes[0].startswith("waiting for the lock (0s): demo is being verified by")
    finally:
        waiter.stop()


def test_a_run_is_released_when_it_fails_and_when_it_is_closed(
    kube_for, kube_cluster, k8s_namespace
) -> None:
    def failing():
        yield Note("working")
        raise RuntimeError("boom")

    lock = lk.DeployLock(kube_for(k8s_namespace), "demo", "deploy")
    with pytest.raises(RuntimeError):
        list(lk.locked(lock, failing(), wait=False, started=time.monotonic()))
    assert lease_json(kube_cluster, k8s_namespace) is None

    def endless():
        while True:
            yield Note("still working")

    lock = lk.DeployLock(kube_for(k8s_namespace), "demo", "deploy")
    run = lk.locked(lock, endless(), wait=False, started=time.monotonic())
    next(run)
    assert lease_json(kube_cluster, k8s_namespace) is not None
    run.close()  # what ctrl+c in the CLI does (it closes the run)
    assert lease_json(kube_cluster, k8s_namespace) is None


def test_a_run_refused_by_the_lock_ends_with_exit_2_and_never_starts(
    kube_for, k8s_namespace
) -> None:
    started: list[bool] = []

    def run():
        started.append(True)
        yield Note("should not happen")

    with lk.DeployLock(kube_for(k8s_namespace), "demo", "deploy"):
        lock = lk.DeployLock(kube_for(k8s_namespace), "demo", "rollback")
        events = list(lk.locked(lock, run(), wait=False, started=time.monotonic()))
    assert started == []
    [end] = events
    assert isinstance(end, Finished) and (end.result, end.exit_code) == ("refused", 2)
    assert "demo is being deployed by" in end.message


def test_the_first_deploy_creates_the_namespace_to_hold_its_lock(kube_for, kube_cluster) -> None:
    namespace = f"periphtest-new-{time.monotonic_ns() % 10**8}"
    try:
        with lk.DeployLock(kube_for(namespace), "demo", "deploy") as lock:
            assert lease_json(kube_cluster, namespace)["spec"]["holderIdentity"] == lock.identity
    finally:
        kube_cluster.kubectl("delete", "namespace", namespace, "--wait=false", check=False)


def test_rollback_in_a_missing_namespace_creates_nothing(kube_for, kube_cluster) -> None:
    namespace = f"periphtest-none-{time.monotonic_ns() % 10**8}"
    lock = lk.DeployLock(kube_for(namespace), "demo", "rollback", create_namespace=False)
    notes = [e.text for e in lock.acquire()]
    lock.stop()
    assert notes == [f"namespace {namespace} does not exist: nothing to lock"]
    proc = kube_cluster.kubectl("get", "namespace", namespace, check=False)
    assert proc.returncode != 0


# --- the history store ----------------------------------------------------------------------


def new_record(revision: int, marker: str) -> h.Record:
    return h.Record(
        environment="demo", revision=revision, action="deploy", status=h.RUNNING,
        user=marker, started=history_store.now(), holder=marker,
    )  # fmt: skip


def test_records_created_together_never_share_a_revision(kube_for, k8s_namespace) -> None:
    writers = 4
    kubes = [kube_for(k8s_namespace) for _ in range(writers)]
    made: list[h.Record] = []
    for iteration in range(20):
        # Every writer read the same history, so every one starts from the same revision.
        revision = h.next_revision(history_store.records(kubes[0], "demo"))
        records = [new_record(revision, f"w{i}-it{iteration}") for i in range(writers)]
        errors = together(writers, lambda i, rs=records: history_store.save(kubes[i], rs[i]))
        assert errors == [None] * writers
        made += records
    stored = history_store.records(kubes[0], "demo")
    assert len(stored) == len(made) == writers * 20
    assert len({r.revision for r in stored}) == len(stored)
    # Each record is stored under the revision its writer was told, with its own content.
    by_revision = {r.revision: r.user for r in stored}
    assert {r.revision: r.user for r in made} == by_revision


def test_an_update_is_written_at_the_version_it_last_wrote(kube_for, k8s_namespace) -> None:
    kube = kube_for(k8s_namespace)
    record = new_record(1, "me")
    history_store.save(kube, record)
    created = record.resource_version
    record.status = "succeeded"
    history_store.save(kube, record)
    assert record.resource_version != created
    [stored] = history_store.records(kube, "demo")
    assert (stored.revision, stored.status) == (1, "succeeded")


def test_an_update_never_writes_over_another_runs_record(kube_for, k8s_namespace) -> None:
    kube = kube_for(k8s_namespace)
    mine = new_record(1, "me")
    history_store.save(kube, mine)
    # Someone deleted it and another run created its own record under the same name.
    kube.run("delete", "configmap", h.object_name("demo", 1))
    history_store.save(kube, new_record(1, "other"))
    mine.status = "succeeded"
    history_store.save(kube, mine)
    stored = {r.revision: (r.user, r.status) for r in history_store.records(kube, "demo")}
    assert stored == {1: ("other", h.RUNNING), 2: ("me", "succeeded")}


def test_a_running_record_whose_holder_is_gone_is_shown_abandoned(kube_for, k8s_namespace) -> None:
    kube = kube_for(k8s_namespace)
    with lk.DeployLock(kube, "demo", "deploy") as lock:
        history_store.save(kube, new_record(1, "gone"))
        live = new_record(2, "live")
        live.holder = lock.identity
        history_store.save(kube, live)
        shown = {r.revision: r.status for r in history_store.shown_records(kube, "demo")}
        assert shown == {1: h.ABANDONED, 2: h.RUNNING}
    shown = {r.revision: r.status for r in history_store.shown_records(kube, "demo")}
    assert shown == {1: h.ABANDONED, 2: h.ABANDONED}


def test_lease_expiry_is_judged_with_the_holders_renew_time(kube_for, k8s_namespace) -> None:
    kube = kube_for(k8s_namespace)
    lock = lk.DeployLock(kube, "demo", "deploy", seconds=30)
    assert lock.try_acquire()[0]  # written once, never renewed
    lease = lk.read_lease(kube)
    assert lease is not None and lease.renewed is not None
    assert ls.live_holder(lease, lease.renewed + timedelta(seconds=29)) == lock.identity
    assert ls.live_holder(lease, lease.renewed + timedelta(seconds=31)) is None
    assert abs((lease.renewed - datetime.now(UTC)).total_seconds()) < 30
    lock.stop()
