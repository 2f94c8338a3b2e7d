"""Helpers every engine needs: step logging, subprocess runs, start-and-poll, masking.

Neutral ground: ``stack``, ``images``, ``deploy`` and ``testenv`` import from here, never
from each other. Nothing here imports Textual or an engine SDK.
"""

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
