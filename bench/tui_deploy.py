#!/usr/bin/env python3
"""Benchmark the TUI's Deploy area: a pod turning Ready (API → screen), side by side with
``kubectl get pods -w``, and switching areas while a rollout is in progress.

    .venv/bin/python bench/tui_deploy.py              # measure, print, update docs/performance.md
    .venv/bin/python bench/tui_deploy.py --runs 5 --no-write

On the test environment's kwok cluster: a one-replica Deployment whose pod kwok keeps
un-ready (bench/deploy.py's), shown in the Deploy area of a headless app (Textual's
pilot, the real deploy session) while ``kubectl get pods -w`` watches the same namespace.
The bench marks the pod Ready through the API and times how long each takes to show
``1/1``. Meanwhile a ``rollout status`` runs in the app, and the bench switches to the
Stack area and back, timing each switch until the new screen has been processed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import perfdoc  # noqa: E402
from deploy import deployment, mark_ready  # noqa: E402

from periph_env.testenv import kube  # noqa: E402
from periph_env.testenv.state import Log  # noqa: E402
from tests.integration.test_deploy_harness import drop_namespace, new_namespace  # noqa: E402

START, END = "<!-- bench:tui-deploy:start -->", "<!-- bench:tui-deploy:end -->"
GOAL_READY, GOAL_SWITCH = 0.2, 0.100  # issue 22: pod Ready → on screen ≤ 0.2 s


def project(base: Path, namespace: str, context: str) -> Path:
    """The smallest project whose demo environment is ``namespace``."""
    (base / "periph.toml").write_text(
        "[environments.demo]\n"
        f'branch = "demo"\nnamespace = "{namespace}"\ncontext = "{context}"\n'
        'overlay = "k8s/overlays/demo"\ntag = "demo"\nsecrets_file = ".env.demo"\n'
        "allow_branch_override = true\n"
    )
    (base / "compose").mkdir()
    (base / "compose" / "compose.yaml").write_text("services: {}\n")
    (base / ".env.example").write_text("A=1\n")
    return base


class KubectlWatch:
    """``kubectl get pods -w``: the time each pod's line first shows it Ready."""

    def __init__(self, cluster, namespace: str) -> None:
        columns = 'NAME:.metadata.name,READY:.status.conditions[?(@.type=="Ready")].status'
        argv = cluster.kubectl_argv(
            "get", "pods", "-n", namespace, "-w", "--no-headers", "-o", f"custom-columns={columns}"
        )
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
        self.ready: dict[str, float] = {}
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            words = line.split()
            if len(words) > 1 and words[1] == "True":
                self.ready.setdefault(words[0], time.monotonic())

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


async def switch(app, area: str) -> float:
    """Seconds from the switch (what the area's key runs) to the first frame showing it."""
    from textual.widgets import TabbedContent

    frames = 0
    original = app._display

    def counting(*args, **kwargs):
        nonlocal frames
        frames += 1
        return original(*args, **kwargs)

    app._display = counting
    tabs = app.query_one("#areas", TabbedContent)
    started = time.monotonic()
    app.show_area(area)
    while tabs.active != area:
        await asyncio.sleep(0.001)
    seen = frames
    while frames == seen:
        await asyncio.sleep(0.001)
    app._display = original
    return time.monotonic() - started


