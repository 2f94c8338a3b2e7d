"""Deploys to demo and prod: guarded, pinned by digest, migrations first, watched, recorded.

Public API (no Textual; the CLI and the TUI's Deploy screen are thin layers over it)::

    deploy(root, env, Options(...)) -> Iterator[Event]        # ends with events.Finished
    rollout_status(root, env) -> Iterator[Event]
    rollback_environment(root, env, to_revision=None) -> Iterator[Event]
    read_history(root, env) -> list[history.Record]
    resolve(root, env) -> Target

Events are the dataclasses in ``periph_env.deploy.events``.
"""

from __future__ import annotations

from periph_env.deploy.engine import Options, deploy
from periph_env.deploy.operations import read_history, rollback_environment, rollout_status
from periph_env.deploy.target import Target, resolve

__all__ = [
    "Options",
    "Target",
    "deploy",
    "read_history",
    "resolve",
    "rollback_environment",
    "rollout_status",
]
