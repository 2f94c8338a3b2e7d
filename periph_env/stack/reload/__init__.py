"""Hot reload: ``Watcher`` (``watcher.py``) over pure rule matching with Compose's
meaning (``rules.py``, ``patterns.py``), one-tar syncs (``sync.py``), reload markers
(``markers.py`` over the pure ``tracker.py``: every wait ends) and the watch lock.

``Watcher`` loads on first use: ``periph ps`` only needs ``lock``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from periph_env.stack.reload.watcher import Watcher


def __getattr__(name: str) -> Any:
    if name == "Watcher":
        from periph_env.stack.reload.watcher import Watcher

        return Watcher
    raise AttributeError(name)


__all__ = ["Watcher"]
