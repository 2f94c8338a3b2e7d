"""No env file ever enters a build context of the real services, even when one is there.

Runs on a temporary copy of services/ with decoy env files planted at every level of
every context (the real tree is never touched); the contexts are computed exactly as
``periph build`` computes them.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from periph_env.env.commit_guard import is_env_file
from periph_env.errors import PeriphError
from periph_env.images import services
from periph_env.images.plan import make_plan

REPO = Path(__file__).resolve().parents[3]
HEAVY = shutil.ignore_patterns("node_modules", ".svelte-kit", "build", "__pycache__")
DECOYS = (".env", ".env.local", ".env.production")


@pytest.fixture(scope="module")
def services_copy(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("project")
    shutil.copytree(REPO / "services", root / "services", ignore=HEAVY)
    top = root / "services"
    for directory in [top, *(p for p in top.rglob("*") if p.is_dir())]:
        for name in DECOYS:
            (directory / name).write_text("JWT_SECRET=decoy-value-never-sent\n")
    return root


@pytest.mark.parametrize("service", services.DEFAULT_SERVICES)
def test_no_env_file_enters_the_build_context(services_copy, service):
    """Either .dockerignore keeps every env file out, or periph refuses to build (naming
    the file): a build never sends one."""
    spec = services.spec(services_copy, {}, service)

    try:
        plan = make_plan(spec, services_copy, "r.example", ["main"], lambda ref: "sha256:1")
    except PeriphError as exc:
        assert "would enter the build context" in exc.message
        assert "decoy-value-never-sent" not in str(exc)
        return
    assert plan.paths, "the context is empty: the test would prove nothing"
    assert [p for p in plan.paths if is_env_file(p)] == []


@pytest.mark.parametrize("service", services.DEFAULT_SERVICES)
def test_every_real_service_plans_with_content_and_branch_tags(tmp_path, service):
    shutil.copytree(REPO / "services", tmp_path / "services", ignore=HEAVY)
    spec = services.spec(tmp_path, {}, service)

    plan = make_plan(spec, tmp_path, "r.example", ["main"], lambda ref: "sha256:" + ref)

    assert plan.tags[0] == plan.content_tag and plan.tags[1] == "main"
    assert plan.repository == f"r.example/peripheral-{service}"


def test_a_context_without_a_dockerignore_rule_is_refused_before_building(tmp_path):
    context = tmp_path / "services" / "leaky"
    context.mkdir(parents=True)
    (context / "Dockerfile.prod").write_text("FROM scratch\nCOPY . /\n")
    (context / ".env").write_text("JWT_SECRET=value-that-must-not-show\n")
    spec = services.spec(tmp_path, {}, "leaky")

    with pytest.raises(PeriphError) as caught:
        make_plan(spec, tmp_path, "r.example", [], lambda ref: "x")

    assert "services/leaky/.env would enter the build context" in str(caught.value)
    assert "value-that-must-not-show" not in str(caught.value)


def test_a_missing_dockerfile_is_named(tmp_path):
    (tmp_path / "services" / "ghost").mkdir(parents=True)
    spec = services.spec(tmp_path, {}, "ghost")

    with pytest.raises(PeriphError, match=r"services/ghost/Dockerfile\.prod: no such Dockerfile"):
        make_plan(spec, tmp_path, "r.example", [], lambda ref: "x")
