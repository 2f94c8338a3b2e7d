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
