"""Deploys to demo and prod: guarded, pinned by digest, migrations first, watched, recorded.

Public API (no Textual; the CLI and the TUI's Deploy screen are thin layers over it)::

    DeployRun(root, env, Options(...))     # an owned run: iterate it, stop() it, join() it
    RollbackRun(root, env, to_revision=None), RolloutStatusRun(root, env), VerifyRun(root, env)
    deploy(root, env, Options(...)) -> Iterator[Event]        # a DeployRun's events
    rollout_status(root, env) -> Iterator[Event]
    rollback_environment(root, env, to_revision=None) -> Iterator[Event]
    read_history(root, env) -> list[history.Record]
    resolve(root, env) -> Target

Events are the dataclasses in ``periph_env.deploy.events``; every run ends with exactly one
``Finished`` (``periph_env.deploy.runs``).
"""

from __future__ import annotations

from periph_env.deploy.engine import DeployRun, Options, deploy
from periph_env.deploy.operations import (
    RollbackRun,
    RolloutStatusRun,
    read_history,
    rollback_environment,
    rollout_status,
)
from periph_env.deploy.runs import OperationRun
from periph_env.deploy.target import Target, resolve
from periph_env.deploy.verify_stage import VerifyRun, verify_environment

__all__ = [
    "DeployRun",
    "OperationRun",
    "Options",
    "RollbackRun",
    "RolloutStatusRun",
    "Target",
    "VerifyRun",
    "deploy",
    "read_history",
    "resolve",
    "rollback_environment",
    "rollout_status",
    "verify_environment",
]
