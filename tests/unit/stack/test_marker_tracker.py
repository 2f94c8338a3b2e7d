"""Every reload that waits for its marker ends: events in, states out (no clock, no engine).

Times are plain numbers fed in; nothing here sleeps or measures.
"""

from __future__ import annotations

from periph_env.stack.models import ReloadEvent
from periph_env.stack.reload.tracker import (
    DEFAULT_TIMEOUT,
    STOPPED,
    SUPERSEDED,
    MarkerTracker,
    no_marker_note,
)

PATTERN = '"msg": "worker started"'


def synced(at: float, service: str = "worker") -> ReloadEvent:
    event = ReloadEvent(service=service, kind="sync", files=["a.py"], seen_at=at - 0.1)
    event.synced_at = at
    return event


def test_the_marker_ends_the_reload_as_serving():
    tracker = MarkerTracker()
    event = synced(100.0)
    assert tracker.expect(event, after=100.0, now=100.0, timeout=15, pattern=PATTERN) == []
    assert tracker.marker("worker", 100.8) == [event]
    assert event.done and event.ok and event.serving_at == 100.8
    assert event.latency is not None and event.note is None


def test_a_marker_printed_before_this_reload_does_not_end_it():
    tracker = MarkerTracker()
    event = synced(100.0)
    tracker.expect(event, after=100.0, now=100.0, timeout=15, pattern=PATTERN)
    assert tracker.marker("worker", 99.5) == []
    assert not event.done


def test_a_marker_already_seen_since_the_sync_ends_the_reload_at_once():
    tracker = MarkerTracker()
    tracker.marker("worker", 100.3)
    event = synced(100.0)
    assert tracker.expect(event, after=100.0, now=100.5, timeout=15, pattern=PATTERN) == [event]
    assert event.serving_at == 100.3


def test_no_marker_within_the_timeout_ends_it_naming_the_pattern():
    tracker = MarkerTracker()
    event = synced(100.0)
    tracker.expect(event, after=100.0, now=100.0, timeout=DEFAULT_TIMEOUT, pattern=PATTERN)
    assert tracker.tick(114.9) == []
    assert tracker.tick(115.0) == [event]
    assert event.done and event.ok and event.serving_at is None
    assert event.note == (
        'no marker after 15 s (pattern \'"msg": "worker started"\'): is the service printing it?'
    )


def test_the_timeout_is_per_service():
    tracker = MarkerTracker()
    slow, fast = synced(100.0, "backend"), synced(100.0, "frontend")
    tracker.expect(slow, after=100.0, now=100.0, timeout=60, pattern="reloaded")
    tracker.expect(fast, after=100.0, now=100.0, timeout=2.5, pattern="periph:reloaded")
    assert tracker.tick(102.5) == [fast]
    assert fast.note == no_marker_note(2.5, "periph:reloaded")
    assert "after 2.5 s" in fast.note
    assert tracker.next_deadline() == 160.0


def test_after_a_timed_out_reload_the_next_one_is_shown_normally():
    tracker = MarkerTracker()
    first = synced(100.0)
    tracker.expect(first, after=100.0, now=100.0, timeout=15, pattern=PATTERN)
    tracker.tick(115.0)
    second = synced(200.0)
    tracker.expect(second, after=200.0, now=200.0, timeout=15, pattern=PATTERN)
    assert tracker.marker("worker", 200.4) == [second]
    assert second.note is None and second.serving_at == 200.4
    assert first.serving_at is None  # the late marker is not credited to the old reload


def test_a_new_reload_supersedes_the_one_still_waiting():
    tracker = MarkerTracker()
    first = synced(100.0)
    tracker.expect(first, after=100.0, now=100.0, timeout=15, pattern=PATTERN)
    assert tracker.supersede("worker") == [first]
    assert first.done and first.note == SUPERSEDED
    assert tracker.pending("worker") == 0


def test_stopping_ends_every_wait_as_unfinished():
    tracker = MarkerTracker()
    event = synced(100.0)
    tracker.expect(event, after=100.0, now=100.0, timeout=15, pattern=PATTERN)
    assert tracker.stop() == [event]
    assert event.done and not event.ok and event.error == STOPPED
    assert tracker.next_deadline() is None


def test_a_marker_of_another_service_ends_nothing():
    tracker = MarkerTracker()
    event = synced(100.0)
    tracker.expect(event, after=100.0, now=100.0, timeout=15, pattern=PATTERN)
    assert tracker.marker("backend", 101.0) == []
    assert tracker.pending("worker") == 1


def test_the_stack_area_shows_a_timed_out_reload_as_ended_not_in_progress():
    from periph_env.tui import formatting

    tracker = MarkerTracker()
    event = synced(100.0)
    tracker.expect(event, after=100.0, now=100.0, timeout=15, pattern=PATTERN)
    assert formatting.reload_cell(True, event) == "on …"
    tracker.tick(115.0)
    assert formatting.reload_cell(True, event) == "on no marker"
    detail = formatting.reload_detail("worker", True, event)
    assert detail[-1] == "  " + no_marker_note(15, PATTERN)
