"""``periph logs --env ENV -f`` when the API server goes away and comes back (no cluster)."""

from __future__ import annotations

import threading
from types import SimpleNamespace

from periph_env.deploy import kube_reach as reach
from periph_env.deploy import logs
from periph_env.errors import EngineError

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


class FakeLog:
    """An open log stream giving ``lines``, then (``hold``) waiting until closed."""

    def __init__(self, lines: list[bytes], hold: bool = False) -> None:
        self.lines, self.hold, self.closed = lines, hold, threading.Event()

    def __iter__(self):
        yield from self.lines
        if self.hold:
            self.closed.wait()

    def close(self) -> None:
        self.closed.set()


def fake_kube() -> SimpleNamespace:
    return SimpleNamespace(endpoint=ENDPOINT, secrets=["s3cret"], namespace="ns",
                           notice=lambda _t: None)  # fmt: skip


def running_pod(name: str, version: str = "1", containers: tuple[str, ...] = ("app",)) -> dict:
    spec = {"containers": [{"name": c} for c in containers]}
    meta = {"name": name, "resourceVersion": version}
    return {"metadata": meta, "spec": spec, "status": {"phase": "Running"}}


def wait_until(check, seconds: float = 30.0) -> None:
    """Poll ``check`` (a reader thread hands lines over); no timing is asserted."""
    for _ in range(int(seconds * 100)):
        if check():
            return
        threading.Event().wait(0.01)
    raise AssertionError("never happened")


def test_a_pod_whose_log_stream_keeps_failing_is_not_restarted_every_poll(monkeypatch):
    """A log that cannot be read (a container not started) is asked again when the pod
    changes or after a growing pause, so its error shows once, not every two seconds."""
    monkeypatch.setattr(logs, "POLL_SECONDS", 0.0)
    printed: list[str] = []
    stop = threading.Event()
    follower = logs.Follower(fake_kube(), [], printed.append, lambda _t: None, stop)  # type: ignore[arg-type]
    follower.clock = lambda: 1000.0  # type: ignore[method-assign]  # the pause never ends
    opened: list[str] = []

    def refuse(stream):
        opened.append(stream.pod)
        raise EngineError("container app is waiting to start")

    follower.open = refuse  # type: ignore[method-assign]

    def printed_and_ended(count: int) -> None:
        wait_until(lambda: len(printed) >= count and follower.streams[("app-1", "app")].done)

    answers = iter([
        lambda: [running_pod("app-1", "1")],
        lambda: (printed_and_ended(1), [running_pod("app-1", "1")])[1],
        lambda: [running_pod("app-1", "1")],
        lambda: [running_pod("app-1", "2")],  # the pod changed: its log is worth another try
        lambda: (printed_and_ended(2), stop.set(), [running_pod("app-1", "2")])[2],
    ])  # fmt: skip
    follower.pods = lambda: next(answers)()  # type: ignore[method-assign]
    follower.run()
    said = "[pod/app-1/app] (no log: container app is waiting to start)"
    assert printed == [said, said]
    assert opened == ["app-1", "app-1"]


def test_every_container_of_every_pod_is_followed_with_its_prefix_and_masked(monkeypatch):
    monkeypatch.setattr(logs, "POLL_SECONDS", 0.0)
    printed: list[str] = []
    stop = threading.Event()
    follower = logs.Follower(fake_kube(), [], printed.append, lambda _t: None, stop)  # type: ignore[arg-type]
    follower.open = lambda s: FakeLog(  # type: ignore[method-assign]
        [f"2026-12-03T04:00:00.5Z {s.container} of {s.pod} says s3cret\n".encode()], hold=True
    )
    pods = [running_pod("api-1", containers=("app", "sidecar")), running_pod("api-2")]

    def answer() -> list:
        if len(printed) >= 3:
            stop.set()
        threading.Event().wait(0.01)
        return pods

    follower.pods = answer  # type: ignore[method-assign]
    follower.run()
    assert sorted(printed) == [
        "[pod/api-1/app] app of api-1 says ****",
        "[pod/api-1/sidecar] sidecar of api-1 says ****",
        "[pod/api-2/app] app of api-2 says ****",
    ]


