"""``periph env check|diff|init|guard``: the .env contract. Imports the core lazily."""

from __future__ import annotations

import argparse
import os
import sys


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``env`` subcommand and its actions."""
    from periph_env.env.formats import FORMATS
    from periph_env.env.schema import TARGETS

    env = subparsers.add_parser(
        "env",
        help="check, compare and create .env files against .env.example",
        description="The .env contract: .env.example (annotated) is the source of truth.",
    )
    env.set_defaults(handler=lambda _args: _usage(env))
    actions = env.add_subparsers(dest="env_action", metavar="ACTION")

    check = actions.add_parser("check", help="validate .env (or the example alone)")
    _files(check)
    check.add_argument(
        "--target",
        choices=TARGETS,
        default="local",
        help="deploy target whose rules apply (default: local)",
    )
    check.add_argument("--format", choices=FORMATS, default="text", help="output format")
    check.add_argument("--strict", action="store_true", help="warnings fail too (exit 1)")
    check.set_defaults(handler=run_check)

    diff = actions.add_parser("diff", help="keys missing from / extra in .env (no values)")
    _files(diff)
    diff.add_argument("--format", choices=("text", "json"), default="text")
    diff.set_defaults(handler=run_diff)

    init = actions.add_parser(
        "init", help="create .env from the example, or append the keys it lacks"
    )
    _files(init)
    init.set_defaults(handler=run_init)

    guard = actions.add_parser(
        "guard", help="pre-commit: refuse staged env files and staged copies of secrets"
    )
    guard.add_argument(
        "--env-file",
        action="append",
        dest="env_files",
        metavar="PATH",
        help="env file whose secrets to look for (repeatable; default: the "
        "real env files at the repository top)",
    )
    guard.set_defaults(handler=run_guard)


def _files(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--env-file", metavar="PATH", help="env file (default: .env)")
    parser.add_argument(
        "--example",
        metavar="PATH",
        default=".env.example",
        help="the annotated example (default: .env.example)",
    )


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def run_check(args: argparse.Namespace) -> int:
    """``periph env check``: print the report, exit 0 clean / 1 findings / 2 usage."""
    from periph_env.env import check, render

    report = check(
        args.env_file or ".env", args.example, args.target, env_required=bool(args.env_file)
    )
    sys.stdout.write(render(report, args.format))
    return report.exit_code(args.strict)


def run_diff(args: argparse.Namespace) -> int:
    """``periph env diff``: exit 0 when both files set the same keys, else 1."""
    from periph_env.env.keydiff import diff, render

    result = diff(args.env_file or ".env", args.example)
    sys.stdout.write(render(result, args.format))
    return 0 if result.same else 1


def run_init(args: argparse.Namespace) -> int:
    """``periph env init``: create or complete the env file; never changes a value."""
    from periph_env.env.init_file import init
    from periph_env.env.masking import Masker

    def waiting(message: str) -> None:
        print(f"periph: {message}...", file=sys.stderr, flush=True)

    masker = Masker()
    result = init(args.env_file or ".env", args.example, on_wait=waiting)
    where = masker.scrub_path(result.env_path)
    if result.written and result.written != os.path.abspath(result.env_path):
        where = f"{where} (-> {masker.scrub_path(os.path.relpath(result.written))})"
    generated = (
        f"; generated random values for {', '.join(result.generated)}" if result.generated else ""
    )
    keys = masker.scrub(", ".join(result.added))
    if result.created:
        message = (
            f"created {where} from {args.example} ({len(result.added)} keys{generated}); "
            "fill in the placeholders you need, then run `periph env check`"
        )
    elif result.raced and not result.added:
        message = (
            f"{where} was created by another process meanwhile and already has every key "
            f"of {args.example}; appended 0 keys"
        )
    elif result.added:
        raced = f"{where} was created by another process meanwhile; " if result.raced else ""
        message = (
            f"{raced}appended {len(result.added)} keys to {where}: {keys}{generated} "
            f"(backup: {masker.scrub_path(result.backup or '')})"
        )
    else:
        message = f"{where} already has every key of {args.example}; nothing to do"
    print(message)
    return 0


def run_guard(args: argparse.Namespace) -> int:
    """``periph env guard``: exit 1 when the commit would carry an env file or a secret,
    2 when something it must judge cannot be read (it fails closed)."""
    from periph_env.env import guard

    findings = guard(None, args.env_files)
    for f in findings:
        print(f"{f.path}:{f.line}: {f.code} {f.severity}: {f.message}", file=sys.stderr)
    if any(f.code == "PE403" for f in findings):
        print("periph env guard: commit refused (something could not be checked)", file=sys.stderr)
        return 2
    if findings:
        print("periph env guard: commit refused", file=sys.stderr)
        return 1
    return 0
