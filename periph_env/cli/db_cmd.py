"""``periph db ...`` (dev data) and ``periph exec`` (a shell in a service).

A thin layer over ``periph_env.data`` (imported inside the handlers). Exit codes: 0 ok,
1 a failed operation (the db service down, an unknown snapshot, psql failed), 2 usage
(a bad snapshot name, a restore across migrations without ``--force``). ``exec`` passes
the command's own exit code through.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``db`` and ``exec``."""
    db = subparsers.add_parser(
        "db", help="dev database: snapshot, restore, list, rm, switch, cleanup, reset, seed, status"
    )
    verbs = db.add_subparsers(dest="db_command", metavar="ACTION")
    verbs.required = True

    snap = verbs.add_parser("snapshot", help="copy the dev database (default name: the branch)")
    snap.add_argument("name", nargs="?", metavar="NAME", help="a-z 0-9 - _ (default: branch)")
    snap.add_argument("--replace", action="store_true", help="overwrite a snapshot of that name")
    _cluster(snap)
    snap.set_defaults(handler=run_snapshot)

    restore = verbs.add_parser("restore", help="make the dev database a copy of a snapshot")
    restore.add_argument("name", metavar="NAME")
    restore.add_argument(
        "--force", action="store_true", help="even if it has migrations this checkout lacks"
    )
    _cluster(restore)
    restore.set_defaults(handler=run_restore)

    ls = verbs.add_parser("list", help="snapshots: name, time, branch, migrations, size")
    ls.add_argument("--format", choices=("text", "json"), default="text", help="output format")
    _cluster(ls)
    ls.set_defaults(handler=run_list)

    rm = verbs.add_parser("rm", help="delete a snapshot")
    rm.add_argument("name", metavar="NAME")
    _cluster(rm)
    rm.set_defaults(handler=run_rm)

    sw = verbs.add_parser(
        "switch",
        help="keep the dev database as its branch's snapshot; this branch's back (or fresh)",
    )
    sw.add_argument("--no-seed", action="store_true", help="a fresh database stays empty")
    _cluster(sw)
    sw.set_defaults(handler=run_switch)

    clean = verbs.add_parser(
        "cleanup", help="remove what a killed snapshot/restore left (puts a missing dev db back)"
    )
    _cluster(clean)
    clean.set_defaults(handler=run_cleanup)

    reset = verbs.add_parser("reset", help="drop the dev database, migrate, seed")
    reset.add_argument("--no-seed", action="store_true", help="migrate only, leave it empty")
    _cluster(reset)
    reset.set_defaults(handler=run_reset)

    seed = verbs.add_parser("seed", help="load services/db/seed/ into the (empty) dev database")
    seed.add_argument(
        "--env",
        metavar="ENV",
        help="seed ENV's in-cluster database through a Job instead (demo; never prod)",
    )
    _cluster(seed)
    seed.set_defaults(handler=run_seed)

    status = verbs.add_parser("status", help="applied migrations against this checkout's")
    status.add_argument("--format", choices=("text", "json"), default="text", help="output format")
    _cluster(status)
    status.set_defaults(handler=run_status)

    ex = subparsers.add_parser(
        "exec", help="a shell or a command in a service's container (psql, redis-cli, sh)"
    )
    ex.add_argument("service", metavar="SERVICE")
    ex.add_argument("cmd", nargs=argparse.REMAINDER, metavar="CMD", help="default: a shell")
    ex.set_defaults(handler=run_exec)


def _cluster(parser: argparse.ArgumentParser) -> None:
    from periph_env.cli.cluster_cmd import add_cluster_flag

    add_cluster_flag(parser, "the dev database of the stack on a Kubernetes namespace (its pod)")


def _stack():
    """The dev stack, located as the stack commands locate it (``PERIPH_COMPOSE_FILE``,
    ``PERIPH_ENV_FILE``, ``COMPOSE_PROJECT_NAME``)."""
    from periph_env.stack import Stack

    compose = os.environ.get("PERIPH_COMPOSE_FILE") or None
    return Stack(
        root=os.path.dirname(os.path.abspath(compose)) if compose else None,
        env_file=os.environ.get("PERIPH_ENV_FILE") or None,
        compose_path=compose,
    )


def _root(stack) -> Path:
    from periph_env.data.migrations import project_root

    return project_root(stack)


def _pg(args: argparse.Namespace):
    """(stack, Postgres): the local stack's db container, or with ``--cluster`` the db
    pod of the dev stack on that cluster (the migrate one-shot is its Job)."""
    from periph_env.data.pg import Postgres

    stack = _stack()
    if getattr(args, "cluster", None) is None:
        return stack, Postgres(stack)
    from periph_env.cluster.config import load
    from periph_env.cluster.db import cluster_database
    from periph_env.cluster.engine import ClusterStack

    cluster = ClusterStack(stack, load(stack.root, args.cluster or None), notice=_say)
    return cluster_database(cluster, progress=lambda line: _say(cluster.kube.mask(line)))


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _size(n: int) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def run_snapshot(args: argparse.Namespace) -> int:
    """``periph db snapshot [NAME] [--replace]``."""
    from periph_env.data import names, snapshots

    if args.name:
        names.validate(args.name)  # a bad name is exit 2 before any engine call
    stack, pg = _pg(args)
    started = time.monotonic()
    with pg.session():
        snap = snapshots.snapshot(pg, _root(stack), args.name, replace=args.replace)
    _say(
        f"snapshot {snap.name} of {pg.dev_db} taken in {time.monotonic() - started:.1f}s "
        f"({_size(snap.size_bytes)}, branch {snap.branch or '-'}, "
        f"{len(snap.migrations)} migrations)"
    )
    return 0


