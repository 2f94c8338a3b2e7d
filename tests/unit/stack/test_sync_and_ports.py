"""One tar per batch with Compose's ownership; published ports from config."""

from __future__ import annotations

import io
import json
import socket
import tarfile
from pathlib import Path

from periph_env.stack.ports import holder, port_taken, published
from periph_env.stack.reload.sync import build_tar, owner

DATA = Path(__file__).parent / "data"


def test_a_batch_is_one_tar_with_absolute_targets_and_the_container_user(tmp_path):
    a, b = tmp_path / "a.py", tmp_path / "b.py"
    a.write_text("A")
    b.write_text("BB")
    data = build_tar([(a, "/app/pkg/a.py"), (b, "/app/pkg/sub/b.py")], (10001, 10001))
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        members = tar.getmembers()
        assert [m.name for m in members] == ["app/pkg/a.py", "app/pkg/sub/b.py"]
        assert {(m.uid, m.gid) for m in members} == {(10001, 10001)}
        assert tar.extractfile(members[1]).read() == b"BB"


def test_a_file_gone_since_planning_is_skipped(tmp_path):
    data = build_tar([(tmp_path / "gone.py", "/app/gone.py")])
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        assert tar.getmembers() == []


PASSWD = "root:x:0:0::/root:/bin/sh\napp:x:10001:10002::/app:/usr/sbin/nologin\n"
GROUP = "root:x:0:\napp:x:10002:\nstaff:x:50:\n"


def container_files(path: str) -> str | None:
    return {"/etc/passwd": PASSWD, "/etc/group": GROUP}.get(path)


def test_files_belong_to_the_container_user_resolved_in_the_containers_passwd():
    assert owner({"Config": {"User": "10001:10001"}}, container_files) == (10001, 10001)
    assert owner({"Config": {"User": "app"}}, container_files) == (10001, 10002)
    assert owner({"Config": {"User": "10001"}}, container_files) == (10001, 10002)
    assert owner({"Config": {"User": "app:staff"}}, container_files) == (10001, 50)
    assert owner({"Config": {"User": "root"}}, container_files) == (0, 0)


def test_without_a_user_files_keep_the_host_owner_as_with_compose(tmp_path):
    assert owner({"Config": {}}, container_files) is None
    a = tmp_path / "a.py"
    a.write_text("A")
    with tarfile.open(fileobj=io.BytesIO(build_tar([(a, "/app/a.py")]))) as tar:
        (member,) = tar.getmembers()
    assert (member.uid, member.gid) == (a.stat().st_uid, a.stat().st_gid)


def test_directories_and_symlinks_are_archived_as_themselves(tmp_path):
    (tmp_path / "d").mkdir(mode=0o750)
    (tmp_path / "d").chmod(0o750)
    (tmp_path / "link").symlink_to("d")
    data = build_tar([(tmp_path / "d", "/app/d"), (tmp_path / "link", "/app/link")])
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        d, link = tar.getmembers()
    assert d.isdir() and d.mode == 0o750
    assert link.issym() and link.linkname == "d"


def test_published_ports_come_from_the_interpolated_config():
    config = json.loads((DATA / "compose_config.json").read_text())
    assert published(config) == [("web", "127.0.0.1", 18777)]
    assert published(config, ["once"]) == []


def test_a_listening_port_is_taken_and_its_holder_named():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        assert port_taken("127.0.0.1", port)
        assert "python" in (holder(port) or "")
    assert not port_taken("127.0.0.1", port)


def test_a_sync_signal_the_engine_refuses_does_not_fail_the_reload():
    # The reloader polls too: a lost signal costs its poll interval, never the change.
    from periph_env.stack.reload import watcher

    class RefusingApi:
        def __init__(self) -> None:
            self.asked: list[tuple[str, str]] = []

        def kill(self, container_id: str, signal: str) -> None:
            self.asked.append((container_id, signal))
            raise RuntimeError("409 Conflict: container is not running")

    api = RefusingApi()
    watcher._tell(api, "c0ffee", "SIGWINCH")
    assert api.asked == [("c0ffee", "SIGWINCH")]
