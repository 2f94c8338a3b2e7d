"""The pre-commit guard: refuse staged real env files and staged copies of local secrets.

It reads what is staged (the index, not the working tree) through git, so it judges
exactly what the commit would contain. It never prints a secret: only the file, the line
and the name of the key whose value was found.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass

from periph_env.env.model import ERROR, Finding
from periph_env.env.parser import parse_bytes
from periph_env.env.schema import Schema, build
from periph_env.env.values import is_placeholder, looks_secret
from periph_env.errors import UsageError

# `.env.<suffix>` files with these suffixes are templates, meant to be committed.
TEMPLATE_SUFFIXES = frozenset(("example", "sample", "template", "dist", "defaults", "schema"))
# Shorter values would match innocent text too often to be worth refusing a commit.
MIN_SECRET_LEN = 8


def is_env_file(path: str) -> bool:
    """True for real env files: ``.env``, ``.env.demo``, ``prod.env``; not ``.envrc``."""
    base = path.replace("\\", "/").rsplit("/", 1)[-1]
    if base == ".env":
        return True
    if base.startswith(".env."):
        return base[5:].split(".", 1)[0] not in TEMPLATE_SUFFIXES
    return base.endswith(".env") and len(base) > 4


@dataclass(slots=True, frozen=True)
class Secret:
    """A secret value and where it came from (the value is never shown)."""

    value: bytes
    key: str
    source: str


def _git(root: str, *args: str, data: bytes | None = None) -> bytes:
    try:
        out = subprocess.run(["git", *args], cwd=root, input=data, capture_output=True, check=True)
    except FileNotFoundError:
        msg = "git is not installed; the guard reads the staged files through git"
        raise UsageError(msg) from None
    except subprocess.CalledProcessError as exc:
        msg = exc.stderr.decode(errors="replace").strip()
        raise UsageError(f"git {args[0]} failed: {msg}") from None
    return out.stdout


def local_secrets(env_files: list[str], schema: Schema) -> list[Secret]:
    """Secret values of the local env files: secret-typed keys and credential look-alikes.

    Example defaults and placeholders are public already and never count.
    """
    secrets: dict[bytes, Secret] = {}
    for path in env_files:
        try:
            with open(path, "rb") as handle:
                parsed = parse_bytes(handle.read(), path)
        except OSError:
            continue
        for entry in parsed.entries:
            spec = schema.specs.get(entry.key)
            value = entry.value
            if len(value) < MIN_SECRET_LEN or is_placeholder(value):
                continue
            if spec is not None and value == spec.default:
                continue
            if (spec is not None and spec.secret) or looks_secret(value):
                raw = value.encode()
                secrets.setdefault(raw, Secret(raw, entry.key, path))
    return list(secrets.values())


def _staged_blobs(root: str, paths: list[str]) -> dict[str, bytes]:
    """Staged content of ``paths`` read in one ``git cat-file --batch`` call."""
    if not paths:
        return {}
    request = "".join(f":{p}\n" for p in paths).encode()
    out = _git(root, "cat-file", "--batch", data=request)
    blobs: dict[str, bytes] = {}
    pos = 0
    for path in paths:
        header_end = out.index(b"\n", pos)
        header = out[pos:header_end].split()
        pos = header_end + 1
        if header[-1] == b"missing":
            continue
        size = int(header[2])
        blobs[path] = out[pos : pos + size]
        pos += size + 1
    return blobs


def default_env_files(root: str) -> list[str]:
    """Real env files at the top of the repository."""
    return sorted(
        os.path.join(root, name)
        for name in os.listdir(root)
        if is_env_file(name) and os.path.isfile(os.path.join(root, name))
    )


def guard(
    root: str | None = None, env_files: list[str] | None = None, example: str = ".env.example"
) -> list[Finding]:
    """Findings (PE401, PE402) for what is staged in the repository at ``root``."""
    root = root or _git(".", "rev-parse", "--show-toplevel").decode().strip()
    names = _git(root, "diff", "--cached", "--name-only", "-z", "--diff-filter=ACMRT")
    staged = [p for p in names.decode(errors="surrogateescape").split("\0") if p]
    findings = [
        Finding(
            p,
            1,
            "PE401",
            ERROR,
            None,
            f"{p} is a real env file; unstage it (git rm --cached {p}) and keep it local",
        )
        for p in staged
        if is_env_file(p)
    ]
    example_path = os.path.join(root, example)
    schema = Schema()
    if os.path.exists(example_path):
        with open(example_path, "rb") as handle:
            schema = build(parse_bytes(handle.read(), example_path).entries, example_path)[0]
    files = env_files if env_files is not None else default_env_files(root)
    secrets = local_secrets(files, schema)
    if not secrets:
        return findings
    others = [p for p in staged if not is_env_file(p)]
    for path, blob in _staged_blobs(root, others).items():
        for secret in secrets:
            at = blob.find(secret.value)
            if at != -1:
                line = blob.count(b"\n", 0, at) + 1
                source = os.path.relpath(secret.source, root)
                findings.append(
                    Finding(
                        path,
                        line,
                        "PE402",
                        ERROR,
                        secret.key,
                        f"{path} contains the value of {secret.key} from {source}; "
                        "remove it from the file (and rotate it if it was ever pushed)",
                    )
                )
    return findings
