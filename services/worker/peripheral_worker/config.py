"""Worker settings from the environment; errors name keys, never values."""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass

# Postgres connections one worker process holds (main.Worker keeps a single psycopg
# connection): its term in the connection budget, docs/k8s.md.
DB_CONNECTIONS = 1

REQUIRED = (
    "DB_HOST",
    "DB_PORT",
    "DB_USER",
    "DB_PASSWORD",
    "POSTGRES_DB",
    "REDIS_HOST",
    "REDIS_PORT",
)


class ConfigError(Exception):
    """Raised when required settings are missing or malformed."""


@dataclass(frozen=True)
class Settings:
    """Everything the worker needs to run."""

    db_host: str
    db_port: int
    db_user: str
    db_password: str
    db_name: str
    redis_host: str
    redis_port: int
    redis_password: str | None
    metrics_port: int
    consumer: str
    hot_reload: bool
    log_level: int = logging.INFO
    # FEATURE_LIVE_JOBS: off means results are stored but not published for /ws.
    live_jobs: bool = True
    # /livez fails once the job loop has not come round for this long.
    stall_seconds: float = 120.0

    def conninfo(self) -> dict[str, object]:
        """Keyword arguments for psycopg.connect (kept apart from any string that is logged)."""
        return {
            "host": self.db_host,
            "port": self.db_port,
            "user": self.db_user,
            "password": self.db_password,
            "dbname": self.db_name,
            "connect_timeout": 5,
        }

    def secrets(self) -> tuple[str, ...]:
        """Values to scrub from any error text before it is logged."""
        return tuple(s for s in (self.db_password, self.redis_password) if s)


def _port(env: Mapping[str, str], key: str, default: str | None = None) -> int:
    raw = env.get(key, default or "").strip()
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise ConfigError(f"{key} must be a port number between 1 and 65535")
    return int(raw)


def truthy(value: str | None) -> bool:
    """Read a boolean flag the way .env files write them."""
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


LOG_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}


def log_level(env: Mapping[str, str]) -> int:
    """LOG_LEVEL (debug, info, warn, error; unset is info) as a logging level."""
    raw = env.get("LOG_LEVEL", "").strip().lower() or "info"
    if raw not in LOG_LEVELS:
        raise ConfigError("LOG_LEVEL must be one of debug, info, warn, error")
    return LOG_LEVELS[raw]


def flag(env: Mapping[str, str], key: str, default: bool) -> bool:
    """A feature flag; unset is ``default``, anything but a boolean word is an error."""
    raw = env.get(key, "").strip().lower()
    if not raw:
        return default
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{key} must be true or false")


def _seconds(env: Mapping[str, str], key: str, default: float) -> float:
    raw = env.get(key, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if value < 10:
        raise ConfigError(f"{key} must be a number of seconds, at least 10")
    return value


def load(env: Mapping[str, str] | None = None) -> Settings:
    """Read settings, reporting every missing key at once."""
    env = os.environ if env is None else env
    missing = sorted(k for k in REQUIRED if not env.get(k, "").strip())
    if missing:
        raise ConfigError("missing required environment variables: " + ", ".join(missing))
    return Settings(
        db_host=env["DB_HOST"],
        db_port=_port(env, "DB_PORT"),
        db_user=env["DB_USER"],
        db_password=env["DB_PASSWORD"],
        db_name=env["POSTGRES_DB"],
        redis_host=env["REDIS_HOST"],
        redis_port=_port(env, "REDIS_PORT"),
        redis_password=env.get("REDIS_PASSWORD") or None,
        metrics_port=_port(env, "WORKER_METRICS_PORT", "9102"),
        consumer=env.get("WORKER_NAME") or socket.gethostname(),
        hot_reload=truthy(env.get("HOT_RELOAD")),
        log_level=log_level(env),
        live_jobs=flag(env, "FEATURE_LIVE_JOBS", True),
        stall_seconds=_seconds(env, "WORKER_STALL_SECONDS", 120.0),
    )


def redact(text: str, secrets: tuple[str, ...]) -> str:
    """Replace every secret value in text with ***."""
    for s in secrets:
        if len(s) >= 3:
            text = text.replace(s, "***")
    return text
