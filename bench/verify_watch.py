#!/usr/bin/env python3
"""Benchmark `periph deploy --verify`: bad release -> rollback started, and the overhead.

    .venv/bin/python bench/verify_watch.py              # measure, print, update docs/performance.md
    .venv/bin/python bench/verify_watch.py --good-window 20 --no-write

On the test environment's real node (backend and frontend run for real there; the rest of
the demo stack on kwok), with the tiny backend stand-in of tests/integration/
test_verify_deploy.py and a client calling ``GET /api/orders`` ten times a second:

1. bad release (``/api/orders`` answers 500), default watch window (periph.toml's
   ``[verify] watch_window``), from "rollout complete" to "rollback started":
   - periph: ``deploy --verify --auto-rollback`` (Step verify -> Step rollback);
   - by hand, as the guide's maintainer steps go without Prometheus: the three smoke checks
     with ``kubectl get --raw`` through the service proxy, a ``/metrics`` scrape of the
     backend pods before and after the window, the 5xx ratio computed, then
     ``kubectl rollout undo``.
2. good release, ``--good-window`` seconds: the deploy's total time with and without
   ``--verify`` (the same image switch each time), so the verification overhead beyond the
   window shows.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import perfdoc  # noqa: E402  (bench/ is on sys.path when run as a script)

from periph_env.common.config import load  # noqa: E402
from periph_env.deploy import events as ev  # noqa: E402
from periph_env.deploy.kube import Kube  # noqa: E402
from periph_env.deploy.verify_config import from_config  # noqa: E402
from periph_env.deploy.verify_rate import RateTracker, parse_counter  # noqa: E402
from periph_env.testenv import base_images, kube, node, registry  # noqa: E402
from periph_env.testenv import node_config as ncfg  # noqa: E402
from periph_env.testenv.state import Log  # noqa: E402
from tests.integration.test_deploy_harness import (  # noqa: E402
    deploy_env,
    drop_namespace,
    make_project,
    new_namespace,
    patch_overlay,
    push_images,
)
from tests.integration.test_verify_deploy import (  # noqa: E402
    PULL_SECRET,
    Env,
    Traffic,
    on_real_node,
    push_builds,
)

START, END = "<!-- bench:verify:start -->", "<!-- bench:verify:end -->"


def step_at(events: list[tuple[float, ev.Event]], name: str) -> float:
    return next(t for t, e in events if isinstance(e, ev.Step) and e.name == name)


def by_hand(cluster, ns: str, window: float) -> float:
    """Checks, a scrape, the window, a scrape, the ratio, `rollout undo`: seconds to undo."""
    started = time.monotonic()
    raw = f"/api/v1/namespaces/{ns}/services"
    for target in ("backend:5058/proxy/api/health", "frontend:3000/proxy/healthz",
                   "backend:5058/proxy/api/strategies"):  # fmt: skip
        cluster.kubectl("get", "--raw", f"{raw}/{target}")

    def scrape() -> dict:
        pods = json.loads(
            cluster.kubectl(
                "get", "pods", "-n", ns, "-l", "app.kubernetes.io/name=backend", "-o", "json"
            ).stdout
        )["items"]
        out = {}
        for p in pods:
            name = p["metadata"]["name"]
            text = cluster.kubectl(
                "get", "--raw", f"/api/v1/namespaces/{ns}/pods/{name}:9091/proxy/metrics",
                check=False,
            ).stdout  # fmt: skip
            out[name] = parse_counter(text, "backend_http_requests_total")
        return out

    tracker = RateTracker()
    tracker.observe(scrape())
    time.sleep(window)
    tracker.observe(scrape())
    if (tracker.totals.ratio or 0) > 0.05:
        cluster.kubectl("rollout", "undo", "deployment/backend", "-n", ns)
    return time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--good-window", type=float, default=30, help="seconds (default 30)")
    parser.add_argument("--runs", type=int, default=2, help="good-release pairs (default 2)")
    parser.add_argument("--no-write", action="store_true", help="do not touch docs/")
    args = parser.parse_args()
    log = Log(prefix="bench")
    reg = registry.ensure(log)
    base_images.ensure(log)
    cluster = kube.ensure(log)
    node.ensure(log)
    images = push_images(reg)
    default_window = from_config(load(ROOT), "demo").watch_window
    ns = new_namespace(cluster)
    secret = ncfg.pull_secret_document(PULL_SECRET, ns, reg.address, reg.username, reg.password)
    cluster.kubectl("apply", "-f", "-", input=json.dumps(secret))
    results: dict[str, Any] = {}
    traffic = None
    try:
        with tempfile.TemporaryDirectory(prefix="periph-bench-verify-") as tmp:
            env = deploy_env(cluster, reg, Path(tmp) / "xdg")
            os.environ.update(env)
            root = make_project(Path(tmp), "demo", ns, cluster.context, images, "<none>")
            with (root / "periph.toml").open("a") as toml:
                toml.write('\n[verify]\nscrape_interval = "5s"\n')
            patch_overlay(root, "demo", on_real_node("backend"), on_real_node("frontend"))
            state = Env(root, ns, env, images)
            state.digests = push_builds(reg)
            state.release("good")
            state.deploy()
            traffic = Traffic(Kube(cluster.context, ns))
            traffic.thread.start()

            # 1. bad release, default window: periph vs by hand.
            state.release("bad")
            events = state.deploy(verify=True, auto_rollback=True)
            results["periph_bad"] = step_at(events, "rollback") - step_at(events, "verify")
            state.release("bad")
            state.deploy()  # rolled out, not verified
            results["hand_bad"] = by_hand(cluster, ns, default_window)

            # 2. good release: the same switch (bad -> good) without and with --verify.
            for _ in range(args.runs):
                state.release("bad")
                state.deploy()
                state.release("good")
                plain = state.deploy()
                results.setdefault("good_plain", []).append(plain[-1][0] - plain[0][0])
                state.release("bad")
                state.deploy()
                state.release("good")
                verified = state.deploy(verify=True, watch_window=args.good_window)
                results.setdefault("good_verified", []).append(verified[-1][0] - verified[0][0])
                verdict = next(t for t, e in verified if isinstance(e, ev.VerifyVerdict))
                stage = verdict - step_at(verified, "verify")
                results.setdefault("verify_stage", []).append(stage)
    finally:
        if traffic:
            traffic.stop.set()
        drop_namespace(cluster, ns)
    section = render(results, default_window, args.good_window)
    print(section)
    if not args.no_write:
        perfdoc.write_section(START, END, section)
    return 0


def render(r: dict[str, Any], window: float, good_window: float) -> str:
    plain, verified = statistics.median(r["good_plain"]), statistics.median(r["good_verified"])
    stage = statistics.median(r["verify_stage"])
    runs = len(r["verify_stage"])
    stages = ", ".join(f"{x:.1f}" for x in r["verify_stage"])
    return "\n".join([
        START,
        "## Post-deploy verification (`bench/verify_watch.py`)",
        "",
        "Real node (backend and frontend pods for real, the rest on kwok), the backend",
        "stand-in of `tests/integration/test_verify_deploy.py`, a client calling",
        "`GET /api/orders` 10×/s; 2 shared cores. The whole-deploy delta also carries the",
        "rollout's own variance (pods starting on the real node); the stage is the cost.",
        "",
        "| measurement | periph | by hand (kubectl) | goal |",
        "| --- | --- | --- | --- |",
        f"| bad release → rollback started (window {window:.0f} s, scrape every 5 s) | "
        f"{r['periph_bad']:.1f} s | {r['hand_bad']:.1f} s (checks, scrape, window, scrape, "
        f"`rollout undo`) | ≤ window + 15 s = {window + 15:.0f} s |",
        f"| good release: verify stage (rollout done → verdict; the history write after it "
        f"happens with or without `--verify`), `--watch-window "
        f"{good_window:.0f}s`, median of {runs} | {stage:.1f} s ({stages}) | — | "
        f"≤ window = {good_window:.0f} s |",
        f"| good release: whole deploy with `--verify` vs without, median of {runs} | "
        f"{verified:.1f} s vs {plain:.1f} s: +{verified - plain:.1f} s | — | "
        f"≤ + {good_window:.0f} s |",
        "",
        "periph stops the watch at the first scrape whose 5xx ratio crosses the threshold",
        "(over `min_requests`), so a bad release is rolled back a scrape interval or two after",
        "it goes live instead of at the end of the window; the by-hand sequence can only judge",
        "after the window. The window counts from the end of the rollout with the smoke checks",
        "inside it, so on a good release the stage lasts the window plus one last scrape.",
        "",
        "Reproduce: `.venv/bin/python bench/verify_watch.py` (needs `periph testenv up`).",
        END,
        "",
    ])  # fmt: skip


if __name__ == "__main__":
    raise SystemExit(main())
