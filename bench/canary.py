#!/usr/bin/env python3
"""Benchmark `periph deploy --canary`: bad canary -> traffic off the canary.

    .venv/bin/python bench/canary.py              # measure, print, update docs/performance.md
    .venv/bin/python bench/canary.py --runs 2 --no-write

On the test environment's real node (backend and frontend for real, the rest of the demo
stack on kwok), two old backend pods of the good stand-in build of
tests/integration/test_canary_deploy.py, and a client calling ``GET /api/orders`` through
the backend Service one request at a time, never retrying. The bad canary answers that route
500, so every 5xx the client sees is an answer of the canary. Per run:

- the watch's start: the first ``CanarySample`` (its first scrape is the counters' baseline);
- the threshold crossed: the client's ``min_requests``-th 5xx answered after that (from then
  on the canary's ratio, 100 %, is over the threshold and over the old pods' 0 %);
- traffic off: the last 5xx the client got (its answer time: the canary's last answer);
- the goal: traffic off - threshold crossed <= ``scrape_interval``.
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

from periph_env.deploy import events as ev  # noqa: E402
from periph_env.deploy.kube import Kube  # noqa: E402
from periph_env.deploy.verify_config import VerifyConfig  # noqa: E402
from periph_env.testenv import base_images, kube, node, registry  # noqa: E402
from periph_env.testenv import node_config as ncfg  # noqa: E402
from periph_env.testenv.state import Log  # noqa: E402
from tests.integration.test_canary_deploy import PULL_SECRET, Client, Env, push_builds  # noqa: E402
from tests.integration.test_deploy_harness import (  # noqa: E402
    deploy_env,
    drop_namespace,
    make_project,
    new_namespace,
    patch_overlay,
    push_images,
)
from tests.integration.test_verify_deploy import on_real_node  # noqa: E402

START, END = "<!-- bench:canary:start -->", "<!-- bench:canary:end -->"


def measure(state: Env, client: Client, min_requests: int) -> dict[str, float]:
    """One bad canary, aborted: the moments of the module docstring, in seconds."""
    state.release("bad")
    events = state.deploy(canary=True, canary_window=120)
    assert events[-1][1].result == "failed", events[-1][1]
    samples = [(t, e) for t, e in events if isinstance(e, ev.CanarySample)]
    # The event before the first sample came before its scrape (the counters' baseline):
    # counting from there may count a 5xx the watch does not, so "crossed" is never late.
    first = next(i for i, (_, e) in enumerate(events) if isinstance(e, ev.CanarySample))
    watch_at = events[first - 1][0]
    decided_at = next(t for t, e in samples if e.failed)
    time.sleep(3)  # answers still in flight
    errors = [answered for sent, answered, status in list(client.answers)
              if status is not None and status >= 500 and sent >= watch_at]  # fmt: skip
    crossed = errors[min_requests - 1]
    return {
        "off": errors[-1] - crossed,
        "reported": decided_at - crossed,
        "ratio": next(e for _, e in samples if e.failed).canary_ratio or 0.0,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="bad canaries (default 3)")
    parser.add_argument("--no-write", action="store_true", help="do not touch docs/")
    args = parser.parse_args()
    log = Log(prefix="bench")
    reg = registry.ensure(log)
    base_images.ensure(log)
    cluster = kube.ensure(log)
    node.ensure(log)
    images = push_images(reg)
    defaults = VerifyConfig()
    ns = new_namespace(cluster)
    secret = ncfg.pull_secret_document(PULL_SECRET, ns, reg.address, reg.username, reg.password)
    cluster.kubectl("apply", "-f", "-", input=json.dumps(secret))
    runs: list[dict[str, float]] = []
    client = None
    try:
        with tempfile.TemporaryDirectory(prefix="periph-bench-canary-") as tmp:
            os.environ.update(deploy_env(cluster, reg, Path(tmp) / "xdg"))
            root = make_project(Path(tmp), "demo", ns, cluster.context, images, "<none>")
            patch_overlay(root, "demo", on_real_node("backend"), on_real_node("frontend"))
            state = Env(root, ns, cluster, images)
            state.digests = push_builds(reg)
            state.release("good")
            state.deploy()
            client = Client(Kube(cluster.context, ns))
            client.thread.start()
            for _ in range(args.runs):
                runs.append(measure(state, client, defaults.min_requests))
                print(f"bench: {runs[-1]}", flush=True)
    finally:
        if client:
            client.stop.set()
        drop_namespace(cluster, ns)
    section = render(runs, defaults)
    print(section)
    if not args.no_write:
        perfdoc.write_section(START, END, section)
    return 0


def render(runs: list[dict[str, Any]], config: VerifyConfig) -> str:
    def cell(key: str) -> str:
        values = [r[key] for r in runs]
        return (
            f"{statistics.median(values):.1f} s (max {max(values):.1f}; "
            + ", ".join(f"{v:.1f}" for v in values) + ")"
        )  # fmt: skip

    interval = config.scrape_interval
    return "\n".join([
        START,
        "## Canary without a mesh (`bench/canary.py`)",
        "",
        "Real node, two old backend pods of the stand-in of",
        "`tests/integration/test_canary_deploy.py` plus one canary pod (a Deployment sharing",
        "the Service's selector: about 1/3 of the traffic), a client calling `GET /api/orders`",
        "through the Service one request at a time, no retries; the bad canary answers it 500.",
        f"`[verify]` defaults: scrape every {interval:.0f} s, `min_requests` "
        f"{config.min_requests}, threshold {config.max_error_ratio:.0%}; 2 shared cores; "
        f"{len(runs)} runs, median (max; each).",
        "",
        "| measurement | periph | goal |",
        "| --- | --- | --- |",
        f"| bad canary: threshold crossed (the client's {config.min_requests}th 5xx) → "
        f"traffic off the canary (its last 5xx answer) | {cell('off')} | "
        f"≤ one scrape interval = {interval:.0f} s |",
        f"| threshold crossed → periph reports the abort (the failed round, printed after "
        f"the canary is deleted) | {cell('reported')} | — |",
        "",
        "The abort deletes the canary Deployment and its pod in the scrape round that crossed",
        "the threshold, before that round is reported; a deleted pod leaves the Service's",
        "endpoints at once (it answers only what it had in flight), so the canary's last 5xx",
        "comes before periph prints the abort. The old pods are never touched. The bound is",
        "one scrape interval plus the scrape round itself (the pod listings and `/metrics`",
        "reads, then the deletes): a threshold crossed just after a round is seen at the next",
        "one (measured under a load average of ~25 on the 2 shared cores).",
        "",
        "Reproduce: `.venv/bin/python bench/canary.py` (needs `periph testenv up`).",
        END,
        "",
    ])  # fmt: skip


if __name__ == "__main__":
    raise SystemExit(main())
