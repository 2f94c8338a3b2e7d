"""Post-deploy verification settings from ``periph.toml`` (pure).

``[verify]`` holds the defaults; ``[environments.<env>.verify]`` overrides any key of it for
one environment (its ``checks``, when given, replace the default list)::

    [verify]
    watch_window = "3m"          # error-rate watch after the rollout
    max_error_ratio = 0.05       # 5xx / requests above this fails the deploy
    min_requests = 20            # fewer requests than this: too few to judge a ratio
    max_restarts = 0             # container restarts of the new pods allowed in the window
    scrape_interval = "5s"
    deployment = "backend"       # whose new pods are scraped
    metrics_port = 9091
    metrics_path = "/metrics"
    metric = "backend_http_requests_total"

    [[verify.checks]]
    name = "api-health"
    service = "backend"          # reached through the API server's service proxy
    port = "5058"
    path = "/api/health"
    status = 200                 # default 200
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from periph_env.errors import UsageError

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def parse_duration(value: str | float | int, what: str = "duration") -> float:
    """Seconds from ``90``, ``"90s"``, ``"5m"``, ``"1.5h"``; UsageError otherwise."""
    if isinstance(value, bool):
        raise UsageError(f"{what}: {value!r} is not a duration", hint="e.g. 30s, 5m")
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise UsageError(f"{what}: {value!r} is not a duration", hint="e.g. 30s, 5m, 1h")
        seconds = float(match.group(1)) * _UNITS[match.group(2)]
    if seconds < 0:
        raise UsageError(f"{what}: {value!r} is negative")
    return seconds


@dataclass(frozen=True)
class Check:
    """One smoke check: GET ``path`` on ``service:port`` answers ``status``."""

    name: str
    service: str
    port: str
    path: str
    status: int = 200


DEFAULT_CHECKS = (
    Check("api-health", "backend", "5058", "/api/health"),
    Check("frontend-healthz", "frontend", "3000", "/healthz"),
    Check("api-strategies", "backend", "5058", "/api/strategies"),
)


@dataclass(frozen=True)
class VerifyConfig:
    """Everything the verify stage needs; defaults match the k8s/base manifests."""

    checks: tuple[Check, ...] = DEFAULT_CHECKS
    watch_window: float = 180.0
    max_error_ratio: float = 0.05
    min_requests: int = 20
    max_restarts: int = 0
    scrape_interval: float = 5.0
    deployment: str = "backend"
    metrics_port: str = "9091"
    metrics_path: str = "/metrics"
    metric: str = "backend_http_requests_total"
    status_label: str = "status"


_KNOWN = {
    "checks",
    "watch_window",
    "max_error_ratio",
    "min_requests",
    "max_restarts",
    "scrape_interval",
    "deployment",
    "metrics_port",
    "metrics_path",
    "metric",
    "status_label",
}


def from_config(
    config: dict[str, Any], environment: str, source: str = "periph.toml"
) -> VerifyConfig:
    """The verify settings of ``environment`` from a merged configuration dict."""
    table = dict(config.get("verify") or {})
    env_table = ((config.get("environments") or {}).get(environment) or {}).get("verify") or {}
    table.update(env_table)
    where = f"{source} [environments.{environment}.verify]" if env_table else f"{source} [verify]"
    unknown = sorted(set(table) - _KNOWN)
    if unknown:
        raise UsageError(
            f"{where}: unknown key(s) {', '.join(unknown)}",
            hint="known: " + ", ".join(sorted(_KNOWN)),
        )
    out: dict[str, Any] = {}
    for key in ("watch_window", "scrape_interval"):
        if key in table:
            out[key] = parse_duration(table[key], f"{where} {key}")
    if out.get("scrape_interval") == 0:
        raise UsageError(f"{where} scrape_interval must be above zero")
    for key, kind in (("max_error_ratio", float), ("min_requests", int), ("max_restarts", int)):
        if key in table:
            try:
                out[key] = kind(table[key])
            except (TypeError, ValueError):
                raise UsageError(f"{where} {key}: {table[key]!r} is not a number") from None
    if not 0 <= out.get("max_error_ratio", 0) <= 1:
        raise UsageError(f"{where} max_error_ratio must be between 0 and 1 (0.05 = 5%)")
    for key in ("deployment", "metrics_port", "metrics_path", "metric", "status_label"):
        if key in table:
            out[key] = str(table[key])
    if "checks" in table:
        out["checks"] = tuple(_check(c, i, where) for i, c in enumerate(table["checks"], 1))
    return VerifyConfig(**out)


def _check(raw: Any, index: int, where: str) -> Check:
    if not isinstance(raw, dict):
        raise UsageError(f"{where} checks #{index}: expected a table, got {raw!r}")
    missing = [k for k in ("name", "service", "port", "path") if k not in raw]
    if missing:
        raise UsageError(f"{where} checks #{index}: missing {', '.join(missing)}")
    path = str(raw["path"])
    try:
        status = int(raw.get("status", 200))
    except (TypeError, ValueError):
        raise UsageError(f"{where} checks #{index}: status {raw['status']!r}") from None
    return Check(
        name=str(raw["name"]),
        service=str(raw["service"]),
        port=str(raw["port"]),
        path=path if path.startswith("/") else "/" + path,
        status=status,
    )
