"""`periph env init` writes through a link only into a regular env file of the user's own.

Every refusal is exit 2, names the link and its target, shows none of the target's
content, and leaves the target (and its directory) exactly as they were.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from periph_env.env import init_target
from periph_env.env.init_file import init
from periph_env.env.parser import parse_bytes
from periph_env.errors import UsageError
from tests.examples import examples
from tests.unit.env.conftest import Workspace

PASSWD = (
    "root:x:0:0:root:/root:/bin/bash\n"
    "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
    "alice:x:1000:1000:Alice,,,:/home/alice:/bin/bash\n"
)


def snapshot(directory: Path) -> dict[str, bytes]:
    """Every regular file under ``directory`` with its bytes (to prove nothing changed)."""
    return {str(p): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


def refused(run_cli, ws: Workspace, *needles: str) -> str:
    code, out, err = run_cli("env", "init", cwd=ws.root)
    assert (code, out) == (2, ""), err
    assert err.startswith("periph: error: env file .env is ")
    for needle in needles:
        assert needle in err
    assert "Traceback" not in err
    return err


def test_a_link_to_a_passwd_style_file_is_refused_naming_link_and_target(ws, run_cli):
    other = ws.root / "elsewhere"
    other.mkdir()
    (other / "users.env").write_text(PASSWD)  # named like one, but it is not one
    ws.env.symlink_to(other / "users.env")
    before = snapshot(other)
    err = refused(
        run_cli, ws, f"a symlink to {other}/users.env", "does not read as an env file",
        "3 lines are not KEY=value (first: line 1)",
    )  # fmt: skip
    assert "x:0:0" not in err and "Alice" not in err and "/bin/bash" not in err
    assert snapshot(other) == before  # no keys appended, no .bak written beside it


def test_a_link_to_a_binary_file_is_refused(ws: Workspace, run_cli):
    blob = ws.root / "blob.env"
    blob.write_bytes(b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)) * 4)
    ws.env.symlink_to(blob)
    refused(run_cli, ws, "does not read as an env file: it holds binary data")
    assert blob.read_bytes().startswith(b"\x7fELF") and len(blob.read_bytes()) == 8 + 1024


def test_a_link_to_the_real_etc_passwd_is_refused_and_etc_is_untouched(ws, run_cli):
    before = Path("/etc/passwd").read_bytes()
    ws.env.symlink_to("/etc/passwd")
    refused(run_cli, ws, "a symlink to /etc/passwd", "a file of the operating system")
    assert Path("/etc/passwd").read_bytes() == before
    assert not list(Path("/etc").glob("passwd.bak.*"))


def test_a_link_into_a_system_directory_is_refused_even_when_it_reads_as_env(
    ws: Workspace, run_cli, monkeypatch
):
    system = ws.root / "system"
    system.mkdir()
    (system / "periph.env").write_text('PATH="/usr/bin:/bin"\n')
    monkeypatch.setattr(init_target, "SYSTEM_DIRS", (str(system),))
    ws.env.symlink_to(system / "periph.env")
    refused(run_cli, ws, "a file of the operating system")
    assert (system / "periph.env").read_text() == 'PATH="/usr/bin:/bin"\n'


def test_a_chain_of_links_to_an_env_file_is_written_through_and_stays_a_chain(ws, run_cli):
    real = ws.root / "secrets" / "dev.env"
    real.parent.mkdir()
    real.write_text("DB_HOST=db\n")
    (ws.root / "hop").symlink_to("secrets/dev.env")
    ws.env.symlink_to("hop")
    code, out, _ = run_cli("env", "init", cwd=ws.root)
    assert code == 0 and "appended" in out and "(-> secrets/dev.env)" in out
    assert os.readlink(ws.env) == "hop" and os.readlink(ws.root / "hop") == "secrets/dev.env"
    assert real.read_text().startswith("DB_HOST=db\n") and "DB_PORT=5432" in real.read_text()


def test_a_chain_with_a_dangling_hop_is_refused_and_creates_nothing(ws, run_cli):
    (ws.root / "hop").symlink_to("gone/dev.env")
    ws.env.symlink_to("hop")
    refused(run_cli, ws, f"a symlink to {ws.root}/gone/dev.env, which does not exist")
    assert not (ws.root / "gone").exists()


def test_a_symlink_loop_is_refused(ws: Workspace, run_cli):
    (ws.root / "a").symlink_to("b")
    (ws.root / "b").symlink_to("a")
    ws.env.symlink_to("a")
    refused(run_cli, ws, "a symlink that cannot be followed (a symlink loop)")


@pytest.mark.parametrize("kind", ["directory", "fifo", "socket", "device"])
def test_a_link_to_anything_but_a_regular_file_is_refused_without_opening_it(
    ws: Workspace, run_cli, kind: str, tmp_path_factory
):
    # Sockets need a short path (108 bytes): make them in a short temporary directory.
    short = tmp_path_factory.mktemp("s")
    target = {
        "directory": ws.root / "dir",
        "fifo": ws.root / "pipe",
        "socket": short / "sock",
        "device": Path("/dev/null"),
    }[kind]
    if kind == "directory":
        target.mkdir()
    elif kind == "fifo":
        os.mkfifo(target)  # opened for reading, this would block the test forever
    elif kind == "socket":
        sock = socket.socket(socket.AF_UNIX)
        sock.bind(str(target))
        sock.close()
    ws.env.symlink_to(target)
    words = {
        "directory": "which is a directory",
        "fifo": "which is a FIFO (named pipe)",
        "socket": "which is a socket",
        "device": "which is a character device",
    }[kind]
    refused(run_cli, ws, f"a symlink to {target}", words)
    if kind == "directory":
        assert list(target.iterdir()) == []


@pytest.mark.parametrize("kind", ["directory", "fifo", "socket"])
def test_an_env_path_that_is_itself_not_a_regular_file_is_refused(ws, run_cli, kind):
    if kind == "directory":
        ws.env.mkdir()
    elif kind == "fifo":
        os.mkfifo(ws.env)
    else:
        os.chdir(ws.root)  # a relative bind keeps the socket path short
        sock = socket.socket(socket.AF_UNIX)
        sock.bind(".env")
        sock.close()
    code, out, err = run_cli("env", "init", cwd=ws.root)
    assert (code, out) == (2, "")
    what = {"directory": "a directory", "fifo": "a FIFO (named pipe)", "socket": "a socket"}
    assert f"cannot write env file .env: it is {what[kind]}, not a regular file" in err


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can give a file to another user")
def test_a_link_to_a_file_of_another_user_is_refused(ws: Workspace, run_cli):
    theirs = ws.root / "theirs.env"
    theirs.write_text("DB_HOST=db\n")
    os.chown(theirs, 4321, 4321)
    ws.env.symlink_to(theirs)
    refused(run_cli, ws, "which belongs to uid 4321")
    assert theirs.read_text() == "DB_HOST=db\n"


def test_a_hard_linked_env_file_is_extended_in_place_so_every_name_sees_the_keys(ws, run_cli):
    other = ws.root / "worktree.env"
    other.write_text("DB_HOST=db\n")
    os.link(other, ws.env)
    assert run_cli("env", "init", cwd=ws.root)[0] == 0
    assert ws.env.stat().st_ino == other.stat().st_ino
    assert "DB_PORT=5432" in other.read_text()


def test_a_hard_link_to_a_file_that_is_not_an_env_file_is_refused(ws: Workspace, run_cli):
    other = ws.root / "passwd"
    other.write_text(PASSWD)
    os.link(other, ws.env)
    refused(run_cli, ws, "is hard-linked (2 names for one file)", "does not read as an env file")
    assert other.read_text() == PASSWD


@pytest.mark.parametrize("name", [".bash_profile", ".envrc", ".env.example", "settings"])
def test_a_link_to_a_file_not_named_like_an_env_file_is_refused(ws, run_cli, name):
    # `export` lines read as env: placeholders appended to a profile break every shell.
    target = ws.root / "home" / name
    target.parent.mkdir()
    target.write_text("export PATH=/usr/bin\n")
    ws.env.symlink_to(target)
    refused(run_cli, ws, f"a symlink to {target}", "which is not named like an env file")
    assert target.read_text() == "export PATH=/usr/bin\n"


@pytest.mark.parametrize("name", ["env", "dev.env", ".env.local", "periph-env"])
def test_an_empty_link_target_named_like_an_env_file_is_filled(ws, run_cli, name):
    (ws.root / name).write_text("")
    ws.env.symlink_to(name)
    assert run_cli("env", "init", cwd=ws.root)[0] == 0
    assert "DB_PORT=5432" in (ws.root / name).read_text()


def test_a_path_through_a_symlinked_directory_into_the_system_is_refused(ws, run_cli):
    (ws.root / "config").symlink_to("/etc")
    code, out, err = run_cli("env", "init", "--env-file", "config/periph.env", cwd=ws.root)
    assert (code, out) == (2, "")
    assert "would be /etc/periph.env, in a directory of the operating system" in err
    assert not Path("/etc/periph.env").exists()


LINES = [
    "DB_HOST=db", "export WORKERS=2", "# a comment", "", "root:x:0:0::/root:/bin/sh",
    "127.0.0.1 localhost", "[section]", "KEY: value", "A='open", "\x00\x01", "\xff",
    "bad-key=1", "JWT_SECRET=Zx9Qw8Er7Ty6Ui5Op4As3Df2",
]  # fmt: skip


@settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=st.lists(st.sampled_from(LINES), max_size=8))
def test_init_writes_through_a_link_only_into_a_file_that_reads_as_env(tmp_path_factory, lines):
    from tests.unit.env.conftest import EXAMPLE

    root = tmp_path_factory.mktemp("prop")
    target = root / "target.env"
    data = "\n".join(lines).encode("utf-8", "surrogateescape") + b"\n"
    target.write_bytes(data)
    (root / ".env.example").write_text(EXAMPLE)
    (root / ".env").symlink_to(target)
    reads_as_env = init_target.shape_problem(parse_bytes(data, "t")) is None
    try:
        init(str(root / ".env"), str(root / ".env.example"))
    except UsageError as exc:
        assert target.read_bytes() == data
        assert "Zx9Qw8Er7Ty6Ui5Op4As3Df2" not in exc.message + (exc.hint or "")
        return
    assert reads_as_env, "init wrote into a file that does not read as an env file"
    assert target.read_bytes().startswith(data)
