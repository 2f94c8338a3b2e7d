"""``periph up|down|ps|logs|start|stop|restart|rebuild|watch|doctor``: the dev stack.

A thin layer over ``periph_env.stack`` (imported inside the handlers). The stack is
``compose/compose.yaml`` with the project's ``.env``; ``PERIPH_ENV_FILE``,
``PERIPH_COMPOSE_FILE`` and ``COMPOSE_PROJECT_NAME`` point it elsewhere (parallel stacks,
tests). Exit codes: 0 ok, 1 a failed operation or check (an engine that is down or does
not answer included), 2 usage (bad flags, a broken compose file). A call to the engine
that takes more than two seconds says what it waits for on stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import datetime

from periph_env import wait_for_ctrl_c


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the stack commands."""
    up = subparsers.add_parser(
        "up", help="start the dev stack (env check first; creates a missing .env)"
    )
    _services(up)
    up.add_argument("--wait", action="store_true", help="wait until every service is healthy")
    up.add_argument("--watch", action="store_true", help="then hot reload in the foreground")
    up.add_argument("--build", action="store_true", help="build images before starting")
    _cluster(up)
    up.add_argument(
        "--no-forward",
        action="store_true",
        help="with --cluster: return once Ready instead of forwarding ports in the foreground",
    )
    up.set_defaults(handler=run_up)

    down = subparsers.add_parser("down", help="stop and remove the stack's containers")
    down.add_argument("--volumes", action="store_true", help="also remove its data volumes")
    _cluster(down)
    down.set_defaults(handler=run_down)

    ps = subparsers.add_parser("ps", help="every service's state, health and ports")
    ps.add_argument("--format", choices=("text", "json"), default="text", help="output format")
    ps.add_argument(
        "--stats",
        action="store_true",
        help="add CPU and MEM per service (the engine's stats, the pods' with --cluster)",
    )
    _cluster(ps)
    ps.set_defaults(handler=run_ps)

    logs = subparsers.add_parser("logs", help="service logs, merged and timestamped")
    _services(logs)
    logs.add_argument("-f", "--follow", action="store_true", help="keep following")
    logs.add_argument("--since", metavar="DURATION", help="only lines newer than 10m, 1h, ...")
    logs.add_argument("--grep", metavar="REGEX", help="only lines matching REGEX")
    logs.add_argument("--format", choices=("text", "json"), default="text", help="output format")
    logs.add_argument(
        "--all", action="store_true", help="also show health-check request lines (hidden)"
    )
    logs.add_argument(
        "--env", choices=("demo", "prod"), help="logs of a deployed environment instead"
    )
    _cluster(logs)
    logs.set_defaults(handler=run_logs)

    for verb, text in (
        ("start", "start stopped services"),
        ("stop", "stop services (containers are kept)"),
        ("restart", "restart services"),
        ("rebuild", "rebuild images and recreate only those services"),
    ):
        parser = subparsers.add_parser(verb, help=text)
        _services(parser)
        _cluster(parser)
        parser.set_defaults(handler=run_control, verb=verb)

    watch = subparsers.add_parser(
        "watch", help="hot reload from compose develop.watch rules (foreground)"
    )
    _services(watch)
    _cluster(watch)
    watch.set_defaults(handler=run_watch)

    doctor = subparsers.add_parser("doctor", help="check engine, compose, kubectl, .env, ports")
    doctor.set_defaults(handler=run_doctor)


