"""Import engines from worker threads one at a time.

The app loads its engines after the first frame, in thread workers, and several areas do
so at once. CPython's per-module import locks break a potential deadlock between threads
by handing one of them a partially initialised module: seen here as ``module 'docker'
has no attribute 'DockerClient'`` in the StatusModel thread (which then retried forever,
burning CPU) while another thread was importing the SDKs' shared dependencies. Every TUI
import of an engine or SDK goes through ``load()``, serialised by one lock.
"""

from __future__ import annotations

import importlib
import threading
from types import ModuleType

_LOCK = threading.RLock()


def load(*names: str) -> ModuleType:
    """Import ``names`` in order under the TUI's import lock; returns the first module."""
    with _LOCK:
        modules = [importlib.import_module(name) for name in names]
    return modules[0]
