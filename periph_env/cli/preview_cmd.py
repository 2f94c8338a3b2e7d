"""``periph preview up|down|list|gc``: a namespace per branch on the demo cluster.

The engine is ``periph_env.deploy.preview``, imported inside the handlers. ``up`` prints
its events as ``periph deploy`` does (the same printer); ``list`` and ``gc`` print one
row per preview, or JSON with ``--format json``.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``preview`` and its four actions."""
    preview = subparsers.add_parser(
        "preview",
        help="preview environments per branch on the demo cluster (up, down, list, gc)",
        description="A namespace peripheral-pr-<slug> per branch on the demo cluster, "
        "deployed from the branch's pinned images with its own Secret, a ResourceQuota, a "
        "LimitRange, an expiry and a host <slug>.<demo domain>. Exit 0 ok, 1 failed, "
        "2 refused/usage.",
    )
    actions = preview.add_subparsers(dest="preview_action", metavar="ACTION")
    preview.set_defaults(handler=lambda _args: _usage(preview))

    up = actions.add_parser("up", help="create or update the preview of BRANCH")
    _branch(up)
    up.add_argument(
        "--ttl",
        default=None,
        help="how long until gc may delete it: 30m, 24h, 3d (default [preview] ttl or 24h); "
        "up again extends it",
    )
    _format(up)
    up.set_defaults(handler=run_up)

    down = actions.add_parser("down", help="delete the preview of BRANCH")
    _branch(down)
    down.set_defaults(handler=run_down)

    listing = actions.add_parser("list", help="the previews on the demo cluster")
    _format(listing)
    listing.set_defaults(handler=run_list)

    gc = actions.add_parser(
        "gc", help="delete expired previews (never demo, prod or an unlabelled namespace)"
    )
    gc.add_argument("--dry-run", action="store_true", help="only say which would be deleted")
    _format(gc)
    gc.set_defaults(handler=run_gc)


def _branch(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "branch", nargs="?", default=None, help="the branch (default: the checked-out one)"
    )


def _format(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=("text", "json"), default="text")


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_usage(sys.stderr)
    print("periph preview: choose an action: up, down, list, gc", file=sys.stderr)
    return 2


def _root():
    from periph_env.common.paths import find_project_root

    return find_project_root()


def run_up(args: argparse.Namespace) -> int:
    """``periph preview up [BRANCH]``: 0 up, 1 failed, 2 refused."""
    from periph_env.cli.deploy_cmd import drive_events
    from periph_env.deploy import preview
    from periph_env.deploy.preview_plan import parse_ttl

    ttl = parse_ttl(args.ttl) if args.ttl is not None else None
    run = preview.up(_root(), args.branch, ttl)
    return drive_events(run.events(), args.format, "demo", "preview-up")


def run_down(args: argparse.Namespace) -> int:
    """``periph preview down [BRANCH]``: 0 deleted or absent, 2 not a preview."""
    from periph_env.deploy import preview

    print(preview.down(_root(), args.branch), flush=True)
    return 0


def _rows(items: list[Any]) -> list[str]:
    rows = [f"{'preview':24}  {'namespace':38}  {'branch':24}  expires (UTC)"]
    for p in items:
        rows.append(f"{p.slug:24}  {p.namespace:38}  {p.branch or '-':24}  {p.expires_at or '-'}")
    return rows


def run_list(args: argparse.Namespace) -> int:
    """``periph preview list``: the previews, soonest to expire first."""
    from periph_env.deploy import preview

    found = preview.list_previews(_root())
    if args.format == "json":
        sys.stdout.write(json.dumps([p.as_dict() for p in found], indent=2) + "\n")
    elif not found:
        print("no previews", flush=True)
    else:
        print("\n".join(_rows(found)), flush=True)
    return 0


def run_gc(args: argparse.Namespace) -> int:
    """``periph preview gc``: 0 done, 1 when a deletion failed."""
    from periph_env.deploy import preview

    done = preview.gc(_root(), dry_run=args.dry_run)
    if args.format == "json":
        document = {
            "dry_run": args.dry_run,
            "deleted": [p.as_dict() for p in done.deleted],
            "kept": [p.as_dict() for p in done.kept],
            "errors": done.errors,
        }
        sys.stdout.write(json.dumps(document, indent=2) + "\n")
    else:
        verb = "would delete" if args.dry_run else "deleted"
        for p in done.deleted:
            print(f"{verb} {p.namespace} (expired {p.expires_at or 'unknown'})", flush=True)
        for error in done.errors:
            print(f"periph: error: {error}", file=sys.stderr, flush=True)
        print(f"{len(done.deleted)} {verb}, {len(done.kept)} kept", flush=True)
    return 1 if done.errors else 0