def _services(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("services", nargs="*", metavar="SERVICE", help="default: all")


def _cluster(parser: argparse.ArgumentParser) -> None:
    from periph_env.cli.cluster_cmd import add_cluster_flag

    add_cluster_flag(
        parser, "the dev stack on a Kubernetes namespace ([dev.cluster] in periph.toml)"
    )


def _stack():
    from periph_env.common.waiting import set_reporter
    from periph_env.stack import Stack

    set_reporter(_notice)
    compose = os.environ.get("PERIPH_COMPOSE_FILE") or None
    return Stack(
        root=os.path.dirname(os.path.abspath(compose)) if compose else None,
        env_file=os.environ.get("PERIPH_ENV_FILE") or None,
        compose_path=compose,
    )


def _progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _notice(line: str) -> None:
    """What periph waits for, or a lost and found engine: on stderr, apart from output."""
    print(f"periph: {line}", file=sys.stderr, flush=True)


def run_up(args: argparse.Namespace) -> int:
    """``periph up``: env check, port check, compose up (then watch with ``--watch``)."""
    if args.cluster is not None:
        from periph_env.cli.cluster_cmd import run_up_cluster

        return run_up_cluster(args, _stack(), _notice)
    from periph_env.stack.waits import WaitWatch

    stack = _stack()
    started = time.monotonic()
    # Why a service is not up yet (`backend waiting for db: healthy (12 s)`), next to
    # compose's own progress lines.
    with WaitWatch(stack, _progress):
        stack.up(args.services, build=args.build, wait=args.wait, progress=_progress)
    what = ", ".join(args.services) if args.services else f"stack {stack.project}"
    state = "healthy" if args.wait else "started"
    print(f"{what} {state} in {time.monotonic() - started:.1f}s", file=sys.stderr)
    from periph_env.data.migrations import up_notes  # the branch-switch note (issue 24)

    for line in up_notes(stack):
        print(f"periph: note: {line}", file=sys.stderr)
    if args.watch:
        return _watch(stack, args.services)
    return 0


def run_down(args: argparse.Namespace) -> int:
    """``periph down [--volumes]``."""
    if args.cluster is not None:
        from periph_env.cli.cluster_cmd import run_down_cluster

        return run_down_cluster(args, _stack(), _notice)
    stack = _stack()
    stack.down(volumes=args.volumes, progress=_progress)
    return 0


def run_control(args: argparse.Namespace) -> int:
    """``periph start|stop|restart|rebuild [SERVICE...]``."""
    if getattr(args, "cluster", None) is not None:
        from periph_env.cli.cluster_cmd import run_control_cluster

        return run_control_cluster(args, _stack(), _notice)
    stack = _stack()
    getattr(stack, args.verb)(args.services, progress=_progress)
    return 0


def _uptime(started_at: float | None) -> str:
    if started_at is None:
        return ""
    seconds = max(0, int(time.time() - started_at))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def run_ps(args: argparse.Namespace) -> int:
    """``periph ps [--format json]``: one row (or object) per service."""
    if args.cluster is not None:
        from periph_env.cli.cluster_cmd import run_ps_cluster

        return run_ps_cluster(args, _stack(), _notice)
    stack = _stack()
    statuses = stack.ps()
    samples = _samples(stack, statuses) if args.stats else {}
    if args.format == "json":
        objects = []
        for s in statuses:
            obj = s.to_json()
            if args.stats:
                sample = samples.get(s.service)
                empty = {"cpu_percent": None, "mem_bytes": None, "mem_limit_bytes": None}
                obj.update(sample.to_json() if sample else empty)
            objects.append(obj)
        print(json.dumps(objects, indent=2))
        return 0
    from periph_env.stack.stats import cpu_text, human_bytes

    head = ("SERVICE", "STATE", "HEALTH", "UPTIME", "PORTS")
    rows = [head + (("CPU", "MEM") if args.stats else ())]
    for s in statuses:
        state = s.state
        if s.state == "exited" and s.exit_code is not None:
            state = f"exited ({s.exit_code})"
        ports = ", ".join(p.split("->")[0] for p in s.ports)
        row = (s.service, state, s.health or "", _uptime(s.started_at), ports)
        if args.stats:
            sample = samples.get(s.service)
            row += (cpu_text(sample.cpu), human_bytes(sample.mem)) if sample else ("-", "-")
        rows.append(row)
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    return 0


def _samples(stack, statuses) -> dict:
    """service -> stats ``Sample`` of its running container (``ps --stats``)."""
    from periph_env.stack.stats import one_shot

    ids = {s.container_id: s.service for s in statuses if s.state == "running" and s.container_id}
    return {ids[cid]: sample for cid, sample in one_shot(stack.api, list(ids)).items()}


def print_lines(lines, fmt: str) -> None:
    """Log lines as ``periph logs`` prints them (the compose and the cluster stack)."""
    out = []
    for line in lines:
        if fmt == "json":
            out.append(
                json.dumps(
                    {
                        "service": line.service,
                        "timestamp": line.timestamp,
                        "stream": line.stream,
                        "text": line.text,
                    }
                )
            )
        else:
            stamp = datetime.fromtimestamp(line.timestamp).strftime("%H:%M:%S.%f")[:-3]
            out.append(f"{line.service:<9} {stamp} {line.text}")
    if out:
        sys.stdout.write("\n".join(out) + "\n")
        sys.stdout.flush()


def run_logs(args: argparse.Namespace) -> int:
    """``periph logs [SERVICE...] [-f] [--since] [--grep] [--format json]``."""
    if args.cluster is not None and args.env:
        print("periph: error: --cluster and --env are two different stacks: pick one",
              file=sys.stderr)  # fmt: skip
        return 2
    if args.cluster is not None:
        from periph_env.cli.cluster_cmd import run_logs_cluster

        return run_logs_cluster(args, _stack(), _notice)
    if args.env:
        try:
            from periph_env.cli.deploy_cmd import env_logs
        except ImportError:
            print(
                f"periph: error: logs of the {args.env} environment are not available yet "
                "(they arrive with `periph deploy`)",
                file=sys.stderr,
            )
            return 2
        return env_logs(args)
    from periph_env.stack import LogFollower, read_logs
    from periph_env.stack.logfilter import HealthFold

    stack = _stack()
    fold = HealthFold(show_all=args.all)  # health-check request lines: counted, not printed
    if not args.follow:
        lines = read_logs(stack, args.services, since=args.since, grep=args.grep)
        print_lines(fold(lines), args.format)
        if fold.summary():
            print(fold.summary(), file=sys.stderr)
        return 0
    follower = LogFollower(
        stack,
        lambda batch: print_lines(fold(batch), args.format),
        services=args.services,
        since=args.since,
        grep=args.grep,
        on_notice=_notice,
    ).start()
    try:
        wait_for_ctrl_c()
        return 0
    finally:
        follower.stop()
        if fold.summary():
            print(fold.summary(), file=sys.stderr)


def _reload_line(event) -> str:
    files = event.trigger or (event.files[0] if event.files else "")
    more = f" (+{len(event.files) - 1} more)" if len(event.files) > 1 and not event.trigger else ""
    if not event.ok:
        spent = time.time() - event.seen_at
        return f"{event.service:<9} {event.kind:<12} FAILED after {spent:.2f}s  {files}{more}\n" + (
            "\n".join("    " + line for line in (event.error or "").splitlines()[-25:])
        )
    latency = f"{event.latency:.2f}s" if event.latency is not None else "-"
    line = f"{event.service:<9} {event.kind:<12} {latency:>6}  {event.breakdown()}  {files}{more}"
    return line + (f"\n    {event.note}" if event.note else "")


def print_reload(event) -> None:
    """One reload's line (``seen → synced → serving``) once done, or its note meanwhile
    (the local and the cluster watch print the same)."""
    if event.done:
        print(_reload_line(event), flush=True)
    elif event.note:
        print(f"{event.service:<9} {event.note}", flush=True)


def _watch(stack, services) -> int:
    from periph_env.stack import Watcher

    watcher = Watcher(stack, print_reload, services=services or None)
    watcher.start()
    print(
        f"watching {', '.join(watcher.services)} (ctrl+c stops watching; the stack keeps running)",
        file=sys.stderr,
        flush=True,
    )
    try:
        wait_for_ctrl_c()
    finally:
        watcher.stop()
    print("stopped watching", file=sys.stderr)
    return 0


def run_watch(args: argparse.Namespace) -> int:
    """``periph watch [SERVICE...] [--cluster [NAME]]``: hot reload until ctrl+c."""
    if args.cluster is not None:
        from periph_env.cli.cluster_cmd import run_watch_cluster

        return run_watch_cluster(args, _stack(), _notice)
    stack = _stack()
    stack.check_engine()
    stack.ps()  # an engine that is down or not an engine fails here, not in a thread
    return _watch(stack, args.services)


def run_doctor(args: argparse.Namespace) -> int:
    """``periph doctor``: one line per check with its remedy; exit 1 if any fails."""
    from periph_env.stack import doctor

    checks = doctor(_stack())
    for check in checks:
        mark = {"ok": "ok  ", "warn": "warn", "fail": "FAIL"}[check.status]
        print(f"{mark}  {check.name}: {check.detail}")
        if check.status != "ok" and check.remedy:
            print(f"      → {check.remedy}")
    return 1 if any(c.status == "fail" for c in checks) else 0
