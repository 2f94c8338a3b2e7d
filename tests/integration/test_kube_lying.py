"""A real cluster that holds odd data or drops the connection (the kwok test cluster).

- history ConfigMaps of unexpected shapes, created for real next to good ones: ``history``
  lists them as unreadable (name and why, never their content) and ``rollback
  --to-revision`` refuses them, neither with a traceback;
- ``logs --env demo -f`` through a proxy that refuses connections for a while: it says the
  connection is lost, retries, and says when the API server answers again;
- ``deploy --dry-run --format json`` whose server-side dry-run is rejected (the summary
  step) still prints its JSON document, naming the step.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from periph_env.deploy import history as h
from tests.integration.test_deploy_harness import (
    SERVICES,
    FlakyProxy,
    ImageSet,
    commit,
    json_patch,
    make_project,
    patch_overlay,
    push_images,
)

pytestmark = [pytest.mark.k8s]

# Content of the odd records: none of it may reach any output.
HIDDEN = "Tr0ub4dor&3-hidden-in-a-record"


def fake_images() -> ImageSet:
    return ImageSet("127.0.0.1:1", {"v1": {s: "sha256:" + "0" * 64 for s in SERVICES}})


def env_for(cluster: Any, base: Path, kubeconfig: Path | None = None) -> dict[str, str]:
    return {
        **os.environ,
        "KUBECONFIG": str(kubeconfig or cluster.kubeconfig),
        "PERIPH_KUBECTL": str(cluster.bin_dir / "kubectl"),
        "XDG_CONFIG_HOME": str(base / "xdg"),
    }


def periph(root: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "periph_env", *args],
        cwd=root, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def good(revision: int) -> dict[str, Any]:
    started = f"2026-01-{revision:02d}T00:00:00+00:00"
    record = h.Record("demo", revision, "deploy", "succeeded", "dev@example.com", started,
                      git_sha="abc123")  # fmt: skip
    return h.encode(record, "")


def odd(revision: int, data: Any, labels: dict[str, str] | None = None) -> dict[str, Any]:
    """A ConfigMap with periph's name and labels holding ``data`` (any shape)."""
    base_labels = {h.OWNER_LABEL: "periph", h.ENV_LABEL: "demo", **(labels or {})}
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": h.object_name("demo", revision), "labels": base_labels},
        "data": data,
    }


def record_of(**fields: Any) -> str:
    base = good(0)
    data = json.loads(base["data"][h.DATA_KEY])
    return json.dumps({**data, **fields})


ODD = {
    3: (odd(3, {h.DATA_KEY: "{" + HIDDEN}), "record.json is not JSON"),
    4: (odd(4, {h.DATA_KEY: json.dumps([HIDDEN])}), "record.json holds a list"),
    5: (odd(5, {"something-else": HIDDEN}), "no record.json in its data"),
    6: (odd(6, {h.DATA_KEY: json.dumps({"revision": 6, "user": HIDDEN})}), "lacks environment"),
    7: (odd(7, {h.DATA_KEY: record_of(revision=7, duration=HIDDEN)}), "duration is a string"),
    8: (odd(8, {h.DATA_KEY: record_of(revision=8, message=HIDDEN * 30_000)}), "KiB, larger"),
    9: (odd(9, {h.DATA_KEY: record_of(revision=99)}), "its name says revision 9, its record 99"),
    10: (
        odd(
            10,
            {h.DATA_KEY: record_of(revision=10, images=[HIDDEN])},
            {h.REVISION_LABEL: "not-a-number", h.STATUS_LABEL: "x", "foreign": "label"},
        ),
        "images is a list",
    ),
}


@pytest.fixture
def odd_history(kube_cluster: Any, k8s_namespace: str, tmp_path: Path) -> tuple[Path, dict]:
    """A demo project over a namespace holding records 1, 2 and 11 and odd ones 3-10."""
    root = make_project(tmp_path, "demo", k8s_namespace, kube_cluster.context, fake_images(),
                        "<none>")  # fmt: skip
    objs = [good(1), good(2), good(11), *(cm for cm, _ in ODD.values())]
    for obj in objs:
        obj["metadata"]["namespace"] = k8s_namespace
    # create, not apply: the 900 KB record would not fit apply's last-applied annotation
    kube_cluster.kubectl("create", "-f", "-", input="\n---\n".join(json.dumps(o) for o in objs))
    return root, env_for(kube_cluster, tmp_path)


def test_history_lists_odd_records_as_unreadable_with_name_and_why(odd_history):
    root, env = odd_history
    proc = periph(root, env, "history", "demo")
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    assert HIDDEN not in proc.stdout + proc.stderr
    rows = [line.split()[:3] for line in proc.stdout.splitlines()[1:] if line[:4].strip()]
    assert [r[0] for r in rows] == ["11", "10", "9", "8", "7", "6", "5", "4", "3", "2", "1"]
    for revision, (_, why) in ODD.items():
        assert f"unreadable record periph.deploy.demo.v{revision}: " in proc.stdout
        assert why in proc.stdout
    assert rows[0][2] == "succeeded" and rows[1][2] == h.UNREADABLE


