"""``check``: read the example (the contract) and the env file, run every rule, report."""

from __future__ import annotations

import os

from periph_env.env import readers, rules, targets
from periph_env.env.context import Context, Value
from periph_env.env.masking import Masker
from periph_env.env.model import WARNING, Entry, Finding, Report
from periph_env.env.parser import ParsedFile, parse_bytes
from periph_env.env.schema import TARGETS, Schema, build
from periph_env.env.values import is_placeholder
from periph_env.errors import UsageError


def read_file(path: str, what: str) -> bytes:
    """The bytes of ``path``; a missing or unreadable file is a usage error (exit 2)."""
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        raise UsageError(f"{what} {path} does not exist") from None
    except OSError as exc:
        raise UsageError(f"cannot read {what} {path}: {exc.strerror or exc}") from None


def load(path: str, what: str) -> ParsedFile:
    """Read and parse an env-format file (syntax findings included)."""
    return parse_bytes(read_file(path, what), path)


def effective(entries: list[Entry]) -> dict[str, Value]:
    """Each key's last setting with its expanded value (python-dotenv's reading)."""
    expanded, missing = readers.expand(entries)
    return {e.key: Value(e, v, m) for e, v, m in zip(entries, expanded, missing, strict=True)}


def secrets_of(schema: Schema, values: dict[str, Value]) -> Masker:
    """A masker that knows the file's secret values (secret-typed keys and credentials)."""
    masker = Masker()
    for key, value in values.items():
        spec = schema.specs.get(key)
        if spec is not None and spec.secret:
            for text in (value.raw, value.expanded):
                if text and not is_placeholder(text):
                    masker.add(text)
    return masker


def _file_rules(parsed: ParsedFile, values: dict[str, Value], ctx: Context) -> None:
    """Rules every env-format file gets: syntax, duplicates, reader divergence, references."""
    ctx.findings.extend(parsed.findings)
    ctx.findings.extend(rules.duplicates(parsed.entries, parsed.path))
    for entry in parsed.entries:
        ctx.findings.extend(readers.divergences(entry, parsed.path))
    for value in values.values():
        for name in dict.fromkeys(value.unresolved):
            if not name.isidentifier():
                continue  # a compose-only modifier, reported as PE204
            ctx.add(_undefined(parsed.path, value.entry, name))


def _undefined(path: str, entry: Entry, name: str) -> Finding:
    return Finding(
        path,
        entry.line,
        "PE206",
        WARNING,
        entry.key,
        f"{entry.key} uses ${{{name}}}, which no line above defines; both readers "
        "fall back to the process environment or an empty string",
    )


def check(
    env_path: str | None = ".env",
    example_path: str = ".env.example",
    target: str = "local",
    *,
    env_required: bool = False,
) -> Report:
    """Check ``env_path`` against the contract in ``example_path`` for ``target``.

    A missing env file means the example is checked alone (and the report says so), unless
    ``env_required`` (the user named the file), which makes it a usage error like a missing
    example.
    """
    if target not in TARGETS:
        raise UsageError(f"unknown target {target!r}; choose one of {', '.join(TARGETS)}")
    example = load(example_path, "example file")
    schema, schema_findings = build(example.entries, example_path)
    example_values = effective(example.entries)
    ex_ctx = Context(example_path, example_path, target, schema, example_values, Masker())
    _file_rules(example, example_values, ex_ctx)
    ex_ctx.findings.extend(schema_findings)
    rules.example_defaults(ex_ctx, schema)
    targets.browser_exposure(ex_ctx)

    report = Report(env_path, example_path, target, ex_ctx.findings)
    if env_path is None or (not env_required and not os.path.exists(env_path)):
        report.env_path = None
        missing = env_path or ".env"
        report.notices.append(
            f"{missing} not found: checked {example_path} alone (run `periph env init` to "
            "create it)"
        )
        report.findings = scrubbed(report.findings, ex_ctx.masker)
        return report

    parsed = load(env_path, "env file")
    values = effective(parsed.entries)
    ctx = Context(env_path, example_path, target, schema, values, secrets_of(schema, values))
    _file_rules(parsed, values, ctx)
    rules.contract(ctx)
    targets.target_rules(ctx)
    targets.browser_exposure(ctx)
    report.findings.extend(ctx.findings)
    report.findings = scrubbed(report.findings, ctx.masker)
    return report


def scrubbed(findings: list[Finding], masker: Masker) -> list[Finding]:
    """Findings whose message and key pass through the masker's last-line scrub."""
    out = []
    for f in findings:
        key = masker.scrub(f.key) if f.key else f.key
        out.append(f._replace(message=masker.scrub(f.message), key=key))
    return out
