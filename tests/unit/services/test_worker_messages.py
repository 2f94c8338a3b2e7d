"""The worker's wire formats: stream entries in, JSON results and log lines out."""

import json
import logging

import pytest
from peripheral_worker import jobs, jsonlog


def test_stream_entry_becomes_a_job():
    job = jobs.parse("1-0", {"job_id": "12", "strategy_id": "3"})
    assert (job.entry_id, job.job_id, job.strategy_id) == ("1-0", 12, 3)


def test_entry_without_ids_is_rejected():
    with pytest.raises(jobs.BadJob):
        jobs.parse("1-0", {"job_id": "x"})


def test_result_message_is_what_ws_clients_receive():
    job = jobs.Job("1-0", 12, 3)
    msg = json.loads(jobs.result_message(job, "done", {"trades": 4}))
    assert msg == {
        "type": "job_result",
        "job_id": 12,
        "strategy_id": 3,
        "status": "done",
        "result": {"trades": 4},
    }


def test_log_lines_are_json_with_the_strategy_id():
    record = logging.LogRecord("worker", logging.INFO, __file__, 1, "job started", None, None)
    record.strategy_id = 3
    line = json.loads(jsonlog.JSONFormatter().format(record))
    assert line["msg"] == "job started"
    assert line["strategy_id"] == 3
    assert line["service"] == "worker"
