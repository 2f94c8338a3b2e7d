"""A stand-in is rebuilt exactly when its definition changes: the content hash."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from periph_env.testenv.base_images import IMAGES_DIR, HostInput, definition_hash, host_extra_cas


@pytest.fixture
def definition(tmp_path: Path) -> Path:
    directory = tmp_path / "def"
    directory.mkdir()
    (directory / "Dockerfile").write_text("FROM debian:bookworm-slim\n")
    (directory / "entrypoint.sh").write_text('#!/bin/sh\nexec "$@"\n')
    return directory


def test_same_definition_same_hash(definition: Path) -> None:
    assert definition_hash(definition) == definition_hash(definition)


def test_changed_file_content_changes_the_hash(definition: Path) -> None:
    before = definition_hash(definition)
    (definition / "entrypoint.sh").write_text('#!/bin/sh\nexec tini -- "$@"\n')
    assert definition_hash(definition) != before


def test_making_a_script_executable_changes_the_hash(definition: Path) -> None:
    before = definition_hash(definition)
    (definition / "entrypoint.sh").chmod(0o755)
    assert definition_hash(definition) != before


def test_a_new_file_changes_the_hash(definition: Path) -> None:
    before = definition_hash(definition)
    (definition / "extra.conf").write_text("x\n")
    assert definition_hash(definition) != before


def test_base_or_facts_change_the_hash(definition: Path) -> None:
    assert definition_hash(definition, extra=["base=aaa"]) != definition_hash(
        definition, extra=["base=bbb"]
    )


def test_an_upgraded_host_input_changes_the_hash(definition: Path, tmp_path: Path) -> None:
    tree = tmp_path / "go"
    (tree / "bin").mkdir(parents=True)
    (tree / "bin" / "go").write_text("go1.26.0")
    inputs = [HostInput("go", tree)]
    before = definition_hash(definition, inputs)

    (tree / "bin" / "go").write_text("go1.26.10")
    os.utime(tree / "bin" / "go", ns=(1, 1))

    assert definition_hash(definition, inputs) != before


def test_every_shipped_definition_has_a_dockerfile_or_the_debian_script() -> None:
    for directory in sorted(p for p in IMAGES_DIR.iterdir() if p.is_dir()):
        if directory.name == "debian":
            assert os.access(directory / "slim.sh", os.X_OK)
        else:
            assert (directory / "Dockerfile").is_file(), directory


def test_host_extra_cas_are_the_crt_files_update_ca_certificates_reads(tmp_path: Path) -> None:
    (tmp_path / "corp").mkdir()
    (tmp_path / "corp" / "proxy.crt").write_text("PEM")
    (tmp_path / "egress.crt").write_text("PEM")
    (tmp_path / "README").write_text("not a cert")

    assert host_extra_cas(tmp_path) == [tmp_path / "corp" / "proxy.crt", tmp_path / "egress.crt"]


def test_no_extra_ca_directory_means_no_extra_cas(tmp_path: Path) -> None:
    assert host_extra_cas(tmp_path / "missing") == []
