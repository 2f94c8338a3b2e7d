"""Loud failures, resource use and why-waiting on the real engine (issue 24).

One small compose project per test (the offline ``debian:bookworm-slim`` stand-in):
``dep`` turns healthy after ~3 s, ``app`` waits for it, ``crashy`` (restart: always)
prints a port-in-use line and exits 1 at once, forever; ``hog`` (a 16 MiB limit, no
swap) reads /dev/zero into memory until the kernel kills it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from periph_env.stack import Stack, StatusModel
from periph_env.stack.alert_feed import AlertFeed
from periph_env.stack.alerts import AlertSettings
from periph_env.stack.stats import StatsModel
from tests.integration.stack_engine_support import wait_for

pytestmark = [pytest.mark.docker, pytest.mark.stack, pytest.mark.timeout(300)]

COMPOSE = """\
services:
  dep:
    image: debian:bookworm-slim
    init: true
    stop_grace_period: 1s
    command: ["sh", "-c", "sleep 3; touch /tmp/ready; exec sleep infinity"]
    healthcheck:
      test: ["CMD", "test", "-f", "/tmp/ready"]
      interval: 1s
      timeout: 2s
      retries: 30
  app:
    image: debian:bookworm-slim
    init: true
    stop_grace_period: 1s
    command: ["sleep", "infinity"]
    depends_on:
      dep:
        condition: service_healthy
  crashy:
    image: debian:bookworm-slim
    restart: always
    command:
      - sh
      - -c
      - "echo booting; echo 'listen tcp :5058: bind: address already in use'; exit 1"
    x-periph:
      hints:
        - match: 'listen tcp (?P<addr>\\S*?):?(?P<port>\\d+): bind: address already in use'
          hint: "port {port} is taken by another process"
  hog:
    image: debian:bookworm-slim
    mem_limit: 16m
    memswap_limit: 16m
    # tail buffers a "line" that never ends: memory grows until the OOM killer acts.
    command: ["sh", "-c", "echo filling memory; exec tail /dev/zero"]
"""


def project(root: Path, name: str) -> Stack:
    compose = root / "compose.yaml"
    compose.write_text(COMPOSE)
    return Stack(root=root, compose_path=compose, project=name, env_file=root / ".env")


def periph(*args: str, root: Path, name: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "PERIPH_COMPOSE_FILE": str(root / "compose.yaml"),
        "PERIPH_ENV_FILE": str(root / ".env"),
        "COMPOSE_PROJECT_NAME": name,
    }
    return subprocess.run(
        [sys.executable, "-m", "periph_env", *args],
        capture_output=True, text=True, env=env, timeout=240,
    )  # fmt: skip


def test_a_crash_looping_service_raises_exactly_one_alert_with_its_hint(tmp_path, compose_project):
    stack = project(tmp_path, compose_project)
    alerts, lock = [], threading.Lock()

    def on_alert(alert):
        with lock:
            alerts.append(alert)

    feed = AlertFeed(stack, on_alert, AlertSettings(crash_restarts=3, crash_window=60))
    model = StatusModel(stack, feed.statuses).start()
    try:
        wait_for(lambda: model.connected, "the status model to connect")
        stack.up(["crashy"], wait=False)
        # Let it loop well past the threshold: more restarts must not raise more alerts.
        wait_for(
            lambda: any(s.restart_count >= 6 for s in model.snapshot() if s.service == "crashy"),
            "crashy to restart six times", timeout=90, every=0.2,
        )  # fmt: skip
        wait_for(lambda: alerts, "the alert (tail read)", timeout=10)
        time.sleep(1.0)  # a late duplicate would arrive within the next status events
    finally:
        model.stop()
    assert len(alerts) == 1, [a.to_json() for a in alerts]
    alert = alerts[0]
    assert (alert.service, alert.kind) == ("crashy", "crash-loop")
    assert alert.hint == "port 5058 is taken by another process"
    assert "listen tcp :5058: bind: address already in use" in alert.lines


def test_a_container_killed_for_memory_raises_an_out_of_memory_alert_not_a_stop(
    tmp_path, compose_project
):
    stack = project(tmp_path, compose_project)
    alerts, lock = [], threading.Lock()

    def on_alert(alert):
        with lock:
            alerts.append(alert)

    feed = AlertFeed(stack, on_alert)
    model = StatusModel(stack, feed.statuses).start()
    try:
        wait_for(lambda: model.connected, "the status model to connect")
        stack.up(["hog"], wait=False)
        wait_for(lambda: alerts, "the out-of-memory alert", timeout=60, every=0.2)
    finally:
        model.stop()
    hog = next(s for s in stack.ps() if s.service == "hog")
    assert (hog.state, hog.exit_code, hog.oom_killed) == ("exited", 137, True)
    assert [(a.service, a.kind) for a in alerts] == [("hog", "out-of-memory")]
    assert alerts[0].summary == "hog was killed: out of memory (limit 16 MiB)"
    assert "filling memory" in alerts[0].lines
    assert "mem_limit" in (alerts[0].hint or "")


def test_stats_appear_within_two_seconds_of_up(tmp_path, compose_project):
    stack = project(tmp_path, compose_project)
    stack.up(["dep"], wait=False)
    started = time.monotonic()
    stats = StatsModel(stack.api)
    try:
        stats.update(stack.ps())
        sample = wait_for(lambda: stats.latest().get("dep"), "a stats sample", timeout=2)
        assert sample.mem > 0
        cpu = wait_for(lambda: stats.latest()["dep"].cpu is not None, "a CPU reading", timeout=3)
        assert cpu
    finally:
        stats.stop()
    assert time.monotonic() - started < 5
    assert stats.followed() == set()


def test_ps_with_stats_has_cpu_and_mem_in_text_and_json(tmp_path, compose_project):
    stack = project(tmp_path, compose_project)
    stack.up(["dep"], wait=False)
    rows = json.loads(periph("ps", "--stats", "--format", "json", root=tmp_path,
                             name=compose_project).stdout)  # fmt: skip
    by_name = {row["service"]: row for row in rows}
    assert isinstance(by_name["dep"]["cpu_percent"], float)
    assert by_name["dep"]["mem_bytes"] > 0
    assert by_name["app"]["cpu_percent"] is None and by_name["app"]["mem_bytes"] is None
    table = periph("ps", "--stats", root=tmp_path, name=compose_project).stdout.splitlines()
    assert table[0].split()[-2:] == ["CPU", "MEM"]
    plain = periph("ps", "--format", "json", root=tmp_path, name=compose_project).stdout
    assert "cpu_percent" not in plain  # plain ps does not pay for the stats read


def test_up_says_what_a_service_waits_for(tmp_path, compose_project):
    project(tmp_path, compose_project)
    up = periph("up", "app", "--wait", root=tmp_path, name=compose_project)
    assert up.returncode == 0, up.stderr
    waits = [line for line in up.stderr.splitlines() if "waiting for dep" in line]
    assert waits, up.stderr
    assert waits[0].split()[:5] == ["app", "waiting", "for", "dep:", "healthy"]
