"""The ``periph`` command line: a thin argparse layer over the core library.

Each subcommand lives in its own module exposing ``register(subparsers)``; the module
imports its engine lazily inside the handler so that ``periph env check`` stays fast
(no Textual, Docker or Kubernetes imports on that path).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from periph_env import __version__
from periph_env.errors import EXIT_USAGE, PeriphError

# Modules under periph_env.cli that contribute subcommands, in help order.
_COMMAND_MODULES = ("env_cmd", "testenv_cmd")


def build_parser() -> argparse.ArgumentParser:
    """Build the full argument parser with every registered subcommand."""
    parser = argparse.ArgumentParser(
        prog="periph",
        description="Local-first dev environment manager for the Peripheral platform.",
    )
    parser.add_argument("--version", action="version", version=f"periph {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    import importlib

    for name in _COMMAND_MODULES:
        try:
            module = importlib.import_module(f"periph_env.cli.{name}")
        except ModuleNotFoundError as exc:  # a command module not written yet
            if exc.name != f"periph_env.cli.{name}":
                raise
            continue
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``periph`` and return its exit code (0 ok, 1 findings/failure, 2 usage)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        # The TUI arrives with its own issue; until then the bare command explains itself.
        parser.print_help()
        return 0
    try:
        return int(handler(args) or 0)
    except PeriphError as exc:
        print(f"periph: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


__all__ = ["EXIT_USAGE", "build_parser", "main"]
