"""When the node's containerd counts as started: its CRI service ready in *this* start's log
(a kubelet started while CRI still says "server is not initialized yet" exits at once)."""

from __future__ import annotations

import subprocess

import pytest

from periph_env.testenv import node


@pytest.fixture
def log(tmp_path, monkeypatch):
    path = tmp_path / "containerd.log"
    monkeypatch.setattr(node, "_logfile", lambda process: path)
    answered = subprocess.CompletedProcess([], 0, "", "")
    monkeypatch.setattr(node, "_ctr", lambda *a, **k: answered)
    return path


def test_a_socket_that_answers_before_the_cri_plugin_is_not_ready(log):
    log.write_bytes(b'msg="containerd successfully booted"\nmsg="Start recovering state"\n')

    assert not node._containerd_ready(0)


def test_the_cri_streaming_server_started_in_this_start_makes_it_ready(log):
    log.write_bytes(b'msg="containerd successfully booted"\nmsg="Start streaming server"\n')

    assert node._containerd_ready(0)


def test_a_previous_starts_ready_line_does_not_count(log):
    earlier = b'msg="Start streaming server"\nmsg="Stop CRI service"\n'
    log.write_bytes(earlier + b'msg="containerd successfully booted"\n')

    assert not node._containerd_ready(len(earlier))
