"""``python -m peripheral_worker.backup_report STATUS_FILE``: the backup CronJob's last step.

The dump step (k8s/base/backup.yaml) writes ``ok: ...`` or ``failed: <step>`` to
STATUS_FILE instead of failing its container. This step reads it; on failure it sends a
Telegram alert (TELEGRAM_BOT_TOKEN and TELEGRAM_CHAT_ID, both optional) and exits 1 so
the Job fails as well. The bot token is part of the API URL, so neither the URL nor the
error text of a failed send is ever printed.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path

TELEGRAM_API = "https://api.telegram.org"


def outcome(status_file: Path) -> tuple[bool, str]:
    """(succeeded, detail) from the dump step's status file; a missing file is a failure."""
    try:
        text = status_file.read_text(encoding="utf-8").strip()
    except OSError:
        return False, "the dump step left no status (it was killed or never ran)"
    if text.startswith("ok:"):
        return True, text[3:].strip()
    return False, text.removeprefix("failed:").strip() or "unknown failure"


def alert_text(namespace: str, detail: str) -> str:
    """The Telegram message for a failed backup."""
    return f"Peripheral backup FAILED in {namespace or 'an unknown namespace'}: {detail}"


def send_telegram(env: Mapping[str, str], text: str, timeout: float = 10.0) -> str:
    """Send ``text``; returns what happened, without the token, for the log."""
    token = env.get("TELEGRAM_BOT_TOKEN", "").strip()
    chat = env.get("TELEGRAM_CHAT_ID", "").strip()
    if not token or not chat:
        return "no Telegram alert: TELEGRAM_BOT_TOKEN or TELEGRAM_CHAT_ID is not set"
    base = env.get("TELEGRAM_API_URL", "").strip() or TELEGRAM_API
    request = urllib.request.Request(
        f"{base.rstrip('/')}/bot{token}/sendMessage",
        data=json.dumps({"chat_id": chat, "text": text}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return f"Telegram alert sent (HTTP {response.status})"
    except urllib.error.HTTPError as e:
        return f"Telegram alert refused (HTTP {e.code})"
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        return f"Telegram alert not sent ({type(reason).__name__})"


def main(argv: list[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    """Report the dump step's outcome; 0 when it succeeded, 1 (after alerting) otherwise."""
    args = sys.argv[1:] if argv is None else argv
    env = os.environ if env is None else env
    if len(args) != 1:
        print("usage: python -m peripheral_worker.backup_report STATUS_FILE", file=sys.stderr)
        return 2
    ok, detail = outcome(Path(args[0]))
    if ok:
        print(f"backup ok: {detail}")
        return 0
    print(f"backup failed: {detail}", file=sys.stderr)
    print(send_telegram(env, alert_text(env.get("BACKUP_NAMESPACE", ""), detail)), file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
