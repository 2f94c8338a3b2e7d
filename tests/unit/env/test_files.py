"""Env files every command refuses: non-regular files and files past the size bound."""

from __future__ import annotations

import os

import pytest

from periph_env.env.files import MAX_ENV_BYTES, wide_encoding
from tests.unit.env.conftest import Workspace


@pytest.mark.parametrize("action", ["check", "diff", "init"])
def test_a_fifo_env_file_is_refused_with_exit_2_and_never_opened(ws: Workspace, run_cli, action):
    os.mkfifo(ws.root / "pipe.env")
    code, out, err = run_cli("env", action, "--env-file", "pipe.env", cwd=ws.root)
    assert (code, out) == (2, "")
    assert "pipe.env: it is a FIFO (named pipe), not a regular file" in err


def test_a_device_is_refused(ws: Workspace, run_cli):
    code, _, err = run_cli("env", "check", "--env-file", "/dev/null", cwd=ws.root)
    assert code == 2
    assert "character device" in err


def test_a_fifo_example_is_refused(ws: Workspace, run_cli):
    ws.example.unlink()
    os.mkfifo(ws.example)
    code, _, err = run_cli("env", "check", cwd=ws.root)
    assert code == 2 and "example file .env.example: it is a FIFO" in err


def test_an_env_file_past_the_size_bound_is_refused_quickly(ws: Workspace, run_cli):
    ws.env.write_bytes(b"A=1\n" * (MAX_ENV_BYTES // 4 + 1))
    code, _, err = run_cli("env", "check", cwd=ws.root)
    assert code == 2
    assert f"periph reads env files up to {MAX_ENV_BYTES >> 10} KiB" in err


def test_a_dangling_dot_env_symlink_is_an_error_not_a_silent_example_only_check(ws, run_cli):
    ws.env.symlink_to("nowhere")
    code, _, err = run_cli("env", "check", cwd=ws.root)
    assert code == 2 and "env file .env does not exist" in err


@pytest.mark.parametrize(
    ("data", "name"),
    [
        ("A=1\n".encode("utf-16-le"), "UTF-16-LE"),
        ("A=1\n".encode("utf-16-be"), "UTF-16-BE"),
        ("A=1\n".encode("utf-32-le"), "UTF-32-LE"),
        ("A=1\n".encode("utf-32-be"), "UTF-32-BE"),
        (b"A=1\n", None),
        (b"A=\xc3\xa9\n", None),
    ],
)
def test_wide_encodings_are_recognised_without_a_bom(data: bytes, name: str | None):
    assert wide_encoding(data) == name


def test_check_names_the_encoding_of_a_utf16_env_file(ws: Workspace, run_cli):
    ws.env.write_bytes("DB_HOST=db\n".encode("utf-16"))
    code, out, _ = run_cli("env", "check", cwd=ws.root)
    assert code == 1
    assert ".env:1: PE008 error: file is UTF-16-LE text" in out
