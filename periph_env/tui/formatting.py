"""Pure text for the Stack view: uptime, ports, state and hot-reload summaries.

Inputs are the stack engine's dataclasses (duck-typed: no engine import) and an explicit
``now``, so the functions are deterministic and unit-tested without an app.
"""

from __future__ import annotations

import re
from typing import Any

from periph_env.common.redact import safe as _safe

# The host part may be an IPv4 address, "::" or "[::]": everything up to the last colon.
_PORT = re.compile(r"^(?:.*:)?(?P<published>\d+)->(?P<target>\d+)(?:/(?P<proto>\w+))?$")


def safe(text: object, *, one_line: bool = False) -> str:
    """Text from a file or a tool, fit for a widget: every secret the process knows masked
    (in any form) and control characters escaped (the one masker, ``common.redact``)."""
    return _safe(text, keep_lines=not one_line)


def uptime(started_at: float | None, now: float) -> str:
    """``45s``, ``3m``, ``2h05m``, ``3d04h``; ``-`` when not running.

    Seconds only in the first minute: the column then changes once a minute, so an idle
    screen does not redraw its table every second.
    """
    if started_at is None:
        return "-"
    seconds = max(0, int(now - started_at))
    if seconds < 60:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h{minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours:02d}h"


def short_port(port: str) -> str:
    """``127.0.0.1:5058->5058/tcp`` → ``5058``; ``8080->80/tcp`` → ``8080→80``."""
    match = _PORT.match(port.strip())
    if not match:
        return port
    published, target = match["published"], match["target"]
    proto = "" if match["proto"] in (None, "tcp") else f"/{match['proto']}"
    return (published if published == target else f"{published}→{target}") + proto


def ports(port_list: list[str]) -> str:
    """All published ports, short and de-duplicated (IPv4 and IPv6 bindings repeat)."""
    return ",".join(dict.fromkeys(short_port(p) for p in port_list)) or "-"


def state(status: Any) -> str:
    """The state column: ``running``, ``exited 0``, ``done`` for a finished one-shot."""
    if status.state == "exited" and status.exit_code is not None:
        if status.one_shot and status.exit_code == 0:
            return "done"
        return f"exited {status.exit_code}"
    return status.state


def health(status: Any) -> str:
    """The health column (``-`` without a health check)."""
    return status.health or "-"


def failed_one_shot(status: Any) -> bool:
    """A one-shot (migrate) that ran to completion with a non-zero exit code."""
    return bool(status.one_shot and status.state == "exited" and status.exit_code)


def severity(status: Any) -> str:
    """``ok`` / ``warn`` / ``bad`` / ``idle``: drives the row's colour class."""
    if failed_one_shot(status) or status.state == "dead" or status.health == "unhealthy":
        return "bad"
    if status.state == "exited" and not status.one_shot and status.exit_code:
        return "bad"
    if status.state in ("restarting", "created", "removing") or status.health == "starting":
        return "warn"
    if status.state == "running" or (status.one_shot and status.state == "exited"):
        return "ok"
    return "idle"


def reload_cell(watching: bool, event: Any | None) -> str:
    """The table's reload column: ``off``, ``on``, ``on 0.55s``, ``on …`` (in progress),
    ``on failed``, ``on no marker`` (ended without its reload marker: see the detail)."""
    if not watching:
        return "off"
    if event is None:
        return "on"
    if not event.ok:
        return "on failed"
    latency = event.latency
    if latency is None:
        return "on no marker" if event.done else "on …"
    return f"on {latency:.2f}s"


def reload_detail(service: str, watching: bool, event: Any | None) -> list[str]:
    """Lines for the detail panel: state of watching, then the last reload's breakdown."""
    lines = [f"hot reload: {'on' if watching else 'off'}"]
    if event is None:
        lines.append("last reload: none yet" if watching else "")
        return [line for line in lines if line]
    files = ", ".join(event.files[:3]) + (
        f" (+{len(event.files) - 3})" if len(event.files) > 3 else ""
    )
    lines.append(f"last reload: {event.kind} of {files or service}")
    lines.append(f"  {event.breakdown()}")
    if event.kind == "rebuild":
        why = event.trigger or (event.files[0] if event.files else "a rebuild rule")
        lines.append(f"  rebuilt because {why} matches a rebuild rule")
    if not event.ok:
        lines.append(f"  failed: {event.error or 'unknown error'}; the old container keeps serving")
    elif event.note:
        lines.append(f"  {event.note}")
    # File names and tool errors: anything a repository or a tool wrote.
    return [safe(line, one_line=True) for line in lines]
