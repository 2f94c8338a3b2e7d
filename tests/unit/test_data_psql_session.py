"""The long-lived psql session (``periph_env.data.pg``): a psql that dies says why."""

from __future__ import annotations

import os
import time

import pytest

from periph_env.data import pg


def test_a_psql_that_dies_is_reported_with_its_last_words_even_when_they_come_late(
    monkeypatch,
):
    # On a loaded machine the thread draining psql's stderr can still be reading when the
    # process has exited: the error said only "exited (2)" and no hint matched it.
    original = pg._Session._read_errors

    def late_reader(self) -> None:
        time.sleep(0.3)
        original(self)

    monkeypatch.setattr(pg._Session, "_read_errors", late_reader)
    dying = "echo 'psql: error: connection to server on socket failed' >&2; exit 2"
    session = pg._Session(["sh", "-c", dying], dict(os.environ))
    with pytest.raises(pg.DatabaseError, match="connection to server on socket failed"):
        session._send("SELECT 1")
