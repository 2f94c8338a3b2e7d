"""``python -m peripheral_worker``: HOT_RELOAD picks the reloading supervisor, and an image
without watchfiles (the prod image) still runs the worker."""

from __future__ import annotations

import builtins
import logging

import pytest
from peripheral_worker import __main__ as entry


@pytest.fixture
def ran(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    monkeypatch.setattr(entry, "run", lambda: calls.append("run"))
    return calls


def test_without_hot_reload_the_worker_runs_directly(monkeypatch, ran):
    monkeypatch.setenv("HOT_RELOAD", "false")
    entry.main()
    assert ran == ["run"]


def test_hot_reload_without_watchfiles_warns_and_still_runs(monkeypatch, ran, caplog):
    real_import = builtins.__import__

    def no_watchfiles(name, *args, **kwargs):
        if name == "watchfiles":
            raise ImportError("No module named 'watchfiles'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setenv("HOT_RELOAD", "true")
    monkeypatch.setattr(builtins, "__import__", no_watchfiles)
    with caplog.at_level(logging.WARNING):
        entry.main()
    assert ran == ["run"]
    assert "running without reload" in caplog.text
