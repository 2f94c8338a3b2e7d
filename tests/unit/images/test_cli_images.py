"""`periph build|push|images` usage errors exit 2 before touching any engine."""

from __future__ import annotations

import pytest

from periph_env.cli import main


@pytest.fixture
def project(tmp_path, monkeypatch):
    (tmp_path / "compose").mkdir()
    (tmp_path / "compose" / "compose.yaml").write_text("services: {}\n")
    (tmp_path / ".env.example").write_text("A=1\n")
    (tmp_path / "periph.toml").write_text('[images]\nregistry = "r.example"\nservices = ["a"]\n')
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PERIPH_PROJECT", raising=False)
    return tmp_path


def test_an_unknown_service_is_a_usage_error(project, capsys):
    assert main(["build", "nope"]) == 2
    assert "unknown service(s): nope" in capsys.readouterr().err


def test_a_non_positive_job_count_is_a_usage_error(project, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["build", "--jobs", "0"])
    assert exc.value.code == 2


def test_an_unknown_pin_environment_is_a_usage_error(project, capsys):
    (project / "periph.toml").write_text(
        '[images]\nregistry = "r.example"\nservices = ["a"]\n[environments.demo]\ntag = "demo"\n'
    )
    assert main(["build", "--pin", "staging", "--branch", "x"]) == 2
    assert "unknown environment 'staging'" in capsys.readouterr().err


def test_build_help_lists_the_documented_flags(capsys):
    with pytest.raises(SystemExit):
        main(["build", "--help"])
    out = capsys.readouterr().out
    for flag in ("--branch", "--push", "--pin", "--allow-dirty", "--format"):
        assert flag in out
