"""The pre-commit guard fails closed: where an env file is expected and something else
sits there, it refuses the commit with exit 2, never 0, while a staged file holds a
secret it could not learn."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.unit.env.test_guard import SECRET, Repo, assert_no_secret


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    """A repository whose staged app.py holds the secret of the (replaced) env file."""
    repo = Repo(tmp_path)
    repo.stage("app.py", f"JWT = '{SECRET}'\n".encode())
    return repo


def guard(run_cli, repo: Repo) -> tuple[int, str]:
    code, out, err = run_cli("env", "guard", cwd=repo.root)
    assert_no_secret(out + err)
    assert "Traceback" not in err
    return code, err


def test_the_guard_refuses_the_staged_secret_when_the_env_file_is_readable(repo, run_cli):
    assert guard(run_cli, repo)[0] == 1  # the baseline every case below must not fall under


@pytest.mark.parametrize("name", [".env", ".env.demo", "prod.env"])
def test_a_directory_where_an_env_file_is_expected_is_exit_2(repo: Repo, run_cli, name: str):
    (repo.root / ".env").unlink()
    (repo.root / name).mkdir()
    code, err = guard(run_cli, repo)
    assert code == 2
    assert f"cannot read env file {repo.root}/{name}: it is a directory, not a regular file" in err


def test_a_symlink_to_a_directory_is_exit_2(repo: Repo, run_cli):
    (repo.root / ".env").unlink()
    (repo.root / "config").mkdir()
    (repo.root / ".env").symlink_to("config")
    code, err = guard(run_cli, repo)
    assert code == 2 and "it is a directory" in err


def test_a_fifo_env_file_is_exit_2_without_blocking(repo: Repo):
    (repo.root / ".env").unlink()
    os.mkfifo(repo.root / ".env")  # opened for reading, it would block until a writer came
    proc = subprocess.run(
        [sys.executable, "-m", "periph_env", "env", "guard"],
        cwd=repo.root,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "it is a FIFO (named pipe), not a regular file" in proc.stderr


def test_a_socket_env_file_is_exit_2(repo: Repo, run_cli, monkeypatch):
    (repo.root / ".env").unlink()
    monkeypatch.chdir(repo.root)  # bind relative: a socket path is limited to 108 bytes
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(".env")
    sock.close()
    code, err = guard(run_cli, repo)
    assert code == 2 and "it is a socket, not a regular file" in err


def test_a_dangling_env_symlink_is_exit_2_naming_its_target(repo: Repo, run_cli):
    (repo.root / ".env").unlink()
    (repo.root / ".env").symlink_to("secrets/dev.env")
    code, err = guard(run_cli, repo)
    assert code == 2
    assert f"it is a symlink to {repo.root}/secrets/dev.env, which is missing" in err


@pytest.fixture
def open_dir() -> Iterator[Path]:
    """A directory other users can reach (pytest's tmp_path sits under a 0700 parent)."""
    path = Path(tempfile.mkdtemp(prefix="periph-guard-"))
    os.chmod(path, 0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_an_unreadable_env_file_is_exit_2(open_dir: Path):
    root = open_dir / "repo"
    root.mkdir()
    repo = Repo(root)
    repo.stage("app.py", f"JWT = '{SECRET}'\n".encode())
    argv = [sys.executable, "-m", "periph_env", "env", "guard"]
    if os.geteuid() == 0:
        # root reads every file: run the guard as nobody, in a repository nobody owns.
        subprocess.run(["chown", "-R", "65534:65534", str(root)], check=True)
        os.chown(root / ".env", 0, 0)
        argv = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *argv]
    os.chmod(root / ".env", 0)
    env = {**os.environ, "HOME": str(open_dir)}
    proc = subprocess.run(argv, cwd=root, capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 2, proc.stderr
    assert f"cannot read env file {root}/.env: Permission denied" in proc.stderr
    assert_no_secret(proc.stdout + proc.stderr)
