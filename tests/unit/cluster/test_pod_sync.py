"""Hot reload into pods, without a cluster: what one batch sends (a recording fake exec).

The real pod sync is covered on the real node (tests/integration/test_cluster_dev_stack.py);
here the batch's shape: deletions first in one exec, then every copy in ONE tar stream.
"""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

from periph_env.cluster.sync import PodSync, _timestamp
from periph_env.stack.compose_file import WatchRule
from periph_env.stack.reload import rules


class Recording(PodSync):
    def __init__(self, rules_, pod: str | None = "worker-abc") -> None:
        super().__init__(None, "ns", rules.compile_rules(rules_), {}, lambda _s: pod)
        self.calls: list[tuple[str, list[str], bytes | None]] = []

    def _exec(self, pod, container, argv, stdin=None):
        self.calls.append((pod, argv, stdin))


def worker_rules(root: Path) -> list[WatchRule]:
    return [
        WatchRule("worker", "rebuild", root / "requirements.txt"),
        WatchRule("worker", "sync", root / "src", "/app/src", ignore=("**/*.pyc",)),
    ]


def test_a_batch_is_one_tar_stream_and_one_delete(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.py").write_text("a = 1\n")
    (src / "b.py").write_text("b = 2\n")
    (src / "c.pyc").write_bytes(b"ignored")
    sync = Recording(worker_rules(tmp_path))
    [event] = sync.apply([src / "a.py", src / "b.py", src / "c.pyc", src / "gone.py"])
    assert event.ok and event.serving_at is not None
    assert [argv[:3] for _pod, argv, _in in sync.calls] == [
        ["rm", "-rf", "--"],
        ["sh", "-c", sync.calls[1][1][2]],
    ]
    assert sync.calls[0][1][3:] == ["/app/src/gone.py"]
    archive = sync.calls[1][2]
    assert f"head -c {len(archive)} | tar x" in sync.calls[1][1][2]
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        assert sorted(tar.getnames()) == ["app/src/a.py", "app/src/b.py"]


def test_a_rebuild_rule_is_reported_not_run(tmp_path):
    (tmp_path / "requirements.txt").write_text("x\n")
    sync = Recording(worker_rules(tmp_path))
    [event] = sync.apply([tmp_path / "requirements.txt"])
    assert not event.ok and "rebuild" in event.error and sync.calls == []


def test_no_ready_pod_is_a_failed_reload_naming_the_service(tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.py").write_text("")
    sync = Recording(worker_rules(tmp_path), pod=None)
    [event] = sync.apply([tmp_path / "src" / "a.py"])
    assert not event.ok and event.error == "no Ready pod of worker to sync into"


def test_pod_log_timestamps_are_read_to_the_microsecond():
    assert _timestamp("2026-12-02T21:00:00.123456789Z") == 1796245200.123456
    assert _timestamp("2026-12-02T21:00:00Z") == 1796245200.0
    assert _timestamp("not a time") is None
