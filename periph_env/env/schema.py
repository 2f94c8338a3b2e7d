"""The contract, read from ``# @`` annotations in ``.env.example`` (its single source).

An annotation is a comment line starting with ``# @`` in the comment block right above a
key. Its words, in any order::

    # @port required demo,prod:not-default
    # @secret group=google
    # @enum=development|staging|production local:value=development demo:value=staging

* a type: ``string`` ``secret`` ``int`` ``port`` ``host`` ``url`` ``email`` ``bool`` or
  ``enum=a|b|c`` (the leading ``@`` is optional on the first word);
* ``required`` (the default) or ``optional``;
* ``group=NAME``: optional until the feature group is on; a group is on when any of its
  keys holds a real value (not empty, not a placeholder, not the example's default);
* target rules ``TARGETS:RULE[=ARG]`` with TARGETS a comma list of local, demo, prod:
  ``required``, ``strong``, ``not-default``, ``prefix=a|b``, ``value=X``, ``off``;
* ``generate``: ``periph env init`` writes a fresh random value (a secret that can be made
  locally, such as JWT_SECRET) instead of the example's placeholder.

Contradicting words (two types, ``required`` and ``optional``) are a PE901 finding; a key
any annotation calls ``secret`` stays secret whatever else is said about it.
"""

from __future__ import annotations

from periph_env.env.model import ERROR, WARNING, Entry, Finding
from periph_env.env.values import TYPES

TARGETS = ("local", "demo", "prod")
TARGET_RULES = ("required", "strong", "not-default", "prefix", "value", "off")
_NEEDS_ARG = frozenset(("prefix", "value"))


class KeySpec:
    """What the example says about one key: type, presence, group and target rules."""

    __slots__ = (
        "choices",
        "default",
        "generate",
        "group",
        "key",
        "kind",
        "line",
        "marked_secret",
        "required",
        "rules",
    )

    def __init__(self, key: str, line: int, default: str) -> None:
        self.key = key
        self.line = line
        self.default = default
        self.kind = "string"
        self.choices: tuple[str, ...] = ()
        self.required = True
        self.group: str | None = None
        self.rules: dict[str, list[tuple[str, str]]] = {}
        self.generate = False
        # Set when any annotation (even a contradicted or later-replaced one) said secret.
        self.marked_secret = False

    @property
    def secret(self) -> bool:
        """True when the key's values must never be shown (once secret, always secret)."""
        return self.kind == "secret" or self.marked_secret

    def rules_for(self, target: str) -> list[tuple[str, str]]:
        """The (rule, argument) pairs that apply on ``target``."""
        return self.rules.get(target, [])


class Schema:
    """Every example key's spec in file order, and the feature groups' members."""

    __slots__ = ("groups", "specs")

    def __init__(self) -> None:
        self.specs: dict[str, KeySpec] = {}
        self.groups: dict[str, list[str]] = {}


def build(entries: list[Entry], path: str) -> tuple[Schema, list[Finding]]:
    """Read the schema from the example's entries; later duplicates replace earlier ones."""
    schema = Schema()
    findings: list[Finding] = []
    for entry in entries:
        words = [w for c in entry.comments if c.startswith("# @") for w in c[3:].split()]
        spec = KeySpec(entry.key, entry.line, entry.value)
        previous = schema.specs.get(entry.key)
        spec.marked_secret = previous is not None and previous.secret
        if not words:
            findings.append(
                Finding(
                    path,
                    entry.line,
                    "PE902",
                    WARNING,
                    entry.key,
                    f"{entry.key} has no '# @' annotation; treated as a required string",
                )
            )
        problems = [p for p in (_apply(spec, word) for word in words) if p]
        problems += _contradictions(spec, words)
        for problem in problems:
            findings.append(
                Finding(path, entry.line, "PE901", ERROR, entry.key, f"{entry.key}: {problem}")
            )
        if spec.group:
            if "required" in words:
                findings.append(
                    Finding(
                        path,
                        entry.line,
                        "PE901",
                        ERROR,
                        entry.key,
                        f"{entry.key}: group keys are optional until the group is on; "
                        "use a target rule (e.g. prod:required) instead of 'required'",
                    )
                )
            spec.required = False
            members = schema.groups.setdefault(spec.group, [])
            if entry.key not in members:
                members.append(entry.key)
        schema.specs[entry.key] = spec
    return schema, findings


_GENERATED_KINDS = frozenset(("string", "secret"))


def _contradictions(spec: KeySpec, words: list[str]) -> list[str]:
    """Problems with words that contradict each other (the first type word wins)."""
    problems = []
    kinds = list(dict.fromkeys(w.partition("=")[0] for w in words if w.partition("=")[0] in TYPES))
    if len(kinds) > 1:
        problems.append(f"contradicting types {' and '.join(kinds)}; a key has one type")
    if "required" in words and "optional" in words:
        problems.append("both required and optional; say one")
    if spec.generate and spec.kind not in _GENERATED_KINDS:
        problems.append(f"generate makes a random string; it does not fit type {spec.kind}")
    return problems


def _apply(spec: KeySpec, word: str) -> str | None:
    """Apply one annotation word to ``spec``; return a problem description or None."""
    name, _, arg = word.partition("=")
    first_type = spec.kind == "string" and not spec.choices
    if name == "secret" and not arg:
        spec.marked_secret = True
    if name == "enum":
        choices = tuple(c for c in arg.split("|") if c)
        if not choices:
            return "enum needs choices, e.g. enum=a|b|c"
        if first_type:
            spec.kind, spec.choices = "enum", choices
    elif name in TYPES and not arg:
        if first_type:
            spec.kind = name
    elif word == "generate":
        spec.generate = True
    elif word in ("required", "optional"):
        spec.required = word == "required"
    elif name == "group" and arg.isidentifier():
        spec.group = arg
    elif ":" in name:
        return _apply_target_rule(spec, word)
    else:
        return f"unknown annotation word {word!r}"
    return None


def _apply_target_rule(spec: KeySpec, word: str) -> str | None:
    targets, _, rule = word.partition(":")
    rule_name, has_arg, arg = rule.partition("=")
    names = targets.split(",")
    if any(t not in TARGETS for t in names):
        return f"{word!r}: targets are {', '.join(TARGETS)}"
    if rule_name not in TARGET_RULES:
        return f"{word!r}: target rules are {', '.join(TARGET_RULES)}"
    if (rule_name in _NEEDS_ARG) != bool(has_arg and arg):
        return f"{word!r}: {rule_name} {'needs' if rule_name in _NEEDS_ARG else 'takes no'} '=...'"
    for target in names:
        spec.rules.setdefault(target, []).append((rule_name, arg))
    return None
