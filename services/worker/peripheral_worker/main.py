"""The worker process: consume jobs until SIGTERM/SIGINT, one at a time."""

from __future__ import annotations

import logging
import signal
import sys
import threading
import time

from . import backtest, config, jobs, jsonlog, metrics, store

READ_BLOCK_MS = 2000  # also bounds how long a stop request waits
RECLAIM_EVERY_S = 30.0


class StopNow(BaseException):
    """Raised by the signal handler to leave a blocking read at once (the worker is idle)."""


class Worker:
    """Holds the connections and processes stream entries."""

    busy = False  # True while a job is being handled (a stop then waits for it)

    def __init__(
        self,
        settings: config.Settings,
        log: logging.Logger,
        heartbeat: metrics.Heartbeat | None = None,
    ) -> None:
        self.s = settings
        self.log = log
        self.heartbeat = heartbeat or metrics.Heartbeat(settings.stall_seconds)
        self._redis = None
        self._queue: jobs.Queue | None = None
        self._db = None

    def _connect(self) -> tuple[jobs.Queue, object]:
        import psycopg
        import redis

        if self._queue is None:
            self._redis = redis.Redis(
                host=self.s.redis_host,
                port=self.s.redis_port,
                password=self.s.redis_password,
                decode_responses=True,
                socket_connect_timeout=5,
                socket_timeout=READ_BLOCK_MS / 1000 + 5,
            )
            q = jobs.Queue(self._redis, self.s.consumer)
            q.ensure_group()
            self._queue = q
        if self._db is None or self._db.closed:
            self._db = psycopg.connect(**self.s.conninfo(), autocommit=True)
        return self._queue, self._db

    def _reset(self) -> None:
        for c in (self._db, self._redis):
            try:
                if c is not None:
                    c.close()
            except Exception:  # closing a broken connection may fail; nothing to do
                pass
        self._db = self._redis = self._queue = None

    def loop(self, stop: threading.Event) -> None:
        """Process jobs until stop is set; dependency outages are waited out."""
        import psycopg
        import redis

        last_reclaim = 0.0
        self.log.info("worker started", extra={"consumer": self.s.consumer})
        while not stop.is_set():
            # Each pass takes at most READ_BLOCK_MS plus one job; /livez fails if not.
            self.heartbeat.beat()
            try:
                queue, db = self._connect()
                entries = []
                if time.monotonic() - last_reclaim > RECLAIM_EVERY_S:
                    entries = queue.reclaim()
                    last_reclaim = time.monotonic()
                entries = entries or queue.read(READ_BLOCK_MS)
                for entry_id, fields in entries:
                    self.busy = True
                    try:
                        self.handle(queue, db, entry_id, fields)
                    finally:
                        self.busy = False
            except (redis.ConnectionError, redis.TimeoutError, psycopg.OperationalError) as e:
                self.log.warning(
                    "dependency unavailable, retrying",
                    extra={"error": config.redact(str(e), self.s.secrets())},
                )
                self._reset()
                stop.wait(2)
        self._reset()
        self.log.info("worker stopped")

    def handle(self, queue: jobs.Queue, db, entry_id: str, fields: dict[str, str]) -> None:
        """Process one entry; connection errors propagate so the entry stays pending."""
        try:
            job = jobs.parse(entry_id, fields)
        except jobs.BadJob as e:
            self.log.error("dropping malformed job", extra={"entry": entry_id, "error": str(e)})
            metrics.JOBS_FAILED.labels("malformed").inc()
            queue.ack(entry_id)
            return
        ctx = {"strategy_id": job.strategy_id, "job_id": job.job_id}
        started = time.perf_counter()
        self.log.info("job started", extra=ctx)
        strategy = store.load_strategy(db, job.strategy_id)
        if strategy is None:
            self._fail(queue, db, job, "strategy_missing", "strategy no longer exists")
            return
        try:
            result = backtest.backtest(
                strategy.id, strategy.fast_window, strategy.slow_window
            ).as_dict()
        except ValueError as e:
            self._fail(queue, db, job, "invalid_strategy", str(e))
            return
        elapsed = time.perf_counter() - started
        duration_ms = round(elapsed * 1000, 3)
        if store.save_result(db, job.job_id, job.strategy_id, result, duration_ms):
            if self.s.live_jobs:
                queue.publish(
                    jobs.result_message(job, "done", {**result, "duration_ms": duration_ms})
                )
            metrics.JOBS_PROCESSED.inc()
            metrics.JOB_DURATION.observe(elapsed)
            status = "done"
        else:
            status = "duplicate"  # redelivered after a crash; the first result stands
        queue.ack(entry_id)
        self.log.info("job finished", extra={**ctx, "status": status, "duration_ms": duration_ms})

    def _fail(self, queue: jobs.Queue, db, job: jobs.Job, reason: str, message: str) -> None:
        store.mark_failed(db, job.job_id, message)
        if self.s.live_jobs:
            queue.publish(jobs.result_message(job, "failed", None, message))
        queue.ack(job.entry_id)
        metrics.JOBS_FAILED.labels(reason).inc()
        self.log.error(
            "job failed",
            extra={"strategy_id": job.strategy_id, "job_id": job.job_id, "error": message},
        )


def run() -> None:
    """Entry point of one worker process (also the hot-reload child)."""
    log = jsonlog.setup()
    try:
        settings = config.load()
    except config.ConfigError as e:
        log.error(str(e))
        print(f"worker: {e}", file=sys.stderr)
        sys.exit(2)
    stop = threading.Event()
    worker: Worker | None = None

    def on_signal(*_: object) -> None:
        stop.set()
        # Idle in the Redis read: leave now rather than after READ_BLOCK_MS, so a hot
        # reload serves new code in well under a second. Mid-job: finish the job first.
        if worker is None or not worker.busy:
            raise StopNow

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, on_signal)
    logging.getLogger().setLevel(settings.log_level)
    heartbeat = metrics.Heartbeat(settings.stall_seconds)
    metrics.serve(settings.metrics_port, heartbeat)
    worker = Worker(settings, log, heartbeat)
    try:
        worker.loop(stop)
    except StopNow:
        # An entry read but not yet handled stays pending and is reclaimed (XAUTOCLAIM).
        log.info("worker stopped")
