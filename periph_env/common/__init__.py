"""Helpers every engine needs: step logging, subprocess runs, start-and-poll, masking.

Neutral ground: ``stack``, ``images``, ``deploy`` and ``testenv`` import from here, never
from each other. Nothing here imports Textual or an engine SDK.

The names below load on first use (PEP 562): the ``periph env check`` hot path imports
``common.redact`` (the one masker) and must not pay for subprocess, config and logging.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from periph_env.common.log import Log
    from periph_env.common.paths import cache_dir, config_dir, find_project_root
    from periph_env.common.poll import wait_for
    from periph_env.common.process import (
        mask_argv,
        pid_alive,
        run,
        spawn,
        terminate,
        trim_tail,
    )

_HOMES = {
    "Log": "log",
    "cache_dir": "paths",
    "config_dir": "paths",
    "find_project_root": "paths",
    "wait_for": "poll",
    "mask_argv": "process",
    "pid_alive": "process",
    "run": "process",
    "spawn": "process",
    "terminate": "process",
    "trim_tail": "process",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"periph_env.common.{home}"), name)
    globals()[name] = value
    return value


__all__ = [
    "Log",
    "cache_dir",
    "config_dir",
    "find_project_root",
    "mask_argv",
    "pid_alive",
    "run",
    "spawn",
    "terminate",
    "trim_tail",
    "wait_for",
]
