"""`periph build --push` on a runner where the registry already has every image: it asks
the registry little (each request costs a registry with htpasswd auth a bcrypt check),
and it trusts no tag the registry stored under another digest.

Against a throwaway docker-registry with htpasswd auth (its request log is read), so the
shared test registry's log and load stay out of it.
"""

from __future__ import annotations

import re
import secrets

import pytest

from periph_env.images.models import Done, Failed
from periph_env.images.pipeline import BuildOptions, build
from periph_env.images.registry_api import RegistryClient
from tests.integration.test_images_build import make_project, remove_local_images
from tests.integration.test_images_registry_outage import ThrowawayRegistry

pytestmark = pytest.mark.registry
SERVICES = {name: f"FROM scratch\nCOPY hello.txt /{name}.txt\n" for name in ("api", "web")}
# The access log's line: one per request (the structured lines come two per request).
REQUEST = re.compile(r'\] "(\w+) (/v2/\S*) HTTP/')


@pytest.fixture
def pushed(tmp_path, registry, base_images, monkeypatch):
    """A project whose two images were built and pushed, with every local copy removed."""
    directory = tmp_path / "registry"
    directory.mkdir()
    instance = ThrowawayRegistry(directory, "noop-user", secrets.token_urlsafe(18))
    instance.start()
    monkeypatch.setenv("PERIPH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker-config"))
    monkeypatch.setenv("DOCKER_USERNAME", instance.auth[0])
    monkeypatch.setenv("DOCKER_PASSWORD", instance.auth[1])
    monkeypatch.delenv("PERIPH_REGISTRY", raising=False)
    root = tmp_path / "project"
    root.mkdir()
    project = make_project(root, instance.info(), SERVICES)
    try:
        first = [e for e in build(root, BuildOptions(push=True)) if isinstance(e, Done)]
        assert all(e.result.digest for e in first), [e.result for e in first]
        remove_local_images(project)
        yield project, instance
    finally:
        remove_local_images(project)
        instance.stop()


def _requests(log_text: str) -> list[tuple[str, str]]:
    return [m.groups() for m in REQUEST.finditer(log_text)]


def test_a_no_op_push_asks_the_registry_three_times_per_service(pushed):
    project, instance = pushed
    log = instance.directory / "log"
    before = len(log.read_text(errors="replace"))

    done = [e.result for e in build(project.root, BuildOptions(push=True)) if isinstance(e, Done)]

    assert {(r.service, r.status, r.where) for r in done} == {
        ("api", "unchanged", "registry"), ("web", "unchanged", "registry"),
    }  # fmt: skip
    asked = _requests(log.read_text(errors="replace")[before:])
    per_service = [r for r in asked if "/manifests/" in r[1]]
    # One GET of the content tag, one PUT per other tag (branch and commit).
    assert len(per_service) == 3 * len(SERVICES), asked
    assert sorted({method for method, _ in per_service}) == ["GET", "PUT"]
    for r in done:
        for tag in ("main", project.git("rev-parse", "HEAD").strip()):
            assert project.remote_digest(r.service, tag) == r.digest


def test_a_tag_the_registry_stores_under_another_digest_fails_that_service(pushed, monkeypatch):
    project, _ = pushed
    wrong = "sha256:" + "0" * 64
    monkeypatch.setattr(RegistryClient, "put_manifest", lambda self, repo, tag, m: wrong)

    events = list(build(project.root, BuildOptions(push=True)))

    failures = [e for e in events if isinstance(e, Failed)]
    assert {f.service for f in failures} == {"api", "web"}
    assert all(f"was stored as {wrong}, expected sha256:" in f.message for f in failures)
    assert all(e.result.status == "failed" for e in events if isinstance(e, Done))
