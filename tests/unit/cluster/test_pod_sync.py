"""Hot reload into pods, without a cluster: what one batch sends (a recording fake exec).

The real pod sync is covered on the real node (tests/integration/test_cluster_dev_stack.py);
here the batch's shape: deletions first in one exec, then every copy in ONE tar stream.
"""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

from periph_env.cluster.rebuild import Rolled
from periph_env.cluster.sync import PodSync, log_timestamp
from periph_env.errors import EngineError
from periph_env.stack.compose_file import WatchRule
from periph_env.stack.reload import rules


class MaskingKube:
    """What PodSync needs of ``Kube`` without a cluster: masking."""

    def mask(self, text: str) -> str:
        return text.replace("s3cret", "***")


class Recording(PodSync):
    def __init__(self, rules_, pod: str | None = "worker-abc", rebuild=None, contexts=None):
        super().__init__(
            MaskingKube(), "ns", rules.compile_rules(rules_), {}, lambda _s: self.pod,
            rebuild=rebuild, contexts=contexts,
        )  # fmt: skip
        self.pod = pod
        self.calls: list[tuple[str, list[str], bytes | None]] = []
        self.notes: list[str] = []
        self.on_progress = lambda event: self.notes.append(event.note)

    def _exec(self, pod, container, argv, stdin=None):
        self.calls.append((pod, argv, stdin))


def tar_names(archive: bytes) -> list[str]:
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        return sorted(tar.getnames())


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


def test_a_rebuild_rule_without_a_rebuilder_is_refused_not_synced(tmp_path):
    (tmp_path / "requirements.txt").write_text("x\n")
    sync = Recording(worker_rules(tmp_path))
    [event] = sync.apply([tmp_path / "requirements.txt"])
    assert not event.ok and "rebuild" in event.error and sync.calls == []


def rolled(service, note, *, rolled=True):
    note("built peripheral-worker:dev in 1.0s, pushing")
    note("pushed worker:dev-x-1, rolling deployment/worker")
    return Rolled(service, "reg/worker:dev-x-1", 101.0, 102.0, 105.0, "worker-new", rolled)


def test_a_rebuild_rule_builds_pushes_and_rolls_that_one_service(tmp_path):
    (tmp_path / "requirements.txt").write_text("x\n")
    asked = []
    sync = Recording(
        worker_rules(tmp_path), rebuild=lambda s, note: asked.append(s) or rolled(s, note)
    )
    [event] = sync.apply([tmp_path / "requirements.txt"], seen_at=100.0)
    assert asked == ["worker"] and sync.calls == []
    assert event.ok and event.trigger == str(tmp_path / "requirements.txt")
    assert event.breakdown() == "seen → rebuilt +2.00s → serving +5.00s"
    assert sync.notes == [
        "built peripheral-worker:dev in 1.0s, pushing",
        "pushed worker:dev-x-1, rolling deployment/worker",
    ]


def test_a_rebuild_whose_image_did_not_change_says_nothing_rolled(tmp_path):
    (tmp_path / "requirements.txt").write_text("x\n")
    sync = Recording(worker_rules(tmp_path), rebuild=lambda s, n: rolled(s, n, rolled=False))
    [event] = sync.apply([tmp_path / "requirements.txt"])
    assert event.ok and event.note == "image unchanged: nothing rolled"


def test_a_failed_rebuild_is_a_failed_reload_with_the_error_masked(tmp_path):
    (tmp_path / "requirements.txt").write_text("x\n")

    def fails(_service, _note):
        raise EngineError("build of worker failed: token s3cret rejected")

    sync = Recording(worker_rules(tmp_path), rebuild=fails)
    [event] = sync.apply([tmp_path / "requirements.txt"])
    assert not event.ok and event.done
    assert event.error == "rebuild failed: build of worker failed: token *** rejected"


def source_tree(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for name in ("a.py", "b.py", "old.py"):
        (src / name).write_text(f"# {name}\n")
    return src


def test_a_replaced_pod_gets_the_files_synced_this_session_in_one_tar(tmp_path):
    src = source_tree(tmp_path)
    sync = Recording(worker_rules(tmp_path))
    sync.apply([src / "a.py"])
    (src / "old.py").unlink()
    sync.apply([src / "b.py", src / "old.py"])
    sync.calls.clear()
    sync.pod = "worker-new"
    [event] = sync.catch_up()
    assert event.ok and event.trigger == "new pod worker-new"
    assert [(pod, argv[:3]) for pod, argv, _in in sync.calls] == [
        ("worker-new", ["rm", "-rf", "--"]),
        ("worker-new", ["sh", "-c", sync.calls[1][1][2]]),
    ]
    assert sync.calls[0][1][3:] == ["/app/src/old.py"]
    assert tar_names(sync.calls[1][2]) == ["app/src/a.py", "app/src/b.py"]
    assert sync.notes == ["new pod worker-new: sending 3 path(s) synced this session"]


def test_the_same_pod_gets_no_catch_up(tmp_path):
    src = source_tree(tmp_path)
    sync = Recording(worker_rules(tmp_path))
    sync.apply([src / "a.py"])
    sync.calls.clear()
    assert sync.catch_up() == [] and sync.calls == []


def test_a_batch_into_a_replaced_pod_carries_what_it_missed(tmp_path):
    src = source_tree(tmp_path)
    sync = Recording(worker_rules(tmp_path))
    sync.apply([src / "a.py"])
    sync.calls.clear()
    sync.pod = "worker-new"
    sync.apply([src / "b.py"])
    [(pod, _argv, archive)] = sync.calls
    assert pod == "worker-new" and tar_names(archive) == ["app/src/a.py", "app/src/b.py"]
    assert sync.catch_up() == []  # the new pod has it all now


def test_a_rebuild_forgets_synced_files_its_image_now_holds(tmp_path):
    src = source_tree(tmp_path)
    (tmp_path / "requirements.txt").write_text("x\n")
    sync = Recording(worker_rules(tmp_path), rebuild=rolled, contexts={"worker": tmp_path})
    sync.apply([src / "a.py"])
    sync.apply([tmp_path / "requirements.txt"])
    sync.calls.clear()
    sync.pod = "worker-newer"  # replaced again after the rollout
    assert sync.catch_up() == [] and sync.calls == []


def test_no_ready_pod_is_a_failed_reload_naming_the_service(tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.py").write_text("")
    sync = Recording(worker_rules(tmp_path), pod=None)
    [event] = sync.apply([tmp_path / "src" / "a.py"])
    assert not event.ok and event.error == "no Ready pod of worker to sync into"


def test_pod_log_timestamps_are_read_to_the_microsecond():
    assert log_timestamp("2026-12-02T21:00:00.123456789Z") == 1796245200.123456
    assert log_timestamp("2026-12-02T21:00:00Z") == 1796245200.0
    assert log_timestamp("not a time") is None


def test_after_a_rebuild_files_from_outside_its_context_still_reach_the_new_pod(tmp_path):
    src = source_tree(tmp_path)
    (tmp_path / "requirements.txt").write_text("x\n")
    elsewhere = {"worker": tmp_path / "image-context"}
    sync = Recording(worker_rules(tmp_path), rebuild=rolled, contexts=elsewhere)
    sync.apply([src / "a.py"])
    sync.apply([tmp_path / "requirements.txt"])
    sync.calls.clear()
    sync.pod = "worker-new"  # the rolled pod
    [event] = sync.catch_up()
    assert event.ok and tar_names(sync.calls[0][2]) == ["app/src/a.py"]
