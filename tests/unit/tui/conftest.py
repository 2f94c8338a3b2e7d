"""Shared set-up for TUI pilot tests: a deterministic app over fake or real engines."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from periph_env.tui.app import PeriphApp, Settings
from tests.unit.tui.fakes import NOW, FakeStack, fake_api

EXAMPLE = """\
# Database host.
# @host required
DB_HOST=localhost
# @port required
DB_PORT=5432
# Signing key for tokens.
# @secret required demo,prod:strong
JWT_SECRET=changeme
"""

SECRET = "s3cr3t-Very-Private-9f8e7d6c5b4a"


def write_env(root: Path, body: str) -> Path:
    """Write ``root/.env`` (private, as a developer's is)."""
    path = root / ".env"
    path.write_text(body)
    path.chmod(0o600)
    return path


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project with an annotated example and a matching .env holding a secret."""
    (tmp_path / ".env.example").write_text(EXAMPLE)
    write_env(tmp_path, f"DB_HOST=db\nDB_PORT=5432\nJWT_SECRET={SECRET}\n")
    return tmp_path


def settings(**overrides) -> Settings:
    """Deterministic settings: fixed clock, no blink, a keymap file that does not exist."""
    base = {
        "cursor_blink": False,
        "watch_files": False,
        "clock": lambda: NOW,
        "retry": 0.1,
        "keymap_path": Path.home() / ".config" / "periph" / "no-such-keymap.toml",
        # The lighter harness: an area mounts when the test first shows it (pass
        # mount_hidden=True for a test of what hidden areas do before they are shown).
        "mount_hidden": False,
    }
    base.update(overrides)
    return Settings(**base)


def make_app(root: Path, *, stack: FakeStack | None = None, api=None, **overrides) -> PeriphApp:
    """An app over the fake stack engine (tests of real engines pass their own)."""
    return PeriphApp(
        root,
        stack=stack if stack is not None else FakeStack(),
        stack_api=api if api is not None else fake_api(),
        settings=settings(**overrides),
    )


async def workers_done(app: PeriphApp) -> None:
    """Wait for every worker; a replaced exclusive worker is not a failure."""
    # An exclusive worker (the env re-check) is cancelled when a newer one replaces it:
    # that is the design, so wait again for the newer one instead of failing.
    from textual.worker import WorkerCancelled

    for _ in range(20):
        try:
            await app.workers.wait_for_complete()
            break
        except WorkerCancelled:
            continue
    else:
        await app.workers.wait_for_complete()
    # The Deploy area's operations are owned runs in the session's own threads.
    session = app.deploy_session
    for _ in range(1500):
        if session is None or not session.busy:
            return
        await asyncio.sleep(0.01)


async def settle(app: PeriphApp, pilot, delay: float = 0.0) -> None:
    """Let workers finish and the messages they posted render.

    No fixed wait by default: what a background thread posts later (log batches, status
    events) is waited for by its condition, with ``wait_until`` or ``wait_text``.
    """
    await workers_done(app)
    await pilot.pause()
    if delay:
        await pilot.pause(delay)
    await workers_done(app)
    await pilot.pause()


async def wait_until(pilot, condition, what: str = "the condition", tries: int = 1500) -> None:
    """Pause (a frame at a time) until ``condition()`` holds; fail naming ``what`` if never.

    ``tries`` bounds the wait (at least 30 s): a bound for a test on a loaded CI machine,
    never a timing assertion."""
    for _ in range(tries):
        if condition():
            return
        await pilot.pause(0.02)
    if not condition():
        raise AssertionError(f"{what} never held")


@pytest.fixture
def anyio_backend() -> str:
    """Pilot tests run on asyncio (anyio's pytest plugin drives ``async def`` tests)."""
    return "asyncio"


async def wait_text(app: PeriphApp, pilot, text: str, tries: int = 1500) -> str:
    """Pause until ``text`` is on screen (for flows that wait on threads); the screen."""
    from tests.unit.tui.screen import screen_text

    for _ in range(tries):
        shown = screen_text(app)
        if text in shown:
            return shown
        await pilot.pause(0.02)
    raise AssertionError(f"{text!r} never appeared:\n{screen_text(app)}")


@pytest.fixture(autouse=True)
def test_engines_not_running(monkeypatch):
    """The TUI's hints see no running test engines unless a test says so (the machine's
    own registry and cluster must not change what a unit test shows)."""
    from periph_env.testenv import shell_env

    monkeypatch.setattr(shell_env, "cached_probe", lambda: shell_env.Probe())


@pytest.fixture
def test_engines_running(monkeypatch):
    """The TUI's hints see the test registry and cluster running, this shell not pointed."""
    from periph_env.testenv import shell_env

    found = shell_env.Probe("127.0.0.1:5000", "periph-test", Path("/cache/kubeconfig"))
    monkeypatch.setattr(shell_env, "cached_probe", lambda: found)
    for name in shell_env.EXPORTED:
        monkeypatch.delenv(name, raising=False)
    return found
