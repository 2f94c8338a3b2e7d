"""Hand log lines from reader threads to the UI in time-based batches (no Textual).

A chatty service can write tens of thousands of lines a second; posting one message per
line floods the app's message queue (unbounded) and freezes the screen. Following
Toolong: readers ``feed()`` lines into a bounded buffer, one thread posts them as a single
batch every ``interval`` seconds, and while the app's queue is long (``backlog()`` above
``max_backlog``) it waits instead of posting. When the UI falls that far behind, the
oldest unposted lines are dropped (the view would trim them anyway: it keeps only its
last ``max_lines``) and the batch says how many, so the view can show the gap.

Batches are sized to the frame: ``limit()`` says how many lines the view can draw in
one frame's budget (it measures itself), and a batch never holds more. What is left
goes in the next batch, a frame after the app has taken the previous one (its queue is
empty again), so a backlog drains at the speed the screen can draw, a frame at a time,
instead of as one batch (or one run of batches) that freezes the screen for seconds.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any


class LineBatcher:
    """``feed(lines)`` from any thread; ``post(lines, dropped)`` runs on the batcher thread."""

    def __init__(
        self,
        post: Callable[[list[Any], int], None],
        backlog: Callable[[], int] = lambda: 0,
        *,
        interval: float = 0.075,
        capacity: int = 20_000,
        max_backlog: int = 10,
        limit: Callable[[], int] | None = None,
        frame: float = 1 / 60,
    ) -> None:
        self._post = post
        self._backlog = backlog
        self._limit = limit
        self._interval = interval
        self._frame = frame
        self._max_backlog = max_backlog
        self._buffer: deque[Any] = deque(maxlen=capacity)
        self._dropped = 0
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def feed(self, lines: Sequence[Any]) -> None:
        """Queue lines for the next batch (thread-safe). While two frames' worth already
        wait, the reader waits too (a few intervals at most, then its lines go in and the
        oldest are dropped as before)."""
        if not lines:
            return
        # Backpressure. A reader draining a backlog is pure Python and holds the GIL;
        # the app's event loop gives it up at every select() and waits up to the switch
        # interval to get it back, hundreds of times a frame, so the screen froze for
        # seconds while the reader read lines the UI could never show. Sleeping here
        # hands the app the interpreter until it has taken what waits.
        if self._limit is not None:
            high = 2 * max(1, self._limit())
            deadline = time.monotonic() + 4 * self._interval
            while len(self._buffer) >= high and time.monotonic() < deadline:
                if self._stopping.wait(0.002):
                    break
        with self._lock:
            overflow = len(self._buffer) + len(lines) - (self._buffer.maxlen or 0)
            if overflow > 0:
                self._dropped += overflow
            self._buffer.extend(lines)
        self._wake.set()

    def start(self) -> None:
        """Start the posting thread."""
        self._thread = threading.Thread(target=self._run, name="periph-log-batcher", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread (lines still buffered are dropped with it)."""
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=2)

    def _frame_full(self) -> bool:
        """Whether at least a frame's worth of lines (``limit()``) waits."""
        return self._limit is not None and len(self._buffer) >= max(1, self._limit())

    def _take(self) -> tuple[list[Any], int, bool]:
        """(the oldest lines, at most ``limit()``; lines dropped; whether more wait)."""
        limit = max(1, self._limit()) if self._limit is not None else None
        with self._lock:
            buffer = self._buffer
            if limit is None or len(buffer) <= limit:
                lines = list(buffer)
                buffer.clear()
            else:
                lines = [buffer.popleft() for _ in range(limit)]
            dropped, self._dropped = self._dropped, 0
            more = bool(buffer)
        return lines, dropped, more

    def _run(self) -> None:
        more = False
        while not self._stopping.is_set():
            if more:
                # Lines wait: post the next frame's share once the app has taken the
                # last one (a short poll, only while a backlog drains; at most an
                # interval, so a busy queue slows the drain but never stops it).
                deadline = time.monotonic() + self._interval
                while self._backlog() > 0 and time.monotonic() < deadline:
                    if self._stopping.wait(0.004):
                        return
                # The app took the batch off its queue, not yet drawn it: posting now
                # keeps its queue from ever emptying, and Textual processes queued
                # messages back to back without returning to the event loop, so nothing
                # paints until the backlog is gone (a 3.9 s frozen screen for 100,000
                # lines). A frame's pause lets it draw and paint between batches.
                if self._stopping.wait(self._frame):
                    return
            else:
                self._wake.wait()
                self._wake.clear()
                # Let a burst accumulate into one batch, unless a frame's worth is there
                # already: a reader draining a backlog fills one within a few ms, and
                # waiting the interval each time capped the drain at a batch per 75 ms.
                if not self._frame_full() and self._stopping.wait(self._interval):
                    return
                if self._stopping.is_set():
                    return
                while self._backlog() > self._max_backlog and not self._stopping.is_set():
                    self._stopping.wait(self._interval)
            lines, dropped, more = self._take()
            if lines or dropped:
                try:
                    self._post(lines, dropped)
                except Exception:  # the app is shutting down: its queue is gone
                    return
