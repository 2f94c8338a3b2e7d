"""Compose's path matching for develop.watch (moby/patternmatcher), pattern by pattern.

Each expectation here was checked against `docker compose watch` 2.40 on the same rule
(tests/integration/test_watch_compose_parity.py replays the class for real).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from periph_env.stack.reload.patterns import (
    PathMatcher,
    clean,
    dockerignore,
    ephemeral,
    read_ignore_file,
)

RULE = "/repo/src"


def ignores(patterns: list[str], rel: str) -> bool:
    return PathMatcher(RULE, patterns).matches(f"{RULE}/{rel}")


@pytest.mark.parametrize(
    ("pattern", "rel", "ignored"),
    [
        ("*.log", "a.log", True),
        ("*.log", "sub/a.log", False),  # `*` never crosses a `/`: top level only
        ("**/*.log", "sub/deep/a.log", True),
        ("**/*.log", "a.log", True),
        ("cache/", "cache/x.txt", True),  # a directory entry ignores what is under it
        ("cache", "cache/deep/x.txt", True),
        ("cache/", "sub/cache/x.txt", False),
        ("./tmp/", "tmp/x", True),  # `./`-relative entries are cleaned
        ("sub/*.go", "sub/a.go", True),
        ("sub/*.go", "sub/inner/a.go", False),
        ("?.txt", "a.txt", True),
        ("?.txt", "ab.txt", False),
        ("[ab].txt", "b.txt", True),
        ("node_modules/**", "node_modules/x/y.js", True),
        ("*.pyc", "x.py", False),
    ],
)
def test_rule_patterns_match_as_compose_matches_them(pattern, rel, ignored):
    assert ignores([pattern], rel) is ignored


def test_the_last_matching_entry_wins_so_an_exclusion_brings_a_file_back():
    assert not ignores(["*.log", "!keep.log"], "keep.log")
    assert ignores(["*.log", "!keep.log"], "other.log")
    assert ignores(["!keep.log", "*.log"], "keep.log")


def test_a_list_with_a_bare_star_keeps_only_its_exclusions_as_compose_does():
    assert not ignores(["*", "!src/", "**/*.bak"], "a.bak")


def test_patterns_outside_the_root_do_not_match_inside_it():
    assert not PathMatcher(RULE, ["*.log"]).matches("/repo/a.log")


def test_a_whole_directory_is_skipped_only_without_an_exclusion_inside_it():
    matcher = PathMatcher(RULE, ["cache/", "!cache/keep"])
    assert not matcher.matches_entire_dir(f"{RULE}/cache")
    assert PathMatcher(RULE, ["cache/"]).matches_entire_dir(f"{RULE}/cache")


@pytest.mark.parametrize(
    "name",
    [
        ".app.py.swp",
        ".app.py.swx",
        ".app.py.swo",
        ".app.py.swn",
        "app.py~",
        "4913",
        ".#app.py",
        "#app.py#",
        "app.py___jb_tmp___",
        "app.py___jb_old___",
        ".idea/workspace.xml",
        ".app.py.kate-swp",
        "x-go-tmp-umask",
        "sedcWcHI1",
        ".goutputstream-AB12CD",
    ],
)
def test_editor_temporaries_are_never_synced(name):
    assert ephemeral(f"/repo/src/deep/{name}")


@pytest.mark.parametrize(
    "name", ["app.py", "app.swp", ".DS_Store", "sedan.txt", "sediment", "x.tmp"]
)
def test_real_files_are_not_taken_for_temporaries(name):
    # Compose syncs these (app.swp without the leading dot is not a vim swap file).
    assert not ephemeral(f"/repo/src/{name}")


def test_a_dockerignore_is_read_like_docker_reads_it(tmp_path):
    text = "\ufeff# comment\n\n  /abs/one  \n!./keep\n./dir/\nsub//x\n"
    assert read_ignore_file(text) == ["abs/one", "!keep", "dir", "sub/x"]


def test_the_dockerfile_specific_ignore_file_wins(tmp_path):
    (tmp_path / ".dockerignore").write_text("*.a\n")
    (tmp_path / "Dockerfile.dev.dockerignore").write_text("*.b\n")
    matcher = dockerignore(tmp_path, "Dockerfile.dev")
    assert matcher.matches(tmp_path / "x.b") and not matcher.matches(tmp_path / "x.a")
    assert dockerignore(tmp_path, "Dockerfile").matches(tmp_path / "x.a")
    assert not dockerignore(tmp_path / "none", "Dockerfile")
    assert not dockerignore(None)


def test_paths_are_cleaned_like_go_does():
    assert clean("//a//b/./c/..") == "/a/b"
    assert clean("") == "."
    assert clean(str(Path("./x/"))) == "x"
