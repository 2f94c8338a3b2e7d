"""The Registry API client's auth handshakes, against a scripted registry (MockTransport).
The Basic flow runs for real against the test registry in tests/integration."""

from __future__ import annotations

import httpx
import pytest

from periph_env.images.credentials import Credentials
from periph_env.images.models import PushRefused
from periph_env.images.registry_api import RegistryClient, RegistryUnreachable

DIGEST = "sha256:" + "c" * 64
SECRET = "s3cret-password-value"


def bearer_registry(accept_password: str):
    """A registry that wants a Bearer token from its realm, like Docker Hub or GHCR."""
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/token":
            auth = request.headers.get("Authorization", "")
            expected = httpx.BasicAuth("ci", accept_password)._auth_header
            if auth != expected:
                return httpx.Response(401)
            return httpx.Response(200, json={"token": "tok-123"})
        if request.headers.get("Authorization") != "Bearer tok-123":
            challenge = (
                'Bearer realm="https://reg.example/token",service="reg.example",'
                'scope="repository:team/peripheral-api:pull"'
            )
            return httpx.Response(401, headers={"WWW-Authenticate": challenge})
        if request.url.path.endswith("/manifests/main"):
            return httpx.Response(200, headers={"Docker-Content-Digest": DIGEST})
        return httpx.Response(404)

    return handle, seen


def test_a_bearer_challenge_is_answered_with_a_token_from_the_realm():
    handle, seen = bearer_registry(SECRET)
    client = RegistryClient(
        "reg.example/team", Credentials("ci", SECRET, "test"), transport=httpx.MockTransport(handle)
    )

    digest = client.manifest_digest("reg.example/team/peripheral-api", "main")

    assert digest == DIGEST
    token_request = next(r for r in seen if r.url.path == "/token")
    assert token_request.url.params["scope"] == "repository:team/peripheral-api:pull"
    assert str(seen[0].url).startswith("https://reg.example/v2/team/peripheral-api/")


def test_a_refused_token_is_a_clear_error_without_the_password():
    handle, _ = bearer_registry("the-right-one")
    client = RegistryClient(
        "reg.example/team", Credentials("ci", SECRET, "test"), transport=httpx.MockTransport(handle)
    )

    with pytest.raises(PushRefused) as caught:
        client.manifest_digest("reg.example/team/peripheral-api", "main")

    assert "refused the credentials (user 'ci' from test)" in str(caught.value)
    assert SECRET not in str(caught.value)


def test_an_absent_tag_is_none():
    handle, _ = bearer_registry(SECRET)
    client = RegistryClient(
        "reg.example/team", Credentials("ci", SECRET, "test"), transport=httpx.MockTransport(handle)
    )

    assert client.manifest_digest("reg.example/team/peripheral-api", "nope") is None


def test_an_unreachable_registry_is_its_own_error():
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    client = RegistryClient("127.0.0.1:5999", None, transport=httpx.MockTransport(refuse))

    with pytest.raises(RegistryUnreachable, match=r"127\.0\.0\.1:5999 is not reachable"):
        client.ping()


def test_loopback_registries_are_spoken_to_over_http():
    assert RegistryClient("127.0.0.1:5000", None).base == "http://127.0.0.1:5000"
    assert RegistryClient("localhost:5000/x", None).base == "http://localhost:5000"
    assert RegistryClient("ghcr.io/org", None).base == "https://ghcr.io"
