"""`periph env init` changes only what it owns: links, owners, modes, temp files, shadowing."""

from __future__ import annotations

import errno
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from periph_env.env import check, init
from periph_env.env import init_file as init_mod
from tests.unit.env.conftest import Workspace

SECRET = "Zx9Qw8Er7Ty6Ui5Op4As3Df2"


def leftovers(root: Path) -> list[str]:
    return [p.name for p in root.rglob(".periph-tmp-*")]


def test_init_writes_through_a_symlink_and_keeps_the_link(ws: Workspace, run_cli):
    real = ws.root / "real"
    real.mkdir()
    (real / "env").write_text("DB_HOST=db\n")
    ws.env.symlink_to("real/env")
    code, out, _ = run_cli("env", "init", cwd=ws.root)
    assert code == 0 and "appended" in out
    assert ws.env.is_symlink() and os.readlink(ws.env) == "real/env"
    text = (real / "env").read_text()
    assert text.startswith("DB_HOST=db\n") and "DB_PORT=5432\n" in text
    assert [b.parent for b in ws.root.rglob("env.bak.*")] == [real]


def test_init_never_creates_a_file_through_a_dangling_symlink(ws: Workspace, run_cli):
    (ws.root / "real").mkdir()
    ws.env.symlink_to("real/env")
    code, out, err = run_cli("env", "init", cwd=ws.root)
    assert (code, out) == (2, "")
    assert f"env file .env is a symlink to {ws.root}/real/env, which does not exist" in err
    assert "create the target yourself" in err
    assert ws.env.is_symlink() and list((ws.root / "real").iterdir()) == []


def test_init_keeps_owner_group_and_mode(ws: Workspace, run_cli):
    ws.write_env("DB_HOST=mine\n")
    os.chmod(ws.env, 0o640)
    owner = (4321, 4322) if os.geteuid() == 0 else (os.getuid(), os.getgid())
    os.chown(ws.env, *owner)
    assert run_cli("env", "init", cwd=ws.root)[0] == 0
    st = ws.env.stat()
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (*owner, 0o640)
    assert "DB_PORT=5432" in ws.env.read_text()


def test_init_where_it_cannot_write_is_exit_2_without_traceback(ws: Workspace, run_cli):
    code, out, err = run_cli("env", "init", "--env-file", "missing-dir/.env", cwd=ws.root)
    assert (code, out) == (2, "")
    assert err.startswith("periph: error: cannot write")
    assert "Traceback" not in err


def test_init_in_a_directory_it_may_not_write_is_exit_2(ws: Workspace, run_cli, monkeypatch):
    ws.write_env("DB_HOST=mine\n")

    def refuse(*_args, **_kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    code, _, err = run_cli("env", "init", cwd=ws.root)
    assert code == 2
    assert "cannot write" in err and "Permission denied" in err
    assert ws.env.read_text() == "DB_HOST=mine\n"


@pytest.mark.parametrize("failure", [OSError(errno.EIO, "I/O error"), KeyboardInterrupt()])
def test_no_temporary_copy_is_left_when_the_write_fails(ws, monkeypatch, failure):
    ws.write_env(f"JWT_SECRET={SECRET}\n")

    def fail(_fd: int) -> None:
        raise failure

    monkeypatch.setattr(init_mod.os, "fsync", fail)
    with pytest.raises((KeyboardInterrupt, init_mod.UsageError)):
        init(str(ws.env), str(ws.example))
    assert leftovers(ws.root) == []


def test_no_temporary_copy_is_left_on_sigterm(ws: Workspace, monkeypatch):
    ws.write_env(f"JWT_SECRET={SECRET}\n")
    before = signal.getsignal(signal.SIGTERM)
    monkeypatch.setattr(init_mod.os, "fsync", lambda _fd: os.kill(os.getpid(), signal.SIGTERM))
    with pytest.raises(KeyboardInterrupt):
        init(str(ws.env), str(ws.example))
    assert leftovers(ws.root) == []
    assert signal.getsignal(signal.SIGTERM) is before


@pytest.mark.parametrize(
    "line",
    [
        "DB_HOST=mine",
        "export DB_HOST=mine",
        "DB_HOST = mine",
        "DB_HOST: mine",  # compose's YAML style
        "'DB_HOST'=mine",  # python-dotenv's quoted key
        "\fDB_HOST=mine",
        "\xa0DB_HOST=mine",
        "\u2028DB_HOST=mine",
    ],
)
def test_a_key_some_reader_reads_is_never_appended_again(ws: Workspace, line: str):
    ws.env.write_text(line + "\n")
    result = init(str(ws.env), str(ws.example))
    assert "DB_HOST" not in result.added
    assert ws.env.read_text().count("DB_HOST") == 1


def test_a_crlf_file_is_read_as_the_readers_read_it_and_stays_crlf(ws: Workspace):
    ws.env.write_bytes(b"DB_HOST=mine\r\nDB_PORT=1\r\n")
    result = init(str(ws.env), str(ws.example))
    data = ws.env.read_bytes()
    assert {"DB_HOST", "DB_PORT"}.isdisjoint(result.added)
    assert b"\r\n" in data and re.search(rb"[^\r]\n", data) is None


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"DB_HOST=mine\rDB_PORT=1\r", "carriage return"),
        ("DB_HOST=mine\n".encode("utf-16"), "UTF-16-LE"),
        ("DB_HOST=mine\n".encode("utf-16-be"), "UTF-16-BE"),
        ("DB_HOST=mine\n".encode("utf-32"), "UTF-32-LE"),
        (b"DB_HOST=\xff\n", "not valid UTF-8"),
        (b'"DB_HOST"=mine\n', "looks like it sets DB_HOST"),
    ],
)
def test_a_file_the_readers_would_split_differently_is_refused(ws, run_cli, data, reason):
    ws.env.write_bytes(data)
    code, _, err = run_cli("env", "init", cwd=ws.root)
    assert code == 2
    assert reason in err
    assert ws.env.read_bytes() == data
    assert list(ws.root.glob(".env.bak.*")) == []


