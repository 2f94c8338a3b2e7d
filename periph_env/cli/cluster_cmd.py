"""``periph <verb> --cluster [NAME]``: the dev stack on a Kubernetes namespace.

Reached from ``stack_cmd`` when ``--cluster`` is given; the engine is
``periph_env.cluster``. ``up --cluster`` builds, pushes, applies and waits until every
service is Ready, then forwards the published ports to localhost in the foreground until
ctrl+c (the stack keeps running); ``--no-forward`` returns once Ready; ``--watch`` also
hot reloads into the pods (``cluster.sync``), printing the local reload line.
``logs --cluster`` and ``start|stop|restart|rebuild --cluster`` print and act as their
compose forms do (the actions through ``ClusterBackend.act``, the TUI's keys' path).
``watch --cluster`` hot reloads into a stack that is up (``ClusterBackend.watcher``, the
TUI's too), printing the local reload lines; exit 1 when the namespace has no stack.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from periph_env import wait_for_ctrl_c


def add_cluster_flag(parser: argparse.ArgumentParser, help: str) -> None:
    """``--cluster [NAME]``: alone, [dev.cluster] of periph.toml; NAME, [dev.cluster.NAME]
    (docs/stack.md). ``args.cluster`` is None without the flag."""
    parser.add_argument("--cluster", nargs="?", const="", default=None, metavar="NAME", help=help)


def _cluster_stack(args: argparse.Namespace, stack, notice):
    from periph_env.cluster.config import load
    from periph_env.cluster.engine import ClusterStack

    _name_or_service(args, stack)
    settings = load(stack.root, args.cluster or None)
    return ClusterStack(stack, settings, notice=notice)


def _name_or_service(args: argparse.Namespace, stack) -> None:
    """``periph logs --cluster worker``: argparse reads ``worker`` as the cluster's NAME.
    A word that names no cluster under [dev.cluster] but a compose service is the
    service (``--cluster NAME SERVICE`` still picks a named cluster)."""
    from periph_env.common import config as project_config

    name = args.cluster
    if not name or not hasattr(args, "services"):
        return
    table = (project_config.load(stack.root).get("dev") or {}).get("cluster") or {}
    if isinstance(table.get(name), dict):
        return
    if name in stack.model.services:
        args.services = [name, *(args.services or [])]
        args.cluster = ""


def _progress(cluster):
    def say(line: str) -> None:
        print(cluster.kube.mask(line), file=sys.stderr, flush=True)

    return say


def run_up_cluster(args: argparse.Namespace, stack, notice) -> int:
    """``periph up --cluster [NAME] [--no-forward]``."""
    cluster = _cluster_stack(args, stack, notice)
    say = _progress(cluster)
    if args.services:
        say("periph: note: --cluster brings up the whole stack (services are ignored)")
    started = time.monotonic()
    forwards = cluster.up(progress=say)
    say(
        f"stack ready in namespace {cluster.namespace} ({cluster.settings.context}) "
        f"in {time.monotonic() - started:.1f}s"
    )
    from periph_env.cluster.db import cluster_database
    from periph_env.data.migrations import up_notes  # the branch-switch note, as locally

    for line in up_notes(*cluster_database(cluster)):
        say(f"periph: note: {line}")
    if args.no_forward and not args.watch:
        return 0
    from periph_env.cluster.forward import local_ports

    return _forward(cluster, [] if args.no_forward else local_ports(forwards), say, args.watch)


def _forward(cluster, forwards, say, watch: bool = False) -> int:
    from periph_env.cli.stack_cmd import print_reload
    from periph_env.cluster.forward import Forwarder
    from periph_env.cluster.watch import ClusterWatcher

    shown: dict[str, str] = {}

    def on_state(state) -> None:
        line = f"{state.service:<9} 127.0.0.1:{state.local} -> {state.remote}  {state.state}"
        if shown.get(state.service) != state.state:
            shown[state.service] = state.state
            print(line, flush=True)

    lock = (cluster.namespace, cluster.stack.compose_path)  # one watcher per namespace
    # The watcher first: one refused (another watches this namespace) leaves no forward.
    watcher = ClusterWatcher(cluster.pod_sync(), print_reload, lock=lock).start() if watch else None
    forwarder = Forwarder(cluster.kube, cluster.namespace, forwards, on_state=on_state).start()
    doing = " and ".join(w for w, on in (("forwarding", forwards), ("watching", watch)) if on)
    say(f"{doing} (ctrl+c stops; the stack keeps running: `periph down --cluster` removes it)")
    try:
        wait_for_ctrl_c()
    finally:
        if watcher is not None:
            watcher.stop()
        forwarder.stop()
    say(f"stopped {doing}")
    return 0


def run_down_cluster(args: argparse.Namespace, stack, notice) -> int:
    """``periph down --cluster [NAME]``: delete what ``up --cluster`` made, wait until gone."""
    cluster = _cluster_stack(args, stack, notice)
    say = _progress(cluster)
    deleted = cluster.down(progress=say)
    say(f"removed {len(deleted)} object(s) from {cluster.namespace}" if deleted else
        f"nothing of the dev stack in {cluster.namespace}")  # fmt: skip
    return 0


def run_ps_cluster(args: argparse.Namespace, stack, notice) -> int:
    """``periph ps --cluster [NAME] [--stats] [--format json]``: services, pods and
    forwards; ``--stats`` adds CPU and MEM from one reading of the pods
    (``cluster.stats``: the metrics API, else the kubelets' Summary API)."""
    from periph_env.cluster.forward import read_states

    cluster = _cluster_stack(args, stack, notice)
    states = cluster.ps()
    forwards = {f.service: f for f in read_states(cluster.namespace)}
    samples = _pod_samples(cluster, states, notice) if getattr(args, "stats", False) else None
    if args.format == "json":
        out = []
        for s in states:
            obj = s.to_json()
            f = forwards.get(s.service)
            obj["forward"] = f.to_json() if f else None
            if samples is not None:
                sample = samples.get(s.service)
                empty = {"cpu_percent": None, "mem_bytes": None, "mem_limit_bytes": None}
                obj.update(sample.to_json() if sample else empty)
            out.append(obj)
        print(json.dumps(out, indent=2))
        return 0
    from periph_env.stack.stats import cpu_text, human_bytes

    head = ("SERVICE", "KIND", "STATUS", "RESTARTS", "POD", "FORWARD")
    rows = [head + (("CPU", "MEM") if samples is not None else ())]
    for s in states:
        f = forwards.get(s.service)
        forward = f"127.0.0.1:{f.local}->{f.remote} {f.state}" if f else ""
        row = (s.service, s.kind, s.status, str(s.restarts), s.pod or "", forward)
        if samples is not None:
            sample = samples.get(s.service)
            row += (cpu_text(sample.cpu), human_bytes(sample.mem)) if sample else ("-", "-")
        rows.append(row)
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    if not states:
        print(f"no dev stack in {cluster.namespace} (`periph up --cluster`)", file=sys.stderr)
    return 0


def _pod_samples(cluster, states, notice) -> dict:
    """service -> ``Sample`` of its running pods (``ps --cluster --stats``); a reading
    that failed says why on ``notice`` and leaves the columns at ``-``."""
    from periph_env.cluster.backend import ClusterBackend
    from periph_env.errors import PeriphError

    running = [s.service for s in states if s.pod]  # the reader keeps Running pods only
    if not running:
        return {}
    try:
        return ClusterBackend(cluster, notice).stats_reader(one_off=True).read(running)
    except PeriphError as exc:
        notice(f"CPU/MEM not read: {cluster.kube.mask(exc.message)}")
        return {}


def run_logs_cluster(args: argparse.Namespace, stack, notice) -> int:
    """``periph logs --cluster [NAME] [SERVICE...] [-f] [--since] [--grep] [--format]``."""
    from periph_env.cli.stack_cmd import print_lines
    from periph_env.cluster import logs
    from periph_env.cluster.translate import seconds
    from periph_env.stack.logfilter import HealthFold

    cluster = _cluster_stack(args, stack, notice)
    services = logs.check_services(cluster, args.services or [])
    since = seconds(args.since, 0) if args.since else None
    fold = HealthFold(show_all=args.all)  # health-check request lines: counted, not printed
    if not args.follow:
        lines = logs.read(cluster, services, since=since, grep=args.grep)
        print_lines(fold(lines), args.format)
        if fold.summary():
            print(fold.summary(), file=sys.stderr)
        if not lines and not logs.pods(cluster, services):
            print(f"periph: no pods of {', '.join(services) or 'the dev stack'} in "
                  f"{cluster.namespace} (`periph up --cluster`)", file=sys.stderr)  # fmt: skip
            return 1
        return 0
    follower = logs.Follower(
        cluster,
        services,
        lambda batch: print_lines(fold(batch), args.format),
        notice,
        since=since,
        grep=args.grep,
    ).start()
    try:
        wait_for_ctrl_c()
    finally:
        follower.stop()
        if fold.summary():
            print(fold.summary(), file=sys.stderr)
    return 0


DONE = {"start": "started", "stop": "stopped", "restart": "restarted", "rebuild": "rebuilt"}


def run_control_cluster(args: argparse.Namespace, stack, notice) -> int:
    """``periph start|stop|restart|rebuild --cluster [NAME] [SERVICE...]``: what the Stack
    area's keys do on the cluster, through the same ``ClusterBackend.act`` (default: every
    service, as locally). ``stop`` scales to 0 keeping the replica count, ``start`` brings
    it back, ``restart`` is a rollout restart, ``rebuild`` builds, pushes and rolls; all
    but ``stop`` wait until Ready (a stopped pod ends within its grace period). Exit 1
    when the namespace has no stack."""
    from periph_env.cluster.backend import ClusterBackend

    cluster = _cluster_stack(args, stack, notice)
    backend = ClusterBackend(cluster, notice)
    states = backend.ensure_up()  # exit 1: no stack there
    say = _progress(cluster)
    services = list(args.services or [])
    started = time.monotonic()
    backend.act(args.verb, services or None, say)
    every = [s.service for s in states if s.kind == "Deployment"]
    say(f"{DONE[args.verb]} {', '.join(services or every)} in "
        f"{time.monotonic() - started:.1f}s")  # fmt: skip
    return 0


def run_watch_cluster(args: argparse.Namespace, stack, notice) -> int:
    """``periph watch --cluster [NAME] [SERVICE...]``: develop.watch rules into the pods of
    the running cluster stack until ctrl+c (the stack keeps running)."""
    from periph_env.cli.stack_cmd import print_reload
    from periph_env.cluster.backend import ClusterBackend

    cluster = _cluster_stack(args, stack, notice)
    backend = ClusterBackend(cluster, notice)
    states = {s.service: s for s in backend.ensure_up()}  # exit 1: no stack there
    watcher = backend.watcher(print_reload, args.services or None)
    say = _progress(cluster)
    for service in watcher.services:
        state = states.get(service)
        if state is None or not state.ready:
            status = state.status if state else "not in the stack"
            say(f"periph: note: {service} is not Ready ({status}): its edits wait for a pod")
    watcher.start()
    say(f"watching {', '.join(watcher.services)} in {cluster.namespace} "
        "(ctrl+c stops watching; the stack keeps running)")  # fmt: skip
    try:
        wait_for_ctrl_c()
    finally:
        watcher.stop()
    say("stopped watching")
    return 0
