"""LOG_LEVEL, FEATURE_LIVE_JOBS and WORKER_STALL_SECONDS, as the cluster's ConfigMap sets them."""

from __future__ import annotations

import logging

import pytest
from peripheral_worker import config

FULL = {
    "DB_HOST": "db",
    "DB_PORT": "5432",
    "DB_USER": "app",
    "DB_PASSWORD": "pw-value-123",
    "POSTGRES_DB": "peripheral",
    "REDIS_HOST": "cache",
    "REDIS_PORT": "6379",
}


def test_unset_flags_mean_info_logging_live_results_and_a_two_minute_stall_limit() -> None:
    s = config.load(FULL)
    assert (s.log_level, s.live_jobs, s.stall_seconds) == (logging.INFO, True, 120.0)


@pytest.mark.parametrize(
    ("raw", "level"),
    [("debug", logging.DEBUG), ("WARN", logging.WARNING), ("error", logging.ERROR)],
)
def test_log_level_is_read(raw: str, level: int) -> None:
    assert config.load({**FULL, "LOG_LEVEL": raw}).log_level == level


def test_live_jobs_can_be_switched_off() -> None:
    assert config.load({**FULL, "FEATURE_LIVE_JOBS": "false"}).live_jobs is False


@pytest.mark.parametrize(
    ("key", "value"),
    [("LOG_LEVEL", "loud"), ("FEATURE_LIVE_JOBS", "maybe"), ("WORKER_STALL_SECONDS", "2")],
)
def test_a_bad_switch_is_named_without_its_value(key: str, value: str) -> None:
    with pytest.raises(config.ConfigError) as err:
        config.load({**FULL, key: value})
    assert key in str(err.value)
    assert value not in str(err.value)


class FakeQueue:
    def __init__(self) -> None:
        self.published: list[str] = []
        self.acked: list[str] = []

    def publish(self, message: str) -> None:
        self.published.append(message)

    def ack(self, entry_id: str) -> None:
        self.acked.append(entry_id)


def test_with_live_jobs_off_a_failed_job_is_recorded_but_not_published(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from peripheral_worker import jobs, main, store

    failed: list[int] = []
    monkeypatch.setattr(store, "mark_failed", lambda _db, job_id, _msg: failed.append(job_id))
    worker = main.Worker(
        config.load({**FULL, "FEATURE_LIVE_JOBS": "off"}), logging.getLogger("test")
    )
    queue = FakeQueue()
    worker._fail(queue, None, jobs.Job("1-0", 7, 3), "invalid_strategy", "bad windows")
    assert failed == [7]
    assert queue.acked == ["1-0"]
    assert queue.published == []
