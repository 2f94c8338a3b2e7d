"""``periph env diff`` (key names both ways) and ``periph env init`` (create or complete)."""

from __future__ import annotations

import json
import stat

from tests.unit.env.conftest import GOOD_LOCAL, Workspace


def test_diff_lists_missing_and_extra_keys_and_exits_1(ws: Workspace, run_cli):
    ws.write_env("DB_HOST=x\nSURPLUS=1\n")
    code, out, _ = run_cli("env", "diff", "--format", "json", cwd=ws.root)
    doc = json.loads(out)
    assert code == 1
    assert "DB_PORT" in doc["missing"] and "DB_HOST" not in doc["missing"]
    assert doc["extra"] == ["SURPLUS"]


def test_diff_text_marks_missing_with_minus_and_extra_with_plus(ws: Workspace, run_cli):
    ws.write_env("DB_HOST=x\nSURPLUS=1\n")
    _, out, _ = run_cli("env", "diff", cwd=ws.root)
    assert "- DB_PORT  (in .env.example, missing from .env)\n" in out
    assert "+ SURPLUS  (in .env, not in .env.example)\n" in out


def test_diff_exits_0_when_the_keys_match(ws: Workspace, run_cli):
    keys = [
        line.split("=")[0]
        for line in ws.example.read_text().splitlines()
        if "=" in line and not line.startswith("#")
    ]
    ws.write_env("".join(f"{k}=v\n" for k in keys))
    code, out, _ = run_cli("env", "diff", cwd=ws.root)
    assert (code, out) == (0, ".env: same keys as .env.example\n")


def test_diff_without_dot_env_is_a_usage_error_not_a_silent_pass(ws: Workspace, run_cli):
    code, _, err = run_cli("env", "diff", cwd=ws.root)
    assert code == 2
    assert "env file .env does not exist" in err


def test_init_creates_dot_env_from_the_example_without_annotations(ws: Workspace, run_cli):
    code, out, _ = run_cli("env", "init", cwd=ws.root)
    text = ws.env.read_text()
    assert code == 0 and out.startswith("created .env")
    assert "DB_HOST=localhost\n" in text and "# @" not in text
    assert stat.S_IMODE(ws.env.stat().st_mode) == 0o600


def test_init_appends_missing_keys_and_never_changes_existing_values(ws: Workspace, run_cli):
    original = "DB_HOST=my-own-host\nDB_PASSWORD=mine\nCUSTOM=kept\n"
    ws.write_env(original)
    code, out, _ = run_cli("env", "init", cwd=ws.root)
    text = ws.env.read_text()
    assert code == 0 and "appended" in out
    assert text.startswith(original)
    assert "DB_HOST=localhost" not in text
    assert "DB_PORT=5432\n" in text and "GOOGLE_CLIENT_ID=<your-google-oauth-client-id>\n" in text


def test_init_keeps_a_backup_of_the_file_it_changed(ws: Workspace, run_cli):
    ws.write_env("DB_HOST=mine\n")
    run_cli("env", "init", cwd=ws.root)
    backups = list(ws.root.glob(".env.bak.*"))
    assert [b.read_text() for b in backups] == ["DB_HOST=mine\n"]


def test_init_on_a_complete_file_changes_nothing(ws: Workspace, run_cli):
    run_cli("env", "init", cwd=ws.root)
    before = ws.env.read_bytes()
    code, out, _ = run_cli("env", "init", cwd=ws.root)
    assert (code, ws.env.read_bytes()) == (0, before)
    assert "nothing to do" in out
    assert list(ws.root.glob(".env.bak.*")) == []


def test_init_completes_a_file_without_a_final_newline(ws: Workspace, run_cli):
    ws.env.write_text("DB_HOST=mine")
    run_cli("env", "init", cwd=ws.root)
    assert ws.env.read_text().startswith("DB_HOST=mine\n")
    assert ws.check().findings == [] or "PE104" not in [f.code for f in ws.check().findings]


def test_an_initialised_file_checks_clean_once_required_values_are_real(ws: Workspace, run_cli):
    ws.write_env(GOOD_LOCAL)
    run_cli("env", "init", cwd=ws.root)
    assert ws.codes() == []
