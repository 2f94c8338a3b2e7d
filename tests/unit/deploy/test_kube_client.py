"""The client periph uses: every error status or junk answer is a PeriphError naming the
endpoint, and every request carries a timeout (an in-process HTTP server; no cluster)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from periph_env.deploy import kube_client
from periph_env.deploy import kube_reach as reach
from periph_env.deploy.kube import Kube
from periph_env.errors import EngineError

ANSWERS: dict[str, tuple[int, bytes]] = {}
CREDENTIALS: list[str] = []  # the Authorization header of each request, in order


class Server(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        CREDENTIALS.append(self.headers.get("Authorization", ""))
        status, body = ANSWERS.get(self.path.split("?")[0], (200, b"{}"))
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def kube(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Kube]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Server)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    config = tmp_path / "kubeconfig"
    config.write_text(
        f"clusters:\n- name: c\n  cluster: {{server: 'http://127.0.0.1:{port}'}}\n"
        "users:\n- name: u\n  user: {token: t}\n"
        "contexts:\n- name: ctx\n  context: {cluster: c, user: u}\n"
    )
    monkeypatch.setenv("KUBECONFIG", str(config))
    monkeypatch.setenv("PERIPH_KUBECTL", "/bin/false")
    ANSWERS.clear()
    CREDENTIALS.clear()
    yield Kube("ctx", "ns", secrets=["hunter2-secret"], notice=lambda _text: None)
    server.shutdown()


def core(kube: Kube):
    from kubernetes import client

    return client.CoreV1Api(kube.client())


def status(code: int, message: str) -> bytes:
    return json.dumps({"kind": "Status", "code": code, "message": message}).encode()


def test_a_forbidden_list_names_the_endpoint_and_masks_secrets(kube):
    ANSWERS["/api/v1/namespaces/ns/pods"] = (403, status(403, "pods is forbidden hunter2-secret"))
    with pytest.raises(EngineError) as raised:
        core(kube).list_namespaced_pod("ns")
    assert raised.value.message == (
        f"{kube.endpoint.describe()} answered 403 Forbidden: pods is forbidden ****"
    )
    assert raised.value.status == 403  # still an ApiException for code that checks it


def test_a_not_found_stays_catchable_as_an_api_exception(kube):
    from kubernetes.client.exceptions import ApiException

    ANSWERS["/api/v1/namespaces/ns/pods/x"] = (404, status(404, 'pods "x" not found'))
    with pytest.raises(ApiException) as raised:
        core(kube).read_namespaced_pod("x", "ns")
    assert raised.value.status == 404


def test_a_raw_list_with_an_error_status_is_translated_too(kube):
    ANSWERS["/api/v1/namespaces/ns/pods"] = (503, status(503, "etcd leader changed"))
    with pytest.raises(EngineError, match="answered 503 Service Unavailable: etcd leader"):
        core(kube).list_namespaced_pod("ns", _preload_content=False)


def test_a_page_where_a_pod_list_belongs_is_not_kubernetes(kube):
    ANSWERS["/api/v1/namespaces/ns/pods"] = (200, b"<html>login</html>")
    with pytest.raises(reach.ClusterUnreachable, match=reach.NOT_KUBERNETES):
        core(kube).list_namespaced_pod("ns")


def test_a_request_without_a_timeout_gets_connect_and_read_timeouts():
    assert kube_client.default_timeout("https://h/api/v1/pods") == (5.0, 10.0)


def test_a_watch_reads_a_little_longer_than_its_server_side_timeout():
    url = "https://h/api/v1/namespaces/ns/pods?watch=true&timeoutSeconds=50"
    assert kube_client.default_timeout(url) == (5.0, 65.0)


def test_a_page_where_a_raw_json_answer_belongs_is_not_kubernetes(kube):
    ANSWERS["/api/v1/namespaces/ns/pods"] = (200, b"<html>login</html>")
    with pytest.raises(reach.ClusterUnreachable, match=reach.NOT_KUBERNETES):
        core(kube).list_namespaced_pod("ns", _preload_content=False)


def test_a_raw_json_answer_still_reads_as_it_came(kube):
    ANSWERS["/api/v1/namespaces/ns/pods"] = (200, b'{"items": [{"metadata": {"name": "a"}}]}')
    raw = core(kube).list_namespaced_pod("ns", _preload_content=False)
    assert json.loads(raw.data)["items"][0]["metadata"]["name"] == "a"


def test_a_plain_rest_request_carries_the_contexts_token(kube):
    from periph_env.deploy.kube_rest import open_get

    ANSWERS["/api/v1/namespaces/ns/pods"] = (200, b'{"items": []}')
    open_get(kube.client(), "/api/v1/namespaces/ns/pods").read()
    kube.rest.request("GET", "/api/v1/namespaces/ns/pods")
    core(kube).list_namespaced_pod("ns")  # the generated API's path: the same, once
    assert CREDENTIALS[-3:] == ["Bearer t"] * 3
