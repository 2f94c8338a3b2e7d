"""Contract rules: required keys, feature groups, unknown keys, placeholders, duplicates, types."""

from __future__ import annotations

from periph_env.env.context import Context, Value
from periph_env.env.model import ERROR, WARNING, Entry, Finding
from periph_env.env.schema import KeySpec, Schema
from periph_env.env.values import is_placeholder, type_error

TYPE_CODES = {
    "int": "PE110",
    "port": "PE111",
    "url": "PE112",
    "email": "PE113",
    "bool": "PE114",
    "enum": "PE115",
    "host": "PE116",
}


def duplicates(entries: list[Entry], path: str) -> list[Finding]:
    """PE104 for every key set more than once, naming both lines and the winner."""
    seen: dict[str, int] = {}
    found = []
    for entry in entries:
        first = seen.get(entry.key)
        if first is not None:
            found.append(
                Finding(
                    path,
                    entry.line,
                    "PE104",
                    WARNING,
                    entry.key,
                    f"{entry.key} is set on line {first} and again on line {entry.line}; "
                    f"python-dotenv and compose both use line {entry.line} (the last)",
                )
            )
        seen[entry.key] = entry.line
    return found


def active_groups(ctx: Context) -> dict[str, str]:
    """Feature groups that are on, each with the key that switched it on."""
    active: dict[str, str] = {}
    for group, keys in ctx.schema.groups.items():
        for key in keys:
            if ctx.is_real(ctx.schema.specs[key], ctx.values.get(key)):
                active[group] = key
                break
    return active


def required_because(spec: KeySpec, active: dict[str, str], target: str) -> str | None:
    """Why ``spec`` is required on ``target`` (a phrase), or None when it is optional."""
    if ("required", "") in spec.rules_for(target):
        return f"on target {target}"
    if spec.group:
        trigger = active.get(spec.group)
        return f"group {spec.group} is on since {trigger} is set" if trigger else None
    return "" if spec.required else None


def contract(ctx: Context) -> None:
    """Missing, empty, placeholder, unknown and mistyped keys of the env file."""
    active = active_groups(ctx)
    for key, spec in ctx.schema.specs.items():
        value = ctx.values.get(key)
        because = required_because(spec, active, ctx.target)
        why = f" ({because})" if because else ""
        if value is None:
            if because is not None:
                ctx.add(
                    Finding(
                        ctx.example_path,
                        spec.line,
                        "PE101",
                        ERROR,
                        key,
                        f"{key} is required{why} but {ctx.path} does not set it",
                    )
                )
            continue
        line = value.entry.line
        if not value.raw:
            if because is not None:
                ctx.add(
                    Finding(
                        ctx.path, line, "PE105", ERROR, key, f"{key} is required{why} but empty"
                    )
                )
            continue
        if is_placeholder(value.raw, spec.kind):
            _placeholder(ctx, spec, line, because, why)
            continue
        if ctx.checkable(spec, value):
            type_check(ctx, spec, value, ctx.path)
    unknown_keys(ctx)


def _placeholder(ctx: Context, spec: KeySpec, line: int, because: str | None, why: str) -> None:
    if because is not None:
        ctx.add(
            Finding(
                ctx.path,
                line,
                "PE103",
                ERROR,
                spec.key,
                f"{spec.key} is required{why} but still holds a placeholder"
                + (
                    "; delete the line and run `periph env init` to generate one"
                    if spec.generate
                    else ""
                ),
            )
        )
    elif ctx.target != "local":
        ctx.add(
            Finding(
                ctx.path,
                line,
                "PE103",
                WARNING,
                spec.key,
                f"{spec.key} still holds a placeholder; on {ctx.target} leave unused "
                "keys empty or remove them",
            )
        )


def type_check(ctx: Context, spec: KeySpec, value: Value, path: str) -> None:
    """PE110-PE116 when the expanded value is not of the key's type."""
    code = TYPE_CODES.get(spec.kind)
    if code is None:
        return
    problem = type_error(spec.kind, value.expanded, spec.choices)
    if problem:
        shown = ctx.masker.show(value.expanded)
        ctx.add(
            Finding(path, value.entry.line, code, ERROR, spec.key, f"{spec.key}: {shown} {problem}")
        )


def unknown_keys(ctx: Context) -> None:
    """PE102 for keys the example does not know, with a did-you-mean for near names."""
    known = ctx.schema.specs
    unknown = [v.entry for k, v in ctx.values.items() if k not in known]
    if not unknown:
        return
    from periph_env.env.suggest import Suggester  # only needed for unknown keys

    suggester = Suggester(list(known))
    for entry in unknown:
        near = suggester.suggest(entry.key)
        hint = f"; did you mean {near}?" if near else ""
        ctx.add(
            Finding(
                ctx.path,
                entry.line,
                "PE102",
                WARNING,
                entry.key,
                f"{entry.key} is not in {ctx.example_path}{hint}",
            )
        )


def example_defaults(ctx: Context, schema: Schema) -> None:
    """Type-check the example's own non-placeholder defaults against their annotations."""
    for key, spec in schema.specs.items():
        value = ctx.values.get(key)
        if ctx.checkable(spec, value):
            assert value is not None
            type_check(ctx, spec, value, ctx.path)
