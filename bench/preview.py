#!/usr/bin/env python3
"""Benchmark `periph preview up` against the same release deployed into demo, on REAL pods.

    .venv/bin/python bench/preview.py             # measure, print, update docs/performance.md
    .venv/bin/python bench/preview.py --no-write

On the test cluster's real node, with this checkout's prod images built and pinned by
`periph build --pin demo` (images already built: the goal is about the deploy), one project:

1. a warm-up preview (not counted) so that the node holds every image: neither measured
   side pays for a pull the other did not; then `periph preview down`, waited out;
2. `periph preview up` of a new branch into its own fresh namespace, then down and waited
   out; then `periph deploy demo` into the demo namespace (fresh: only its pull Secret):
   the same render, Secrets, migration Job and Deployments on real probes, each side alone
   on the node (the first run of this bench kept three stacks at once and the third never
   scheduled: the node's CPU was all requested).

Goal (issue 25): preview up <= 1.2x the demo deploy.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import perfdoc  # noqa: E402  (bench/ is on sys.path when run as a script)

from periph_env.deploy import preview_plan as pp  # noqa: E402
from periph_env.testenv import base_images, node, registry  # noqa: E402
from periph_env.testenv.state import Log  # noqa: E402
from tests.integration.real_demo_support import DemoProject  # noqa: E402

START, END = "<!-- bench:preview:start -->", "<!-- bench:preview:end -->"
GOAL = 1.2


def timed(what: str, action) -> float:
    started = time.monotonic()
    action()
    seconds = time.monotonic() - started
    print(f"[bench] {what}: {seconds:.1f}s", flush=True)
    return seconds


def _ok(out: subprocess.CompletedProcess[str]) -> None:
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]


def gone(project: DemoProject, branch: str) -> None:
    """``periph preview down BRANCH`` and wait until the namespace is gone (its pods' CPU
    requests are the node's again)."""
    _ok(project.periph("preview", "down", branch))
    project.cluster.kubectl(
        "wait", "--for=delete", f"namespace/{pp.namespace(pp.slug(branch))}", "--timeout=300s",
        check=False, timeout=330,
    )  # fmt: skip


def render(demo: float, preview: float) -> str:
    ratio = preview / demo
    lines = [
        START,
        "## preview environments (`bench/preview.py`)",
        "",
        f"Measured {time.strftime('%Y-%m-%d')} by `bench/preview.py` on the test cluster's real "
        "node (this checkout's prod images, already built and pinned; a warm-up preview first "
        "so the node holds every image), one run. Load average at the end: "
        + ", ".join(f"{x:.1f}" for x in os.getloadavg())
        + f" on {os.cpu_count()} cores.",
        "",
        "| what | seconds | vs demo | goal |",
        "| --- | ---: | ---: | ---: |",
        f"| `periph deploy demo`, fresh namespace | {demo:.1f} | 1.00x | |",
        f"| `periph preview up BRANCH`, fresh namespace | {preview:.1f} | {ratio:.2f}x | "
        f"<= {GOAL}x {'(met)' if ratio <= GOAL else '(NOT met)'} |",
        "",
        "Both run the same render, Secrets, migration Job and Deployments to Ready. The preview "
        "adds its quota, limit range and the pull Secret copy, and leaves out the backup "
        "CronJob, its claims, the autoscalers and the disruption budgets; the deploy adds its "
        "lock, branch and clean-tree guards, the dry-run summary and the history record.",
        END,
    ]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-write", action="store_true", help="do not touch docs/")
    args = parser.parse_args()
    # A stopped bench (SIGTERM) still deletes its namespaces: the finally below runs.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    log = Log(prefix="bench")
    reg = registry.ensure(log)
    base_images.ensure(log)
    real_node = node.ensure(log)
    tag = secrets.token_hex(3)
    branches = [f"bench-warm-{tag}", f"bench-{tag}"]
    with tempfile.TemporaryDirectory(prefix="periph-bench-preview-") as tmp:
        project = DemoProject.create(Path(tmp), real_node.cluster, reg)
        try:
            project.create_namespace(reg)
            built = project.periph("build", "--pin", "demo", "-j", "1", timeout=1800)
            _ok(built)
            project.commit("pin")
            timed("warm-up preview (not counted)",
                  lambda: _ok(project.periph("preview", "up", branches[0])))  # fmt: skip
            gone(project, branches[0])
            preview = timed(
                "periph preview up", lambda: _ok(project.periph("preview", "up", branches[1]))
            )
            gone(project, branches[1])
            demo = timed("periph deploy demo", lambda: _ok(project.periph("deploy", "demo")))
        finally:
            for branch in branches:
                project.cluster.kubectl(
                    "delete", "namespace", pp.namespace(pp.slug(branch)), "--wait=false",
                    check=False,
                )  # fmt: skip
            project.delete_namespace()
    section = render(demo, preview)
    print(section)
    if not args.no_write:
        perfdoc.write_section(START, END, section)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
