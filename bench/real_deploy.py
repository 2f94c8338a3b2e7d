#!/usr/bin/env python3
"""Benchmark `periph deploy demo` against the manual kubectl sequence on REAL pods.

    .venv/bin/python bench/real_deploy.py             # measure, print, update docs/performance.md
    .venv/bin/python bench/real_deploy.py --no-write

On the test cluster's real node (kubelet + containerd; `periph testenv up`), with this
checkout's prod images built and pinned by `periph build --pin demo`, two projects deploy
the same release into two fresh namespaces, side by side in one run:

1. First deploy of the whole stack (namespace, claims, Secrets, StatefulSets, migration
   Job, three Deployments on real probes): `periph deploy demo` vs the seed guide's
   sequence (`kubectl apply` of the persistent objects, the Secret from the env file, the
   overlay, the migration Job and `kubectl wait`, `kubectl rollout status` per Deployment).
   The kubectl side gets its env file pre-parsed: straight `--from-env-file` keeps quotes
   and `${VAR}` (DB_USER becomes '"peripheral"'); with it, the migration Job had not
   completed after 600 s in the first run of this bench.
2. A worker image whose entrypoint exits 1, deployed by both at the same moment: the time
   until each says the release failed. periph fails a crash loop as soon as a new pod has
   restarted twice; `kubectl rollout status` waits for `progressDeadlineSeconds` (300 s).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import perfdoc  # noqa: E402  (bench/ is on sys.path when run as a script)

from periph_env.env import read_values  # noqa: E402
from periph_env.testenv import base_images, node, registry  # noqa: E402
from periph_env.testenv.state import Log  # noqa: E402
from tests.integration.real_demo_support import DemoProject, push_crashing_image  # noqa: E402

START, END = "<!-- bench:real-deploy:start -->", "<!-- bench:real-deploy:end -->"
DEPLOYMENTS = ("backend", "frontend", "worker")


def manual_deploy(project: DemoProject) -> None:
    """The seed guide's sequence by hand, with the same pins and env file."""
    k = project.kubectl
    demo = project.root / "k8s" / "overlays" / "demo"
    k("apply", "--server-side", "-k", str(demo / "persistent"))
    # `--from-env-file` keeps quotes and does not expand ${VAR} (DB_USER '"peripheral"');
    # with it the migration Job had not completed after 600 s. A careful manual deploy
    # writes the values as the services read them first, so this one does too.
    clean = project.root / ".env.demo.kubectl"
    clean.write_text(
        "".join(f"{k}={v}\n" for k, v in read_values(str(project.root / ".env.demo")).items())
    )
    secret = k("create", "secret", "generic", "peripheral-env", f"--from-env-file={clean}",
               "--dry-run=client", "-o", "yaml").stdout  # fmt: skip
    k("apply", "--server-side", "-f", "-", input=secret)
    k("apply", "--server-side", "-k", str(demo))
    k("delete", "job", "backend-migrate", "--ignore-not-found")
    k("apply", "--server-side", "-k", str(demo / "migrate"))
    k("wait", "--for=condition=complete", "job/backend-migrate", "--timeout=600s", timeout=660)
    for name in DEPLOYMENTS:
        k("rollout", "status", f"deploy/{name}", "--timeout=300s", timeout=360)


def timed(what: str, action) -> float:
    started = time.monotonic()
    action()
    seconds = time.monotonic() - started
    print(f"[bench] {what}: {seconds:.1f}s", flush=True)
    return seconds


def crash_race(periph_side: DemoProject, kubectl_side: DemoProject) -> dict[str, float]:
    """Both sides deploy the crashing worker at once; seconds until each reports failure."""
    result: dict[str, float] = {}

    def with_periph() -> None:
        out = periph_side.periph("deploy", "demo", timeout=900)
        assert out.returncode == 1, out.stdout[-2000:]

    def with_kubectl() -> None:
        demo = kubectl_side.root / "k8s" / "overlays" / "demo"
        kubectl_side.kubectl("apply", "--server-side", "-k", str(demo))
        out = kubectl_side.kubectl(
            "rollout", "status", "deploy/worker", "--timeout=900s", check=False, timeout=960
        )
        assert out.returncode != 0, out.stdout

    def run(name: str, action) -> None:
        result[name] = timed(f"crash loop reported by {name}", action)

    threads = [
        threading.Thread(target=run, args=("periph deploy demo", with_periph)),
        threading.Thread(target=run, args=("kubectl apply + rollout status", with_kubectl)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return result


def render(first: dict[str, float], crash: dict[str, float]) -> str:
    periph_first, kubectl_first = first["periph deploy demo"], first["manual kubectl"]
    lines = [
        START,
        "## deploy on real pods",
        "",
        f"Measured {time.strftime('%Y-%m-%d')} by `bench/real_deploy.py` on the test cluster's "
        "real node (kubelet + containerd, this checkout's prod images from the local registry), "
        "one run (each takes minutes). Load average at the end: "
        + ", ".join(f"{x:.1f}" for x in os.getloadavg())
        + f" on {os.cpu_count()} cores.",
        "",
        "| what | periph | kubectl | ratio |",
        "| --- | ---: | ---: | ---: |",
        f"| first deploy of the whole stack, fresh namespace | {periph_first:.1f} s | "
        f"{kubectl_first:.1f} s | {periph_first / kubectl_first:.2f}x |",
        f"| a worker that exits 1: time to report the failed release | "
        f"{crash['periph deploy demo']:.1f} s | {crash['kubectl apply + rollout status']:.1f} s | "
        f"{crash['periph deploy demo'] / crash['kubectl apply + rollout status']:.2f}x |",
        "",
        "periph's first deploy also runs every guard, the dry-run summary and the history "
        "record, and pulls the images once for both sides (it goes first). On a crash loop "
        "`kubectl rollout status` waits for the progress deadline (300 s here); periph fails "
        "the release once a new pod has restarted twice and shows the crashed run's log.",
        END,
    ]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-write", action="store_true", help="do not touch docs/")
    args = parser.parse_args()
    log = Log(prefix="bench")
    reg = registry.ensure(log)
    base_images.ensure(log)
    real_node = node.ensure(log)
    with tempfile.TemporaryDirectory(prefix="periph-bench-real-") as tmp:
        sides = [DemoProject.create(Path(tmp) / s, real_node.cluster, reg) for s in ("a", "b")]
        try:
            for project in sides:
                project.create_namespace(reg)
                built = project.periph("build", "--pin", "demo", "-j", "1", timeout=1800)
                assert built.returncode == 0, built.stdout[-2000:] + built.stderr[-2000:]
                project.commit("pin")
            ours, theirs = sides
            first = {
                "periph deploy demo": timed(
                    "periph deploy demo", lambda: _ok(ours.periph("deploy", "demo"))
                ),
                "manual kubectl": timed("manual kubectl", lambda: manual_deploy(theirs)),
            }
            crash_ref = push_crashing_image(ours, reg, ours.image("worker"))
            for project in sides:
                project.pin("worker", crash_ref)
                project.commit("pin a worker that cannot start")
            crash = crash_race(ours, theirs)
        finally:
            for project in sides:
                project.delete_namespace()
    section = render(first, crash)
    print(section)
    if not args.no_write:
        perfdoc.write_section(START, END, section)
    return 0


def _ok(out: subprocess.CompletedProcess[str]) -> None:
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]


if __name__ == "__main__":
    raise SystemExit(main())
