"""The ``periph`` command line: a thin argparse layer over the core library.

Each subcommand lives in its own module exposing ``register(subparsers)``; the module
imports its engine lazily inside the handler so that ``periph env check`` stays fast
(no Textual, Docker or Kubernetes imports on that path).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from periph_env import __version__, interruptible
from periph_env.errors import EXIT_USAGE, PeriphError

EXIT_INTERRUPTED = 130
# Subcommand name -> module under periph_env.cli that registers it, in help order.
_COMMAND_MODULES = {
    "up": "stack_cmd",
    "down": "stack_cmd",
    "ps": "stack_cmd",
    "logs": "stack_cmd",
    "start": "stack_cmd",
    "stop": "stack_cmd",
    "restart": "stack_cmd",
    "rebuild": "stack_cmd",
    "watch": "stack_cmd",
    "doctor": "stack_cmd",
    "exec": "db_cmd",
    "db": "db_cmd",
    "env": "env_cmd",
    "build": "images_cmd",
    "push": "images_cmd",
    "images": "images_cmd",
    "deploy": "deploy_cmd",
    "rollout": "deploy_cmd",
    "rollback": "deploy_cmd",
    "history": "deploy_cmd",
    "verify": "deploy_cmd",
    "preview": "preview_cmd",
    "testenv": "testenv_cmd",
    "serve": "serve_cmd",
}


def _requested_command(argv: Sequence[str]) -> str | None:
    """The subcommand named on the command line, if it is a known one."""
    for token in argv:
        if not token.startswith("-"):
            return token if token in _COMMAND_MODULES else None
    return None


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """Build the argument parser; with ``only``, register just that subcommand.

    Registering one command keeps start-up cheap: ``periph env check`` must not pay for
    the imports of every other command (each engine's registration pulls in its own).
    """
    parser = argparse.ArgumentParser(
        prog="periph",
        description="Local-first dev environment manager for the Peripheral platform.",
    )
    parser.add_argument("--version", action="version", version=f"periph {__version__}")
    from periph_env.cli.cluster_cmd import add_cluster_flag

    add_cluster_flag(
        parser,
        "without a command: the TUI's Stack area shows the dev stack on the cluster "
        "([dev.cluster] in periph.toml; NAME: [dev.cluster.NAME])",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    # A module registers every command it owns (stack_cmd: up, down, ps, ...), once.
    wanted = _COMMAND_MODULES.values() if only is None else [_COMMAND_MODULES[only]]
    for name in dict.fromkeys(wanted):
        importlib.import_module(f"periph_env.cli.{name}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``periph`` and return its exit code (0 ok, 1 findings/failure, 2 usage, 130 ctrl+c)."""
    try:
        code = _main(list(sys.argv[1:] if argv is None else argv))
    except KeyboardInterrupt:
        print("periph: interrupted", file=sys.stderr)
        code = EXIT_INTERRUPTED
    if argv is None:  # the process's own command line: exit once the last line is out
        from periph_env.common.prompt_exit import quick_exit_ahead

        quick_exit_ahead()
    return code


def _main(argv: list[str]) -> int:
    if not argv and sys.stdin.isatty() and sys.stdout.isatty():
        # Bare `periph` on a terminal: the TUI, before building every command's parser
        # (~0.1 s of the first frame's budget, for a parser nothing reads).
        from periph_env.tui import run

        return run()
    parser = build_parser(only=_requested_command(argv))
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        # Bare `periph` on a terminal opens the TUI; piped or scripted, it prints the help.
        cluster = getattr(args, "cluster", None)
        if getattr(args, "command", None) is None and sys.stdin.isatty() and sys.stdout.isatty():
            from periph_env.tui import run

            # The app stops and joins every run and thread it owns before it returns: the
            # interpreter exits normally, with nothing left to block or abort it.
            return run(cluster=cluster)
        if cluster is not None:
            print(
                "periph: error: `periph --cluster` opens the TUI, which needs a terminal; "
                "scripts use `periph ps|logs|watch --cluster`",
                file=sys.stderr,
            )
            return EXIT_USAGE
        parser.print_help()
        return 0
    from periph_env.common import redact

    # One invocation's secrets only; everything printed below goes through the masker.
    redact.forget_all()
    if args.command not in ("env", "testenv"):  # env learns its own files' secrets
        _learn_project_secrets()
    with redact.guard_streams():
        return _run(handler, args)


def _learn_project_secrets() -> None:
    """Remember the secrets of the project's env files, so that whatever a tool prints
    (compose, docker, kubectl, git) comes out masked even on a path that forgot them."""
    from periph_env.common.paths import find_project_root

    try:
        root = find_project_root()
    except PeriphError:
        return  # outside a project: nothing to learn
    from periph_env.env.values_api import project_secrets

    project_secrets(root)


def _run(handler, args: argparse.Namespace) -> int:
    """The handler's exit code; a PeriphError is one masked line (its hint on a second)."""
    try:
        # From here ctrl+c is a KeyboardInterrupt: a deploy records the step it stopped
        # in, a follower ends its threads; ``main`` then says so in one line.
        with interruptible():
            return int(handler(args) or 0)
    except PeriphError as exc:
        print(f"periph: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except BrokenPipeError:
        return 0


__all__ = ["EXIT_USAGE", "build_parser", "main"]
