"""``periph env diff``: key names missing or extra between the env file and the example."""

from __future__ import annotations

from dataclasses import dataclass

from periph_env.env.checker import effective, load, secrets_of
from periph_env.env.schema import build


@dataclass(slots=True)
class KeyDiff:
    """Keys only in the example (missing) and only in the env file (extra); never values."""

    env_path: str
    example_path: str
    missing: list[str]
    extra: list[str]

    @property
    def same(self) -> bool:
        """True when both files set the same keys."""
        return not self.missing and not self.extra


def diff(env_path: str = ".env", example_path: str = ".env.example") -> KeyDiff:
    """Compare key names both ways; a missing file of either side is a usage error."""
    example = load(example_path, "example file")
    env = load(env_path, "env file")
    example_keys = list(dict.fromkeys(e.key for e in example.entries))
    env_keys = list(dict.fromkeys(e.key for e in env.entries))
    env_set, example_set = set(env_keys), set(example_keys)
    # Key names can be pasted secrets: they pass the same scrub as every message.
    schema = build(example.entries, example_path)[0]
    masker = secrets_of(schema, effective(env.entries), env)
    return KeyDiff(
        masker.scrub_path(env_path),
        masker.scrub_path(example_path),
        missing=[masker.scrub(k) for k in example_keys if k not in env_set],
        extra=[masker.scrub(k) for k in env_keys if k not in example_set],
    )


def render(result: KeyDiff, fmt: str = "text") -> str:
    """Text (``- KEY`` missing, ``+ KEY`` extra, as in a diff from env to example) or JSON."""
    if fmt == "json":
        import json

        doc = {
            "env_file": result.env_path,
            "example_file": result.example_path,
            "missing": result.missing,
            "extra": result.extra,
        }
        return json.dumps(doc, indent=2) + "\n"
    lines = [
        f"- {key}  (in {result.example_path}, missing from {result.env_path})"
        for key in result.missing
    ]
    lines += [
        f"+ {key}  (in {result.env_path}, not in {result.example_path})" for key in result.extra
    ]
    lines.append(
        f"{result.env_path}: {len(result.missing)} missing, {len(result.extra)} extra"
        if not result.same
        else f"{result.env_path}: same keys as {result.example_path}"
    )
    return "\n".join(lines) + "\n"
