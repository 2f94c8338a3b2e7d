"""``periph serve`` on a taken port fails before it prints the URL with its token, and
names what holds the port."""

from __future__ import annotations

import os
import socket

import pytest

from periph_env.cli import main


@pytest.fixture
def taken_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        yield sock.getsockname()[1]


def test_a_taken_port_fails_with_exit_1_before_any_url_or_token(taken_port, capsys):
    code = main(["serve", "--port", str(taken_port)])
    out, err = capsys.readouterr()
    assert code == 1
    assert "token=" not in out + err and "http://" not in out + err
    assert f"port {taken_port} is in use by pid {os.getpid()} (" in err


def test_the_hint_offers_another_port(taken_port, capsys):
    main(["serve", "--port", str(taken_port)])
    assert f"periph serve --port {taken_port + 1}" in capsys.readouterr().err
