"""Where a context's API server is, and how its failures read (kube_reach)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import urllib3.exceptions

from periph_env.deploy import kube_reach as reach
from tests.fixtures.endpoints import Silent

KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: {{server: "{server}"}}
users:
- name: u
  user: {{token: not-a-real-token}}
contexts:
- name: peripheral-demo
  context: {{cluster: c, user: u}}
current-context: peripheral-demo
"""


def kubeconfig(tmp_path: Path, server: str, name: str = "config") -> Path:
    path = tmp_path / name
    path.write_text(KUBECONFIG.format(server=server))
    return path


@pytest.fixture
def closed_port() -> int:
    """A port nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def silent_listener() -> Iterator[int]:
    """A listener that accepts connections and never answers (a stopped API server)."""
    with Silent() as server:
        yield int(server.address.rsplit(":", 1)[1])


def test_the_endpoint_is_the_contexts_cluster_server(tmp_path):
    path = kubeconfig(tmp_path, "https://10.0.0.7:6443")
    ep = reach.endpoint("peripheral-demo", str(path))
    assert ep.server == "https://10.0.0.7:6443"
    assert ep.describe() == "the API server https://10.0.0.7:6443 (context peripheral-demo)"


def test_an_unknown_context_still_names_the_context(tmp_path):
    path = kubeconfig(tmp_path, "https://10.0.0.7:6443")
    assert reach.endpoint("nope", str(path)).describe() == "the API server (context nope)"


def test_a_kubeconfig_that_is_not_yaml_gives_an_unknown_endpoint(tmp_path):
    path = tmp_path / "config"
    path.write_text("clusters: [unclosed\n")
    assert reach.endpoint("peripheral-demo", str(path)).server == ""


def test_contexts_merge_every_kubeconfig_file_first_current_context_wins(tmp_path):
    first = kubeconfig(tmp_path, "https://a:1", "one")
    second = tmp_path / "two"
    second.write_text("contexts:\n- name: other\n  context: {cluster: x}\ncurrent-context: other\n")
    names, current = reach.contexts(f"{first}:{second}")
    assert names == ["peripheral-demo", "other"]
    assert current == "peripheral-demo"


def test_probe_of_a_closed_port_says_refused(closed_port):
    ep = reach.Endpoint("peripheral-demo", f"https://127.0.0.1:{closed_port}")
    assert reach.probe(ep) == "refused the connection"


def test_probe_of_a_listener_that_never_answers_says_so(silent_listener):
    ep = reach.Endpoint("peripheral-demo", f"https://127.0.0.1:{silent_listener}")
    assert reach.probe(ep) == "accepted the connection but did not answer within 5 s"


def test_probe_is_skipped_behind_a_proxy(closed_port):
    ep = reach.Endpoint("peripheral-demo", f"https://127.0.0.1:{closed_port}", proxied=True)
    assert reach.probe(ep) is None


@pytest.mark.parametrize(
    ("stderr", "reason"),
    [
        (
            "dial tcp 127.0.0.1:1: connect: connection refused\nThe connection to the "
            "server 127.0.0.1:1 was refused - did you specify the right host or port?",
            "refused the connection",
        ),
        (
            "Unable to connect to the server: context deadline exceeded",
            "did not answer within 10 s",
        ),
        (
            "Unable to connect to the server: net/http: TLS handshake timeout",
            "did not complete the TLS handshake in time",
        ),
        ("dial tcp: lookup nowhere.invalid: no such host", "cannot be found (no such host)"),
        (
            "read tcp 127.0.0.1:5->127.0.0.1:6443: read: connection reset by peer",
            "dropped the connection (reset by peer)",
        ),
    ],
)
def test_kubectl_transport_failures_are_recognised(stderr, reason):
    assert reach.kubectl_reason(stderr) == reason


def test_an_answer_of_the_api_server_is_not_a_transport_failure():
    stderr = 'Error from server (NotFound): configmaps "x" not found'
    assert reach.kubectl_reason(stderr) is None


def test_urllib3_errors_read_as_what_happened():
    refused = urllib3.exceptions.MaxRetryError(
        None, "/api", urllib3.exceptions.NewConnectionError(None, "Connection refused")
    )
    silent = urllib3.exceptions.MaxRetryError(
        None, "/api", urllib3.exceptions.ReadTimeoutError(None, "/api", "Read timed out.")
    )
    dropped = urllib3.exceptions.ProtocolError("Connection aborted.")
    assert reach.exception_reason(refused) == "refused the connection"
    assert reach.exception_reason(silent) == "accepted the connection but did not answer in time"
    assert reach.exception_reason(dropped) == "dropped the connection"


def test_an_api_error_names_the_endpoint_and_stays_an_api_exception():
    from kubernetes.client.exceptions import ApiException

    from periph_env.errors import EngineError

    original = ApiException(status=403, reason="Forbidden")
    original.body = '{"kind":"Status","message":"configmaps is forbidden: hunter2-secret"}'
    ep = reach.Endpoint("peripheral-demo", "https://10.0.0.7:6443")
    error = reach.api_error(original, ep, lambda t: t.replace("hunter2-secret", "****"))
    assert isinstance(error, ApiException) and isinstance(error, EngineError)
    assert error.status == 403
    assert str(error).splitlines()[0] == (
        "the API server https://10.0.0.7:6443 (context peripheral-demo) answered 403 "
        "Forbidden: configmaps is forbidden: ****"
    )
    assert "RBAC" in (error.hint or "")


def test_a_certificate_failure_keeps_openssls_words():
    text = (
        "SSLError\nHTTPSConnectionPool(host='10.0.0.7', port=6443): Max retries exceeded "
        "(Caused by SSLError(SSLCertVerificationError(1, '[SSL: CERTIFICATE_VERIFY_FAILED] "
        "certificate verify failed: self-signed certificate in certificate chain (_ssl.c:1006)')))"
    )
    assert reach.tls_reason(text) == (
        "failed the TLS handshake (certificate verify failed: self-signed certificate in "
        "certificate chain)"
    )
    assert (
        reach.kubectl_reason(
            "Unable to connect to the server: tls: failed to verify certificate: x509: "
            "certificate signed by unknown authority"
        )
        == "presented a certificate kubectl does not trust (x509)"
    )


def test_a_hang_up_during_the_handshake_reads_as_closed():
    text = "SSLEOFError(8, '[SSL: UNEXPECTED_EOF_WHILE_READING] EOF occurred in violation')"
    assert reach.tls_reason(text) == "closed the connection during the TLS handshake"
