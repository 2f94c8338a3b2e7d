"""``check``: read the example (the contract) and the env file, run every rule, report."""

from __future__ import annotations

import os

from periph_env.env import readers, rules, targets
from periph_env.env.context import Context, Value
from periph_env.env.files import read_env_bytes
from periph_env.env.masking import Masker, secret_name
from periph_env.env.model import WARNING, Entry, Finding, Report
from periph_env.env.parser import ParsedFile, parse_bytes
from periph_env.env.schema import TARGETS, Schema, build
from periph_env.env.values import is_placeholder
from periph_env.errors import UsageError

# Kept for callers of the old name: every env read goes through files.read_env_bytes.
read_file = read_env_bytes


def load(path: str, what: str) -> ParsedFile:
    """Read and parse an env-format file (syntax findings included)."""
    return parse_bytes(read_env_bytes(path, what), path)


def effective(entries: list[Entry]) -> dict[str, Value]:
    """Each key's last setting with its expanded value (python-dotenv's reading)."""
    expanded, missing = readers.expand(entries)
    return {e.key: Value(e, v, m) for e, v, m in zip(entries, expanded, missing, strict=True)}


def secrets_of(schema: Schema, values: dict[str, Value], parsed: ParsedFile) -> Masker:
    """A masker that knows the file's secret values: secret-typed keys, keys whose name
    says secret, values under unreadable keys, and compose's reading of them all."""
    masker = Masker()
    for key, value in values.items():
        spec = schema.specs.get(key)
        if (spec is not None and spec.secret) or secret_name(key):
            for text in (value.raw, value.expanded, value.entry.compose):
                if text and not is_placeholder(text):
                    masker.add(text)
    for entry in parsed.entries:  # earlier settings of a key are secrets too
        if entry.key in values and values[entry.key].entry is not entry:
            spec = schema.specs.get(entry.key)
            if ((spec is not None and spec.secret) or secret_name(entry.key)) and not (
                is_placeholder(entry.value)
            ):
                masker.add(entry.value)
    for text in parsed.other_values:
        if not is_placeholder(text):
            masker.add(text)
    for binding in parsed.compose.bindings:
        if binding.value and secret_name(binding.key):
            masker.add(binding.value)
    return masker


def _file_rules(parsed: ParsedFile, values: dict[str, Value], ctx: Context) -> None:
    """Rules every env-format file gets: syntax, duplicates, reader divergence, references."""
    ctx.findings.extend(parsed.findings)
    ctx.findings.extend(rules.duplicates(parsed.entries, parsed.path))
    for entry in parsed.entries:
        ctx.findings.extend(readers.divergences(entry, parsed.path))
    ctx.findings.extend(readers.compose_divergences(parsed))
    for value in values.values():
        for name in dict.fromkeys(value.unresolved):
            if not name.isidentifier():
                continue  # a compose-only modifier, reported as PE204
            ctx.add(_undefined(parsed.path, value.entry, name, ctx.masker))


def _undefined(path: str, entry: Entry, name: str, masker: Masker) -> Finding:
    fallback = readers.default_of(entry.value, name)
    shown = f"the default {masker.show(fallback)}" if fallback else "an empty string"
    return Finding(
        path,
        entry.line,
        "PE206",
        WARNING,
        entry.key,
        f"{entry.key} uses ${{{name}}}, which no line above defines; both readers "
        f"take {name} from the process environment, else {shown}",
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
    ex_masker = secrets_of(schema, example_values, example)
    ex_masker.paths = {example_path, env_path or ".env"}
    ex_ctx = Context(example_path, example_path, target, schema, example_values, ex_masker)
    _file_rules(example, example_values, ex_ctx)
    ex_ctx.findings.extend(schema_findings)
    rules.example_defaults(ex_ctx, schema)
    targets.browser_exposure(ex_ctx)

    report = Report(env_path, example_path, target, ex_masker.findings(ex_ctx.findings))
    if env_path is None or (not env_required and not os.path.lexists(env_path)):
        report.env_path = None
        missing = env_path or ".env"
        report.notices.append(
            f"{missing} not found: checked {example_path} alone (run `periph env init` to "
            "create it)"
        )
        report.notices = [ex_masker.scrub(n) for n in report.notices]
        return report

    parsed = load(env_path, "env file")
    values = effective(parsed.entries)
    masker = secrets_of(schema, values, parsed)
    masker.paths = {example_path, env_path}
    ctx = Context(env_path, example_path, target, schema, values, masker)
    _file_rules(parsed, values, ctx)
    rules.contract(ctx)
    targets.target_rules(ctx)
    targets.browser_exposure(ctx)
    report.findings.extend(ctx.findings)
    report.findings = masker.findings(report.findings)
    report.notices = [masker.scrub(n) for n in report.notices]
    report.env_path = masker.scrub_path(env_path)
    return report


def scrubbed(findings: list[Finding], masker: Masker) -> list[Finding]:
    """Findings passed through the masker's one scrub (path, key and message)."""
    return masker.findings(findings)
