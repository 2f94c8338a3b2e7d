"""The catalogue of finding codes: one stable code per rule, its default severity and help.

``docs/env-rules.md`` documents the same table; SARIF output lists these as its rules.
"""

from __future__ import annotations

from typing import NamedTuple

from periph_env.env.model import ERROR, WARNING


class Rule(NamedTuple):
    """A rule's stable code, short name, default severity and one-line help."""

    code: str
    name: str
    severity: str
    help: str


_RULES = (
    # File and syntax: the line is reported and skipped, the rest is still checked.
    Rule(
        "PE001",
        "no-equals",
        ERROR,
        "A statement has no '=' (python-dotenv ignores it, "
        "compose copies the key from the host environment).",
    ),
    Rule(
        "PE002",
        "unterminated-quote",
        ERROR,
        "A quoted value is never closed on its line; compose rejects the whole file.",
    ),
    Rule(
        "PE003",
        "invalid-key",
        ERROR,
        "A key has a space or a character other than "
        "letters, digits and '_', or starts with a digit.",
    ),
    Rule(
        "PE004",
        "text-after-quote",
        ERROR,
        "Text follows a closing quote; python-dotenv "
        "skips the line, compose reads the text as a new key.",
    ),
    Rule("PE005", "bad-encoding", ERROR, "A line is not valid UTF-8 or holds a NUL byte."),
    Rule(
        "PE006",
        "bom",
        WARNING,
        "The file starts with a UTF-8 byte order mark; "
        "python-dotenv and compose strip it, `source .env` does not.",
    ),
    Rule(
        "PE007",
        "crlf",
        WARNING,
        "CRLF line endings; python-dotenv and compose strip the "
        "CR, a shell `source` keeps it in every value.",
    ),
    Rule(
        "PE008",
        "wide-encoding",
        ERROR,
        "The file is UTF-16 or UTF-32 text (with or without BOM); both readers need UTF-8.",
    ),
    Rule(
        "PE009",
        "bare-cr",
        ERROR,
        "A CR not followed by LF: python-dotenv ends the line there, compose does not.",
    ),
    Rule(
        "PE010",
        "whitespace-run",
        ERROR,
        "A run of 128+ whitespace characters; the line is not read (python-dotenv is "
        "quadratic on it).",
    ),
    # The contract between .env and .env.example.
    Rule("PE101", "missing-key", ERROR, "A key the example marks required is not set."),
    Rule("PE102", "unknown-key", WARNING, "A key is not in the example (maybe a typo)."),
    Rule(
        "PE103",
        "placeholder",
        ERROR,
        "A value is still a placeholder (<...>, changeme..., an example.com address).",
    ),
    Rule("PE104", "duplicate-key", WARNING, "A key is set twice; the last one wins."),
    Rule("PE105", "empty-required", ERROR, "A required key is set to an empty value."),
    Rule("PE110", "not-int", ERROR, "The value is not an integer."),
    Rule("PE111", "bad-port", ERROR, "The value is not a port (integer 1-65535)."),
    Rule("PE112", "bad-url", ERROR, "The value is not an absolute URL with scheme and host."),
    Rule("PE113", "bad-email", ERROR, "The value is not an e-mail address."),
    Rule("PE114", "bad-bool", ERROR, "The value is not a boolean (true/false/1/0/yes/no/on/off)."),
    Rule("PE115", "not-in-enum", ERROR, "The value is not one of the allowed choices."),
    Rule("PE116", "bad-host", ERROR, "The value is not a hostname or IP address."),
    # python-dotenv and docker compose read these lines differently (GUIDE §3).
    Rule(
        "PE201",
        "comment-divergence",
        WARNING,
        "An inline comment the readers disagree on: a tab before '#' (python-dotenv drops "
        "the comment, compose keeps it) or `KEY= # c` (compose reads the comment as the value).",
    ),
    Rule(
        "PE202",
        "single-quote-expansion",
        WARNING,
        "'${VAR}' in single quotes: python-dotenv expands it, compose keeps it literal.",
    ),
    Rule(
        "PE203",
        "unbraced-variable",
        WARNING,
        "$VAR without braces: compose expands it, python-dotenv keeps it literal.",
    ),
    Rule(
        "PE204",
        "expansion-modifier",
        WARNING,
        "${VAR-x}, ${VAR:?x}, ${VAR+x} ...: compose applies the modifier, python-dotenv does not.",
    ),
    Rule(
        "PE205",
        "escaped-dollar",
        WARNING,
        "$$ or \\$: compose reads one '$', python-dotenv keeps both characters.",
    ),
    Rule(
        "PE206",
        "undefined-reference",
        WARNING,
        "${VAR} names a key not defined above it; "
        "both readers fall back to the process environment, else the ${VAR:-default} "
        "default or empty.",
    ),
    Rule(
        "PE207",
        "reader-disagreement",
        WARNING,
        "python-dotenv and compose read this line differently (another key, another value, "
        "or compose refuses the file here).",
    ),
    # Deploy targets (--target local|demo|prod).
    Rule(
        "PE301",
        "weak-secret",
        ERROR,
        "A secret that must be strong is the example default, "
        "shorter than 32 characters or low-entropy.",
    ),
    Rule(
        "PE302",
        "example-default",
        ERROR,
        "A value is still the example default where the target forbids it.",
    ),
    Rule(
        "PE303",
        "wrong-key-mode",
        ERROR,
        "A key has the wrong prefix for the target "
        "(e.g. Stripe test keys on demo, live keys on prod).",
    ),
    Rule(
        "PE304",
        "wrong-target-value",
        ERROR,
        "A value does not match what the target requires (e.g. VITE_ENVIRONMENT).",
    ),
    Rule("PE305", "should-be-off", WARNING, "A development switch is on outside local."),
    Rule(
        "PE306",
        "exposed-secret",
        ERROR,
        "A VITE_* value looks like a secret; Vite ships every VITE_* variable to the browser.",
    ),
    # The pre-commit guard (`periph env guard`).
    Rule(
        "PE401",
        "staged-env-file",
        ERROR,
        "A real env file (.env, .env.demo, prod.env, ...) is staged for commit.",
    ),
    Rule(
        "PE402",
        "staged-secret",
        ERROR,
        "A staged file (its content or its name) contains a secret value from a local env file.",
    ),
    Rule(
        "PE403",
        "cannot-scan",
        ERROR,
        "The guard cannot read, decode or parse something it must judge; it refuses the "
        "commit (exit 2).",
    ),
    # The schema annotations in .env.example.
    Rule("PE901", "bad-annotation", ERROR, "An '# @' schema annotation cannot be understood."),
    Rule("PE902", "no-annotation", WARNING, "An example key has no '# @' schema annotation."),
)

RULES: dict[str, Rule] = {rule.code: rule for rule in _RULES}
