"""The deploy lock's decisions: a lease as read and a time in, what to do out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from periph_env.deploy import history as h
from periph_env.deploy import lock_state as ls
from periph_env.errors import UsageError

NOON = datetime(2026, 12, 2, 12, 1, 3, tzinfo=UTC)
ALICE = ls.Holder("alice", "laptop", 123, "abc1234def", "deploy", "5f2c9a")


def lease(holder: str = ALICE.identity, renewed: datetime | None = NOON, seconds=30, **extra):
    """A Lease as the API server returns it."""
    spec = {"holderIdentity": holder, "leaseDurationSeconds": seconds}
    if renewed is not None:
        spec |= {"renewTime": ls.micro_time(renewed), "acquireTime": ls.micro_time(renewed)}
    meta = {"name": ls.LEASE_NAME, "resourceVersion": "41", "annotations": ALICE.annotations()}
    return ls.LeaseState.of({"metadata": meta | extra, "spec": spec})


def test_no_lease_is_created():
    assert ls.decide(None, "me", NOON) == ls.CREATE


def test_a_lease_renewed_within_its_length_is_busy():
    assert ls.decide(lease(), "me", NOON + timedelta(seconds=29)) == ls.BUSY


def test_a_lease_past_renew_time_plus_its_length_is_taken_over():
    assert ls.decide(lease(), "me", NOON + timedelta(seconds=31)) == ls.TAKE_OVER


def test_expiry_uses_the_lease_own_length_not_ours():
    short = lease(seconds=5)
    assert ls.decide(short, "me", NOON + timedelta(seconds=6)) == ls.TAKE_OVER


def test_a_lease_with_no_holder_is_free_to_take():
    assert ls.decide(lease(holder=""), "me", NOON) == ls.TAKE_OVER


def test_a_lease_never_renewed_counts_as_lapsed():
    assert ls.decide(lease(renewed=None), "me", NOON) == ls.TAKE_OVER


def test_our_own_lease_is_ours_even_when_lapsed():
    assert ls.decide(lease(), ALICE.identity, NOON + timedelta(hours=1)) == ls.OURS


def test_a_lease_with_an_unreadable_length_uses_the_default():
    state = lease(seconds="thirty")
    assert state.seconds == ls.DEFAULT_SECONDS
    assert ls.decide(state, "me", NOON + timedelta(seconds=29)) == ls.BUSY


def test_live_holder_is_whoever_renews_it():
    assert ls.live_holder(lease(), NOON) == ALICE.identity
    assert ls.live_holder(lease(), NOON + timedelta(minutes=1)) is None
    assert ls.live_holder(None, NOON) is None


def test_busy_message_names_user_host_pid_commit_and_since():
    message = ls.busy_message("demo", lease())
    assert (
        message
        == "demo is being deployed by alice@laptop pid 123 (commit abc1234) since 12:01:03 UTC"
    )


def test_busy_message_names_the_operation():
    rollback = ls.Holder("bob", "ci", 7, "", "rollback", "000000")
    state = ls.LeaseState.of(
        {"metadata": {"annotations": rollback.annotations()}, "spec": {"holderIdentity": "x"}}
    )
    assert ls.busy_message("prod", state) == "prod is being rolled back by bob@ci pid 7 (no commit)"


def test_a_lease_written_by_hand_is_described_by_its_holder_identity():
    state = ls.LeaseState.of({"spec": {"holderIdentity": "release freeze (ops)"}})
    assert ls.busy_message("prod", state) == "prod is being deployed by release freeze (ops)"


def test_holder_identity_is_readable_and_unique_per_run():
    assert ALICE.identity == "alice@laptop pid 123 (deploy, commit abc1234) #5f2c9a"
    assert ls.this_process("deploy").identity != ls.this_process("deploy").identity


def test_micro_time_has_six_fraction_digits_even_on_a_whole_second():
    assert ls.micro_time(NOON) == "2026-12-02T12:01:03.000000Z"
    assert ls.parse_time(ls.micro_time(NOON)) == NOON


def test_unreadable_times_are_none():
    assert ls.parse_time("yesterday") is None
    assert ls.parse_time(None) is None


def test_the_body_written_names_holder_length_and_version():
    body = ls.lease_body(ALICE, "ns", 30, NOON, NOON, transitions=2, resource_version="41")
    assert body["metadata"]["resourceVersion"] == "41"
    assert body["spec"]["holderIdentity"] == ALICE.identity
    assert body["spec"]["leaseDurationSeconds"] == 30
    assert body["spec"]["leaseTransitions"] == 2
    assert ls.LeaseState.of(body).annotations[ls.ANNOTATION + "commit"] == "abc1234def"


def test_lease_length_comes_from_the_environment(monkeypatch):
    monkeypatch.delenv(ls.SECONDS_VAR, raising=False)
    assert ls.lease_seconds() == 30
    monkeypatch.setenv(ls.SECONDS_VAR, "6")
    assert ls.lease_seconds() == 6


@pytest.mark.parametrize("value", ["0", "soon", "3600"])
def test_a_bad_lease_length_is_a_usage_error(monkeypatch, value):
    monkeypatch.setenv(ls.SECONDS_VAR, value)
    with pytest.raises(UsageError, match=ls.SECONDS_VAR):
        ls.lease_seconds()


# --- history: a running record whose run holds no live lock is abandoned ------------------


def record(status=h.RUNNING, holder=ALICE.identity, message=""):
    return h.Record(
        environment="demo", revision=3, action="deploy", status=status, user="alice",
        started="2026-12-02T12:01:03+00:00", holder=holder, message=message,
    )  # fmt: skip


def test_a_running_record_of_the_live_holder_stays_running():
    assert h.shown(record(), ALICE.identity).status == h.RUNNING


def test_a_running_record_with_no_live_holder_is_abandoned():
    shown = h.shown(record(), None)
    assert shown.status == h.ABANDONED
    assert "never recorded a result" in shown.message


def test_a_running_record_while_another_run_holds_the_lock_is_abandoned():
    assert h.shown(record(), "bob@ci pid 7 (deploy, no commit) #000000").status == h.ABANDONED


def test_a_running_record_written_before_the_lock_existed_is_abandoned():
    assert h.shown(record(holder=""), None).status == h.ABANDONED


def test_finished_records_are_shown_as_stored():
    done = record(status="succeeded")
    assert h.shown(done, None) is done


def test_abandoned_keeps_the_record_message():
    assert h.shown(record(message="to deploy #2"), None).message.startswith("to deploy #2; ")


def test_the_resource_version_is_neither_stored_nor_shown():
    stored = record()
    stored.resource_version = "99"
    assert "resource_version" not in stored.as_dict()
    cm = h.encode(stored, "ns")
    assert cm["metadata"]["resourceVersion"] == "99"
    assert "resource_version" not in cm["data"][h.DATA_KEY]
    assert "resourceVersion" not in h.encode(record(), "ns")["metadata"]
