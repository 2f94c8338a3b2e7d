"""Lines python-dotenv and docker compose read differently (PE201-PE206), and expansion."""

from __future__ import annotations

import io

import pytest
from dotenv import dotenv_values

from periph_env.env.parser import parse_bytes
from periph_env.env.readers import divergences, expand


def warnings_for(text: str) -> list[str]:
    parsed = parse_bytes(text.encode(), ".env")
    return [f.code for e in parsed.entries for f in divergences(e, ".env")]


@pytest.mark.parametrize(
    ("line", "code"),
    [
        ("A=VAL\t# c", "PE201"),
        ("A= # looks like a comment", "PE201"),
        ("A='${OTHER}'", "PE202"),
        ("A=$OTHER", "PE203"),
        ('A="prefix $OTHER"', "PE203"),
        ("A=${UNSET-dflt}", "PE204"),
        ("A=${UNSET:?msg}", "PE204"),
        ("A=${UNSET+alt}", "PE204"),
        ("A=$$HOME", "PE205"),
        ('A="\\$HOME"', "PE205"),
    ],
)
def test_each_guide_divergence_is_a_warning(line: str, code: str):
    assert warnings_for(line + "\n") == [code]


@pytest.mark.parametrize(
    "line",
    ["A=v # c", "A=", 'A="${OTHER}"', "A=${OTHER}", "A=${OTHER:-fallback}", "A='$literal'"],
)
def test_lines_both_readers_agree_on_have_no_warning(line: str):
    assert warnings_for(line + "\n") == []


def test_a_reference_to_an_undefined_key_is_pe206(ws):
    ws.write_env("EXTRA=${NOWHERE}\n", extend_good=True)
    assert ws.finding("PE206").key == "EXTRA"


def test_pe206_states_the_real_fallback_value(ws):
    ws.write_env("EXTRA=${NOWHERE:-fallback-host}\nPLAIN=${NOWHERE}\n", extend_good=True)
    found = {f.key: f.message for f in ws.check().findings if f.code == "PE206"}
    assert found["EXTRA"].endswith("else the default 'fallback-host'")
    assert found["PLAIN"].endswith("else an empty string")


def test_pe206_masks_a_fallback_that_looks_secret(ws):
    ws.write_env("EXTRA=${NOWHERE:-Mk7Qz3Lw8Kv2Jt5Nb9Xc4Rd}\n", extend_good=True)
    message = ws.finding("PE206").message
    assert "Mk7Qz3Lw8Kv2Jt5Nb9Xc4Rd" not in message and "chars)" in message


@pytest.mark.parametrize(
    "line",
    [
        "A:1",  # compose's YAML style: compose sets A, python-dotenv does not
        'A="x"B=1',  # text after a quote: compose reads B
    ],
)
def test_lines_the_readers_read_differently_are_pe207(ws, line: str):
    ws.write_env(line + "\n", extend_good=True)
    codes = [f.code for f in ws.check().findings if f.line == 8]
    assert "PE207" in codes or {"PE001", "PE004"} & set(codes)


@pytest.mark.parametrize("line", ["DB_PORT: 5432", "DB_PORT:5432"])
def test_compose_reading_a_key_python_dotenv_does_not_is_pe207(ws, line: str):
    ws.write_env(line + "\n", extend_good=True)
    finding = ws.finding("PE207")
    assert (finding.line, finding.key) == (8, "DB_PORT")
    assert "compose reads DB_PORT from this line, python-dotenv does not" in finding.message


def test_a_value_compose_reads_differently_is_pe207():
    assert warnings_for('A="tab\\tthen \\x41"\n') in ([], ["PE207"])
    assert warnings_for("A='it\\'s'\n") == []


def test_compose_refusing_the_file_is_pe207_where_it_stops(ws):
    ws.write_env("'QUOTED'=1\n", extend_good=True)
    found = [f for f in ws.check().findings if f.code == "PE207"]
    assert [f.line for f in found] == [8]
    assert "compose refuses the whole file" in found[0].message


def test_a_forward_reference_is_pe206_because_both_readers_go_top_down(ws):
    ws.write_env("A=${B}\nB=1\n", extend_good=True)
    assert ws.finding("PE206").key == "A"


def test_expansion_matches_python_dotenv():
    text = (
        "HOST=db\nPORT=5432\nURL=postgres://${HOST}:${PORT}/app\n"
        "FALLBACK=${MISSING:-dflt}\nSQ='${HOST}'\nDQ=\"${URL}/x\"\n"
    )
    entries = parse_bytes(text.encode(), ".env").entries
    values, _ = expand(entries)
    theirs = dotenv_values(stream=io.StringIO(text), interpolate=True)
    assert dict(zip([e.key for e in entries], values, strict=True)) == theirs


def test_chained_expansion_stays_bounded_and_never_raises():
    lines = ["A0=xxxxxxxxxxxxxxxx"] + [f"A{i}=${{A{i - 1}}}${{A{i - 1}}}" for i in range(1, 40)]
    entries = parse_bytes("\n".join(lines).encode(), ".env").entries
    values, missing = expand(entries)
    assert sum(len(v) for v in values) < 2 * (1 << 22)
    assert "" in missing[-1]  # the budget ran out: the value is left unjudged
