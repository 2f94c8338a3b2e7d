"""The ``periph`` front end: help, usage errors and lazy command loading."""

from __future__ import annotations

import subprocess
import sys

import pytest

from periph_env.cli import main


def test_bare_periph_lists_every_command(capsys):
    assert main([]) == 0
    out = capsys.readouterr().out
    assert "env" in out and "testenv" in out


def test_unknown_command_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["no-such-command"])
    assert exc.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_env_command_does_not_load_other_commands(tmp_path):
    probe = (
        "import io, sys, contextlib\n"
        "from periph_env.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    main(['env', 'diff'])\n"
        "print(sorted(m for m in sys.modules if m.startswith('periph_env.testenv')))\n"
    )
    (tmp_path / ".env.example").write_text("# @type string\nA=1\n")
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"
