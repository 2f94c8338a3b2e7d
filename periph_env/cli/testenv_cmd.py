"""``periph testenv up|down|status``: the real engines the test suite runs against."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``testenv`` subcommand."""
    from periph_env.testenv import orchestrator

    parser = subparsers.add_parser(
        "testenv",
        help="start/stop the Docker engine, registry and Kubernetes used by tests",
        description="Idempotently start, inspect or stop the real test engines.",
    )
    orchestrator.add_arguments(parser)
    parser.set_defaults(handler=orchestrator.run_action)
