"""Contract rules (PE101-PE116): what .env must hold according to the annotated example."""

from __future__ import annotations

import pytest

from tests.unit.env.conftest import GOOD_LOCAL, Workspace


def test_the_good_file_is_clean(ws: Workspace):
    ws.write_env(GOOD_LOCAL)
    assert ws.codes() == []


def test_a_missing_required_key_is_pe101_pointing_at_the_example_line(ws: Workspace):
    ws.write_env(GOOD_LOCAL.replace("DB_PORT=5432\n", ""))
    finding = ws.finding("PE101")
    assert (finding.path, finding.line, finding.key) == (str(ws.example), 4, "DB_PORT")
    assert "DB_PORT is required" in finding.message


def test_a_key_not_in_the_example_is_pe102_with_did_you_mean(ws: Workspace):
    ws.write_env("DB_PROT=1\n", extend_good=True)
    finding = ws.finding("PE102")
    assert finding.severity == "warning"
    assert "did you mean DB_PORT?" in finding.message


def test_an_unknown_key_far_from_every_name_gets_no_suggestion(ws: Workspace):
    ws.write_env("COMPLETELY_UNRELATED=1\n", extend_good=True)
    assert "did you mean" not in ws.finding("PE102").message


def test_a_required_key_left_at_a_placeholder_is_a_pe103_error(ws: Workspace):
    ws.write_env(
        GOOD_LOCAL.replace("JWT_SECRET=not-a-placeholder-but-the-default", "JWT_SECRET=changeme")
    )
    finding = ws.finding("PE103")
    assert (finding.severity, finding.key) == ("error", "JWT_SECRET")


@pytest.mark.parametrize(
    "placeholder", ["<fill-me>", "changemeinprod123!", "CHANGE_ME", "your-key"]
)
def test_placeholder_shapes_are_recognised(ws: Workspace, placeholder: str):
    ws.write_env(GOOD_LOCAL.replace("DB_PASSWORD=devpassword", f"DB_PASSWORD={placeholder}"))
    assert ws.finding("PE103").key == "DB_PASSWORD"


def test_an_example_com_address_in_an_address_key_is_a_placeholder(ws: Workspace):
    ws.write_env("EMAIL_FROM_ADDRESS=bot@mail.example.com\n", extend_good=True)
    assert ws.finding("PE103", "demo").key == "EMAIL_FROM_ADDRESS"


def test_optional_placeholders_are_silent_on_local_and_warnings_on_deployed_targets(ws: Workspace):
    ws.write_env("STRIPE_SECRET_KEY=<your-stripe-secret-key>\n", extend_good=True)
    assert "PE103" not in ws.codes("local")
    assert ws.finding("PE103", "demo").severity == "warning"


def test_a_duplicate_key_is_pe104_naming_both_lines_and_the_winner(ws: Workspace):
    ws.write_env("DB_HOST=other\n", extend_good=True)
    finding = ws.finding("PE104")
    assert finding.line == 8
    assert "line 1 and again on line 8" in finding.message
    assert "python-dotenv and compose both use line 8" in finding.message


def test_a_required_key_set_empty_is_pe105(ws: Workspace):
    ws.write_env(GOOD_LOCAL.replace("DB_HOST=localhost", "DB_HOST="))
    assert ws.finding("PE105").key == "DB_HOST"


@pytest.mark.parametrize(
    ("line", "code"),
    [
        ("WORKERS=four", "PE110"),
        ("DB_PORT=http", "PE111"),
        ("DB_PORT=0", "PE111"),
        ("DB_PORT=65536", "PE111"),
        ("DB_PORT=" + "9" * 5000, "PE111"),
        ("BACKEND_URL=localhost:5058", "PE112"),
        ("BACKEND_URL=http://host:99999/", "PE112"),
        ("EMAIL_FROM_ADDRESS=not-an-address", "PE113"),
        ("HOT_RELOAD=maybe", "PE114"),
        ("VITE_ENVIRONMENT=dev", "PE115"),
        ("DB_HOST=bad host!", "PE116"),
    ],
)
def test_type_errors_have_one_code_per_type(ws: Workspace, line: str, code: str):
    ws.write_env(line + "\n", extend_good=True)
    assert ws.finding(code).key == line.split("=")[0]


@pytest.mark.parametrize(
    "line",
    [
        "DB_PORT=1",
        "DB_PORT=65535",
        "BACKEND_URL=https://api.peripheral.internal/v1",
        "BACKEND_URL=http://[::1]:5058",
        "EMAIL_FROM_ADDRESS=ops@peripheral.io",
        'EMAIL_FROM_ADDRESS="Peripheral Ops <ops@peripheral.io>"',
        "HOT_RELOAD=off",
        "DB_HOST=10.0.0.7",
        "DB_HOST=db",
        "WORKERS=-1",
    ],
)
def test_valid_typed_values_pass(ws: Workspace, line: str):
    ws.write_env(line + "\n", extend_good=True)
    assert [c for c in ws.codes() if c.startswith("PE11")] == []


def test_a_group_turns_on_when_any_member_holds_a_real_value(ws: Workspace):
    ws.write_env("GOOGLE_CLIENT_ID=1234.apps.googleusercontent.com\n", extend_good=True)
    finding = ws.finding("PE101")
    assert finding.key == "GOOGLE_CLIENT_SECRET"
    assert "group google is on since GOOGLE_CLIENT_ID is set" in finding.message


def test_a_group_stays_off_while_its_members_hold_placeholders(ws: Workspace):
    ws.write_env("GOOGLE_CLIENT_ID=<your-google-oauth-client-id>\n", extend_good=True)
    assert ws.codes() == []


def test_a_target_can_require_an_optional_key(ws: Workspace):
    ws.write_env(GOOD_LOCAL)
    assert "POLYGON_API_KEY" not in [f.key for f in ws.check("local").findings]
    assert "POLYGON_API_KEY" in [f.key for f in ws.check("prod").findings if f.code == "PE101"]


def test_type_checks_use_the_expanded_value(ws: Workspace):
    ws.write_env("PORT_BASE=5432\nDB_PORT=${PORT_BASE}\n", extend_good=True)
    assert [c for c in ws.codes() if c.startswith("PE11")] == []
