"""Logs read from the real engine in large pieces: multiplexed stdout/stderr headers, frames
split across reads, a line the engine splits into frames, a TTY container's raw stream,
and a service whose container appears later, found through the events stream (no
polling). The byte-level cases without an engine are tests/unit/stack/test_logstream.py."""

from __future__ import annotations

import subprocess
import threading
import time

import pytest

from periph_env.stack import engine_streams
from periph_env.stack.control import Stack
from periph_env.stack.logs import LogFollower, read_logs

pytestmark = [pytest.mark.docker, pytest.mark.timeout(180)]

LONG = 40_000  # over the engine's 16 KiB: it sends the line as three frames

COMPOSE = f"""\
services:
  mux:
    image: debian:bookworm-slim
    init: true
    command:
      - sh
      - -c
      - |
        i=0
        while [ $$i -lt 200 ]; do echo "out $$i"; echo "err $$i" >&2; i=$$((i+1)); done
        head -c {LONG} /dev/zero | tr '\\0' x; echo
        echo "mux done"
        exec sleep infinity
  tty:
    image: debian:bookworm-slim
    init: true
    tty: true
    command: ["sh", "-c", "echo 'tty one'; echo 'tty two'; exec sleep infinity"]
  late:
    image: debian:bookworm-slim
    init: true
    command: ["sh", "-c", "echo 'late hello'; exec sleep infinity"]
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory, docker_engine, compose_v2, base_images):
    """The project with ``mux`` and ``tty`` up and done writing (``late`` not created)."""
    import secrets

    from tests.fixtures.engines import remove_project

    name = f"periphtest-{secrets.token_hex(4)}"
    root = tmp_path_factory.mktemp("logstream")
    (root / "compose.yaml").write_text(COMPOSE)
    stack = Stack(root, project=name, compose_path=root / "compose.yaml")
    compose(stack, "up", "-d", "mux", "tty")
    try:
        deadline = time.monotonic() + 60
        while not any(ln.text == "mux done" for ln in read_logs(stack, ["mux"])):
            assert time.monotonic() < deadline, "mux never finished writing"
            time.sleep(0.2)
        yield stack
    finally:
        remove_project(name)


def compose(stack: Stack, *args: str) -> None:
    argv = ["docker", "compose", "-p", stack.project, "-f", str(stack.compose_path), *args]
    subprocess.run(argv, check=True, capture_output=True, timeout=120)


def test_stdout_and_stderr_lines_keep_their_stream(project):
    lines = read_logs(project, ["mux"])
    streams = {ln.text: ln.stream for ln in lines}
    assert all(streams[f"out {i}"] == "stdout" for i in range(200))
    assert all(streams[f"err {i}"] == "stderr" for i in range(200))


def test_a_line_the_engine_sends_in_several_frames_is_one_line(project):
    lines = read_logs(project, ["mux"])
    assert [len(ln.text) for ln in lines if ln.text.startswith("x")] == [LONG]


def test_frames_split_across_tiny_reads_give_the_same_lines(project, monkeypatch):
    whole = [(ln.stream, ln.text) for ln in read_logs(project, ["mux"])]
    monkeypatch.setattr(engine_streams, "READ_BYTES", 5)  # every header and payload split
    split = [(ln.stream, ln.text) for ln in read_logs(project, ["mux"])]

    # The same merged order, stdout and stderr interleaved alike: lines are ordered by the
    # engine's stamp in integer nanoseconds, which no two lines of the run share (a float
    # of epoch seconds did tie them, and the interleave then followed the reads).
    assert split == whole and len(split) == 2 * 200 + 2


def test_a_tty_containers_raw_stream_is_read_without_headers(project):
    texts = [ln.text for ln in read_logs(project, ["tty"])]
    assert texts == ["tty one", "tty two"]  # the TTY's \r\n shown without the \r


def test_a_follow_delivers_every_line_once_in_time_order(project):
    got: list = []
    done = threading.Event()

    def on_lines(batch) -> None:
        got.extend(batch)
        if any(ln.text == "mux done" for ln in batch):
            done.set()

    follower = LogFollower(project, on_lines, services=["mux"]).start()
    try:
        assert done.wait(60), f"follow never reached the end; {len(got)} lines"
    finally:
        follower.stop()
    assert [ln.ns for ln in got] == sorted(ln.ns for ln in got)
    assert len(got) == len({(ln.stream, ln.text) for ln in got}) == 2 * 200 + 2


def test_a_service_whose_container_appears_later_is_followed_through_engine_events(project):
    got: list = []
    arrived = threading.Event()
    looks = []
    real_ps = project.ps

    def counting_ps():
        looks.append(time.monotonic())
        return real_ps()

    def on_lines(batch) -> None:
        got.extend(batch)
        arrived.set()

    project.ps = counting_ps  # type: ignore[method-assign]
    follower = LogFollower(project, on_lines, services=["late"]).start()
    try:
        deadline = time.monotonic() + 30
        while not follower._changes.live:
            assert time.monotonic() < deadline, "the events stream never connected"
            time.sleep(0.05)
        time.sleep(0.5)  # settled: the reader has looked once since events connected
        before = len(looks)
        time.sleep(2.0)  # waiting for a container: no looks without an event
        assert len(looks) == before, "the reader polled while nothing changed"
        compose(project, "up", "-d", "late")
        assert arrived.wait(30), "the late service's lines never came"
    finally:
        follower.stop()
        del project.ps
    assert [ln.text for ln in got] == ["late hello"]
