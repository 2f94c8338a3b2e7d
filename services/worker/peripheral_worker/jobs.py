"""The worker's side of the Redis contract with the backend.

Jobs arrive on a Redis Stream read through a consumer group rather than a list with
BRPOP: a job stays pending until it is acknowledged, so one taken by a worker that
died (OOM, node drain, hot-reload restart) is reclaimed with XAUTOCLAIM instead of
lost, and several replicas share the stream without double work.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

STREAM = "peripheral:jobs"
GROUP = "workers"
RESULT_CHANNEL = "peripheral:job-results"
# A pending job untouched this long is assumed orphaned and taken over.
RECLAIM_IDLE_MS = 60_000


@dataclass(frozen=True)
class Job:
    """One stream entry."""

    entry_id: str
    job_id: int
    strategy_id: int


class BadJob(ValueError):
    """A stream entry without usable ids; it is acknowledged and dropped."""


def parse(entry_id: str, fields: dict[str, str]) -> Job:
    """Turn raw stream fields into a Job."""
    try:
        return Job(entry_id, int(fields["job_id"]), int(fields["strategy_id"]))
    except (KeyError, ValueError) as e:
        raise BadJob(f"entry {entry_id} lacks integer job_id/strategy_id") from e


def result_message(job: Job, status: str, result: dict | None, error: str | None = None) -> str:
    """The JSON the backend relays verbatim to /ws clients."""
    msg: dict[str, object] = {
        "type": "job_result",
        "job_id": job.job_id,
        "strategy_id": job.strategy_id,
        "status": status,
    }
    if result is not None:
        msg["result"] = result
    if error is not None:
        msg["error"] = error
    return json.dumps(msg)


class Queue:
    """Consumer-group reads, acks and result publishing on one redis client."""

    def __init__(self, client, consumer: str) -> None:
        self.r = client
        self.consumer = consumer

    def ensure_group(self) -> None:
        """Create the stream and group if needed (BUSYGROUP means it exists)."""
        import redis

        try:
            self.r.xgroup_create(STREAM, GROUP, id="0", mkstream=True)
        except redis.ResponseError as e:
            if "BUSYGROUP" not in str(e):
                raise

    def read(self, block_ms: int) -> list[tuple[str, dict[str, str]]]:
        """Wait up to block_ms for one new entry."""
        resp = self.r.xreadgroup(GROUP, self.consumer, {STREAM: ">"}, count=1, block=block_ms)
        return [entry for _stream, entries in resp or [] for entry in entries]

    def reclaim(self) -> list[tuple[str, dict[str, str]]]:
        """Take over entries other consumers left pending for too long."""
        resp = self.r.xautoclaim(STREAM, GROUP, self.consumer, RECLAIM_IDLE_MS, count=10)
        return [e for e in resp[1] if e and e[1]]

    def ack(self, entry_id: str) -> None:
        """Mark an entry done."""
        self.r.xack(STREAM, GROUP, entry_id)

    def publish(self, message: str) -> None:
        """Broadcast a finished job to every backend replica."""
        self.r.publish(RESULT_CHANNEL, message)
