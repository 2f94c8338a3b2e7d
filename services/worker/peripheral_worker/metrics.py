"""Prometheus series exposed on WORKER_METRICS_PORT (9102)."""

from prometheus_client import Counter, Histogram, start_http_server

JOBS_PROCESSED = Counter("worker_jobs_processed_total", "Backtest jobs completed successfully.")
JOBS_FAILED = Counter("worker_jobs_failed_total", "Backtest jobs that failed.", ["reason"])
JOB_DURATION = Histogram(
    "worker_job_duration_seconds",
    "Time spent on one job, from dequeue to result stored.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)


def serve(port: int) -> None:
    """Start the metrics HTTP server in a daemon thread."""
    start_http_server(port)
