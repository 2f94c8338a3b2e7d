"""Prometheus series and the liveness endpoint, served on WORKER_METRICS_PORT (9102).

``/metrics`` is the Prometheus exposition (also the readiness probe). ``/livez`` answers
503 once the job loop has not come round for ``stall_seconds``: a worker wedged inside a
job or a client call keeps its HTTP thread alive, so only the loop's own heartbeat can
tell Kubernetes to restart it.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Histogram, generate_latest

JOBS_PROCESSED = Counter("worker_jobs_processed_total", "Backtest jobs completed successfully.")
JOBS_FAILED = Counter("worker_jobs_failed_total", "Backtest jobs that failed.", ["reason"])
JOB_DURATION = Histogram(
    "worker_job_duration_seconds",
    "Time spent on one job, from dequeue to result stored.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)


class Heartbeat:
    """When the job loop last came round; ``alive`` is false once that is too long ago."""

    def __init__(self, stall_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.stall_seconds = stall_seconds
        self._clock = clock
        self._last = clock()

    def beat(self) -> None:
        """Record one pass of the loop."""
        self._last = self._clock()

    def age(self) -> float:
        """Seconds since the last beat."""
        return self._clock() - self._last

    def alive(self) -> bool:
        """True while the loop beat within ``stall_seconds``."""
        return self.age() <= self.stall_seconds


def _handler(heartbeat: Heartbeat) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path in ("/metrics", "/"):
                self._send(200, CONTENT_TYPE_LATEST, generate_latest(REGISTRY))
            elif path == "/livez":
                alive = heartbeat.alive()
                body = {
                    "status": "ok" if alive else "stalled",
                    "seconds_since_loop": round(heartbeat.age(), 1),
                    "stall_seconds": heartbeat.stall_seconds,
                }
                self._send(200 if alive else 503, "application/json", json.dumps(body).encode())
            else:
                self._send(404, "text/plain", b"not found\n")

        def _send(self, code: int, content_type: str, body: bytes) -> None:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: object) -> None:
            """Probes every few seconds would drown the JSON log; stay quiet."""

    return Handler


def serve(port: int, heartbeat: Heartbeat, host: str = "0.0.0.0") -> ThreadingHTTPServer:
    """Serve /metrics and /livez from a daemon thread; returns the server (tests stop it)."""
    server = ThreadingHTTPServer((host, port), _handler(heartbeat))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    return server
