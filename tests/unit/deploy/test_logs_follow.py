"""``periph logs --env ENV -f`` when the API server goes away and comes back (no cluster)."""

from __future__ import annotations

import threading
from types import SimpleNamespace

from periph_env.deploy import kube_reach as reach
from periph_env.deploy import logs

ENDPOINT = reach.Endpoint("peripheral-demo", "https://127.0.0.1:6443")


def follow_through(answers: list, monkeypatch) -> list[str]:
    """Follow while the pod list gives ``answers`` in turn (an exception is raised); the
    notices said, in order."""
    monkeypatch.setattr(logs, "BACKOFF", (0.0,))
    monkeypatch.setattr(logs, "POLL_SECONDS", 0.0)
    notices: list[str] = []
    stop = threading.Event()
    kube = SimpleNamespace(endpoint=ENDPOINT, secrets=[], namespace="ns", notice=notices.append)
    follower = logs.Follower(kube, [], lambda _line: None, notices.append, stop)  # type: ignore[arg-type]
    pending = list(answers)

    def pods() -> list:
        if not pending:
            stop.set()
            return []
        answer = pending.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    follower.pods = pods  # type: ignore[method-assign]
    follower.run()
    return notices


def refused() -> reach.ClusterUnreachable:
    return reach.ClusterUnreachable(ENDPOINT, "refused the connection")


def test_a_lost_api_server_is_reported_once_then_each_retry(monkeypatch):
    notices = follow_through([[], refused(), refused(), refused(), []], monkeypatch)
    assert notices[0] == (
        "lost the connection: the API server https://127.0.0.1:6443 (context peripheral-demo) "
        "refused the connection"
    )
    assert [n for n in notices if n.startswith("retrying")] == [
        "retrying in 0 s (attempt 1); ctrl+c to stop",
        "retrying in 0 s (attempt 2); ctrl+c to stop",
        "retrying in 0 s (attempt 3); ctrl+c to stop",
    ]
    assert notices[-1].startswith("the API server https://127.0.0.1:6443 (context "
                                  "peripheral-demo) answers again after")  # fmt: skip
    assert notices[-1].endswith("following the logs again")


def test_an_api_server_down_from_the_start_is_retried_not_fatal(monkeypatch):
    notices = follow_through([refused(), []], monkeypatch)
    assert notices[0].startswith("lost the connection")
    assert "answers again" in notices[-1]


def test_the_pause_between_retries_grows(monkeypatch):
    assert list(logs.BACKOFF) == sorted(logs.BACKOFF) and logs.BACKOFF[-1] <= 30


def test_a_quiet_follow_says_nothing(monkeypatch):
    assert follow_through([[], [], []], monkeypatch) == []


def test_a_pod_whose_log_stream_keeps_failing_is_not_restarted_every_poll(monkeypatch):
    """kubectl logs failing at once (a container not started) restarts when the pod changes
    or after a growing pause, so its error shows once, not every two seconds."""
    monkeypatch.setattr(logs, "POLL_SECONDS", 0.0)
    error = "Error from server (BadRequest): container app is waiting to start"
    printed: list[str] = []
    stop = threading.Event()
    kube = SimpleNamespace(
        endpoint=ENDPOINT, secrets=[], namespace="ns", notice=lambda _t: None,
        argv=lambda *_args: ["sh", "-c", f"echo '{error}'; exit 1"],
    )  # fmt: skip
    follower = logs.Follower(kube, [], printed.append, lambda _t: None, stop)  # type: ignore[arg-type]
    follower.clock = lambda: 1000.0  # type: ignore[method-assign]  # the pause never ends

    def pod(version: str) -> dict:
        meta = {"name": "app-1", "resourceVersion": version}
        return {"metadata": meta, "status": {"phase": "Running"}}

    def printed_and_ended(count: int) -> None:
        stream = follower.streams["app-1"]
        assert stream.proc is not None
        stream.proc.wait(timeout=30)
        for _ in range(3000):  # the pump thread hands the line over
            if len(printed) >= count:
                return
            threading.Event().wait(0.01)

    answers = iter([
        lambda: [pod("1")],
        lambda: (printed_and_ended(1), [pod("1")])[1],
        lambda: [pod("1")],
        lambda: [pod("2")],  # the pod changed: its log is worth another try
        lambda: (printed_and_ended(2), stop.set(), [pod("2")])[2],
    ])  # fmt: skip
    follower.pods = lambda: next(answers)()  # type: ignore[method-assign]
    follower.run()
    assert printed == [error, error]


def test_a_follow_that_ends_leaves_no_process_or_reader_behind(monkeypatch):
    """ctrl+c (the stop) ends every pod's log process and its reader thread before the
    follow returns: nothing of it outlives the command."""
    monkeypatch.setattr(logs, "POLL_SECONDS", 0.0)
    stop = threading.Event()
    kube = SimpleNamespace(
        endpoint=ENDPOINT, secrets=[], namespace="ns", notice=lambda _t: None,
        argv=lambda *_args: ["sh", "-c", "echo line; exec sleep 600"],
    )  # fmt: skip
    printed: list[str] = []
    follower = logs.Follower(kube, [], printed.append, lambda _t: None, stop)  # type: ignore[arg-type]
    pods = [
        {"metadata": {"name": f"app-{i}", "resourceVersion": "1"}, "status": {"phase": "Running"}}
        for i in range(3)
    ]
    started: list = []

    def answer() -> list:
        started.extend(s.proc for s in follower.streams.values() if s.proc is not None)
        if len(printed) >= 3:
            stop.set()
        threading.Event().wait(0.02)
        return pods

    follower.pods = answer  # type: ignore[method-assign]
    follower.run()
    assert printed == ["line"] * 3
    assert started and all(proc.poll() is not None for proc in started)
    assert [t.name for t in threading.enumerate() if t.name.startswith("periph-logs-")] == []
