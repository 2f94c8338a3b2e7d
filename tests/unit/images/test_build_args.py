"""Build arguments from periph.toml: per service, and per environment on top.

``[images.build.<svc>] args`` reach every build of that service;
``[environments.<env>.build.<svc>] args`` override them when the build is for that
environment (``--pin ENV``, or the environment's branch), so prod can build the db on a
TimescaleDB base while dev and demo keep plain Postgres.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from periph_env.errors import UsageError
from periph_env.images import services

CONFIG = {
    "images": {"build": {"db": {"args": {"DB_BASE_IMAGE": "postgres:15-bookworm", "X": "1"}}}},
    "environments": {
        "demo": {"branch": "demo", "tag": "demo"},
        "prod": {
            "branch": "prod",
            "tag": "prod",
            "build": {"db": {"args": {"DB_BASE_IMAGE": "timescale/timescaledb:2.17.2-pg15"}}},
        },
    },
}


def test_a_services_args_reach_every_build_of_it(tmp_path: Path) -> None:
    spec = services.spec(tmp_path, CONFIG, "db")
    assert spec.args == {"DB_BASE_IMAGE": "postgres:15-bookworm", "X": "1"}


def test_an_environments_args_override_the_services_for_that_environment(tmp_path: Path) -> None:
    spec = services.spec(tmp_path, CONFIG, "db", "prod")
    assert spec.args == {"DB_BASE_IMAGE": "timescale/timescaledb:2.17.2-pg15", "X": "1"}


def test_an_environment_without_build_args_keeps_the_services(tmp_path: Path) -> None:
    assert services.spec(tmp_path, CONFIG, "db", "demo").args["DB_BASE_IMAGE"] == (
        "postgres:15-bookworm"
    )
    assert services.spec(tmp_path, CONFIG, "backend", "prod").args == {}


@pytest.mark.parametrize(
    ("pin", "branch", "expected"),
    [
        ("prod", "feature/x", "prod"),  # --pin names it
        (None, "prod", "prod"),  # the environment's branch
        (None, "demo", "demo"),
        (None, "feature/x", None),  # a feature branch builds for no environment
        (None, None, None),
    ],
)
def test_the_build_is_for_the_pinned_environment_or_the_branchs(pin, branch, expected) -> None:
    assert services.environment_for(CONFIG, pin, branch) == expected


def test_numbers_and_booleans_become_docker_build_arg_strings(tmp_path: Path) -> None:
    config = {"images": {"build": {"db": {"args": {"N": 3, "ON": True}}}}}
    assert services.spec(tmp_path, config, "db").args == {"N": "3", "ON": "true"}


@pytest.mark.parametrize(
    ("config", "named"),
    [
        ({"images": {"build": {"db": {"args": {"B": ["a"]}}}}}, "[images.build.db] args.B"),
        ({"images": {"build": {"db": {"args": "B=1"}}}}, "[images.build.db] args must be a table"),
        (
            {"environments": {"prod": {"build": {"db": {"args": {"B": {"x": 1}}}}}}},
            "[environments.prod.build.db] args.B",
        ),
    ],
)
def test_a_malformed_build_arg_is_refused_naming_its_table_and_key(
    tmp_path: Path, config, named
) -> None:
    with pytest.raises(UsageError) as raised:
        services.spec(tmp_path, config, "db", "prod")
    assert named in str(raised.value)
    assert "periph.toml" in str(raised.value)
