"""Digest pins in a release kustomization: written in place, comments kept, read back."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from periph_env.errors import UsageError
from periph_env.images import read_pins, write_pins
from periph_env.images.pins import pin_text

REPO = Path(__file__).resolve().parents[3]
DIGEST_A = "sha256:" + "a" * 64
DIGEST_B = "sha256:" + "b" * 64
REGISTRY = "127.0.0.1:5000"
CONFIG = {"environments": {"demo": {"overlay": "k8s/overlays/demo"}}}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A temporary copy of the demo release component (the real one is never edited)."""
    target = tmp_path / "k8s" / "overlays" / "demo" / "release"
    target.mkdir(parents=True)
    shutil.copy(REPO / "k8s/overlays/demo/release/kustomization.yaml", target)
    return tmp_path


def release(project: Path) -> Path:
    return project / "k8s/overlays/demo/release/kustomization.yaml"


def pin(service: str, digest: str = DIGEST_A) -> dict[str, tuple[str, str]]:
    return {service: (f"{REGISTRY}/peripheral-{service}", digest)}


def test_pinning_writes_new_name_and_digest_and_drops_the_tag(project):
    write_pins(project, "demo", pin("backend"), CONFIG)

    images = {i["name"]: i for i in yaml.safe_load(release(project).read_text())["images"]}
    assert images["peripheral-backend"] == {
        "name": "peripheral-backend",
        "newName": f"{REGISTRY}/peripheral-backend",
        "digest": DIGEST_A,
    }
    assert images["peripheral-frontend"] == {"name": "peripheral-frontend", "newTag": "demo"}


def test_pinning_keeps_every_comment_and_other_key(project):
    before = release(project).read_text()

    write_pins(project, "demo", pin("backend"), CONFIG)

    after = release(project).read_text()
    comments = [ln for ln in before.splitlines() if ln.lstrip().startswith("#")]
    assert comments and all(c in after.splitlines() for c in comments)
    assert "namespace: peripheral-demo" in after
    assert "kind: CronJob, path: spec/jobTemplate/metadata/labels" in after


def test_pinning_again_replaces_the_digest(project):
    write_pins(project, "demo", pin("backend"), CONFIG)

    write_pins(project, "demo", pin("backend", DIGEST_B), CONFIG)

    text = release(project).read_text()
    assert DIGEST_B in text and DIGEST_A not in text
    assert text.count("peripheral-backend\n") == 2  # the name and the newName, once each


def test_pins_read_back_as_digest_references(project):
    write_pins(project, "demo", {**pin("backend"), **pin("worker", DIGEST_B)}, CONFIG)

    assert read_pins(project, "demo", CONFIG) == {
        "backend": f"{REGISTRY}/peripheral-backend@{DIGEST_A}",
        "worker": f"{REGISTRY}/peripheral-worker@{DIGEST_B}",
    }


def test_unpinned_release_has_no_pins(project):
    assert read_pins(project, "demo", CONFIG) == {}


def test_a_service_without_an_entry_gets_one_appended():
    text = "kind: Component\nimages:\n  - name: peripheral-db\n    newTag: demo\n"

    out = pin_text(text, pin("extra"))

    images = yaml.safe_load(out)["images"]
    assert [i["name"] for i in images] == ["peripheral-db", "peripheral-extra"]


def test_a_file_without_images_gets_the_key():
    out = pin_text("kind: Component\n# trailing comment\n", pin("db"))

    assert out.startswith("kind: Component\n# trailing comment\n")
    assert yaml.safe_load(out)["images"][0]["digest"] == DIGEST_A


def test_a_comment_inside_the_images_list_is_kept():
    text = (
        "images:\n"
        "  # the API server\n"
        "  - name: peripheral-backend\n"
        "    newTag: demo  # moved by periph\n"
        "  # the UI\n"
        "  - name: peripheral-frontend\n"
        "    newTag: demo\n"
        "namespace: x\n"
    )

    out = pin_text(text, pin("backend"))

    assert "  # the API server\n" in out and "  # the UI\n" in out
    assert out.endswith("namespace: x\n")
    assert yaml.safe_load(out)["images"][1] == {"name": "peripheral-frontend", "newTag": "demo"}


def test_a_bad_digest_is_refused():
    with pytest.raises(UsageError, match="not a sha256 digest"):
        pin_text("images: []\n", pin("db", "latest"))


def test_a_missing_release_file_names_it(tmp_path):
    with pytest.raises(UsageError, match=r"kustomization\.yaml: no such file"):
        read_pins(tmp_path, "demo", CONFIG)


def test_invalid_yaml_names_the_file_and_line(project):
    release(project).write_text("images:\n  - name: [unclosed\n")

    with pytest.raises(UsageError, match=r"kustomization.yaml:\d+: invalid YAML"):
        read_pins(project, "demo", CONFIG)


def test_an_unknown_environment_is_a_usage_error(project):
    with pytest.raises(UsageError, match="unknown environment 'staging'"):
        write_pins(project, "staging", pin("backend"), CONFIG)


@pytest.mark.parametrize("env", ["demo", "prod"])
def test_pinned_digests_render_in_the_overlay_and_its_migrate_job(tmp_path, env):
    from tests.unit.k8s.manifests import render

    shutil.copytree(REPO / "k8s", tmp_path / "k8s")
    config = {"environments": {env: {"overlay": f"k8s/overlays/{env}"}}}
    write_pins(tmp_path, env, pin("backend"), config)

    overlay = tmp_path / "k8s" / "overlays" / env
    for docs in (render(overlay), render(overlay / "migrate")):
        images = {
            c["image"] for d in docs for c in _containers(d) if "peripheral-backend" in c["image"]
        }
        assert images == {f"{REGISTRY}/peripheral-backend@{DIGEST_A}"}


def _containers(doc: dict) -> list[dict]:
    spec = doc.get("spec", {})
    template = spec.get("jobTemplate", {}).get("spec", {}).get("template") or spec.get("template")
    pod = (template or {}).get("spec", {})
    return pod.get("containers", []) + pod.get("initContainers", [])


def test_a_malformed_pinned_digest_names_the_file_and_image(project):
    release(project).write_text("images:\n  - name: peripheral-db\n    digest: sha256:short\n")

    with pytest.raises(UsageError, match="image peripheral-db: 'sha256:short' is not a sha256"):
        read_pins(project, "demo", CONFIG)
