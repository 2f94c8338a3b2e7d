"""One tar per batch with the container user's ownership; published ports from config."""

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
    data = build_tar([(a, "/app/pkg/a.py"), (b, "/app/pkg/sub/b.py")], uid=10001, gid=10001)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        members = tar.getmembers()
        assert [m.name for m in members] == ["app/pkg/a.py", "app/pkg/sub/b.py"]
        assert {(m.uid, m.gid) for m in members} == {(10001, 10001)}
        assert tar.extractfile(members[1]).read() == b"BB"


def test_a_file_gone_since_planning_is_skipped(tmp_path):
    data = build_tar([(tmp_path / "gone.py", "/app/gone.py")])
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        assert tar.getmembers() == []


def test_files_belong_to_a_numeric_container_user_else_root():
    assert owner({"Config": {"User": "10001:10001"}}) == (10001, 10001)
    assert owner({"Config": {"User": "app"}}) == (0, 0)
    assert owner({"Config": {}}) == (0, 0)


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
