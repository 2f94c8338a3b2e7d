"""The backup CronJob's report step: a Telegram alert on failure, never the bot token."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from peripheral_worker import backup_report

TOKEN = "123456:test-only-bot-token-value"


class Receiver:
    """A local stand-in for api.telegram.org recording what it was sent."""

    def __init__(self, status: int = 200) -> None:
        self.requests: list[tuple[str, dict]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((self.path, json.loads(body)))
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *_args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def _env(receiver: Receiver) -> dict[str, str]:
    return {
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_CHAT_ID": "-100200",
        "TELEGRAM_API_URL": receiver.url,
        "BACKUP_NAMESPACE": "peripheral-prod",
    }


def test_a_successful_backup_sends_nothing_and_exits_0(
    tmp_path: Path, receiver: Receiver, capsys: pytest.CaptureFixture[str]
) -> None:
    status = tmp_path / "result"
    status.write_text("ok: peripheral-20260101T031700Z.dump (12M)\n")
    assert backup_report.main([str(status)], _env(receiver)) == 0
    assert receiver.requests == []
    assert "backup ok" in capsys.readouterr().out


def test_a_failed_backup_alerts_telegram_with_the_failing_step_and_exits_1(
    tmp_path: Path, receiver: Receiver, capsys: pytest.CaptureFixture[str]
) -> None:
    status = tmp_path / "result"
    status.write_text("failed: pg_dump exited 1\n")
    assert backup_report.main([str(status)], _env(receiver)) == 1
    ((path, body),) = receiver.requests
    assert path == f"/bot{TOKEN}/sendMessage"
    assert body["chat_id"] == "-100200"
    assert "peripheral-prod" in body["text"]
    assert "pg_dump exited 1" in body["text"]
    out = capsys.readouterr()
    assert "Telegram alert sent" in out.err
    assert TOKEN not in out.out + out.err


def test_a_dump_step_that_left_no_status_counts_as_failed(
    tmp_path: Path, receiver: Receiver
) -> None:
    assert backup_report.main([str(tmp_path / "missing")], _env(receiver)) == 1
    assert "no status" in receiver.requests[0][1]["text"]


def test_without_telegram_settings_the_failure_is_still_reported_and_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = tmp_path / "result"
    status.write_text("failed: copying the dump to the offsite volume\n")
    assert backup_report.main([str(status)], {}) == 1
    assert "TELEGRAM_BOT_TOKEN" in capsys.readouterr().err


@pytest.mark.parametrize("code", [401, 500])
def test_a_refused_alert_never_prints_the_token(
    tmp_path: Path, code: int, capsys: pytest.CaptureFixture[str]
) -> None:
    receiver = Receiver(status=code)
    try:
        status = tmp_path / "result"
        status.write_text("failed: pg_dump exited 1\n")
        assert backup_report.main([str(status)], _env(receiver)) == 1
    finally:
        receiver.close()
    out = capsys.readouterr()
    assert f"HTTP {code}" in out.err
    assert TOKEN not in out.out + out.err


def test_an_unreachable_telegram_never_prints_the_token(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = tmp_path / "result"
    status.write_text("failed: pg_dump exited 1\n")
    env = {
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_CHAT_ID": "1",
        "TELEGRAM_API_URL": "http://127.0.0.1:9",
    }
    assert backup_report.main([str(status)], env) == 1
    out = capsys.readouterr()
    assert "not sent" in out.err
    assert TOKEN not in out.out + out.err
