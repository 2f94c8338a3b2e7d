"""`periph doctor` tells the truth about the env file and the kube contexts.

Real files (directories, FIFOs, links) and the real kubectl reading a real kubeconfig.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from periph_env.stack.checks import check_env, check_hints, check_kubectl
from periph_env.stack.control import Stack

TOML = """\
[environments.demo]
branch = "demo"
namespace = "peripheral-demo"
context = "peripheral-demo"
overlay = "k8s/overlays/demo"

[environments.prod]
branch = "prod"
namespace = "peripheral-prod"
context = "peripheral-prod"
overlay = "k8s/overlays/prod"
"""


@pytest.fixture
def stack(tmp_path: Path) -> Stack:
    (tmp_path / "compose.yaml").write_text("services: {}\n")
    (tmp_path / ".env.example").write_text("# @host\nDB_HOST=localhost\n")
    return Stack(tmp_path, compose_path=tmp_path / "compose.yaml")


def test_a_directory_env_is_called_a_directory_not_missing(stack: Stack):
    stack.env_file.mkdir()
    check = check_env(stack)
    assert check.status == "fail"
    assert check.detail == f"{stack.env_file} is a directory, not a regular file"
    assert "move it out of the way" in (check.remedy or "")


def test_a_fifo_env_is_called_a_fifo_and_never_opened(stack: Stack):
    os.mkfifo(stack.env_file)  # opened for reading, it would block doctor forever
    check = check_env(stack)
    assert (check.status, check.detail) == (
        "fail",
        f"{stack.env_file} is a FIFO (named pipe), not a regular file",
    )


def test_a_dangling_env_link_names_its_missing_target(stack: Stack):
    stack.env_file.symlink_to("secrets/dev.env")
    check = check_env(stack)
    assert check.status == "fail"
    assert check.detail == (
        f"{stack.env_file} does not exist: it is a symlink to "
        f"{stack.root}/secrets/dev.env, which is missing"
    )
    assert "remove the link" in (check.remedy or "")


def test_a_missing_env_is_still_a_warning_with_its_remedy(stack: Stack):
    check = check_env(stack)
    assert (check.status, check.detail) == ("warn", f"{stack.env_file} does not exist")


def test_an_env_file_the_checker_refuses_is_a_failure_not_a_traceback(stack: Stack):
    stack.env_file.write_bytes(b"A=1\n" * (70 << 10))  # past the 256 KiB bound
    check = check_env(stack)
    assert check.status == "fail" and "periph reads env files up to 256 KiB" in check.detail


def test_a_directory_example_is_named_not_taken_for_no_example(stack: Stack):
    stack.example_file.unlink()
    stack.example_file.mkdir()
    check = check_env(stack)
    assert (check.status, check.detail) == (
        "fail",
        f"{stack.example_file} is a directory, not a regular file",
    )


def kubeconfig(path: Path, *contexts: str) -> Path:
    """A kubeconfig holding ``contexts`` (one cluster, one user; nothing is contacted)."""
    lines = [
        "apiVersion: v1",
        "kind: Config",
        "clusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]",
        "users: [{name: u, user: {}}]",
        "contexts:",
        *(f"- {{name: {name}, context: {{cluster: c, user: u}}}}" for name in contexts),
        f"current-context: {contexts[0] if contexts else ''}",
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    if shutil.which("kubectl") is None:
        pytest.skip("kubectl is not installed")
    (tmp_path / "periph.toml").write_text(TOML)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))  # no per-user overrides
    for var in ("PERIPH_DEMO_CONTEXT", "PERIPH_PROD_CONTEXT", "PERIPH_KUBECTL"):
        monkeypatch.delenv(var, raising=False)
    return tmp_path


def test_kubectl_is_not_ok_when_no_configured_context_is_in_the_kubeconfig(project, monkeypatch):
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig(project / "kc", "someone-else")))
    check = check_kubectl(project)
    assert check.status == "warn"
    assert check.detail.startswith(
        "none of the configured contexts is in the kubeconfig: peripheral-demo (demo), "
        "peripheral-prod (prod) (1 other context(s), current: someone-else)"
    )
    remedy = check.remedy or ""
    assert "periph testenv up" in remedy and "KUBECONFIG" in remedy
    assert "PERIPH_DEMO_CONTEXT / PERIPH_PROD_CONTEXT" in remedy


def test_kubectl_is_not_ok_with_an_empty_kubeconfig(project, monkeypatch):
    monkeypatch.setenv("KUBECONFIG", str(project / "absent"))
    check = check_kubectl(project)
    assert check.status == "warn" and "no contexts in the kubeconfig" in check.detail
    assert "periph testenv up" in (check.remedy or "")


def test_kubectl_is_ok_with_one_configured_context_and_names_the_missing_one(project, monkeypatch):
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig(project / "kc", "peripheral-demo")))
    check = check_kubectl(project)
    assert check.status == "ok"
    assert check.detail == (
        "1 context(s), current: peripheral-demo; deploys use demo: peripheral-demo; "
        "not in the kubeconfig: peripheral-prod (prod)"
    )


def test_an_environment_variable_context_counts_as_configured(project, monkeypatch):
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig(project / "kc", "kind-dev")))
    monkeypatch.setenv("PERIPH_DEMO_CONTEXT", "kind-dev")
    check = check_kubectl(project)
    assert check.status == "ok" and "deploys use demo: kind-dev" in check.detail


def test_a_kubeconfig_kubectl_cannot_read_is_named_without_its_content(project, monkeypatch):
    broken = project / "kc"
    broken.write_text("token: Zx9Qw8Er7Ty6Ui5Op4As3Df2\n\t: [unclosed\n")
    monkeypatch.setenv("KUBECONFIG", str(broken))
    check = check_kubectl(project)
    assert check.status == "warn" and check.detail.startswith("kubectl cannot read the kubeconfig")
    assert "Zx9Qw8Er7Ty6Ui5Op4As3Df2" not in check.detail + (check.remedy or "")


def test_a_broken_alert_hint_rule_fails_doctor_naming_file_and_line(stack: Stack):
    stack.compose_path.write_text(
        "services:\n  app:\n    image: x\n    x-periph:\n      hints:\n"
        "        - {match: '(', hint: h}\n"
    )
    check = check_hints(stack)
    assert check.status == "fail"
    assert "compose.yaml:5: service 'app'" in check.detail and "regex" in check.detail


def test_the_shipped_hint_rules_pass_doctor():
    from periph_env.common.paths import find_project_root

    root = find_project_root(Path(__file__))
    shipped = Stack(root, compose_path=root / "compose" / "compose.yaml")
    check = check_hints(shipped)
    assert check.status == "ok", check.detail
    assert not check.detail.startswith("0 ")
