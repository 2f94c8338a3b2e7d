#!/usr/bin/env python3
"""Benchmark hot reload into the dev stack on a cluster (`periph up --cluster --watch`).

    .venv/bin/python bench/cluster_reload.py                 # 10 edits each, 3 pod deletions
    .venv/bin/python bench/cluster_reload.py --edits 3 --replacements 1 --no-write

On the test cluster's real node (`periph testenv up`), one dev project (the copy the
real-node tests use: tests/integration/cluster_dev_support.py) is brought up by
`periph up --cluster --no-forward`; this process then runs what `up --cluster --watch`
runs (the watcher on the project's files, the forwards) and measures, after one warm-up
each:

- worker edit -> new code running in the pod: a line appended to
  `peripheral_worker/__init__.py` prints a new token at import; seconds from just before
  the save to the token's timestamp in the pod's log (the new worker process runs it);
- frontend edit -> served: a hidden span appended to `src/routes/+page.svelte`, the page
  polled through the forward (every 50 ms) until it shows the token;
- forward back after its pod is replaced: the backend pod deleted; seconds from the
  moment periph sees the new pod Ready (polled every 0.2 s) to the first 200 of
  `/api/health` through the same forward (polled every 50 ms).

In the same run, before the cluster stack comes up, the same project runs as a local
compose stack (`periph up`) under periph's local watcher, and the same worker edit is
timed the same way (the token's timestamp in the container's log): the local periph
figure the cluster's is compared with. The two stacks run one after the other, not side
by side (both at once do not fit this machine's 2 shared cores). Prints the load average
at the start and the end; writes its section of docs/performance.md between the
bench:cluster markers.
"""

from __future__ import annotations

import argparse
import os
import platform
import secrets
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import perfdoc  # noqa: E402  (bench/ is on sys.path when run as a script)

from periph_env.cluster import translate as t  # noqa: E402
from periph_env.cluster.forward import Forwarder  # noqa: E402
from periph_env.cluster.sync import log_timestamp  # noqa: E402
from periph_env.testenv import node, registry  # noqa: E402
from periph_env.testenv.state import Log  # noqa: E402
from tests.integration.cluster_dev_support import DevProject  # noqa: E402

START, END = "<!-- bench:cluster:start -->", "<!-- bench:cluster:end -->"
WORKER_INIT = "services/worker/peripheral_worker/__init__.py"
SVELTE_PAGE = "services/frontend/src/routes/+page.svelte"
TIMEOUT = 120.0


