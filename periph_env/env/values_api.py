"""Values of an env file for other engines (deploy), and which of them are secret.

The deploy engine turns an environment's env file into Kubernetes Secrets and must mask
its secret values in everything it prints. Both readings live here, next to the parser and
the contract, so there is one answer to "what does this file say" and "what is secret".
"""

from __future__ import annotations

from pathlib import Path

from periph_env.common.redact import remember, secrets_in
from periph_env.env.checker import effective, load, secrets_of
from periph_env.env.schema import build
from periph_env.errors import PeriphError


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
    secret (``*_PASSWORD``, ``*_TOKEN``, ...), any value shaped like a credential, and
    URL passwords (with their URL). Other values (a user name, a port, a host) stay
    readable. Every member is masked whatever its length, down to the masker's floor
    (``periph_env.common.redact.MIN_SECRET_LEN``); they are also remembered process-wide
    so that every printer masks them."""
    found = sorted(secrets_in(values, secret_keys(example_path)))
    remember(found)
    return found


def file_secrets(env_path: str | Path, example_path: str | Path) -> list[str]:
    """Every secret of the env file at ``env_path`` for masking what periph prints while
    it is in play (compose reads it): ``secret_values`` of what python-dotenv reads, plus
    what may be a secret on lines no reader could parse (a password pasted alone on a
    line, an unterminated quote: compose quotes such lines in its own errors), earlier
    settings of a key and compose's reading. Empty when the file cannot be read."""
    try:
        parsed = load(str(env_path), "env file")
        example = Path(example_path)
        schema_entries = load(str(example), "example file").entries if example.is_file() else []
    except (PeriphError, OSError):
        return []
    schema, _ = build(schema_entries, str(example_path))
    values = effective(parsed.entries)
    found = set(secrets_of(schema, values, parsed).secrets)
    marked = secret_keys(example_path)
    found |= secrets_in({k: v.expanded for k, v in values.items()}, marked)
    found |= {value for key, value in parsed.unread_pairs if key in marked}
    remember(found)
    return sorted(found)


def project_secrets(root: str | Path) -> list[str]:
    """The secrets of every env file of the project at ``root`` (``.env``, ``.env.demo``,
    ``.env.prod``, their backups: anything named ``.env`` or ``.env.*`` but the example),
    remembered process-wide so that every printer masks them whatever command runs."""
    base = Path(root)
    example = base / ".env.example"
    found: set[str] = set()
    for path in sorted(base.glob(".env*")):
        if path.name == example.name or not (path.name == ".env" or path.name[4:5] == "."):
            continue
        if path.is_file():  # a FIFO or a device would block or lie: skip it
            found.update(file_secrets(path, example))
    return sorted(found)
