"""The Logs area's batch paths (one scan per batch) print exactly what the line-by-line
rules print: the same text, the same lines hidden and counted."""

from __future__ import annotations

import re

from periph_env.stack.logfilter import may_hold_health_check
from periph_env.stack.models import LogLine
from periph_env.tui import logfilter
from periph_env.tui.logfilter import LineFilter

BATCH = [
    LogLine("backend", 1.0, "listening on :8080"),
    LogLine("db", 2.0, "checkpoint complete"),
    LogLine("backend", 3.0, 'GET /api/health HTTP/1.1" 200'),
    LogLine("worker", 4.0, "job 7 done"),
    LogLine("backend", 5.0, 'GET /api/orders HTTP/1.1" 200'),
]
QUIET = [line for line in BATCH if "health" not in line.text]


def one_by_one(lines, line_filter, timestamps=False, width=7):
    return [logfilter.render_line(ln, timestamps, width) for ln in lines if line_filter.accepts(ln)]


def test_a_batch_without_health_checks_prints_every_line_as_render_line_does():
    assert logfilter.render(QUIET, LineFilter(), False, 7) == one_by_one(QUIET, LineFilter())


def test_a_batch_with_a_health_check_hides_it_as_render_line_does():
    shown = logfilter.render(BATCH, LineFilter(), False, 7)
    assert shown == one_by_one(BATCH, LineFilter())
    assert not any("/api/health" in line for line in shown)


def test_one_service_of_a_batch_prints_only_that_service():
    only_backend = LineFilter(service="backend")
    shown = logfilter.render(QUIET, only_backend, False, 7)
    assert shown == one_by_one(QUIET, only_backend)
    assert shown == ["backend | listening on :8080", 'backend | GET /api/orders HTTP/1.1" 200']


def test_a_regex_timestamps_or_shown_health_checks_print_as_render_line_does():
    for line_filter, timestamps in [
        (LineFilter(pattern=re.compile("job")), False),
        (LineFilter(), True),
        (LineFilter(show_health=True), False),
    ]:
        shown = logfilter.render(iter(BATCH), line_filter, timestamps, 7)
        assert shown == one_by_one(BATCH, line_filter, timestamps)


def test_health_lines_counts_the_same_with_and_without_health_checks_in_the_batch():
    assert logfilter.health_lines(QUIET) == 0
    assert logfilter.health_lines(iter(BATCH)) == 1
    assert logfilter.health_lines([]) == 0


def test_a_batch_may_hold_a_health_check_only_when_a_hint_or_a_path_is_in_it():
    assert not may_hold_health_check("\n".join(line.text for line in QUIET))
    assert may_hold_health_check("a\nGET /livez 200\nb")
    assert may_hold_health_check("HEAD /ping", frozenset({"/ping"}))
