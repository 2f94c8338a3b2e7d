"""``docker_sdk.translate``: what the docker SDK and the libraries under it raise becomes
one ``PeriphError`` that names the engine and says what happened (the exceptions are
built as the SDK raises them; the real sockets are in test_engine_outages.py)."""

from __future__ import annotations

import json

import docker.errors
import pytest
import requests
import urllib3

from periph_env.errors import EXIT_FAILURE, EngineError
from periph_env.stack.docker_sdk import sdk_errors, translate
from periph_env.stack.errors import EngineUnavailable

HOST = "unix:///run/test-engine.sock"


def raised_from(outer: Exception, inner: BaseException) -> Exception:
    try:
        try:
            raise inner
        except BaseException as exc:
            raise outer from exc
    except Exception as caught:
        return caught


def test_a_refused_tcp_connection_is_refused_not_a_timeout():
    # urllib3's NewConnectionError is also a ConnectTimeoutError.
    new = raised_from(
        urllib3.exceptions.NewConnectionError(None, "Failed to establish a new connection"),
        ConnectionRefusedError(111, "Connection refused"),
    )
    error = translate(raised_from(requests.exceptions.ConnectionError("x"), new), "ping", HOST)
    assert isinstance(error, EngineUnavailable)
    assert f"the Docker engine at {HOST} is not reachable" in error.message
    assert "connection refused" in error.message


def test_a_read_timeout_says_the_engine_did_not_answer():
    error = translate(requests.exceptions.ReadTimeout("Read timed out."), "list images", HOST)
    assert isinstance(error, EngineUnavailable)
    assert "did not answer in time while trying to list images" in error.message


def test_a_missing_socket_says_there_is_none():
    error = translate(
        raised_from(requests.exceptions.ConnectionError("aborted"), FileNotFoundError(2, "x")),
        "connect",
        HOST,
    )
    assert "no socket there" in error.message


def test_an_engine_error_answer_keeps_its_status_and_explanation():
    response = requests.Response()
    response.status_code = 500
    error = translate(
        docker.errors.APIError("boom", response, explanation="disk full"), "tag x", HOST
    )
    assert isinstance(error, EngineError) and not isinstance(error, EngineUnavailable)
    assert "refused to tag x: HTTP 500: disk full" in error.message


def test_json_that_does_not_decode_says_the_endpoint_is_not_an_engine():
    error = translate(
        raised_from(
            docker.errors.DockerException("Error while fetching server API version"),
            json.JSONDecodeError("Expecting value", "<html>", 0),
        ),
        "connect",
        HOST,
    )
    assert "answered, but not as the Docker Engine API does" in error.message


def test_an_answer_of_the_wrong_shape_says_the_endpoint_is_not_an_engine():
    error = translate(
        raised_from(
            docker.errors.DockerException("Error while fetching server API version"),
            TypeError("list indices must be integers or slices, not str"),
        ),
        "connect",
        HOST,
    )
    assert "not as the Docker Engine API does" in error.message


def test_a_bug_of_ours_is_not_disguised_as_an_engine_error():
    assert translate(ValueError("our own bug"), "build", HOST) is None
    with pytest.raises(ValueError), sdk_errors("build", HOST):
        raise ValueError("our own bug")


def test_an_unreachable_engine_is_a_failure_not_a_usage_error():
    error = translate(requests.exceptions.ConnectionError("refused"), "ping", HOST)
    assert error.exit_code == EXIT_FAILURE


def test_sdk_errors_turns_the_sdk_exception_into_the_translation():
    with pytest.raises(EngineUnavailable, match=HOST), sdk_errors("ping", HOST):
        raise requests.exceptions.ReadTimeout("Read timed out.")


def test_a_heartbeat_that_loses_the_engine_says_so_and_shuts_the_stream(tmp_path):
    from periph_env.stack.docker_sdk import Heartbeat

    class Response:
        closed = False

    host = f"unix://{tmp_path}/gone.sock"
    heartbeat = Heartbeat(host, Response(), every=0.01, misses=2)
    with heartbeat:
        heartbeat._thread.join(timeout=30)
    assert (
        heartbeat.lost
        == f"the Docker engine at {host} stopped answering (2 pings in a row unanswered)"
    )


def test_a_heartbeat_without_a_stream_starts_nothing():
    from periph_env.stack.docker_sdk import Heartbeat

    with Heartbeat(HOST, None) as heartbeat:
        assert not heartbeat._thread.is_alive()
    assert heartbeat.lost is None