def run_restore(args: argparse.Namespace) -> int:
    """``periph db restore NAME [--force]``."""
    from periph_env.data import names, snapshots

    names.validate(args.name)
    stack, pg = _pg(args)
    started = time.monotonic()
    with pg.session():
        snap = snapshots.restore(pg, _root(stack), args.name, force=args.force)
    _say(
        f"{pg.dev_db} restored from snapshot {snap.name} in {time.monotonic() - started:.1f}s "
        "(backend and worker reconnect by themselves)"
    )
    return 0


def run_list(args: argparse.Namespace) -> int:
    """``periph db list [--format json]``."""
    from periph_env.data import leftovers, snapshots

    pg = _pg(args)[1]
    with pg.session():
        found = snapshots.list_snapshots(pg)
        left = leftovers.find(pg)
    for item in left:  # on stderr: the JSON on stdout keeps its shape
        _say(
            f"leftover {item.database} ({_size(item.size_bytes)}): {item.what}, "
            f"from periph process {item.pid} that was killed; `periph db cleanup` removes it"
        )
    if args.format == "json":
        print(json.dumps([s.to_json() for s in found], indent=2))
        return 0
    if not found:
        _say("no snapshots yet (`periph db snapshot [NAME]`)")
        return 0
    rows = [("NAME", "CREATED", "BRANCH", "LAST MIGRATION", "SIZE")]
    for s in found:
        last = s.migrations[-1].removesuffix(".sql") if s.migrations else "-"
        rows.append((s.name, s.created, s.branch or "-", last, _size(s.size_bytes)))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    return 0


def run_rm(args: argparse.Namespace) -> int:
    """``periph db rm NAME``."""
    from periph_env.data import names, snapshots

    names.validate(args.name)
    pg = _pg(args)[1]
    with pg.session():
        snapshots.remove(pg, args.name)
    _say(f"snapshot {args.name} removed")
    return 0


def run_switch(args: argparse.Namespace) -> int:
    """``periph db switch [--no-seed]``: per-branch databases after a ``git checkout``."""
    from periph_env.data import branches

    stack, pg = _pg(args)
    started = time.monotonic()
    with pg.session():
        result = branches.switch(pg, stack, _root(stack), load_seed=not args.no_seed)
    if result is None:
        _say("the dev database already is this branch's: nothing to switch")
        return 0
    for line in result.lines():
        _say(line)
    _say(f"switched {result.old} -> {result.new} in {time.monotonic() - started:.1f}s")
    return 0


def run_cleanup(args: argparse.Namespace) -> int:
    """``periph db cleanup``: drop leftovers of killed operations; a dev database a
    killed restore left renamed is put back, never dropped."""
    from periph_env.data import leftovers

    pg = _pg(args)[1]
    done = leftovers.cleanup(pg, pg.configured_db())
    for line in done:
        _say(line)
    if not done:
        _say("nothing left over by an interrupted snapshot or restore")
    return 0


def run_reset(args: argparse.Namespace) -> int:
    """``periph db reset [--no-seed]``."""
    from periph_env.data import seed

    stack, pg = _pg(args)
    started = time.monotonic()
    with pg.session():
        counts = seed.reset(pg, stack, _root(stack), load_seed=not args.no_seed)
    _say(f"{pg.dev_db} reset in {time.monotonic() - started:.1f}s: {_counts(counts)}")
    return 0


def run_seed(args: argparse.Namespace) -> int:
    """``periph db seed [--env ENV]``."""
    from periph_env.data import seed

    if args.env:
        if args.cluster is not None:
            from periph_env.errors import UsageError

            raise UsageError("--env seeds a deploy environment; --cluster your dev stack: one")
        return _seed_environment(args.env)

    stack, pg = _pg(args)
    with pg.session():
        counts = seed.seed(pg, _root(stack))
    _say(f"{pg.dev_db} seeded: {_counts(counts)}")
    return 0


def _seed_environment(environment: str) -> int:
    """``periph db seed --env ENV``: the Job's outcome and its log's last lines (masked)."""
    from periph_env.common.paths import find_project_root
    from periph_env.data import cluster_seed

    cluster_seed.refuse_production(environment, environment == "prod")  # before anything
    root = find_project_root()
    started = time.monotonic()
    result = cluster_seed.seed_environment(root, environment, note=_say)
    for line in result.logs.splitlines()[-10:]:
        _say(f"  | {line}")
    took = f"{time.monotonic() - started:.1f}s"
    if not result.ok:
        _say(f"FAIL {environment} not seeded: {result.message} ({took})")
        return 1
    _say(f"{environment} seeded ({took})")
    return 0


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {table}" for table, n in counts.items())


def run_status(args: argparse.Namespace) -> int:
    """``periph db status``: the dev database's migrations against the checkout's."""
    from periph_env.data import branches, migrations

    stack, pg = _pg(args)
    with pg.session():
        switch = branches.notice(pg, _root(stack))  # also records the database's branch
        report = migrations.report(pg, _root(stack))
    if args.format == "json":
        print(json.dumps({**report.to_json(), "switch": switch}, indent=2))
    else:
        print(f"database {pg.dev_db}: {len(report.applied)} migrations applied")
        print(f"checkout (branch {report.branch or '-'}): {len(report.checkout)} migrations")
        notes = migrations.combined(switch, report) or report.hint
        for line in notes:
            print(f"note: {line}")
        if not notes:
            print("in step with this checkout")
    return 0


def run_exec(args: argparse.Namespace) -> int:
    """``periph exec SERVICE [CMD...]``: the command's exit code."""
    from periph_env.data import shell

    cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    return shell.run(_stack(), args.service, cmd)
