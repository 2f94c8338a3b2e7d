"""`periph env guard` in real git repositories: it fails closed and never prints a secret."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.unit.env.conftest import EXAMPLE

SECRET = "Zx9Qw8Er7Ty6Ui5Op4As3Df2"


class Repo:
    """A fresh git repository holding the test example and a .env with SECRET."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.git("init", "-q")
        (root / ".env.example").write_text(EXAMPLE)
        (root / ".env").write_text(f"JWT_SECRET={SECRET}\n")

    def git(self, *args: str) -> None:
        subprocess.run(["git", "-C", str(self.root), *args], check=True, capture_output=True)

    def stage(self, name: str | bytes, content: bytes = b"x\n") -> None:
        raw = os.fsencode(name) if isinstance(name, str) else name
        path = os.path.join(os.fsencode(self.root), raw)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as handle:
            handle.write(content)
        subprocess.run(
            [b"git", b"-C", os.fsencode(self.root), b"add", b"-f", b"--", raw],
            check=True,
            capture_output=True,
        )


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    return Repo(tmp_path)


def assert_no_secret(text: str) -> None:
    assert SECRET not in text
    assert SECRET[4:] not in text


def test_a_name_with_a_newline_does_not_switch_the_content_scan_off(repo: Repo, run_cli):
    repo.stage("z.txt", f"token={SECRET}\n".encode())
    repo.stage("a\nb")
    code, out, err = run_cli("env", "guard", cwd=repo.root)
    assert code == 1
    assert "z.txt:1: PE402 error: z.txt contains the value of JWT_SECRET" in err
    assert_no_secret(out + err)


@pytest.mark.parametrize(
    "name", ["a\nb", 'q"uote.txt', "-n", "--help", "ünï cødé.txt", " lead space", "tab\there"]
)
def test_every_name_git_can_store_is_scanned(repo: Repo, run_cli, name: str):
    repo.stage(name, f"x = '{SECRET}'\n".encode())
    code, out, err = run_cli("env", "guard", cwd=repo.root)
    assert code == 1
    assert "PE402" in err
    assert_no_secret(out + err)


def test_names_with_control_characters_are_printed_escaped_on_one_line(repo: Repo, run_cli):
    repo.stage("a\nb", f"{SECRET}\n".encode())
    _, _, err = run_cli("env", "guard", cwd=repo.root)
    assert '"a\\nb":1: PE402 error:' in err


def test_a_secret_in_a_staged_file_name_is_refused_and_masked(repo: Repo, run_cli):
    repo.stage(f"notes-{SECRET}.txt")
    code, out, err = run_cli("env", "guard", cwd=repo.root)
    assert code == 1
    assert "PE402 error: the name of notes-Zx9Q…(24 chars).txt contains the value" in err
    assert_no_secret(out + err)


def test_a_secret_stored_as_utf16_is_found(repo: Repo, run_cli):
    repo.stage("win.txt", f"token={SECRET}\n".encode("utf-16"))
    code, _, err = run_cli("env", "guard", cwd=repo.root)
    assert code == 1 and "win.txt" in err


def test_a_file_name_that_is_not_utf8_is_refused_with_exit_2(repo: Repo, run_cli):
    repo.stage(b"latin1-\xe9.txt")
    code, _, err = run_cli("env", "guard", cwd=repo.root)
    assert code == 2
    assert '"latin1-\\xe9.txt":1: PE403 error:' in err
    assert "not UTF-8" in err


@pytest.mark.parametrize(
    ("env_bytes", "reason"),
    [
        (f"JWT_SECRET={SECRET}\n".encode("utf-16"), "UTF-16-LE text"),
        (b"JWT_SECRET=\xff\xfe" + SECRET.encode() + b"\n", "not valid UTF-8"),
        (f'JWT_SECRET="{SECRET}\n'.encode(), "not closed"),
        (f"JWT_SECRET={SECRET}\rOTHER=1\r".encode(), "carriage return"),
    ],
)
def test_an_env_file_it_cannot_decode_or_parse_refuses_with_exit_2(
    repo: Repo, run_cli, env_bytes: bytes, reason: str
):
    (repo.root / ".env").write_bytes(env_bytes)
    repo.stage("app.py")
    code, out, err = run_cli("env", "guard", cwd=repo.root)
    assert code == 2
    assert "cannot read env file" in err and reason in err
    assert_no_secret(out + err)


def test_an_unreadable_env_file_refuses_with_exit_2(repo: Repo, run_cli):
    (repo.root / ".env").unlink()
    os.mkfifo(repo.root / ".env")
    repo.stage("app.py")
    code, _, err = run_cli("env", "guard", cwd=repo.root)
    assert code == 2
    assert "FIFO" in err


def test_guard_and_check_word_a_missing_env_file_alike(repo: Repo, run_cli):
    repo.stage("app.py")
    guard = run_cli("env", "guard", "--env-file", "nope.env", cwd=repo.root)
    check = run_cli("env", "check", "--env-file", "nope.env", cwd=repo.root)
    assert guard[0] == check[0] == 2
    assert guard[2] == check[2] == "periph: error: env file nope.env does not exist\n"


def test_guard_and_check_word_a_directory_env_file_alike(repo: Repo, run_cli):
    (repo.root / "dir.env").mkdir()
    guard = run_cli("env", "guard", "--env-file", "dir.env", cwd=repo.root)
    check = run_cli("env", "check", "--env-file", "dir.env", cwd=repo.root)
    assert guard[0] == check[0] == 2
    assert guard[2] == check[2]


def test_a_secret_compose_reads_but_python_dotenv_does_not_is_still_found(repo: Repo, run_cli):
    # python-dotenv reads `JWT_SECRET:VALUE` as a key without '=', compose as JWT_SECRET.
    (repo.root / ".env").write_text(f"JWT_SECRET:{SECRET}\n")
    repo.stage("app.py", SECRET.encode())
    code, _, err = run_cli("env", "guard", cwd=repo.root)
    assert code == 1 and "PE402" in err


def test_a_value_under_a_malformed_key_counts_as_a_secret(repo: Repo, run_cli):
    (repo.root / ".env").write_text(f"1BAD-KEY={SECRET}\n")
    repo.stage("app.py", SECRET.encode())
    code, out, err = run_cli("env", "guard", cwd=repo.root)
    assert code == 1
    assert_no_secret(out + err)


def test_backups_and_init_temporary_files_are_real_env_files(repo: Repo, run_cli):
    repo.stage(".env.bak.20261127-101500")
    repo.stage("config/.periph-tmp-abc123")
    code, _, err = run_cli("env", "guard", cwd=repo.root)
    assert code == 1
    assert err.count("PE401") == 2


def test_a_clean_commit_passes(repo: Repo, run_cli):
    repo.stage("app.py", b"print('hello')\n")
    assert run_cli("env", "guard", cwd=repo.root)[0] == 0


def test_an_example_it_cannot_decode_refuses_with_exit_2(repo: Repo, run_cli):
    (repo.root / ".env.example").write_bytes(EXAMPLE.encode("utf-16"))
    repo.stage("app.py")
    code, _, err = run_cli("env", "guard", cwd=repo.root)
    assert code == 2
    assert "cannot read example file" in err and "UTF-16-LE" in err
