"""Every production image builds, runs as non-root and carries no env file.

Decoy `.env` / `.env.local` files are planted in each build context before building,
so "no env file in the image" proves the .dockerignore files work rather than that
nobody happened to have one lying around.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from periph_env.env.commit_guard import is_env_file
from tests.integration.stack_support import (
    SERVICES,
    exported_paths,
    inspect,
    run,
    stack_env_values,
    wait_until,
)

pytestmark = [pytest.mark.docker, pytest.mark.stack]

TAG = "prodtest"
# service -> (build context, Dockerfile relative to the context)
BUILDS = {
    "backend": (SERVICES, "backend/Dockerfile.prod"),
    "worker": (SERVICES / "worker", "Dockerfile.prod"),
    "frontend": (SERVICES / "frontend", "Dockerfile.prod"),
    "db": (SERVICES / "db", "Dockerfile"),
    "cache": (SERVICES / "cache", "Dockerfile"),
}
BACKEND_MAX_BYTES = 40 * 1024 * 1024


def image(service: str) -> str:
    """The reference a prod image is built under here."""
    return f"peripheral-{service}:{TAG}"


def plant_decoys() -> list[Path]:
    """Put env files into every build context; return those we created (to remove)."""
    planted = []
    dirs = {SERVICES, *(SERVICES / s for s in BUILDS)}
    for d in dirs:
        for name in (".env", ".env.local"):
            path = d / name
            if d.is_dir() and not path.exists():
                path.write_text(f"PERIPH_DECOY=decoy{secrets.token_hex(8)}\n")
                planted.append(path)
    return planted


@pytest.fixture(scope="module")
def prod_images(docker_engine, base_images):
    """Build all five prod images once, with decoy env files in their contexts."""
    planted = plant_decoys()
    try:
        for service, (context, dockerfile) in BUILDS.items():
            run(
                [
                    "docker",
                    "build",
                    "-q",
                    "-f",
                    str(context / dockerfile),
                    "-t",
                    image(service),
                    str(context),
                ],
                timeout=1200,
            )
    finally:
        for path in planted:
            path.unlink(missing_ok=True)
    sizes = {s: inspect(image(s), "image")["Size"] for s in BUILDS}
    print("\nprod image sizes: " + ", ".join(f"{s} {b / 1e6:.1f} MB" for s, b in sizes.items()))
    return sizes


@pytest.fixture
def container(prod_images):
    """Start an image with a complete env (dependencies unreachable is fine); remove it after."""
    started: list[str] = []

    def start(service: str) -> str:
        env = stack_env_values()
        args = ["docker", "run", "-d"]
        for key, value in env.items():
            args += ["-e", f"{key}={value}"]
        cid = run([*args, image(service)]).stdout.strip()
        started.append(cid)
        return cid

    yield start
    for cid in started:
        run(["docker", "rm", "-f", cid], check=False)


@pytest.mark.parametrize("service", list(BUILDS))
def test_prod_image_runs_every_process_as_non_root(container, service):
    cid = container(service)

    def uids() -> list[str] | None:
        if not inspect(cid)["State"]["Running"]:
            pytest.fail(f"{service} exited: {run(['docker', 'logs', cid], check=False).stderr}")
        top = run(["docker", "top", cid, "-o", "pid,uid"], check=False).stdout.splitlines()[1:]
        found = [line.split()[1] for line in top if line.strip()]
        # The db and cache entrypoints start as root and drop privileges; wait for it.
        return found if found and "0" not in found else None

    assert "0" not in wait_until(uids, f"{service} to run without root processes", timeout=60)


@pytest.mark.parametrize("service", ["backend", "worker", "frontend"])
def test_app_images_declare_a_non_root_user(prod_images, service):
    user = inspect(image(service), "image")["Config"]["User"]
    assert user not in ("", "root", "0", "0:0")


@pytest.mark.parametrize("service", list(BUILDS))
def test_prod_image_contains_no_env_file(prod_images, service):
    cid = run(["docker", "create", image(service)]).stdout.strip()
    try:
        leaked = [p for p in exported_paths(cid) if is_env_file(p)]
    finally:
        run(["docker", "rm", cid], check=False)
    assert leaked == []


def test_backend_prod_image_is_small(prod_images):
    assert prod_images["backend"] < BACKEND_MAX_BYTES


def test_backend_prod_image_carries_migrations_for_the_migrate_job(prod_images):
    cid = run(["docker", "create", image("backend")]).stdout.strip()
    try:
        paths = set(exported_paths(cid))
    finally:
        run(["docker", "rm", cid], check=False)
    assert "migrations/0001_strategies.sql" in paths
    assert "usr/local/bin/backend" in paths