def test_a_reopened_stream_neither_repeats_nor_loses_lines():
    """After a cut, the stream is asked from the last line's second: what it repeats (the
    lines of that second already shown) is skipped, the rest is shown."""
    stream = logs._Stream("app-1", "app")
    first = [b"2026-12-03T04:00:00.1Z a", b"2026-12-03T04:00:01.2Z b", b"2026-12-03T04:00:01.2Z c"]
    shown = [text for stamp, text in map(logs.split_stamp, first) if stream.fresh(stamp)]
    assert stream.query()["sinceTime"] == "2026-12-03T04:00:01Z"
    stream.replay = stream.at_last  # what ``start`` does when it reopens
    again = [b"2026-12-03T04:00:01.2Z b", b"2026-12-03T04:00:01.2Z c",
             b"2026-12-03T04:00:01.2Z d", b"2026-12-03T04:00:09Z e"]  # fmt: skip
    shown += [text for stamp, text in map(logs.split_stamp, again) if stream.fresh(stamp)]
    assert shown == [b"a", b"b", b"c", b"d", b"e"]


def test_a_line_without_a_timestamp_is_shown_as_it_came():
    assert logs.split_stamp(b"no stamp here") == (None, b"no stamp here")
    assert logs._Stream("p", "c").fresh(None)


def test_a_first_stream_asks_for_the_whole_log_followed_with_timestamps():
    assert logs._Stream("app-1", "app").query() == {
        "container": "app", "follow": "true", "timestamps": "true"
    }  # fmt: skip


def test_a_follow_that_ends_leaves_no_reader_or_connection_behind(monkeypatch):
    """ctrl+c (the stop) closes every container's stream and ends its reader thread
    before the follow returns: nothing of it outlives the command."""
    monkeypatch.setattr(logs, "POLL_SECONDS", 0.0)
    stop = threading.Event()
    opened: list[FakeLog] = []

    def open_log(_stream) -> FakeLog:
        opened.append(FakeLog([b"2026-12-03T04:00:00Z line\n"], hold=True))
        return opened[-1]

    printed: list[str] = []
    follower = logs.Follower(fake_kube(), [], printed.append, lambda _t: None, stop)  # type: ignore[arg-type]
    follower.open = open_log  # type: ignore[method-assign]
    pods = [running_pod(f"app-{i}") for i in range(3)]

    def answer() -> list:
        if len(printed) >= 3:
            stop.set()
        threading.Event().wait(0.02)
        return pods

    follower.pods = answer  # type: ignore[method-assign]
    follower.run()
    assert sorted(printed) == [
        "[pod/app-0/app] line",
        "[pod/app-1/app] line",
        "[pod/app-2/app] line",
    ]
    assert len(opened) == 3 and all(log.closed.is_set() for log in opened)
    assert [t.name for t in threading.enumerate() if t.name.startswith("periph-logs-")] == []


def test_a_gone_pod_s_stream_is_closed(monkeypatch):
    monkeypatch.setattr(logs, "POLL_SECONDS", 0.0)
    stop = threading.Event()
    opened: list[FakeLog] = []

    def open_log(_stream) -> FakeLog:
        opened.append(FakeLog([], hold=True))
        return opened[-1]

    follower = logs.Follower(fake_kube(), [], lambda _l: None, lambda _t: None, stop)  # type: ignore[arg-type]
    follower.open = open_log  # type: ignore[method-assign]
    answers = iter([
        lambda: [running_pod("old-1")],
        lambda: (wait_until(lambda: len(opened) == 1), [running_pod("new-1")])[1],
        lambda: (wait_until(lambda: len(opened) == 2), stop.set(), [running_pod("new-1")])[2],
    ])  # fmt: skip
    follower.pods = lambda: next(answers)()  # type: ignore[method-assign]
    follower.run()
    assert opened[0].closed.is_set()
    assert list(follower.streams) == [("new-1", "app")]
