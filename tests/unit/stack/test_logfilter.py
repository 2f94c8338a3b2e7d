"""Log lines: engine framing, --since, --grep."""

from __future__ import annotations

import pytest

from periph_env.errors import UsageError
from periph_env.stack.logfilter import LineSplitter, compile_grep, keep, parse_since


def test_durations_count_back_from_now():
    assert parse_since("90s", 1000.0) == 910.0
    assert parse_since("1h30m", 10_000.0) == 10_000.0 - 5400
    assert parse_since(None, 5.0) is None


def test_absolute_times_are_accepted():
    assert parse_since("2026-11-27T06:00:00Z", 0) == parse_since("2026-11-27T06:00:00", 0)
    assert parse_since("1700000000", 0) == 1_700_000_000.0


def test_a_bad_since_is_a_usage_error():
    with pytest.raises(UsageError, match="--since"):
        parse_since("yesterday", 0)


def test_a_bad_regex_is_a_usage_error_naming_it():
    with pytest.raises(UsageError, match="invalid regex"):
        compile_grep("(")


def test_frames_that_split_lines_are_reassembled():
    splitter = LineSplitter("api", "c1")
    assert splitter.feed(b"2026-11-27T06:00:00.1Z hel") == []
    lines = splitter.feed(b"lo\n2026-11-27T06:00:00.2Z world\n")
    assert [line.text for line in lines] == ["hello", "world"]
    assert lines[0].service == "api" and lines[0].timestamp < lines[1].timestamp


def test_a_last_line_without_newline_is_flushed():
    splitter = LineSplitter("api", "c1")
    splitter.feed(b"2026-11-27T06:00:00.1Z tail")
    assert [line.text for line in splitter.flush()] == ["tail"]


def test_filters_combine_regex_and_since():
    line = LineSplitter("api", "c").parse("2026-11-27T06:00:00Z GET /api/health 200")
    assert keep(line, compile_grep(r"health"), None)
    assert not keep(line, compile_grep(r"^POST"), None)
    assert not keep(line, None, line.timestamp + 1)
