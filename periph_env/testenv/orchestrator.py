"""Bring the test engines up in dependency order, report status, tear down what we started."""

from __future__ import annotations

import argparse
import importlib
import time
from collections.abc import Sequence
from types import ModuleType

from periph_env.errors import EXIT_FAILURE, PeriphError
from periph_env.testenv.state import Log

# Tier -> component modules (under periph_env.testenv) in start order.
TIERS: dict[str, tuple[str, ...]] = {
    "docker": ("docker_engine", "compose_plugin", "base_images"),
    "registry": ("docker_engine", "registry"),
    "k8s": ("kube",),
    # node.ensure brings the k8s tier's cluster up itself; listing only "node" here keeps
    # `down --tier k8s` meaning what it did before the node tier existed.
    "node": ("node",),
}
ALL_TIERS = tuple(TIERS)
# What `up` starts without --tier (what ./scripts/test starts); down and status cover all.
# Drop "node" here to keep the real node opt-in (`up --tier node`).
DEFAULT_TIERS = ("docker", "registry", "k8s", "node")


def components(tiers: Sequence[str]) -> list[ModuleType]:
    """Component modules needed by ``tiers``, deduplicated, in start order."""
    names: list[str] = []
    for tier in tiers:
        for name in TIERS[tier]:
            if name not in names:
                names.append(name)
    return [importlib.import_module(f"periph_env.testenv.{n}") for n in names]


def up(tiers: Sequence[str] = DEFAULT_TIERS, log: Log | None = None) -> dict[str, object]:
    """Ensure every component of ``tiers`` runs; return each component's info by name."""
    log = log or Log()
    start = time.monotonic()
    infos: dict[str, object] = {}
    if "node" in tiers:
        # kube-router's Go build (the node's NetworkPolicy firewall) runs in the background
        # from here, alongside the control plane's and the node's builds on a cold machine.
        importlib.import_module("periph_env.testenv.node_netpol").start_build(log)
    for module in components(tiers):
        name = module.__name__.rsplit(".", 1)[1]
        infos[name] = module.ensure(log)
    log(f"up: {', '.join(tiers)} ready in {time.monotonic() - start:.1f}s")
    return infos


def down(tiers: Sequence[str] = ALL_TIERS, log: Log | None = None) -> None:
    """Stop, in reverse order, the components of ``tiers`` that periph started.

    A component another tier also needs (the Docker engine under both docker and registry)
    keeps running unless that tier is brought down too.
    """
    log = log or Log()
    for module in reversed(components(tiers)):
        name = module.__name__.rsplit(".", 1)[1]
        users = [t for t in ALL_TIERS if t not in tiers and name in TIERS[t]]
        if users:
            log(f"{name}: kept (the {', '.join(users)} tier needs it)")
            continue
        module.stop(log)


def status(tiers: Sequence[str] = ALL_TIERS) -> list[str]:
    """One status line per component."""
    return [f"{m.__name__.rsplit('.', 1)[1]}: {m.status()}" for m in components(tiers)]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments shared by ``python -m periph_env.testenv`` and ``periph testenv``."""
    parser.add_argument("action", choices=("up", "down", "status", "env"))
    parser.add_argument(
        "--tier",
        action="append",
        choices=ALL_TIERS,
        help="limit to a tier (repeatable); default: all tiers"
        + ("" if DEFAULT_TIERS == ALL_TIERS else f" ({', '.join(DEFAULT_TIERS)} for up)"),
    )


def run_action(args: argparse.Namespace) -> int:
    """Execute a parsed up/down/status request and return the exit code."""
    tiers = tuple(args.tier or (DEFAULT_TIERS if args.action == "up" else ALL_TIERS))
    log = Log()
    from periph_env.testenv import shell_env  # imports every component: only when run

    if args.action == "env":
        return shell_env.main(log)
    try:
        if args.action == "up":
            up(tiers, log)
            if {"registry", "k8s", "node"} & set(tiers):
                shell_env.announce(log)
        elif args.action == "down":
            down(tiers, log)
        else:
            for line in status(tiers):
                print(line)
    except PeriphError as exc:
        log(f"error: {exc}")
        return EXIT_FAILURE
    return 0


def cli_main(argv: Sequence[str]) -> int:
    """Entry point of ``python -m periph_env.testenv``."""
    parser = argparse.ArgumentParser(prog="python -m periph_env.testenv")
    add_arguments(parser)
    return run_action(parser.parse_args(argv))
