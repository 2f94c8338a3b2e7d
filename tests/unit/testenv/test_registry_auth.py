"""The registry's htpasswd file and the test user's stored credentials."""

from __future__ import annotations

import stat
from pathlib import Path

from periph_env.testenv.registry import (
    RegistryInfo,
    credentials,
    htpasswd_line,
    htpasswd_matches,
    htpasswd_rounds,
    registry_config,
    write_htpasswd,
)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_htpasswd_line_is_bcrypt_in_apache_format() -> None:
    line = htpasswd_line("alice", "s3cret", rounds=4)
    user, hashed = line.split(":", 1)
    assert user == "alice"
    assert hashed.startswith("$2y$04$")
    assert "s3cret" not in line


def test_htpasswd_line_accepts_the_password_only() -> None:
    line = htpasswd_line("alice", "s3cret", rounds=4)
    assert htpasswd_matches(line, "alice", "s3cret")
    assert not htpasswd_matches(line, "alice", "wrong")
    assert not htpasswd_matches(line, "bob", "s3cret")


def test_credentials_are_random_private_and_stable(tmp_path: Path) -> None:
    first = credentials(tmp_path)
    assert credentials(tmp_path) == first
    assert len(first[1]) >= 24
    assert mode(tmp_path / "credentials.json") == 0o600


def test_two_state_dirs_get_different_passwords(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    assert credentials(tmp_path / "a")[1] != credentials(tmp_path / "b")[1]


def test_htpasswd_file_is_private_and_kept_when_still_valid(tmp_path: Path) -> None:
    path = tmp_path / "htpasswd"
    write_htpasswd(path, "alice", "s3cret")
    content = path.read_text()
    assert mode(path) == 0o600

    write_htpasswd(path, "alice", "s3cret")
    assert path.read_text() == content  # same salt: not rewritten

    write_htpasswd(path, "alice", "changed")
    assert htpasswd_matches(path.read_text(), "alice", "changed")


def test_password_never_shows_in_registry_info_repr() -> None:
    info = RegistryInfo("127.0.0.1:5000", "alice", "s3cret-value", True)
    assert "s3cret-value" not in repr(info)


def test_config_listens_on_loopback_with_htpasswd_auth(tmp_path: Path) -> None:
    config = registry_config("127.0.0.1:5000", tmp_path / "blobs", tmp_path / "htpasswd")
    assert config["http"]["addr"] == "127.0.0.1:5000"
    assert config["auth"] == {
        "htpasswd": {"realm": "periph-registry", "path": str(tmp_path / "htpasswd")}
    }
    assert config["storage"]["filesystem"]["rootdirectory"] == str(tmp_path / "blobs")


def test_an_htpasswd_file_of_another_bcrypt_cost_is_rewritten_at_apaches_default(
    tmp_path: Path,
) -> None:
    path = tmp_path / "htpasswd"
    path.write_text(htpasswd_line("alice", "s3cret", rounds=10) + "\n")
    write_htpasswd(path, "alice", "s3cret")
    assert htpasswd_rounds(path.read_text()) == 5  # what `htpasswd -B` makes
    assert htpasswd_matches(path.read_text(), "alice", "s3cret")
