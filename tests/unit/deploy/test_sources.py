"""Pins and the secrets source: read as the cluster and the services will see them."""

from __future__ import annotations

from pathlib import Path

import pytest

from periph_env.deploy.sources import pinned_images, read_source
from periph_env.deploy.target import resolve
from periph_env.errors import UsageError

DIGEST = "sha256:" + "ab" * 32


def project(tmp_path: Path, release: str, env_file: str | None = None) -> Path:
    (tmp_path / "periph.toml").write_text(
        '[images]\nregistry = "reg.example:5000"\n[environments.demo]\nbranch = "demo"\n'
        'namespace = "ns"\ncontext = "ctx"\noverlay = "k8s/overlays/demo"\n'
    )
    release_dir = tmp_path / "k8s" / "overlays" / "demo" / "release"
    release_dir.mkdir(parents=True)
    (release_dir / "kustomization.yaml").write_text(release)
    if env_file is not None:
        (tmp_path / ".env.demo").write_text(env_file)
    return tmp_path


@pytest.fixture(autouse=True)
def no_user_config(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("PERIPH_DEMO_CONTEXT", raising=False)
    monkeypatch.delenv("CI", raising=False)


def test_pinned_images_by_service_digest_pinned_only(tmp_path):
    root = project(
        tmp_path,
        f"images:\n  - name: peripheral-backend\n    newName: reg.example:5000/peripheral-backend\n"
        f"    digest: {DIGEST}\n  - name: peripheral-worker\n    newTag: demo\n",
    )
    assert pinned_images(resolve(root, "demo")) == {
        "backend": f"reg.example:5000/peripheral-backend@{DIGEST}"
    }


def test_secrets_read_like_python_dotenv_not_like_kubectl(tmp_path):
    root = project(
        tmp_path,
        "images: []\n",
        'EMAIL_FROM_ADDRESS="Support <s@example.com>"\nPK=pk_test_1\nVITE_KEY=${PK}\n'
        "QUOTED='a b'  # comment\n",
    )
    source = read_source(resolve(root, "demo"))
    assert source.values["EMAIL_FROM_ADDRESS"] == "Support <s@example.com>"
    assert source.values["VITE_KEY"] == "pk_test_1"
    assert source.values["QUOTED"] == "a b"


def test_ci_reads_the_process_environment_for_contract_keys(tmp_path, monkeypatch):
    root = project(tmp_path, "images: []\n")
    (root / ".env.example").write_text("# @secret required\nJWT_SECRET=x\n")
    monkeypatch.setenv("CI", "true")
    monkeypatch.setenv("JWT_SECRET", "from-ci-environment")
    monkeypatch.setenv("UNRELATED", "not-a-contract-key")
    source = read_source(resolve(root, "demo"))
    assert source.origin == "process environment"
    assert source.values == {"JWT_SECRET": "from-ci-environment"}


def test_missing_secrets_file_outside_ci_is_a_usage_error(tmp_path):
    root = project(tmp_path, "images: []\n")
    with pytest.raises(UsageError, match=r"\.env\.demo not found"):
        read_source(resolve(root, "demo"))


def test_unknown_environment_is_a_usage_error(tmp_path):
    root = project(tmp_path, "images: []\n")
    with pytest.raises(UsageError, match="no environment 'staging'"):
        resolve(root, "staging")


def test_context_comes_from_the_environment_variable(tmp_path, monkeypatch):
    root = project(tmp_path, "images: []\n")
    monkeypatch.setenv("PERIPH_DEMO_CONTEXT", "other-ctx")
    assert resolve(root, "demo").context == "other-ctx"


def test_secret_values_are_masked_but_a_user_name_and_a_port_stay_readable(tmp_path):
    root = project(
        tmp_path,
        "images: []\n",
        "DB_USER=peripheral\nDB_PORT=5432\nREDIS_HOST=cache\nDB_PASSWORD=sEcr3t-db-pass\n"
        "ALERT_HOOK=https://hooks.example/abc\n"
        "DATABASE_URL=postgres://app:hunter22x@db:5432/app\n",
    )
    (root / ".env.example").write_text("# @secret optional\nALERT_HOOK=\n")
    secrets = read_source(resolve(root, "demo")).secret_values()
    assert "sEcr3t-db-pass" in secrets  # the key's name says password
    assert "https://hooks.example/abc" in secrets  # the contract says @secret
    assert "postgres://app:hunter22x@db:5432/app" in secrets  # a URL with a password
    assert not {"peripheral", "5432", "cache"} & set(secrets)
