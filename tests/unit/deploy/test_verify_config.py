"""``[verify]`` in periph.toml: defaults, per-environment overrides, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from periph_env.common.config import load
from periph_env.deploy.verify_config import DEFAULT_CHECKS, from_config, parse_duration
from periph_env.errors import UsageError

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize(
    ("text", "seconds"), [("90", 90), ("90s", 90), ("5m", 300), ("1.5h", 5400), (10, 10)]
)
def test_durations_read_as_seconds(text, seconds):
    assert parse_duration(text) == seconds


def test_a_bad_duration_is_a_usage_error_naming_the_value():
    with pytest.raises(UsageError, match="'5x' is not a duration"):
        parse_duration("5x", "watch_window")


def test_without_a_verify_table_the_defaults_follow_the_base_manifests():
    config = from_config({}, "demo")
    assert config.checks == DEFAULT_CHECKS
    assert [c.path for c in config.checks] == ["/api/health", "/healthz", "/api/strategies"]
    assert (config.metrics_port, config.metric) == ("9091", "backend_http_requests_total")


def test_the_project_config_checks_health_frontend_and_strategies():
    config = from_config(load(ROOT), "prod")
    assert {(c.service, c.path) for c in config.checks} == {
        ("backend", "/api/health"),
        ("frontend", "/healthz"),
        ("backend", "/api/strategies"),
    }
    assert 60 <= config.watch_window <= 600


def test_an_environment_table_overrides_the_defaults():
    config = from_config(
        {
            "verify": {"watch_window": "3m", "max_error_ratio": 0.05},
            "environments": {"demo": {"verify": {"watch_window": "30s"}}},
        },
        "demo",
    )
    assert (config.watch_window, config.max_error_ratio) == (30, 0.05)
    assert from_config({"verify": {"watch_window": "3m"}}, "prod").watch_window == 180


def test_an_unknown_key_is_named_with_the_table():
    with pytest.raises(UsageError, match=r"\[verify\]: unknown key\(s\) window"):
        from_config({"verify": {"window": "3m"}}, "demo")


def test_a_check_missing_its_path_is_named_by_position():
    with pytest.raises(UsageError, match="checks #2: missing path"):
        from_config(
            {"verify": {"checks": [
                {"name": "a", "service": "s", "port": 1, "path": "/"},
                {"name": "b", "service": "s", "port": 1},
            ]}},
            "demo",
        )  # fmt: skip


def test_a_ratio_above_one_is_refused():
    with pytest.raises(UsageError, match="between 0 and 1"):
        from_config({"verify": {"max_error_ratio": 5}}, "demo")
