"""LineBatcher: reader threads' lines reach the UI in few, bounded batches."""

from __future__ import annotations

import threading
import time

from periph_env.tui.batcher import LineBatcher


def _collect(**kwargs):
    batches: list[tuple[list, int]] = []
    done = threading.Event()

    def post(lines, dropped):
        batches.append((lines, dropped))
        done.set()

    return LineBatcher(post, **kwargs), batches, done


def test_a_burst_arrives_as_one_batch():
    batcher, batches, done = _collect(interval=0.05)
    batcher.start()
    try:
        for i in range(1000):
            batcher.feed([i])
        assert done.wait(2)
        time.sleep(0.1)
    finally:
        batcher.stop()
    assert sum(len(lines) for lines, _ in batches) == 1000
    assert len(batches) <= 3


def test_while_the_ui_is_behind_it_waits_and_then_drops_the_oldest():
    backlog = [50]
    batcher, batches, done = _collect(interval=0.02, capacity=100, backlog=lambda: backlog[0])
    batcher.start()
    try:
        batcher.feed(list(range(250)))
        time.sleep(0.2)
        assert batches == []  # the app's queue is long: nothing was posted
        backlog[0] = 0
        assert done.wait(2)
    finally:
        batcher.stop()
    lines, dropped = batches[0]
    assert lines == list(range(150, 250)) and dropped == 150


def test_a_draining_backlog_leaves_the_app_a_frame_between_batches():
    # The app's queue is always empty (it takes each batch at once): without the pause,
    # batch after batch would reach it back to back and the screen would never paint.
    batcher, batches, done = _collect(interval=0.01, limit=lambda: 10, frame=30.0)
    batcher.start()
    try:
        batcher.feed(list(range(100)))
        assert done.wait(5)
        time.sleep(0.3)  # far less than the (test's) 30 s frame
        assert [lines for lines, _ in batches] == [list(range(10))]
    finally:
        batcher.stop()


def test_a_reader_ahead_of_the_ui_by_two_frames_waits_for_it_instead_of_losing_lines():
    backlog = [50]  # the UI is behind: nothing is posted yet
    batcher, batches, _ = _collect(
        interval=1.0, capacity=1000, backlog=lambda: backlog[0], limit=lambda: 10, frame=0
    )
    batcher.start()
    second = threading.Thread(target=batcher.feed, args=(list(range(20, 40)),))
    try:
        batcher.feed(list(range(20)))  # two frames' worth now wait
        second.start()
        second.join(0.3)
        assert second.is_alive()  # the reader waits (it does not add to the pile)
        backlog[0] = 0  # the UI catches up
        second.join(10)
        assert not second.is_alive()
        _wait_for_lines(batches, 40)
    finally:
        batcher.stop()
    assert [n for lines, _ in batches for n in lines] == list(range(40))
    assert sum(dropped for _, dropped in batches) == 0


def test_stop_ends_the_thread():
    batcher, _, _ = _collect()
    batcher.start()
    batcher.stop()
    assert batcher._thread is not None and not batcher._thread.is_alive()


def _wait_for_lines(batches, count: int) -> None:
    for _ in range(500):
        if sum(len(lines) for lines, _ in batches) >= count:
            return
        time.sleep(0.01)
    raise AssertionError(f"only {sum(len(lines) for lines, _ in batches)} of {count} lines came")


def test_no_batch_holds_more_lines_than_a_frame_draws():
    batcher, batches, _ = _collect(interval=0.02, limit=lambda: 300)
    batcher.start()
    try:
        batcher.feed(list(range(1000)))
        _wait_for_lines(batches, 1000)
    finally:
        batcher.stop()
    assert [len(lines) for lines, _ in batches] == [300, 300, 300, 100]


def test_a_backlog_drains_in_order_without_losing_a_line():
    batcher, batches, _ = _collect(interval=0.02, limit=lambda: 64)
    batcher.start()
    try:
        for start in range(0, 5000, 500):
            batcher.feed(list(range(start, start + 500)))
        _wait_for_lines(batches, 5000)
    finally:
        batcher.stop()
    assert [n for lines, _ in batches for n in lines] == list(range(5000))


def test_a_frames_worth_of_lines_is_posted_without_waiting_for_more():
    # The interval lets a trickle gather into one batch; a reader draining a backlog
    # fills a frame's worth at once, and that is posted as soon as it is there.
    batcher, batches, done = _collect(interval=60.0, limit=lambda: 100)
    batcher.start()
    try:
        batcher.feed(list(range(100)))
        assert done.wait(5), "a full frame waited for the (60 s) interval"
    finally:
        batcher.stop()
    assert batches[0] == (list(range(100)), 0)
