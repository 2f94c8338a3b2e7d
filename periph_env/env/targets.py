"""Deploy-target rules (``--target local|demo|prod``) and the browser-exposure rule."""

from __future__ import annotations

from periph_env.env.context import Context
from periph_env.env.model import ERROR, WARNING, Finding
from periph_env.env.schema import TARGETS, KeySpec
from periph_env.env.values import TRUE_WORDS, is_placeholder, weakness

# Rules that judge a placeholder too (it is the weakest possible secret); the others skip
# placeholders, which PE103 reports already.
_JUDGE_PLACEHOLDERS = frozenset(("strong", "not-default"))

# Vite ships every variable with this prefix into the browser bundle.
BROWSER_PREFIX = "VITE_"


def target_rules(ctx: Context) -> None:
    """Apply each key's ``TARGET:rule`` annotations for ``ctx.target``."""
    for key, spec in ctx.schema.specs.items():
        rules = spec.rules_for(ctx.target)
        value = ctx.values.get(key)
        if not rules or value is None or not value.expanded or value.unresolved:
            continue
        line, current = value.entry.line, value.expanded
        placeholder = is_placeholder(value.raw, spec.kind) or is_placeholder(current)
        for rule, arg in rules:
            if placeholder and rule not in _JUDGE_PLACEHOLDERS:
                continue
            message, code = _judge(ctx, spec, rule, arg, current)
            if message:
                severity = WARNING if code == "PE305" else ERROR
                ctx.add(Finding(ctx.path, line, code, severity, key, message))


def _judge(ctx: Context, spec: KeySpec, rule: str, arg: str, value: str) -> tuple[str, str]:
    key, target = spec.key, ctx.target
    if rule == "strong":
        why = weakness(value, spec.default)
        if why:
            return f"{key} {why}; {target} needs 32+ random characters", "PE301"
    elif rule == "not-default":
        if value == spec.default:
            return f"{key} is still the example default; set a real value for {target}", "PE302"
    elif rule == "prefix":
        prefixes = arg.split("|")
        if not value.startswith(tuple(prefixes)):
            return (
                f"{key} must start with {' or '.join(prefixes)} on {target}"
                f"{_other_mode(spec, target, value)}",
                "PE303",
            )
    elif rule == "value":
        if value != arg:
            shown = ctx.masker.show(value)
            return f"{key} is {shown} but target {target} needs {arg!r}", "PE304"
    elif rule == "off" and value.lower() in TRUE_WORDS:
        return f"{key} is on outside local; set it to false for {target}", "PE305"
    return "", ""


def _other_mode(spec: KeySpec, target: str, value: str) -> str:
    """', it holds a prod key' when the value fits another target's prefix rule."""
    for other in TARGETS:
        for rule, arg in spec.rules_for(other):
            if other != target and rule == "prefix" and value.startswith(tuple(arg.split("|"))):
                return f"; it holds a {other} key"
    return ""


def browser_exposure(ctx: Context) -> None:
    """PE306 for any VITE_* value that looks like (or contains) a secret."""
    for key, value in ctx.values.items():
        exposed = key.startswith(BROWSER_PREFIX) and value.expanded
        if exposed and ctx.masker.is_secret(value.expanded):
            ctx.add(
                Finding(
                    ctx.path,
                    value.entry.line,
                    "PE306",
                    ERROR,
                    key,
                    f"{key} looks like a secret and Vite exposes every VITE_* "
                    "variable to the browser; keep secrets in server-side keys",
                )
            )
