"""Which Debian mirror the base-image stand-ins bootstrap from: the one apt uses on the host."""

from __future__ import annotations

from pathlib import Path

import pytest

from periph_env.errors import EngineError
from periph_env.testenv import debian_host
from periph_env.testenv.debian_host import (
    DEFAULT_MIRROR,
    DEFAULT_SECURITY_MIRROR,
    AptSource,
    ensure_packages,
    host_sources,
    is_debian,
    parse_deb822,
    parse_one_line,
    pick_mirrors,
)
from periph_env.testenv.state import Log

DEB822 = """\
Types: deb
# http://snapshot.debian.org/archive/debian/20250520T000000Z
URIs: http://mirror.example/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://mirror.example/debian-security
Suites: bookworm-security
Components: main
"""

NODESOURCE = """\
Types: deb
URIs: https://deb.nodesource.com/node_20.x
Suites: nodistro
Components: main
"""


def test_deb822_stanzas_become_sources() -> None:
    assert parse_deb822(DEB822) == [
        AptSource("http://mirror.example/debian", ("bookworm", "bookworm-updates"), ("main",)),
        AptSource("http://mirror.example/debian-security", ("bookworm-security",), ("main",)),
    ]


def test_disabled_and_source_only_stanzas_are_ignored() -> None:
    text = "Types: deb-src\nURIs: http://a/\nSuites: bookworm\nComponents: main\n\n"
    text += "Types: deb\nEnabled: no\nURIs: http://b/\nSuites: bookworm\nComponents: main\n"
    assert parse_deb822(text) == []


def test_one_line_format_with_options_and_comments() -> None:
    text = (
        "# deb http://old/ bookworm main\n"
        "deb [arch=amd64 signed-by=/k.gpg] http://mirror.example/debian bookworm main contrib\n"
        "deb-src http://mirror.example/debian bookworm main\n"
    )
    assert parse_one_line(text) == [
        AptSource("http://mirror.example/debian", ("bookworm",), ("main", "contrib"))
    ]


def test_mirrors_are_picked_by_suite_not_by_position() -> None:
    sources = parse_deb822(NODESOURCE) + parse_deb822(DEB822)
    assert pick_mirrors(sources) == (
        "http://mirror.example/debian",
        "http://mirror.example/debian-security",
    )


def test_third_party_bookworm_repositories_are_not_mirrors() -> None:
    sources = parse_one_line("deb https://packages.cloud.google.com/apt cloud-sdk-bookworm main\n")
    assert pick_mirrors(sources) == (DEFAULT_MIRROR, DEFAULT_SECURITY_MIRROR)


def test_host_sources_read_list_and_sources_files_but_not_disabled_ones(tmp_path: Path) -> None:
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d" / "debian.sources").write_text(DEB822)
    (tmp_path / "sources.list.d" / "extra.list").write_text("deb http://x/ bookworm main\n")
    (tmp_path / "sources.list.d" / "old.list.disabled").write_text("deb http://y/ bookworm main\n")

    uris = [s.uri for s in host_sources(tmp_path)]

    assert uris == [
        "http://mirror.example/debian",
        "http://mirror.example/debian-security",
        "http://x/",
    ]


def test_debian_and_derivatives_are_recognised(tmp_path: Path) -> None:
    release = tmp_path / "os-release"
    release.write_text('PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\n')
    assert is_debian(release)
    release.write_text("ID=ubuntu\nID_LIKE=debian\n")
    assert is_debian(release)
    release.write_text('ID="fedora"\n')
    assert not is_debian(release)


def test_missing_package_off_debian_fails_naming_the_package(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(debian_host, "is_debian", lambda: False)

    with pytest.raises(EngineError) as failure:
        ensure_packages({"periph-no-such-command": "periph-pkg"}, Log(), why="the test")

    assert "periph-no-such-command" in str(failure.value)
    assert "periph-pkg" in str(failure.value)
