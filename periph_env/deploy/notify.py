"""Optional deploy-result notifications: a Slack incoming webhook and a Telegram bot.

Configured by the secrets source's ``SLACK_WEBHOOK_URL`` and ``TELEGRAM_BOT_TOKEN`` +
``TELEGRAM_CHAT_ID`` (the process environment's ``PERIPH_TELEGRAM_API_URL`` overrides
https://api.telegram.org, for tests and proxies). The message holds no secret; the webhook
URL and the bot token are secrets themselves, so a failure is reported without them.
"""

from __future__ import annotations

import os

import httpx

from periph_env.common.redact import redact
from periph_env.deploy.history import Record
from periph_env.deploy.migrate import mask

TELEGRAM_API = "https://api.telegram.org"
_ICONS = {"succeeded": "✅", "failed": "❌", "rolled-back": "↩️"}


def message(record: Record) -> str:
    """One short, secret-free text for a deploy's result."""
    icon = _ICONS.get(record.status, "ℹ️")
    sha = record.git_sha[:12] or "unknown commit"
    duration = f" in {record.duration:.0f}s" if record.duration is not None else ""
    lines = [
        f"{icon} periph {record.action} {record.environment} #{record.revision}: "
        f"{record.status}{duration}",
        f"{sha} ({record.git_branch or 'no branch'}) by {record.user}",
    ]
    if record.message:
        lines.append(record.message)
    # The record may come from the cluster: the one masker, whatever wrote it.
    return redact("\n".join(lines))


def _placeholder(value: str) -> bool:
    return not value or value.startswith("<") or value.lower() in ("changeme", "todo")


def send(
    record: Record, values: dict[str, str], secrets: list[str]
) -> list[tuple[str, str | None]]:
    """Send to every configured channel; ``(channel, error or None)`` for each one tried."""
    text = mask(message(record), secrets)
    results: list[tuple[str, str | None]] = []
    webhook = values.get("SLACK_WEBHOOK_URL", "")
    if not _placeholder(webhook):
        results.append(("slack", _post(webhook, {"text": text}, secrets)))
    token, chat = values.get("TELEGRAM_BOT_TOKEN", ""), values.get("TELEGRAM_CHAT_ID", "")
    if not _placeholder(token) and not _placeholder(chat):
        base = os.environ.get("PERIPH_TELEGRAM_API_URL") or TELEGRAM_API
        url = f"{base.rstrip('/')}/bot{token}/sendMessage"
        results.append(("telegram", _post(url, {"chat_id": chat, "text": text}, [*secrets, token])))
    return results


def _post(url: str, payload: dict, secrets: list[str]) -> str | None:
    try:
        response = httpx.post(url, json=payload, timeout=10)
    except httpx.HTTPError as exc:
        return mask(f"{type(exc).__name__}: {exc}".replace(url, "<url>"), secrets)
    if response.status_code >= 300:
        return f"HTTP {response.status_code}"
    return None
