"""Values of an env file for other engines (deploy), and which of them are secret.

The deploy engine turns an environment's env file into Kubernetes Secrets and must mask
its secret values in everything it prints. Both readings live here, next to the parser and
the contract, so there is one answer to "what does this file say" and "what is secret".
"""

from __future__ import annotations

from pathlib import Path

from periph_env.env.checker import effective, load
from periph_env.env.masking import MIN_SECRET_LEN, has_url_password, secret_name
from periph_env.env.schema import build
from periph_env.env.values import looks_secret


def read_values(path: str | Path, what: str = "env file") -> dict[str, str]:
    """``KEY -> value`` as python-dotenv (so the services) read ``path``: quotes removed,
    escapes applied, ``${VAR}`` expanded. Raises UsageError when it cannot be read."""
    parsed = load(str(path), what)
    return {key: value.expanded for key, value in effective(parsed.entries).items()}


def secret_keys(example_path: str | Path) -> frozenset[str]:
    """Keys the contract marks ``@secret`` (empty when there is no readable example)."""
    path = Path(example_path)
    if not path.is_file():
        return frozenset()
    schema, _ = build(load(str(path), "example file").entries, str(path))
    return frozenset(key for key, spec in schema.specs.items() if spec.secret)


def secret_values(values: dict[str, str], example_path: str | Path) -> list[str]:
    """The values to mask in output: those of ``@secret`` keys, of keys whose name says
    secret (``*_PASSWORD``, ``*_TOKEN``, ...), and any value shaped like a credential or
    a URL with a password. Other values (a user name, a port, a host) stay readable, and
    values shorter than the masker's minimum are never searched for inside other text."""
    marked = secret_keys(example_path)
    found = {
        value
        for key, value in values.items()
        if key in marked or secret_name(key) or looks_secret(value) or has_url_password(value)
    }
    return sorted(v for v in found if len(v) >= MIN_SECRET_LEN)
