"""The hand-written compose view of env files against the real `docker compose` binary.

Each tricky file is given to `docker compose --env-file F config`, with a service whose
`env_file` is F, so compose prints every key it read. Our reading
(periph_env.env.compose_view) must match it exactly, including where compose refuses the
file. The environment is emptied so no key falls back to the host's value.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from periph_env.env.compose_view import read

COMPOSE_FILE = "services:\n  probe:\n    image: periph-probe:none\n    env_file: [probe.env]\n"

# Lines python-dotenv and compose have views on; no '$' (compose would interpolate it).
CORPUS = [
    "A=plain",
    "A=v # comment",
    "A=v#not-a-comment",
    "A= # looks like a comment",
    "A=v\t# tab comment",
    "A=",
    "A=trailing   ",
    "A = spaced",
    "export A=exported",
    "export   A  =  wide",
    "A=a=b=c",
    "A:yaml",
    "A: yaml spaced",
    "A.B=dotted",
    'A="double quoted"',
    "A='single quoted'",
    'A="esc \\" quote"',
    'A="newline \\n tab \\t backslash \\\\ end"',
    'A="bell \\a form \\f vt \\v"',
    'A="octal \\0101"',
    "A='it\\'s'",
    "A='back\\\\slash and \\n kept'",
    'A="multi\nline"',
    "A='multi\nline'",
    'A="x" # after',
    "A='x' trailing",
    "A=é unicode ✓",
    "A=v # c # d",
    "A=x\r\nB=y\r\n",
    "\fA=form feed before",
    "A=1\n\n\n# comment\nB=2",
    "A=last line without newline",
    'A="unterminated',
    "A B=1",
    "'Q'=1",
    "A=1\rB=2",
]


def compose_reads(workdir: Path, text: str) -> dict[str, str] | None:
    """What compose reads from ``text`` (None when it refuses the file)."""
    (workdir / "probe.env").write_bytes(text.encode())
    (workdir / "compose.yaml").write_text(COMPOSE_FILE)
    kept = ("PATH", "HOME", "DOCKER_HOST", "DOCKER_CONFIG")
    env = {k: os.environ[k] for k in kept if k in os.environ}
    proc = subprocess.run(
        ["docker", "compose", "--env-file", "probe.env", "--project-name", "probe",
         "config", "--format", "json"],
        cwd=workdir, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    if proc.returncode != 0:
        return None
    environment = json.loads(proc.stdout)["services"]["probe"].get("environment") or {}
    return {k: v for k, v in environment.items() if v is not None}


def our_reading(text: str) -> dict[str, str] | None:
    view = read(text)
    if view.error is not None:
        return None
    return {b.key: b.value for b in view.bindings if b.value is not None}


@pytest.mark.parametrize("text", CORPUS, ids=[repr(t)[:40] for t in CORPUS])
def test_the_compose_view_matches_docker_compose(compose_v2, tmp_path: Path, text: str):
    data = text if text.endswith("\n") or "without" in text else text + "\n"
    assert our_reading(data) == compose_reads(tmp_path, data)