def test_a_fifo_is_refused_without_blocking(ws: Workspace, run_cli):
    os.mkfifo(ws.env)
    code, _, err = run_cli("env", "init", cwd=ws.root)
    assert code == 2 and "FIFO" in err


GENERATE_EXAMPLE = """\
# @secret required generate
JWT_SECRET=changemeinprod123!
# @host
DB_HOST=localhost
"""


def test_generate_keys_get_a_fresh_strong_value_on_create(ws: Workspace):
    ws.example.write_text(GENERATE_EXAMPLE)
    result = init(str(ws.env), str(ws.example))
    value = re.search(r"^JWT_SECRET=(\S+)$", ws.env.read_text(), re.M)
    assert value is not None and re.fullmatch(r"[0-9a-f]{64}", value.group(1))
    assert result.generated == ["JWT_SECRET"]
    assert check(str(ws.env), str(ws.example), "prod").errors == 0


def test_generate_keys_get_a_fresh_value_when_appended_and_differ_per_file(ws: Workspace):
    ws.example.write_text(GENERATE_EXAMPLE)
    ws.env.write_text("DB_HOST=db\n")
    other = ws.root / "other.env"
    other.write_text("DB_HOST=db\n")
    init(str(ws.env), str(ws.example))
    init(str(other), str(ws.example))
    first = re.search(r"JWT_SECRET=(\w+)", ws.env.read_text())
    second = re.search(r"JWT_SECRET=(\w+)", other.read_text())
    assert first and second and first.group(1) != second.group(1)
    assert "changemeinprod" not in ws.env.read_text()


def test_an_existing_generate_key_is_never_changed(ws: Workspace):
    ws.example.write_text(GENERATE_EXAMPLE)
    ws.env.write_text(f"JWT_SECRET={SECRET}\n")
    init(str(ws.env), str(ws.example))
    assert ws.env.read_text().startswith(f"JWT_SECRET={SECRET}\n")
    assert ws.env.read_text().count("JWT_SECRET") == 1


def test_a_placeholder_left_in_a_generate_key_says_how_to_get_one(ws: Workspace):
    ws.example.write_text(GENERATE_EXAMPLE)
    ws.env.write_text("JWT_SECRET=changemeinprod123!\nDB_HOST=db\n")
    message = ws.finding("PE103").message
    assert message.endswith("delete the line and run `periph env init` to generate one")


def as_other_user(argv: list[str]) -> list[str]:
    """Run ``argv`` as nobody when we are root (root may write anywhere), else as is."""
    if os.geteuid() == 0:
        return ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *argv]
    return argv


def periph_init(cwd: Path) -> subprocess.CompletedProcess[str]:
    argv = as_other_user([sys.executable, "-m", "periph_env", "env", "init"])
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=60)


@pytest.fixture
def open_dir() -> Iterator[Path]:
    """A directory other users can reach (pytest's tmp_path sits under a 0700 parent)."""
    path = Path(tempfile.mkdtemp(prefix="periph-init-"))
    os.chmod(path, 0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_init_in_a_directory_the_user_may_not_write_is_exit_2_for_real(open_dir: Path):
    root = open_dir / "ro"
    root.mkdir()
    (root / ".env.example").write_text(GENERATE_EXAMPLE)
    os.chmod(root / ".env.example", 0o644)
    os.chmod(root, 0o755 if os.geteuid() == 0 else 0o555)
    proc = periph_init(root)
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"periph: error: cannot write {root}/.env: Permission denied")
    assert "Traceback" not in proc.stderr
    assert sorted(p.name for p in root.iterdir()) == [".env.example"]


def test_a_file_owned_by_someone_else_is_extended_in_place_keeping_its_owner(open_dir: Path):
    root = open_dir / "shared"
    root.mkdir()
    (root / ".env.example").write_text(GENERATE_EXAMPLE)
    os.chmod(root / ".env.example", 0o644)
    env = root / ".env"
    env.write_text("DB_HOST=db\n")
    os.chmod(env, 0o666)
    os.chmod(root, 0o777)
    owner = (env.stat().st_uid, env.stat().st_gid)
    proc = periph_init(root)
    assert proc.returncode == 0, proc.stderr
    st = env.stat()
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (*owner, 0o666)
    assert "JWT_SECRET=" in env.read_text()
    assert leftovers(root) == []
