"""Hot reload: ``Watcher`` (``watcher.py``) over pure rule matching (``rules.py``),
one-tar syncs (``sync.py``), reload markers (``markers.py``) and the watch lock."""

from periph_env.stack.reload.watcher import Watcher

__all__ = ["Watcher"]
