"""Guards that need no engine, and notifications against a local HTTP receiver."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from periph_env.deploy import guards, notify
from periph_env.deploy.history import Record
from periph_env.deploy.target import Target


def target(name="demo", allow_override=True) -> Target:
    return Target(
        name=name, root=Path("."), branch=name, namespace=f"peripheral-{name}", context=name,
        overlay=Path("k8s/overlays") / name, tag=name, secrets_file=Path(f".env.{name}"),
        allow_branch_override=allow_override, registry="reg", kubeconfig=None,
    )  # fmt: skip


def test_branch_matches():
    assert guards.branch_guard(target(), "demo", override=False).ok


def test_other_branch_refused_unless_overridden_where_allowed():
    assert not guards.branch_guard(target(), "main", override=False).ok
    assert guards.branch_guard(target(), "main", override=True).ok
    prod = guards.branch_guard(target("prod", allow_override=False), "main", override=True)
    assert not prod.ok and "no branch override" in prod.hint


def test_prod_needs_yes():
    prod = target("prod", allow_override=False)
    assert not guards.confirmation_guard(prod, yes=False).ok
    assert guards.confirmation_guard(prod, yes=True).ok
    assert guards.confirmation_guard(target(), yes=False).ok


def test_unpinned_or_registryless_images_refused_without_network():
    result = guards.images_guard(
        ["peripheral-backend:demo", "peripheral-worker@sha256:" + "a" * 64]
    )
    assert not result.ok
    assert "not pinned by digest" in result.message and "names no registry" in result.message


@pytest.fixture
def receiver():
    received: list[tuple[str, dict]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((self.path, json.loads(body)))
            self.send_response(500 if "fail" in self.path else 200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", received
    server.shutdown()


def record(status="succeeded") -> Record:
    return Record(
        environment="demo", revision=3, action="deploy", status=status, user="dev@x",
        started="2026-11-27T06:00:00+00:00", git_sha="abcdef1234567890", git_branch="demo",
        duration=42.0,
    )  # fmt: skip


def test_slack_and_telegram_receive_the_result(receiver, monkeypatch):
    url, received = receiver
    monkeypatch.setenv("PERIPH_TELEGRAM_API_URL", f"{url}/tg")
    values = {
        "SLACK_WEBHOOK_URL": f"{url}/hook/T0/B0/XXXX",
        "TELEGRAM_BOT_TOKEN": "123:tok-SECRET",
        "TELEGRAM_CHAT_ID": "99",
    }
    results = notify.send(record(), values, list(values.values()))
    assert results == [("slack", None), ("telegram", None)]
    (slack_path, slack), (tg_path, tg) = received
    assert slack_path == "/hook/T0/B0/XXXX" and "demo #3: succeeded in 42s" in slack["text"]
    assert tg_path == "/tg/bot123:tok-SECRET/sendMessage" and tg["chat_id"] == "99"
    assert "abcdef123456" in tg["text"]


def test_placeholders_send_nothing():
    values = {"SLACK_WEBHOOK_URL": "<webhook-for-alerts>", "TELEGRAM_BOT_TOKEN": "<t>"}
    assert notify.send(record(), values, []) == []


def test_failed_delivery_hides_the_webhook_and_token(receiver, monkeypatch):
    url, _ = receiver
    monkeypatch.setenv("PERIPH_TELEGRAM_API_URL", "http://127.0.0.1:9")  # nothing listens
    values = {
        "SLACK_WEBHOOK_URL": f"{url}/fail/SECRET-path",
        "TELEGRAM_BOT_TOKEN": "123:tok-SECRET",
        "TELEGRAM_CHAT_ID": "99",
    }
    results = dict(notify.send(record("failed"), values, list(values.values())))
    assert results["slack"] == "HTTP 500"
    assert results["telegram"] and "tok-SECRET" not in results["telegram"]


def test_unpinned_images_hint_names_the_pin_for_the_target():
    result = guards.images_guard(["127.0.0.1:5000/peripheral-backend:demo"], "demo")
    assert "not pinned by digest" in result.message
    assert "`periph build --push --pin demo`" in (result.hint or "")