async def measure(cluster, root: Path, namespace: str, runs: int) -> dict[str, list[float]]:
    from periph_env.tui.app import PeriphApp, Settings

    results: dict[str, list[float]] = {
        "periph TUI": [], "kubectl get pods -w": [], "switch": [], "switch idle": []
    }  # fmt: skip
    app = PeriphApp(root, settings=Settings(connect=False, watch_files=False, cursor_blink=False))
    watch = KubectlWatch(cluster, namespace)
    async with app.run_test(size=(120, 40)) as pilot:
        app.animation_level = "none"  # time the switch, not the tab underline's animation
        await pilot.pause(0.5)
        for _ in range(5 * runs):  # the baseline: no deploy session, nothing rolling out
            for area in ("env", "stack"):
                results["switch idle"].append(await switch(app, area))
        await pilot.press("5", "o")
        table = app.query_one("#deploy-pods")
        for i in range(runs):
            name = f"tui-{i}"
            cluster.kubectl("apply", "-n", namespace, "-f", "-", input=deployment(name))
            while not any(str(k.value).startswith(name + "-") for k in table.rows):
                await pilot.pause(0.05)
            pod = next(str(k.value) for k in table.rows if str(k.value).startswith(name + "-"))
            await pilot.press("s")  # rollout status: a rollout in progress while switching
            for _ in range(5):
                for area in ("stack", "deploy"):
                    results["switch"].append(await switch(app, area))
            await pilot.pause(1.0)
            t0 = await asyncio.to_thread(mark_ready, cluster, namespace, name)
            deadline = time.monotonic() + 30
            while str(table.get_cell(pod, "ready")) != "1/1" and time.monotonic() < deadline:
                await pilot.pause(0.005)
            results["periph TUI"].append(time.monotonic() - t0)
            while pod not in watch.ready and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
            results["kubectl get pods -w"].append(watch.ready.get(pod, float("nan")) - t0)
            await app.workers.wait_for_complete()
    watch.close()
    return results


def render(results: dict[str, list[float]], runs: int) -> str:
    def ms(values: list[float]) -> str:
        return f"{statistics.median(values) * 1000:.0f} ms (max {max(values) * 1000:.0f})"

    lines = [
        START,
        "### TUI Deploy area (`bench/tui_deploy.py`)",
        "",
        f"kwok test cluster, {runs} runs; medians (max). A pod marked Ready through the API,",
        "shown by the Deploy area of the real app (headless pilot) and by `kubectl get pods",
        "-w` watching the same namespace, in the same run.",
        "",
        "| measurement | periph TUI | kubectl get pods -w | goal |",
        "| --- | --- | --- | --- |",
        f"| pod turns Ready, API → screen | {ms(results['periph TUI'])} | "
        f"{ms(results['kubectl get pods -w'])} | ≤ {GOAL_READY * 1000:.0f} ms |",
        f"| switch area with a rollout in progress | {ms(results['switch'])} | - | "
        f"≤ {GOAL_SWITCH * 1000:.0f} ms |",
        f"| switch Stack ↔ Env, nothing rolling out (baseline) | {ms(results['switch idle'])} "
        "| - | - |",
        "",
        f"Load average at the end of the run: {os.getloadavg()[0]:.1f} (2 cores shared with",
        "other work: the switch numbers include waiting for a core).",
        f"Measured {time.strftime('%Y-%m-%d')} on {os.cpu_count()} cores; the Deploy area",
        "follows its namespace by watch streams (each kind listed once when it opens, no",
        "polling): a pod's Ready reaches the screen with its watch event.",
        END,
    ]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs (default 5)")
    parser.add_argument("--no-write", action="store_true", help="do not touch docs/")
    args = parser.parse_args()
    cluster = kube.ensure(Log(prefix="bench"))
    os.environ["KUBECONFIG"] = str(cluster.kubeconfig)
    os.environ["PERIPH_KUBECTL"] = str(cluster.bin_dir / "kubectl")
    namespace = new_namespace(cluster)
    try:
        with tempfile.TemporaryDirectory(prefix="periph-bench-tui-") as tmp:
            os.environ["XDG_CONFIG_HOME"] = str(Path(tmp) / "xdg")
            root = project(Path(tmp), namespace, cluster.context)
            results = asyncio.run(measure(cluster, root, namespace, args.runs))
    finally:
        drop_namespace(cluster, namespace)
    section = render(results, args.runs)
    print(section)
    if not args.no_write:
        perfdoc.write_section(START, END, section)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
