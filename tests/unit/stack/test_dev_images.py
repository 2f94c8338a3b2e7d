"""Every image a watch rule syncs into can be synced by plain `docker compose watch`.

Compose copies files into a container with the container user's ids. Docker 20.10 (the
engine this project runs) looks a non-root ``USER`` up in the HOST's passwd database and
fails (`getent unable to find entry "10001:10001"`), whether the user is a name or a
number. So an image that a sync rule writes into must end as root; a dev server that
should not run as root drops privileges in its entrypoint (the frontend uses setpriv).
Production images are never synced and keep their numeric non-root ``USER``
(Kubernetes' runAsNonRoot needs it numeric).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from periph_env.stack.compose_file import load

REPO = Path(__file__).resolve().parents[3]
MODEL = load(REPO / "compose" / "compose.yaml")
SYNCED = sorted(
    {r.service for r in MODEL.rules() if r.action != "rebuild"}
    & {name for name, spec in MODEL.services.items() if spec.build_context}
)
ROOT_USERS = ("", "root", "0", "root:root", "0:0", "root:0", "0:root")


def final_user(dockerfile: str) -> str:
    """The USER in effect in the last stage ('' when none is set there)."""
    user = ""
    for line in dockerfile.splitlines():
        words = line.strip().split(None, 1)
        if not words:
            continue
        keyword = words[0].upper()
        if keyword == "FROM":
            user = ""
        elif keyword == "USER" and len(words) > 1:
            user = words[1].strip()
    return user


def test_the_dockerfile_reader_follows_stages_and_the_last_user():
    assert final_user("FROM a\nUSER 10001\nFROM b\n") == ""
    assert final_user("FROM a\nUSER 10001:10001\nRUN x\nUSER root\n") == "root"
    assert final_user("FROM a\nuser app\n") == "app"


def test_every_service_with_a_sync_rule_is_checked():
    assert SYNCED == ["backend", "frontend", "worker"]


@pytest.mark.parametrize("service", SYNCED)
def test_a_synced_dev_image_ends_as_root_so_compose_watch_can_copy_into_it(service):
    spec = MODEL.services[service]
    assert spec.build_context is not None and spec.dockerfile is not None
    dockerfile = (spec.build_context / spec.dockerfile).read_text()
    assert final_user(dockerfile) in ROOT_USERS, (
        f"{spec.dockerfile} of {service} ends with USER {final_user(dockerfile)}: "
        "docker compose watch cannot sync into it on Docker 20.10; drop privileges in "
        "the entrypoint instead (see services/frontend/Dockerfile.dev)"
    )


def test_the_frontend_dev_server_still_runs_unprivileged():
    dockerfile = (REPO / "services" / "frontend" / "Dockerfile.dev").read_text()
    entrypoint = re.search(r"^ENTRYPOINT (.*)$", dockerfile, re.MULTILINE)
    assert entrypoint is not None and "setpriv" in entrypoint.group(1)
    assert "--reuid=10001" in entrypoint.group(1)
