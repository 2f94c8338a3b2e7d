"""Tools' own errors come out masked, run for real: Compose v2 through ``periph doctor``
and ``periph up``, and kubectl against the test cluster echoing a Secret's base64 data."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path

import pytest

from periph_env.deploy.kube import Kube
from periph_env.errors import PeriphError

ROOT = Path(__file__).resolve().parents[2]


def make_project(root: Path, compose_env: str, example: str, env: str) -> Path:
    """A minimal periph project whose compose file reads one variable from ``.env``."""
    (root / "compose").mkdir()
    (root / "compose" / "compose.yaml").write_text(
        "services:\n  app:\n    image: debian:bookworm-slim\n"
        f"    environment:\n      {compose_env}: ${{{compose_env}}}\n"
    )
    (root / ".env.example").write_text(example)
    (root / ".env").write_text(env)
    return root


def periph(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The real ``periph`` command in ``root`` (a fresh process, as a user runs it)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("PERIPH_PROJECT", None)
    return subprocess.run(
        [sys.executable, "-m", "periph_env", *args],
        cwd=root, env=env, capture_output=True, text=True, timeout=180,
    )  # fmt: skip


def test_compose_parse_error_through_doctor_is_masked(compose_v2, tmp_path: Path):
    """Compose quotes an unterminated value (``unterminated quoted value "LocalDBpw_abc``)
    that python-dotenv never read: the doctor shows compose's error with it masked."""
    root = make_project(
        tmp_path,
        "DB_PASSWORD",
        "# @secret\nDB_PASSWORD=devpassword\n",
        'DB_PASSWORD="LocalDBpw_abc\n',
    )
    proc = periph(root, "doctor")
    shown = proc.stdout + proc.stderr
    assert proc.returncode == 1
    assert "unterminated quoted value" in shown  # compose's own error reached the user
    assert "LocalDBpw" not in shown


def test_compose_parse_error_through_up_is_masked(compose_v2, tmp_path: Path):
    """A key the contract marks ``@secret`` (its name does not say so) holds a broken
    ``${`` template: the env check passes, compose refuses the file quoting the value,
    and ``periph up`` shows that error masked."""
    root = make_project(
        tmp_path, "SIGNING", "# @secret\nSIGNING=devsigning\n", "SIGNING=${Zq8_kQ\n"
    )
    proc = periph(root, "up")
    shown = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "Invalid template" in shown
    assert "Zq8_kQ" not in shown


def test_a_failing_server_side_apply_echoing_a_secret_shows_no_base64_data(
    kube_cluster, k8s_namespace: str, monkeypatch: pytest.MonkeyPatch
):
    """The API server refuses a malformed Secret in a server-side apply and echoes its
    ``data`` (base64) in the error (``.data: expected map, got &{[VHIw...]}``): the error
    periph raises holds no form of the password, and kubectl's reason is still there."""
    password = "Tr0ub4dor&3"
    encoded = base64.b64encode(password.encode()).decode()
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "app", "namespace": k8s_namespace},
        "data": [encoded],  # a list where a map belongs: the server quotes it back
    }
    monkeypatch.setenv("KUBECONFIG", str(kube_cluster.kubeconfig))
    monkeypatch.setenv("PERIPH_KUBECTL", str(kube_cluster.bin_dir / "kubectl"))
    kube = Kube(kube_cluster.context, k8s_namespace, secrets=[password])
    with pytest.raises(PeriphError) as failure:
        kube.apply([secret])
    shown = str(failure.value)
    assert "expected map" in shown  # the server's own reason reached the user
    assert password not in shown
    assert encoded not in shown and encoded.rstrip("=") not in shown
