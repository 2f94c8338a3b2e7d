"""The error-rate watch's arithmetic over counter samples (no cluster)."""

from __future__ import annotations

from periph_env.deploy.verify_rate import (
    RateTracker,
    RestartTracker,
    Totals,
    counter_increase,
    describe,
    judge,
    parse_counter,
)

EXPOSITION = """\
# HELP backend_http_requests_total HTTP requests by route pattern, method and status code.
# TYPE backend_http_requests_total counter
backend_http_requests_total{method="GET",route="GET /api/health",status="200"} 40
backend_http_requests_total{method="GET",route="GET /api/strategies",status="500"} 3
backend_http_requests_total{method="POST",route="POST /api/x",status="503"} 1.5e1
backend_http_requests_totally_different 99
backend_http_request_duration_seconds_count{method="GET",route="GET /api/health"} 40
backend_jobs_enqueued_total 7
"""


def series(**counts: float) -> dict:
    """{status: count} as the parsed series of one pod (one route per status)."""
    return {(("route", "GET /x"), ("status", s)): v for s, v in counts.items()}


def totals_after(*rounds: dict) -> Totals:
    tracker = RateTracker()
    for scrape in rounds:
        tracker.observe(scrape)
    return tracker.totals


def test_parse_counter_reads_only_the_named_metric_with_its_labels():
    parsed = parse_counter(EXPOSITION, "backend_http_requests_total")
    assert len(parsed) == 3
    key = (("method", "GET"), ("route", "GET /api/strategies"), ("status", "500"))
    assert parsed[key] == 3
    assert parsed[(("method", "POST"), ("route", "POST /api/x"), ("status", "503"))] == 15


def test_parse_counter_of_a_metric_not_exported_is_empty():
    assert parse_counter(EXPOSITION, "frontend_http_requests_total") == {}


def test_first_scrape_is_the_baseline_not_counted():
    assert totals_after({"a": series(**{"200": 1000, "500": 900})}).requests == 0


def test_increases_after_the_baseline_are_counted_per_status():
    totals = totals_after({"a": series(**{"200": 100})}, {"a": series(**{"200": 190, "500": 10})})
    assert (totals.requests, totals.errors) == (100, 10)
    assert totals.ratio == 0.1


def test_a_counter_reset_counts_the_new_value_not_a_negative_increase():
    totals = totals_after(
        {"a": series(**{"200": 500, "500": 5})},
        {"a": series(**{"200": 20, "500": 30})},  # the container restarted
    )
    assert (totals.requests, totals.errors) == (50, 30)


def test_a_pod_appearing_after_the_baseline_counts_from_zero():
    totals = totals_after(
        {"a": series(**{"200": 10})},
        {"a": series(**{"200": 10}), "b": series(**{"200": 6, "500": 4})},
    )
    assert (totals.requests, totals.errors) == (10, 4)


def test_a_pod_that_disappears_keeps_what_it_served():
    totals = totals_after(
        {"a": series(**{"200": 0}), "b": series(**{"500": 0})},
        {"a": series(**{"200": 5}), "b": series(**{"500": 5})},
        {"a": series(**{"200": 10})},  # b is gone
    )
    assert (totals.requests, totals.errors) == (15, 5)


def test_a_series_first_seen_later_started_at_zero():
    # Go's CounterVec shows a status only once it has happened.
    totals = totals_after({"a": series(**{"200": 7})}, {"a": series(**{"200": 7, "502": 2})})
    assert (totals.requests, totals.errors) == (2, 2)


def test_no_traffic_gives_no_ratio_and_no_failure():
    totals = totals_after({"a": {}}, {"a": {}})
    assert totals.ratio is None
    assert describe(totals) == "no traffic"
    assert not judge(totals, 0, max_ratio=0.05, min_requests=20, max_restarts=0).failed


def test_counter_increase_handles_new_reset_and_growth():
    assert counter_increase(None, 4) == 4
    assert counter_increase(10, 3) == 3
    assert counter_increase(10, 15) == 5


def test_ratio_above_threshold_fails_with_the_numbers():
    verdict = judge(Totals(100, 20), 0, max_ratio=0.05, min_requests=20, max_restarts=0)
    assert verdict.failed
    assert "20.0%" in verdict.reason and "100 requests" in verdict.reason


def test_ratio_at_threshold_passes():
    assert not judge(Totals(100, 5), 0, max_ratio=0.05, min_requests=20, max_restarts=0).failed


def test_too_few_requests_are_not_judged_by_ratio():
    assert not judge(Totals(3, 1), 0, max_ratio=0.05, min_requests=20, max_restarts=0).failed


def test_restarts_above_the_allowance_fail_even_without_traffic():
    verdict = judge(Totals(), 2, max_ratio=0.05, min_requests=20, max_restarts=1)
    assert verdict.failed and "2 container restart(s)" in verdict.reason


def test_restarts_are_counted_since_the_watch_began_and_new_pods_count_all():
    tracker = RestartTracker()
    assert tracker.observe({"a": 3}) == 0  # restarts before the window are not judged
    assert tracker.observe({"a": 4, "b": 1}) == 2
    assert tracker.observe({"b": 1}) == 2  # a gone: what it did still counts
