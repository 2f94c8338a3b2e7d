"""Syntax rules (PE001-PE007): each bad line is reported with its line, the rest still read."""

from __future__ import annotations

import io
import re

import pytest
from dotenv import dotenv_values

from periph_env.env.parser import parse_bytes
from tests.examples import examples


def parse(text: str | bytes):
    data = text.encode() if isinstance(text, str) else text
    return parse_bytes(data, ".env")


def codes_at(text: str | bytes) -> list[tuple[str, int]]:
    return [(f.code, f.line) for f in parse(text).findings]


def keys(text: str | bytes) -> list[str]:
    return [e.key for e in parse(text).entries]


def test_a_key_without_equals_is_pe001_and_the_next_line_still_parses():
    assert codes_at("A=1\nLONELY\nB=2\n") == [("PE001", 2)]
    assert keys("A=1\nLONELY\nB=2\n") == ["A", "B"]


def test_an_unterminated_quote_is_pe002_on_its_own_line():
    text = 'A=1\nB="unterminated\nC=3\n'
    assert codes_at(text) == [("PE002", 2)]
    assert keys(text) == ["A", "C"]


def test_a_quote_closed_only_on_a_later_line_swallows_those_lines_as_python_dotenv_does():
    text = 'A=1\nB="unterminated\nC=3\nD="ok"\nE=5\n'
    assert codes_at(text) == [("PE002", 2)]
    assert keys(text) == ["A", "E"]
    assert set(keys(text)) == set(dotenv_values(stream=io.StringIO(text)))


def test_an_unterminated_quote_at_the_end_of_the_file_is_pe002():
    assert codes_at("A='open") == [("PE002", 1)]


def test_a_space_in_a_key_is_pe003():
    assert codes_at("MY KEY=1\nB=2\n") == [("PE003", 1)]
    assert keys("MY KEY=1\nB=2\n") == ["B"]


def test_a_key_starting_with_a_digit_is_pe003():
    assert codes_at("1KEY=x\n") == [("PE003", 1)]


def test_an_empty_key_is_pe003():
    assert codes_at("=value\n") == [("PE003", 1)]


def test_text_after_a_closing_quote_is_pe004():
    assert codes_at('A="x" trailing\nB=2\n') == [("PE004", 1)]
    assert keys('A="x" trailing\nB=2\n') == ["B"]


def test_invalid_utf8_is_pe005_on_its_line_only():
    assert codes_at(b"A=1\nB=\xff\xfe\nC=3\n") == [("PE005", 2)]
    assert keys(b"A=1\nB=\xff\xfe\nC=3\n") == ["A", "C"]


def test_a_nul_byte_is_pe005():
    assert codes_at(b"A=1\0\nB=2\n") == [("PE005", 1)]


def test_a_bom_is_a_pe006_warning_and_is_stripped():
    parsed = parse(b"\xef\xbb\xbfA=1\n")
    assert [(f.code, f.severity) for f in parsed.findings] == [("PE006", "warning")]
    assert [e.key for e in parsed.entries] == ["A"]


def test_crlf_is_one_pe007_warning_and_values_lose_the_cr():
    parsed = parse(b"A=1\r\nB='two'\r\n")
    assert [(f.code, f.line) for f in parsed.findings] == [("PE007", 1)]
    assert [e.value for e in parsed.entries] == ["1", "two"]


def test_multiline_double_quoted_values_keep_later_line_numbers_right():
    parsed = parse('A="line1\nline2"\nB=2\n')
    assert [(e.key, e.line, e.end_line) for e in parsed.entries] == [("A", 1, 2), ("B", 3, 3)]
    assert parsed.entries[0].value == "line1\nline2"


def test_export_prefix_and_spaces_around_equals_are_accepted():
    parsed = parse("export A = 1\n  B= two  # comment\n")
    assert [(e.key, e.value) for e in parsed.entries] == [("A", "1"), ("B", "two")]
    assert parsed.findings == []


def test_a_utf16_or_utf32_file_is_one_pe008_naming_the_encoding():
    for encoding, name in [
        ("utf-16", "UTF-16-LE"),
        ("utf-16-le", "UTF-16-LE"),
        ("utf-16-be", "UTF-16-BE"),
        ("utf-32", "UTF-32-LE"),
        ("utf-32-be", "UTF-32-BE"),
    ]:
        parsed = parse("A=1\nB=2\n".encode(encoding))
        assert [(f.code, f.line) for f in parsed.findings] == [("PE008", 1)], encoding
        assert name in parsed.findings[0].message
        assert parsed.entries == []


def test_a_bare_cr_is_pe009_and_the_line_is_not_read():
    parsed = parse(b"A=1\rB=2\nC=3\n")
    assert [(f.code, f.line) for f in parsed.findings] == [("PE009", 1)]
    assert [e.key for e in parsed.entries] == ["C"]


def test_a_long_whitespace_run_is_pe010_and_the_rest_still_parses():
    parsed = parse("A=x" + " " * 5000 + "y\nB=2\n")
    assert [(f.code, f.line) for f in parsed.findings] == [("PE010", 1)]
    assert [e.key for e in parsed.entries] == ["B"]


def test_comment_block_above_a_key_is_attached_to_it():
    parsed = parse("# about A\n# @port\nA=1\n\n# stray\n\nB=2\n")
    assert parsed.entries[0].comments == ["# about A", "# @port"]
    assert parsed.entries[1].comments == []


# Lines both readers agree on: our reading must be python-dotenv's.
AGREED = [
    "A=plain",
    "A=v # comment",
    "A=",
    'A="double quoted"',
    "A='single quoted'",
    'A="esc \\" quote \\n newline"',
    "A='it\\'s'",
    "export A=exported",
    "A = spaced",
    'A="multi\nline"',
    "A=#not-a-comment",
    "A=a=b=c",
    "A=v\t# tab comment",
    "'A'=quoted key",
    'A="x"  # after',
    "\fA=form feed",
    "\u00a0A=nbsp",
    'A="\\u00e9 \\x41 \\0"',
    "A='\\n stays'",
    "A=trailing   ",
]


@pytest.mark.parametrize("line", AGREED)
def test_values_match_python_dotenv(line: str):
    ours = {e.key: e.value for e in parse(line + "\n").entries}
    theirs = dotenv_values(stream=io.StringIO(line + "\n"), interpolate=False)
    assert ours == theirs


def test_values_match_python_dotenv_on_arbitrary_text():
    """Any text: our entries are exactly python-dotenv's bindings with portable keys."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    pieces = st.sampled_from(
        ["A", "B_1", "=", "'", '"', "\\", " ", "\t", "#", "\n", "\r\n", "export ", "x", "${A}"]
    )

    @settings(max_examples=examples(200), deadline=None)
    @given(st.lists(pieces, max_size=30).map("".join))
    def agree(text: str) -> None:
        parsed = parse(text)
        if any(f.code in ("PE009", "PE010") for f in parsed.findings):
            return
        ours: dict[str, str] = {}
        for entry in parsed.entries:
            ours[entry.key] = entry.value
        theirs = dotenv_values(stream=io.StringIO(text), interpolate=False)
        portable = {k: v for k, v in theirs.items() if v is not None and re.match(KEY, k)}
        # A bare `KEY` line after `KEY=v` unbinds it for python-dotenv (None); periph keeps
        # the assignment and reports the bare line on its own, so such keys are compared
        # by neither side.
        unbound = {k for k, v in theirs.items() if v is None}
        assert {k: v for k, v in ours.items() if k not in unbound} == portable

    agree()


KEY = r"[A-Za-z_][A-Za-z0-9_]*\Z"
