"""Worker settings from the environment; errors name keys, never values."""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass

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
    )


def redact(text: str, secrets: tuple[str, ...]) -> str:
    """Replace every secret value in text with ***."""
    for s in secrets:
        if len(s) >= 3:
            text = text.replace(s, "***")
    return text
