"""One watcher per stack: the second one refuses, naming the first."""

from __future__ import annotations

from pathlib import Path

import pytest

from periph_env.stack.errors import WatchLocked
from periph_env.stack.reload import lock


def test_a_second_watch_of_the_same_stack_refuses(tmp_path, monkeypatch):
    monkeypatch.setenv("PERIPH_CACHE", str(tmp_path))
    first = lock.acquire("demo", Path("/x/compose.yaml"))
    try:
        assert lock.held("demo", Path("/x/compose.yaml"))
        with pytest.raises(WatchLocked, match="already being watched"):
            lock.acquire("demo", Path("/x/compose.yaml"))
        other = lock.acquire("demo", Path("/elsewhere/compose.yaml"))
        lock.release(other)
    finally:
        lock.release(first)
    assert not lock.held("demo", Path("/x/compose.yaml"))
