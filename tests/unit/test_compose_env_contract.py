"""The compose dev stack and the .env contract agree on the keys it needs."""

from __future__ import annotations

import re
from pathlib import Path

from periph_env.env.parser import parse_bytes

ROOT = Path(__file__).resolve().parents[2]
# ${VAR}, ${VAR:?msg}, ${VAR:-default} ... but not $${VAR} (escaped: the container expands it).
INTERPOLATION = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)(:?[-?+])?")


def compose_variables() -> dict[str, str]:
    """Variable -> its modifier ('' none, '?' required, '-' default) as compose.yaml uses it."""
    text = (ROOT / "compose" / "compose.yaml").read_text()
    found: dict[str, str] = {}
    for name, modifier in INTERPOLATION.findall(text):
        found.setdefault(name, (modifier or "").lstrip(":"))
    return found


def example_keys() -> set[str]:
    parsed = parse_bytes((ROOT / ".env.example").read_bytes(), ".env.example")
    return {entry.key for entry in parsed.entries}


def test_compose_interpolates_env_variables():
    assert compose_variables(), "the regex found no ${VAR} in compose.yaml"


def test_every_variable_compose_requires_is_in_the_example():
    required = {v for v, mod in compose_variables().items() if mod in ("", "?")}
    assert required - example_keys() == set()


def test_variables_outside_the_contract_have_defaults_and_belong_to_periph():
    extra = {v: mod for v, mod in compose_variables().items() if v not in example_keys()}
    assert all(mod == "-" and v.startswith("PERIPH_") for v, mod in extra.items()), extra
