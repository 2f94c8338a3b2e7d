"""Images of the committed overlays: pullable with credentials, never a mutable tag that
could deploy (issue 21, point 8)."""

from __future__ import annotations

from periph_env.deploy.guards import images_guard
from periph_env.deploy.pull_secrets import pull_secret_names
from tests.unit.k8s.manifests import Doc, containers, workloads

PULL_SECRET = "peripheral-registry"


def _images(docs: list[Doc]) -> set[str]:
    return {c["image"] for _, c in containers(docs)}


def test_every_committed_image_is_digest_pinned_with_a_registry_or_refused_by_the_guard(
    overlays: dict[str, list[Doc]], migrations: dict[str, list[Doc]], env: str
) -> None:
    for image in sorted(_images(overlays[env] + migrations[env])):
        repository = image.split("@", 1)[0]
        if "@sha256:" in image and "/" in repository:
            continue  # pinned: the guard then asks the registry for that digest
        # A placeholder (`peripheral-backend:demo`, no registry, no digest) must never
        # deploy: the images guard refuses it without asking any registry.
        result = images_guard([image])
        assert not result.ok, image
        assert image in result.message


def test_every_pod_names_the_registry_pull_secret(
    overlays: dict[str, list[Doc]], migrations: dict[str, list[Doc]], env: str
) -> None:
    docs = overlays[env] + migrations[env]
    named = pull_secret_names(docs)
    everyone = sorted(f"{d['kind']}/{d['metadata']['name']}" for d in workloads(docs))
    assert sorted(named.get(PULL_SECRET, [])) == everyone
