"""Content hashing: what the build context sends, and which inputs move the content tag."""

from __future__ import annotations

import os
from pathlib import Path

from periph_env.images import hashing


def make_context(root: Path, files: dict[str, str], ignore: str | None = None) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    if ignore is not None:
        (root / ".dockerignore").write_text(ignore)
    return root


def inputs_of(context: Path, dockerfile: str = "Dockerfile", **extra) -> hashing.BuildInputs:
    paths = hashing.context_paths(context, dockerfile, hashing.read_dockerignore(context))
    return hashing.BuildInputs(
        files=hashing.hash_files(context, paths),
        dockerfile=hashing.text_digest((context / dockerfile).read_text()),
        **extra,
    )


def test_dockerignored_files_are_not_in_the_context(tmp_path):
    ctx = make_context(
        tmp_path,
        {"Dockerfile": "FROM scratch\n", "app.py": "x", "node_modules/a.js": "y", ".env": "S=1"},
        ignore="# comment\nnode_modules\n.env\n",
    )

    paths = hashing.context_paths(ctx, "Dockerfile", hashing.read_dockerignore(ctx))

    assert "app.py" in paths and "Dockerfile" in paths
    assert not any(p.startswith("node_modules") or p == ".env" for p in paths)


def test_the_dockerfile_is_sent_even_when_dockerignore_excludes_it(tmp_path):
    ctx = make_context(tmp_path, {"Dockerfile.prod": "FROM scratch\n"}, ignore="Dockerfile*\n")

    paths = hashing.context_paths(ctx, "Dockerfile.prod", hashing.read_dockerignore(ctx))

    assert "Dockerfile.prod" in paths


def test_patterns_passed_in_are_not_modified(tmp_path):
    ctx = make_context(tmp_path, {"Dockerfile": "FROM scratch\n"})
    patterns = ["*.tmp"]

    hashing.context_paths(ctx, "Dockerfile", patterns)

    assert patterns == ["*.tmp"]


def test_negated_patterns_bring_back_a_subtree(tmp_path):
    ctx = make_context(
        tmp_path,
        {"backend/main.go": "package main", "frontend/app.js": "1", "db/migrations/1.sql": "s"},
        ignore="*\n!backend/\n!db/migrations/\n",
    )
    (ctx / "backend" / "Dockerfile.prod").write_text("FROM scratch\n")

    paths = hashing.context_paths(ctx, "backend/Dockerfile.prod", hashing.read_dockerignore(ctx))

    assert "backend/main.go" in paths and "db/migrations/1.sql" in paths
    assert not any(p.startswith("frontend") for p in paths)


def test_the_content_tag_is_stable_for_identical_inputs(tmp_path):
    ctx = make_context(tmp_path, {"Dockerfile": "FROM scratch\n", "a.txt": "a"})

    assert inputs_of(ctx).content_tag() == inputs_of(ctx).content_tag()


def test_mtime_alone_does_not_change_the_content_tag(tmp_path):
    ctx = make_context(tmp_path, {"Dockerfile": "FROM scratch\n", "a.txt": "a"})
    before = inputs_of(ctx).content_tag()

    os.utime(ctx / "a.txt", (1, 1))

    assert inputs_of(ctx).content_tag() == before


def test_a_file_edit_changes_the_content_tag(tmp_path):
    ctx = make_context(tmp_path, {"Dockerfile": "FROM scratch\n", "a.txt": "a"})
    before = inputs_of(ctx).content_tag()

    (ctx / "a.txt").write_text("b")

    assert inputs_of(ctx).content_tag() != before


def test_a_mode_change_changes_the_content_tag(tmp_path):
    ctx = make_context(tmp_path, {"Dockerfile": "FROM scratch\n", "run.sh": "echo"})
    before = inputs_of(ctx).content_tag()

    (ctx / "run.sh").chmod(0o755)

    assert inputs_of(ctx).content_tag() != before


def test_an_edit_to_an_ignored_file_does_not_change_the_content_tag(tmp_path):
    ctx = make_context(tmp_path, {"Dockerfile": "FROM scratch\n", "notes.md": "a"}, ignore="*.md\n")
    before = inputs_of(ctx).content_tag()

    (ctx / "notes.md").write_text("b")

    assert inputs_of(ctx).content_tag() == before


def test_build_args_and_base_image_ids_change_the_content_tag(tmp_path):
    ctx = make_context(tmp_path, {"Dockerfile": "FROM scratch\n"})
    plain = inputs_of(ctx).content_tag()

    with_arg = inputs_of(ctx, args={"MODE": "1"}).content_tag()
    with_base = inputs_of(ctx, bases={"debian:bookworm-slim": "sha256:aa"}).content_tag()
    other_base = inputs_of(ctx, bases={"debian:bookworm-slim": "sha256:bb"}).content_tag()

    assert len({plain, with_arg, with_base, other_base}) == 4


def test_content_tags_are_valid_docker_tags(tmp_path):
    ctx = make_context(tmp_path, {"Dockerfile": "FROM scratch\n"})

    tag = inputs_of(ctx).content_tag()

    assert tag.startswith("c-") and len(tag) == 22 and tag[2:].isalnum()


def test_base_images_skip_stages_and_scratch_and_expand_args():
    text = (
        "ARG GO=1.26\n"
        "FROM golang:${GO}-bookworm AS build\n"
        "RUN true\n"
        "FROM --platform=linux/amd64 debian:bookworm-slim\n"
        "COPY --from=build /x /x\n"
        "FROM build AS again\n"
        "FROM scratch\n"
    )

    assert hashing.base_images(text) == ["golang:1.26-bookworm", "debian:bookworm-slim"]
    assert hashing.base_images(text, {"GO": "1.27"})[0] == "golang:1.27-bookworm"


def test_base_images_of_the_real_dockerfiles():
    services = Path(__file__).resolve().parents[3] / "services"

    backend = hashing.base_images((services / "backend" / "Dockerfile.prod").read_text())
    frontend = hashing.base_images((services / "frontend" / "Dockerfile.prod").read_text())

    assert backend == ["golang:1.26-bookworm"]
    assert frontend == ["node:20-bookworm-slim"]


def test_changed_inputs_names_the_changed_paths_first_few_only():
    old = hashing.BuildInputs(files={f"f{i}": "1" for i in range(10)}, dockerfile="d")
    new = hashing.BuildInputs(files={f"f{i}": "2" for i in range(10)}, dockerfile="d2")

    changed = hashing.changed_inputs(old, new, limit=3)

    assert changed == ["Dockerfile", "f0", "f1", "… and 8 more"]


def test_changed_inputs_reports_added_removed_args_and_bases():
    old = hashing.BuildInputs({"a": "1", "gone": "1"}, "d", {"X": "1"}, {"debian": "i1"})
    new = hashing.BuildInputs({"a": "1", "new": "1"}, "d", {"X": "2"}, {"debian": "i2"})

    assert hashing.changed_inputs(old, new) == ["build-arg X", "base debian", "gone", "new"]


def test_changed_inputs_without_a_previous_build():
    new = hashing.BuildInputs({}, "d")

    assert hashing.changed_inputs(None, new) == ["no previous build"]
