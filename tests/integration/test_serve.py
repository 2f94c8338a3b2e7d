"""``periph serve``: the TUI in a browser, on 127.0.0.1 only, behind a random token.

The HTTP tests run the real command and talk to it with httpx; the browser test drives
Debian's headless chromium over the DevTools protocol: it loads the page, receives the
app's screen over the websocket, takes a screenshot, and checks that every request the
page made stayed on 127.0.0.1 (the resolver maps every other host to nothing).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from periph_env.cli.serve_cmd import token_ok

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Served:
    """A running ``periph serve``: its URL (with the token) and port."""

    def __init__(self, proc: subprocess.Popen, url: str, port: int) -> None:
        self.proc, self.url, self.port = proc, url, port

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    """``periph serve --port N`` in a throw-away project; the printed URL."""
    port = free_port()
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "xdg")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "periph_env", "serve", "--port", str(port)],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    url = ""
    deadline = time.monotonic() + 30
    while not url and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        found = re.search(r"http://127\.0\.0\.1:\d+/\?token=\S+", line)
        url = found.group(0) if found else ""
    assert url, "periph serve printed no URL"
    try:
        yield Served(proc, url, port)
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_the_token_is_compared_from_the_query_or_the_cookie():
    assert token_ok("abc", {"token": "abc"}, {})
    assert token_ok("abc", {}, {"periph_serve_token": "abc"})
    assert not token_ok("abc", {"token": "abd"}, {})
    assert not token_ok("abc", {}, {})


def test_requests_without_the_token_are_refused(served: Served):
    for path in ("/", "/ws", "/static/js/textual.js", "/?token=wrong"):
        assert httpx.get(served.base + path).status_code == 403, path


def test_the_page_with_the_token_loads_only_from_loopback(served: Served):
    with httpx.Client() as client:
        page = client.get(served.url)
        assert page.status_code == 200
        assert client.get(served.base + "/static/js/textual.js").status_code == 200  # cookie
    assert "fonts.googleapis" not in page.text
    external = [u for u in re.findall(r"(?:src|href)=\"([^\"]+)\"", page.text)
                if not u.startswith(served.base)]  # fmt: skip
    assert external == []


def test_it_listens_on_loopback_only_and_has_no_option_to_change_that():
    help_text = subprocess.run(
        [sys.executable, "-m", "periph_env", "serve", "--help"],
        capture_output=True, text=True, check=True, cwd=REPO,
    ).stdout  # fmt: skip
    assert "--host" not in help_text and "--bind" not in help_text
    assert "127.0.0.1" in help_text


# --- the browser ----------------------------------------------------------------------


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's chromium, installed with apt-get where missing (CI starts fresh)."""
    found = shutil.which("chromium")
    if found is None:
        subprocess.run(["apt-get", "update", "-q"], check=True, capture_output=True)
        subprocess.run(
            ["apt-get", "install", "-y", "-q", "--no-install-recommends", "chromium"],
            check=True, capture_output=True,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )  # fmt: skip
        found = shutil.which("chromium")
    assert found, "chromium did not install"
    return found


async def _devtools(ws_url: str, page_url: str, shot: Path) -> tuple[list[str], bytes]:
    """Load ``page_url`` in the tab at ``ws_url``; the URLs requested and the app's bytes."""
    import aiohttp

    requests: list[str] = []
    frames = bytearray()
    async with aiohttp.ClientSession() as http, http.ws_connect(ws_url, max_msg_size=0) as ws:
        ids = iter(range(1, 10_000))
        replies: dict[int, dict] = {}

        async def call(method: str, **params) -> dict:
            number = next(ids)
            await ws.send_json({"id": number, "method": method, "params": params})
            while number not in replies:
                await pump(5)
            return replies.pop(number)

        async def pump(timeout: float) -> None:
            message = await ws.receive(timeout=timeout)
            data = json.loads(message.data)
            if "id" in data:
                replies[data["id"]] = data
            elif data["method"] == "Network.requestWillBeSent":
                requests.append(data["params"]["request"]["url"])
            elif data["method"] == "Network.webSocketCreated":
                requests.append(data["params"]["url"])
            elif data["method"] == "Network.webSocketFrameReceived":
                payload = data["params"]["response"]["payloadData"]
                opcode = data["params"]["response"]["opcode"]
                frames.extend(base64.b64decode(payload) if opcode == 2 else payload.encode())

        await call("Network.enable")
        await call("Page.enable")
        await call("Page.navigate", url=page_url)
        deadline = time.monotonic() + 60
        while b"Deploy" not in frames and time.monotonic() < deadline:
            try:
                await pump(1)
            except TimeoutError:
                continue
        await asyncio.sleep(1.0)  # let xterm.js paint what arrived
        shot_reply = await call("Page.captureScreenshot", format="png")
        shot.write_bytes(base64.b64decode(shot_reply["result"]["data"]))
    return requests, bytes(frames)


@pytest.mark.browser
def test_chromium_shows_the_app_over_the_websocket_and_stays_on_loopback(
    served: Served, chromium: str, tmp_path: Path
):
    profile = tmp_path / "chromium-profile"
    browser = subprocess.Popen(
        [
            chromium, "--headless=new", "--no-sandbox", "--disable-gpu",
            "--no-first-run", "--no-default-browser-check", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--metrics-recording-only",
            # Nothing but loopback resolves: a request elsewhere would fail (and be logged).
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            f"--user-data-dir={profile}", "--remote-debugging-port=0",
            "--window-size=1200,800", "about:blank",
        ],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        active = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not active.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        port = active.read_text().split()[0]
        targets = httpx.get(f"http://127.0.0.1:{port}/json/list", timeout=10).json()
        page = next(t for t in targets if t["type"] == "page")
        shot = tmp_path / "periph-serve.png"
        requests, frames = asyncio.run(_devtools(page["webSocketDebuggerUrl"], served.url, shot))
    finally:
        browser.terminate()
        browser.wait(15)
    assert b"Stack" in frames and b"Deploy" in frames, "the app's screen did not arrive"
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 5_000
    assert requests, "the page made no request"
    off_loopback = [u for u in requests if not re.match(r"^(https?|wss?)://127\.0\.0\.1[:/]", u)]
    assert off_loopback == [], off_loopback