def wait(predicate, what: str, every: float, timeout: float = TIMEOUT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise TimeoutError(f"{what}: not within {timeout:.0f}s")


def fetch(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.read().decode(errors="replace")
    except OSError:
        return None


def token_stamp(cluster, token: str, after: float) -> float | None:
    """When the worker pod's log showed ``token`` (None: not yet)."""
    from kubernetes.client import CoreV1Api

    pod = cluster.ready_pod("worker")
    if pod is None:
        return None
    try:
        text = CoreV1Api(cluster.kube.client()).read_namespaced_pod_log(
            pod, cluster.namespace, container="worker", timestamps=True,
            since_seconds=max(1, int(time.time() - after) + 2), _request_timeout=10,
        )  # fmt: skip
    except Exception:  # the pod is between processes: ask again
        return None
    for line in str(text).splitlines():
        stamp, _, rest = line.partition(" ")
        if token in rest:
            return log_timestamp(stamp)
    return None


def local_worker(project, edits: int) -> list[float]:
    """The same worker edit under the local stack and periph's local watcher, after one
    warm-up; the stack is taken down (volumes too) before the cluster's comes up."""
    import socket
    import threading

    from periph_env.stack import LogFollower, Stack, Watcher

    for var in ("BACKEND", "FRONTEND", "DB", "REDIS", "WORKER_METRICS"):
        with socket.socket() as free:
            free.bind(("127.0.0.1", 0))
            os.environ[f"PERIPH_{var}_PORT"] = str(free.getsockname()[1])
    stack = Stack(root=project.root, project=f"periphbench-{secrets.token_hex(3)}")
    lines: list = []
    seen = threading.Condition()

    def add(batch) -> None:
        with seen:
            lines.extend(batch)
            seen.notify_all()

    def stamp(token: str) -> float | None:
        with seen:
            return next((ln.timestamp for ln in lines if token in ln.text), None)

    path = project.root / WORKER_INIT
    original = path.read_text()
    out: list[float] = []
    try:
        stack.up(build=True, wait=True, progress=lambda _line: None)
        follower = LogFollower(stack, add, services=["worker"], since=time.time())
        follower.start()
        watcher = Watcher(stack, lambda _event: None, services=["worker"])
        watcher.start()
        try:
            time.sleep(1)  # the watcher's inotify watches are in place
            for index in range(edits + 1):
                token = f"periph-bench-{secrets.token_hex(4)}"
                started = time.time()
                path.write_text(original + f'print("{token}", flush=True)\n')
                try:
                    at = wait(lambda token=token: stamp(token), "local worker token", 0.05)
                finally:
                    path.write_text(original)
                    time.sleep(3)
                print(f"local edit {index}: worker {at - started:.2f}s", flush=True)
                if index:
                    out.append(at - started)
        finally:
            watcher.stop()
            follower.stop()
    finally:
        stack.down(volumes=True)
    return out


def worker_edit(project, cluster) -> float:
    path = project.root / WORKER_INIT
    original = path.read_text()
    token = f"periph-bench-{secrets.token_hex(4)}"
    started = time.time()
    path.write_text(original + f'print("{token}", flush=True)\n')
    try:
        at = wait(lambda: token_stamp(cluster, token, started), "worker token", 0.05)
    finally:
        path.write_text(original)
        # The restore is a reload too: let it land before the next edit is timed.
        time.sleep(3)
    return at - started


def frontend_edit(project, url: str) -> float:
    path = project.root / SVELTE_PAGE
    original = path.read_text()
    token = f"periph-bench-{secrets.token_hex(4)}"
    started = time.time()
    path.write_text(original + f"\n<span hidden>{token}</span>\n")
    try:
        wait(lambda: token in (fetch(url) or ""), "frontend token", 0.05)
        return time.time() - started
    finally:
        path.write_text(original)
        time.sleep(2)


def forward_back(project, cluster, url: str) -> float:
    old = cluster.ready_pod("backend")
    project.cluster.kubectl("delete", "pod", "-n", project.namespace, old, "--wait=false")
    wait(lambda: (p := cluster.ready_pod("backend")) and p != old, "new backend pod", 0.2, 600)
    ready = time.time()
    wait(lambda: fetch(url) is not None, "/api/health through the forward", 0.05)
    return time.time() - ready


def p50(values: list[float]) -> float:
    return statistics.median(values)


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def render(
    results: dict[str, list[float]],
    load: tuple[float, float, float],
    local: list[float],
    load_at_start: tuple[float, float, float],
) -> str:
    goals = {
        "worker edit -> new code running in the pod": 1.5,
        "frontend edit -> served": 1.0,
        "forward back after its pod is replaced (after the new pod is Ready)": 2.0,
    }
    rows = []
    for name, values in results.items():
        goal = goals[name]
        verdict = "met" if p50(values) <= goal else "NOT met"
        rows.append(
            f"| {name} | {len(values)} | {p50(values):.2f} / {p95(values):.2f} | "
            f"<= {goal:.1f} | {verdict} |"
        )
    return "\n".join(
        [
            START,
            "## hot reload on a cluster",
            "",
            f"Measured {time.strftime('%Y-%m-%d')} by `bench/cluster_reload.py`: the dev stack "
            "brought up by `periph up --cluster` on the test cluster's real node (kubelet + "
            "containerd on this machine, the local registry), the watch and forwards of "
            "`up --cluster --watch`; seconds, after one warm-up each. Worker: from just "
            "before the save to the token's timestamp in the pod's log; frontend: until the "
            "page through the forward shows the token; forward: from periph seeing the new "
            "backend pod Ready to the first answer through the same forward.",
            "",
            f"Machine: {platform.machine()}, {os.cpu_count()} cores shared with other "
            f"engineers' builds and tests; load average at the start: "
            f"{load_at_start[0]:.1f}, {load_at_start[1]:.1f}, {load_at_start[2]:.1f}; "
            f"at the end: {load[0]:.1f}, {load[1]:.1f}, {load[2]:.1f}.",
            "",
            "| measurement | samples | p50 / p95 | goal (p50) | verdict |",
            "| --- | ---: | ---: | ---: | --- |",
            *rows,
            "",
            *local_rows(results, local),
            END,
            "",
        ]
    )


def local_rows(results: dict[str, list[float]], local: list[float]) -> list[str]:
    """The same-run comparison with the local stack (the issue's second worker goal)."""
    cluster = results.get("worker edit -> new code running in the pod") or []
    if not local or not cluster:
        return ["The local stack's worker figure was not measured in this run (`--no-local`)."]
    ratio = p50(cluster) / p50(local)
    verdict = "met" if ratio <= 1.5 else "NOT met"
    return [
        "Same edit, same project, same run, on the local compose stack under periph's local "
        "watcher (run first, then taken down):",
        "",
        "| worker edit -> new code running | samples | p50 / p95 | cluster / local (p50) "
        "| goal | verdict |",
        "| --- | ---: | ---: | ---: | ---: | --- |",
        f"| local compose stack | {len(local)} | {p50(local):.2f} / {p95(local):.2f} | | | |",
        f"| cluster pod | {len(cluster)} | {p50(cluster):.2f} / {p95(cluster):.2f} | "
        f"{ratio:.2f}x | <= 1.5x | {verdict} |",
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edits", type=int, default=10, help="edits per kind (default 10)")
    parser.add_argument("--replacements", type=int, default=3, help="backend pods deleted")
    parser.add_argument("--no-write", action="store_true", help="do not touch docs/")
    parser.add_argument("--no-local", action="store_true", help="skip the local stack's figure")
    args = parser.parse_args()
    load_at_start = os.getloadavg()
    print(f"load average at the start: {load_at_start}", flush=True)
    log = Log(prefix="bench")
    reg = registry.ensure(log)
    real_node = node.ensure(log)
    results: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="periph-bench-cluster-") as tmp:
        project = DevProject(Path(tmp), real_node.cluster, reg)
        os.environ.update(project.env)
        local = [] if args.no_local else local_worker(project, args.edits)
        up = project.periph("up", "--cluster", "--no-forward", timeout=1800)
        assert up.returncode == 0, (up.stdout + up.stderr)[-3000:]
        try:
            results = measure(project, args)
        finally:
            project.periph("down", "--cluster", timeout=300)
    load = os.getloadavg()
    section = render(results, load, local, load_at_start)
    print(section)
    print(f"load average: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    if not args.no_write:
        perfdoc.write_section(START, END, section)
    return 0


def measure(project, args) -> dict[str, list[float]]:
    from periph_env.cluster.config import load
    from periph_env.cluster.engine import ClusterStack
    from periph_env.cluster.watch import ClusterWatcher
    from periph_env.stack import Stack

    cluster = ClusterStack(Stack(root=project.root), load(project.root, None))
    forwards = [t.Forward(s, port, 0) for s, port in (("backend", 5058), ("frontend", 5173))]
    forwarder = Forwarder(cluster.kube, cluster.namespace, forwards, publish=False).start()
    watcher = ClusterWatcher(cluster.pod_sync(), lambda _event: None).start()
    ports = {s.service: s.local for s in forwarder.states}
    page = f"http://127.0.0.1:{ports['frontend']}/"
    health = f"http://127.0.0.1:{ports['backend']}/api/health"
    try:
        time.sleep(1)  # the watcher's inotify watches are in place
        worker, frontend = [], []
        for index in range(args.edits + 1):
            w = worker_edit(project, cluster)
            f = frontend_edit(project, page)
            print(f"edit {index}: worker {w:.2f}s, frontend {f:.2f}s", flush=True)
            if index:  # the first is the warm-up
                worker.append(w)
                frontend.append(f)
        back = []
        for index in range(args.replacements):
            b = forward_back(project, cluster, health)
            print(f"pod replaced {index}: forward back {b:.2f}s", flush=True)
            back.append(b)
    finally:
        watcher.stop()
        forwarder.stop()
    return {
        "worker edit -> new code running in the pod": worker,
        "frontend edit -> served": frontend,
        "forward back after its pod is replaced (after the new pod is Ready)": back,
    }


if __name__ == "__main__":
    sys.exit(main())
