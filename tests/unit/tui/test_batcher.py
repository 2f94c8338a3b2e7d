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


def test_stop_ends_the_thread():
    batcher, _, _ = _collect()
    batcher.start()
    batcher.stop()
    assert batcher._thread is not None and not batcher._thread.is_alive()
