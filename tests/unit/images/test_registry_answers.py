"""A registry that times out, refuses, or answers garbage gives an error that names it —
never a decoding traceback (``RegistryClient`` against a scripted MockTransport; the real
sockets are in tests/integration/test_engine_outages.py)."""

from __future__ import annotations

import httpx
import pytest

from periph_env.errors import EngineError
from periph_env.images.registry_api import RegistryClient, RegistryUnreachable

REPO = "reg.example/team/peripheral-api"


def client(handle) -> RegistryClient:
    return RegistryClient("reg.example/team", None, transport=httpx.MockTransport(handle))


def answering(body: bytes, content_type: str = "text/html", headers: dict | None = None):
    def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, content=body, headers={"Content-Type": content_type, **(headers or {})}
        )

    return handle


def raising(error: Exception):
    def handle(request: httpx.Request) -> httpx.Response:
        raise error

    return handle


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.tags(REPO),
        lambda c: c.manifest(REPO, "main"),
        lambda c: c.config_blob(REPO, "sha256:" + "a" * 64),
        lambda c: c.ping(),
    ],
    ids=["tags", "manifest", "config", "ping"],
)
@pytest.mark.parametrize(
    "body",
    [b"<html>sign in</html>", b'{"tags": ["a"', b'["a", "b"]', b"\xff\xfe\x00garbage"],
    ids=["html", "truncated", "a list", "not utf-8"],
)
def test_an_answer_that_is_not_the_registry_api_names_the_registry(call, body):
    with pytest.raises(EngineError) as caught:
        call(client(answering(body)))
    assert "registry reg.example" in str(caught.value)
    assert "not the Registry API's" in str(caught.value)


def test_a_manifest_without_sizes_is_an_error_not_a_crash():
    manifest = client(answering(b'{"layers": [{"digest": "x"}]}', "application/json")).manifest(
        REPO, "main"
    )
    with pytest.raises(EngineError, match="sizes missing"):
        manifest.size()


def test_tags_that_are_not_names_are_an_error():
    body = b'{"name": "x", "tags": [1, {"a": 2}]}'
    with pytest.raises(EngineError, match="tags are not a list of names"):
        client(answering(body, "application/json")).tags(REPO)


def test_a_read_timeout_says_the_registry_accepted_but_did_not_answer():
    with pytest.raises(RegistryUnreachable) as caught:
        client(raising(httpx.ReadTimeout("timed out"))).ping()
    assert "https://reg.example" in str(caught.value)
    assert "accepted the connection but did not answer within 10 s" in str(caught.value)


def test_a_refused_connection_says_so():
    with pytest.raises(RegistryUnreachable, match="connection refused"):
        client(raising(httpx.ConnectError("[Errno 111] Connection refused"))).tags(REPO)


def test_a_redirect_loop_is_an_error_naming_the_registry():
    with pytest.raises(RegistryUnreachable, match="TooManyRedirects"):
        client(raising(httpx.TooManyRedirects("loop"))).tags(REPO)


def test_a_ping_answered_by_a_registry_header_is_accepted_without_a_body():
    headers = {"Docker-Distribution-API-Version": "registry/2.0"}
    client(answering(b"", "text/plain", headers)).ping()


def test_every_request_has_connect_and_read_timeouts():
    made = client(answering(b"{}"))
    timeout = made._client.timeout
    assert timeout.connect == 5.0 and timeout.read == 10.0


@pytest.mark.parametrize("registry", ["127.0.0.1:abc/team", "[::1/team"])
def test_a_registry_address_that_is_not_one_is_a_usage_error_naming_it(registry):
    from periph_env.errors import UsageError

    with pytest.raises(UsageError, match="is not a valid address"):
        RegistryClient(registry, None)


def test_a_host_that_does_not_resolve_says_so():
    error = httpx.ConnectError("[Errno -2] Name or service not known")
    with pytest.raises(RegistryUnreachable, match="its host name does not resolve"):
        client(raising(error)).ping()
