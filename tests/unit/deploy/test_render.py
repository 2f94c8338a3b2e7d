"""One kubectl process renders the overlay, its persistent and migrate parts: the same
objects as three renders, or three renders where one cannot stand for them."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from periph_env.deploy.render import PART_ANNOTATION, render_all
from periph_env.errors import CommandFailed
from tests.unit.k8s.manifests import (
    K8S,
    kubectl_binary,
    migrate_dir,
    overlay_dir,
    persistent_dir,
    render,
)


class Kustomize:
    """``kubectl kustomize DIR`` counting its processes, failing as Kube.run does."""

    def __init__(self) -> None:
        self.runs: list[str] = []

    def __call__(self, directory: str) -> str:
        self.runs.append(directory)
        argv = [kubectl_binary(), "kustomize", directory]
        proc = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=120)
        if proc.returncode != 0:
            raise CommandFailed(argv, proc.returncode, proc.stderr)
        return proc.stdout


@pytest.mark.parametrize("env", ["demo", "prod"])
def test_the_overlay_and_its_parts_render_in_one_process_exactly_as_alone(env: str) -> None:
    directories = [overlay_dir(env), persistent_dir(env), migrate_dir(env), K8S / "monitoring"]
    kustomize = Kustomize()
    together = render_all(directories, kustomize)
    assert len(kustomize.runs) == 1
    assert together == [render(d) for d in directories]


def test_no_rendered_object_keeps_the_part_annotation() -> None:
    parts = render_all([overlay_dir("demo"), migrate_dir("demo")], Kustomize())
    for obj in [o for part in parts for o in part]:
        assert PART_ANNOTATION not in (obj["metadata"].get("annotations") or {})


def test_two_parts_rendering_the_same_object_are_rendered_one_by_one(tmp_path: Path) -> None:
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "kustomization.yaml").write_text("resources: [ns.yaml]\n")
        (tmp_path / name / "ns.yaml").write_text(
            "apiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n"
        )
    kustomize = Kustomize()
    parts = render_all([tmp_path / "a", tmp_path / "b"], kustomize)
    assert [[o["metadata"]["name"] for o in part] for part in parts] == [["x"], ["x"]]
    assert len(kustomize.runs) == 3  # the combined one refused, then one each


def test_a_broken_overlay_fails_with_its_own_directorys_error(tmp_path: Path) -> None:
    good, bad = tmp_path / "good", tmp_path / "bad"
    good.mkdir()
    bad.mkdir()
    (good / "kustomization.yaml").write_text("resources: []\n")
    (bad / "kustomization.yaml").write_text("resources: [missing.yaml]\n")
    with pytest.raises(CommandFailed) as failure:
        render_all([good, bad], Kustomize())
    assert str(bad) in " ".join(failure.value.argv)


def test_a_directory_whose_name_yaml_would_misread_renders_together(tmp_path: Path) -> None:
    parts = []
    for name in ("a #1", "*b: c"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "kustomization.yaml").write_text("resources: [cm.yaml]\n")
        (tmp_path / name / "cm.yaml").write_text(
            f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: cm{len(parts)}}}\n"
        )
        parts.append(tmp_path / name)
    kustomize = Kustomize()
    rendered = render_all(parts, kustomize)
    assert [[o["metadata"]["name"] for o in part] for part in rendered] == [["cm0"], ["cm1"]]
    assert len(kustomize.runs) == 1
