"""``periph env check`` on the command line: exit codes, notices, formats, usage errors."""

from __future__ import annotations

import json

from tests.unit.env.conftest import GOOD_LOCAL, Workspace


def test_exit_0_when_clean(ws: Workspace, run_cli):
    ws.write_env(GOOD_LOCAL)
    code, out, _ = run_cli("env", "check", cwd=ws.root)
    assert code == 0
    assert out.endswith(".env: 0 errors, 0 warnings (target local)\n")


def test_exit_1_when_there_is_an_error(ws: Workspace, run_cli):
    ws.write_env(GOOD_LOCAL.replace("DB_PORT=5432", "DB_PORT=abc"))
    code, out, _ = run_cli("env", "check", cwd=ws.root)
    assert code == 1
    assert ".env:2: PE111 error: DB_PORT: 'abc' is not an integer\n" in out


def test_warnings_exit_0_and_fail_only_with_strict(ws: Workspace, run_cli):
    ws.write_env("EXTRA=1\n", extend_good=True)
    assert run_cli("env", "check", cwd=ws.root)[0] == 0
    assert run_cli("env", "check", "--strict", cwd=ws.root)[0] == 1


def test_without_env_the_example_is_checked_alone_and_the_output_says_so(ws, run_cli):
    code, out, _ = run_cli("env", "check", cwd=ws.root)
    assert code == 0
    assert "note: .env not found: checked .env.example alone" in out


def test_without_env_json_has_example_only_true(ws: Workspace, run_cli):
    _, out, _ = run_cli("env", "check", "--format", "json", cwd=ws.root)
    doc = json.loads(out)
    assert (doc["example_only"], doc["env_file"]) == (True, None)
    assert doc["notices"]


def test_a_missing_example_is_exit_2_with_a_clear_message_and_no_traceback(tmp_path, run_cli):
    code, out, err = run_cli("env", "check", cwd=tmp_path)
    assert code == 2
    assert err == "periph: error: example file .env.example does not exist\n"
    assert out == ""


def test_an_unreadable_example_is_exit_2(tmp_path, run_cli):
    (tmp_path / ".env.example").mkdir()
    code, _, err = run_cli("env", "check", cwd=tmp_path)
    assert code == 2
    assert err.startswith("periph: error: cannot read example file")


def test_a_named_env_file_that_does_not_exist_is_exit_2(ws: Workspace, run_cli):
    code, _, err = run_cli("env", "check", "--env-file", "nope.env", cwd=ws.root)
    assert code == 2
    assert "env file nope.env does not exist" in err


def test_an_unknown_flag_is_exit_2(ws: Workspace, run_cli):
    assert run_cli("env", "check", "--colour", cwd=ws.root)[0] == 2


def test_an_unknown_target_is_exit_2(ws: Workspace, run_cli):
    assert run_cli("env", "check", "--target", "staging", cwd=ws.root)[0] == 2


def test_env_without_an_action_prints_help_and_exits_2(ws: Workspace, run_cli):
    code, _, err = run_cli("env", cwd=ws.root)
    assert code == 2
    assert "check" in err


def test_json_findings_carry_the_documented_fields(ws: Workspace, run_cli):
    ws.write_env(GOOD_LOCAL.replace("DB_PORT=5432", "DB_PORT=abc"))
    _, out, _ = run_cli("env", "check", "--format", "json", cwd=ws.root)
    doc = json.loads(out)
    assert (doc["errors"], doc["warnings"]) == (1, 0)
    assert doc["findings"][0] == {
        "path": ".env",
        "line": 2,
        "code": "PE111",
        "severity": "error",
        "key": "DB_PORT",
        "message": "DB_PORT: 'abc' is not an integer",
    }


def test_target_flag_applies_target_rules(ws: Workspace, run_cli):
    ws.write_env(GOOD_LOCAL)
    code, out, _ = run_cli("env", "check", "--target", "prod", cwd=ws.root)
    assert code == 1
    assert "PE304" in out and "(target prod)" in out
