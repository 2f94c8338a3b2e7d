"""One JSON object per log line, with job context fields when given via ``extra``."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

CONTEXT_FIELDS = ("strategy_id", "job_id", "duration_ms", "status", "error", "entry", "consumer")


class JSONFormatter(logging.Formatter):
    """Format records as JSON lines matching the backend's slog output."""

    def format(self, record: logging.LogRecord) -> str:
        """Render one record."""
        out: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "msg": record.getMessage(),
            "service": "worker",
        }
        for key in CONTEXT_FIELDS:
            if hasattr(record, key):
                out[key] = getattr(record, key)
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


def setup(level: int = logging.INFO) -> logging.Logger:
    """Route the root logger to stdout as JSON and return the worker's logger."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JSONFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    return logging.getLogger("worker")