def test_history_json_keeps_the_unreadable_records_without_their_content(odd_history):
    root, env = odd_history
    proc = periph(root, env, "history", "demo", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    records = json.loads(proc.stdout)
    assert HIDDEN not in proc.stdout
    unreadable = {r["revision"] for r in records if r["status"] == h.UNREADABLE}
    assert unreadable == set(ODD)


def test_rollback_to_an_unreadable_record_is_refused_naming_it(
    odd_history, kube_cluster: Any, k8s_namespace: str
):
    root, env = odd_history
    kube_cluster.kubectl("create", "deployment", "backend", "--image=busybox", "-n", k8s_namespace)
    proc = periph(root, env, "rollback", "demo", "--to-revision", "4")
    output = proc.stdout + proc.stderr
    assert "Traceback" not in output and HIDDEN not in output
    assert proc.returncode == 2, output
    assert (
        "periph: error: cannot return to deploy #4: unreadable record periph.deploy.demo.v4: "
        "record.json holds a list, expected an object"
    ) in proc.stderr


def test_logs_follow_reports_a_lost_api_server_and_resumes(
    kube_cluster: Any, k8s_namespace: str, tmp_path: Path
) -> None:
    proxy = FlakyProxy(kube_cluster.server)
    kubeconfig = proxy.kubeconfig(kube_cluster.kubeconfig, tmp_path / "kubeconfig")
    root = make_project(tmp_path, "demo", k8s_namespace, kube_cluster.context, fake_images(),
                        "<none>")  # fmt: skip
    proc = subprocess.Popen(
        [sys.executable, "-m", "periph_env", "logs", "--env", "demo", "-f"],
        cwd=root, env=env_for(kube_cluster, tmp_path, kubeconfig),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    lines: queue.Queue[str] = queue.Queue()
    assert proc.stderr is not None
    threading.Thread(target=lambda: [lines.put(x) for x in proc.stderr], daemon=True).start()

    def wait_for(text: str, seconds: float) -> str:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                line = lines.get(timeout=0.5)
            except queue.Empty:
                continue
            if text in line:
                return line
        raise AssertionError(f"no {text!r} on stderr within {seconds:.0f} s")

    try:
        time.sleep(3.0)  # following (a quiet namespace: nothing printed)
        proxy.outage(7.0)
        lost = wait_for("lost the connection", 20)
        assert f"the API server https://127.0.0.1:{proxy.port}" in lost
        wait_for("retrying in", 10)
        back = wait_for("answers again", 60)
        assert back.strip().endswith("following the logs again")
        assert proc.poll() is None
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=20)
        proxy.close()
    assert proc.returncode in (0, 130)


@pytest.mark.registry
def test_deploy_json_names_the_summary_step_when_the_dry_run_is_rejected(
    kube_cluster: Any, registry: Any, base_images: Any, k8s_namespace: str, tmp_path: Path
) -> None:
    images = push_images(registry)
    root = make_project(tmp_path, "demo", k8s_namespace, kube_cluster.context, images, "<none>")
    bad = json_patch("Deployment", "backend",
                     {"op": "replace", "path": "/spec/replicas", "value": -1})  # fmt: skip
    patch_overlay(root, "demo", bad)
    commit(root, "a replica count the API server rejects")
    env = {
        **env_for(kube_cluster, tmp_path),
        "PERIPH_REGISTRY_USERNAME": registry.username,
        "PERIPH_REGISTRY_PASSWORD": registry.password,
    }
    proc = periph(root, env, "deploy", "demo", "--dry-run", "--format", "json")
    document = json.loads(proc.stdout)
    assert proc.returncode == document["exit_code"] == 1
    assert document["result"] == "failed" and document["step"] == "summary"
    assert "replicas" in document["error"]
    assert "Traceback" not in proc.stderr
    for value in ("sEcr3t-db-pass-XYZ", "redis-SECRET-pass-456-0123456789abcdef"):
        assert value not in proc.stdout + proc.stderr


@pytest.mark.registry
def test_an_api_server_lost_during_the_migration_ends_the_deploy_with_one_clear_line(
    kube_cluster: Any, registry: Any, base_images: Any, k8s_namespace: str, tmp_path: Path
) -> None:
    images = push_images(registry)
    proxy = FlakyProxy(kube_cluster.server)
    kubeconfig = proxy.kubeconfig(kube_cluster.kubeconfig, tmp_path / "kubeconfig")
    root = make_project(tmp_path, "demo", k8s_namespace, kube_cluster.context, images, "<none>")
    hold = {"op": "add", "path": "/spec/template/metadata/labels/periph.dev~1test-ready",
            "value": "never"}  # fmt: skip
    patch_overlay(root, "demo", json_patch("Job", "backend-migrate", hold), migrate=True)
    commit(root, "a migration that waits")
    env = {
        **env_for(kube_cluster, tmp_path, kubeconfig),
        "PERIPH_REGISTRY_USERNAME": registry.username,
        "PERIPH_REGISTRY_PASSWORD": registry.password,
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "periph_env", "deploy", "demo"],
        cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    try:
        for line in proc.stdout:
            if line.startswith("== migrations"):
                time.sleep(1.0)  # the Job is being waited for
                proxy.outage(300)
                lost_at = time.monotonic()
                break
        out, err = proc.communicate(timeout=180)
        seconds = time.monotonic() - lost_at
    finally:
        if proc.poll() is None:
            proc.kill()
        proxy.close()
    assert proc.returncode == 1, out + err
    assert "Traceback" not in out + err
    # The migration's wait rides out a short stall (deploy.outage), then gives up: the
    # deploy's last line names the endpoint, wherever the loss is noticed first.
    last = (out.strip().splitlines() or [""])[-1] + err
    assert f"127.0.0.1:{proxy.port}" in last, out + err
    assert seconds < 120  # the bound for an API server that dies mid-deploy
