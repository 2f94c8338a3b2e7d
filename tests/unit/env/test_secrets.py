"""No secret value ever appears in any output: every format, every target, every command."""

from __future__ import annotations

import subprocess

import pytest

from periph_env.env.masking import mask
from tests.unit.env.conftest import Workspace

MARKER = "Mk7Qz3Lw8Kv2Jt5Nb9Xc4Rd"  # a random-looking secret nobody would type twice

LEAKY_ENV = f"""\
DB_HOST={MARKER}
DB_PORT={MARKER}
DB_PASSWORD={MARKER}
JWT_SECRET={MARKER}
BACKEND_URL=http://admin:{MARKER}@api.internal
HOT_RELOAD={MARKER}
VITE_ENVIRONMENT={MARKER}
VITE_LEAK={MARKER}
VITE_REF=${{JWT_SECRET}}
STRIPE_SECRET_KEY=sk_live_{MARKER}
EXTRA_SECRET={MARKER}
DB_PASSWORD={MARKER}2
BAD KEY={MARKER}
NOEQUALS{MARKER}
UNCLOSED="{MARKER}
AFTER="x" {MARKER}
TABBED=x\t# {MARKER}
MODIFIER=${{NOPE-{MARKER}}}
"""


def assert_no_marker(text: str) -> None:
    assert MARKER not in text
    assert MARKER[4:] not in text  # masks show at most a 4-character prefix


@pytest.mark.parametrize("fmt", ["text", "json", "sarif"])
@pytest.mark.parametrize("target", ["local", "demo", "prod"])
def test_a_marker_secret_never_appears_in_check_output(ws: Workspace, run_cli, fmt, target):
    ws.write_env(LEAKY_ENV)
    code, out, err = run_cli("env", "check", "--format", fmt, "--target", target, cwd=ws.root)
    assert code == 1
    assert_no_marker(out + err)


def test_findings_still_name_the_keys_involved(ws: Workspace):
    ws.write_env(LEAKY_ENV)
    keys = {f.key for f in ws.check("prod").findings}
    assert {"DB_PORT", "VITE_LEAK", "VITE_REF", "JWT_SECRET"} <= keys


def test_a_marker_secret_in_the_example_never_appears(ws: Workspace, run_cli):
    ws.example.write_text(f"# @port\nDB_PORT={MARKER}\n# @bool\nVITE_X={MARKER}\n")
    _, out, err = run_cli("env", "check", cwd=ws.root)
    assert "PE111" in out and "PE306" in out
    assert_no_marker(out + err)


def test_diff_and_init_never_print_values(ws: Workspace, run_cli):
    ws.write_env(LEAKY_ENV)
    for action in ("diff", "init"):
        _, out, err = run_cli("env", action, cwd=ws.root)
        assert_no_marker(out + err)


def test_the_guard_never_prints_the_secret_it_found(ws: Workspace, run_cli):
    ws.write_env(f"JWT_SECRET={MARKER}\n")
    git = ["git", "-C", str(ws.root)]
    subprocess.run([*git, "init", "-q"], check=True)
    (ws.root / "config.py").write_text(f'TOKEN = "{MARKER}"\n')
    subprocess.run([*git, "add", "config.py"], check=True)
    code, out, err = run_cli("env", "guard", cwd=ws.root)
    assert code == 1
    assert "config.py:1: PE402 error: config.py contains the value of JWT_SECRET" in err
    assert_no_marker(out + err)


def test_mask_keeps_a_short_prefix_only_for_long_values():
    assert mask("sk_test_" + "x" * 24) == "sk_t…(32 chars)"
    assert mask("hunter2") == "…(7 chars)"


def test_diff_key_lists_pass_through_the_same_scrub(ws: Workspace, run_cli):
    ws.write_env(f"sk_live_{MARKER}=1\n{MARKER}=2\n")
    for fmt in ("text", "json"):
        code, out, err = run_cli("env", "diff", "--format", fmt, cwd=ws.root)
        assert code == 1
        assert_no_marker(out + err)


def test_file_names_holding_a_credential_are_masked_in_check_output(ws: Workspace, run_cli):
    name = f"sk_live_{MARKER}.env"
    (ws.root / name).write_text("DB_PORT=abc\n")
    for fmt in ("text", "json", "sarif"):
        _, out, err = run_cli("env", "check", "--env-file", name, "--format", fmt, cwd=ws.root)
        assert "PE111" in out
        assert_no_marker(out + err)


def test_a_value_under_a_key_named_like_a_secret_is_masked_when_in_doubt(ws: Workspace):
    ws.example.write_text("# @enum=a|b\nMY_API_TOKEN=a\n")
    ws.write_env("MY_API_TOKEN=hunter2hunter2\n")
    finding = ws.finding("PE115")
    assert "hunter2" not in finding.message and "(14 chars)" in finding.message


@pytest.mark.parametrize(
    "line",
    [
        f'BROKEN="{MARKER}',
        f"{MARKER}",
        f"1{MARKER}={MARKER}",
        f"export {MARKER}",
        f"'{MARKER}'={MARKER} junk",
        f"A={MARKER}\rB=1",
        f"A={MARKER}" + " " * 200 + "x",
    ],
)
def test_lines_that_cannot_be_parsed_never_echo_a_secret(ws: Workspace, run_cli, line: str):
    ws.write_env(f"JWT_SECRET={MARKER}\n{line}\n")
    for fmt in ("text", "json", "sarif"):
        _, out, err = run_cli("env", "check", "--format", fmt, cwd=ws.root)
        assert_no_marker(out + err)


def test_init_error_messages_never_echo_a_secret(ws: Workspace, run_cli):
    ws.env.write_bytes(f'JWT_SECRET={MARKER}\r"{MARKER}"=1\r'.encode())
    code, out, err = run_cli("env", "init", cwd=ws.root)
    assert code == 2
    assert_no_marker(out + err)


def test_paths_the_user_named_stay_readable_in_messages(tmp_path, run_cli):
    project = tmp_path / "a1b2c3d4e5f6g7h8i9j0kXyZ-project"
    project.mkdir()
    ws = Workspace(project)
    ws.write_env("DB_PORT=abc\n")
    _, out, _ = run_cli(
        "env", "check", "--env-file", str(ws.env), "--example", str(ws.example), cwd=project
    )
    assert f"DB_HOST is required but {ws.env} does not set it" in out
