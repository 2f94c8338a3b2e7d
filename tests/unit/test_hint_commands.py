"""Every ``periph …`` command that periph's own messages and hints name parses with the real
argument parser: a hint that tells a user what to run names something that runs.

The commands are read from the string literals of every module under ``periph_env`` (f-string
placeholders filled with a sample value; docstrings are documentation, checked by
test_documented_commands). A backticked span counts, and so does an unquoted ``periph <cmd>``
where ``<cmd>`` is one of periph's subcommands.
"""

from __future__ import annotations

import ast
import contextlib
import functools
import io
import itertools
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from periph_env.cli import build_parser
from tests.unit.command_lines import REPO, _subparsers

PACKAGE = REPO / "periph_env"
# What a placeholder holds: an environment, service or file name all parse as "demo"; a
# number (`--port {port + 1}`) as "1". Each placeholder is tried with each.
SAMPLE = "demo"
SAMPLES = (SAMPLE, "1")
_PARSER = build_parser()
_COMMANDS = sorted(_subparsers(_PARSER), key=len, reverse=True)
_SUBCOMMAND = "(?:" + "|".join(map(re.escape, _COMMANDS)) + r")(?=[\s`)]|$)"
# A code span: `periph …` (or `./periph …`).
_SPAN = re.compile(r"`(?:\./)?periph (?P<words>" + _SUBCOMMAND + r"[^`]*)`")
# Unquoted, where prose tells the user to run it: "run: periph …", "(periph …)", "see periph …"
# or a hint that is the command; it ends at punctuation or the prose after it.
_PLAIN = re.compile(
    r"(?:\brun:? |\bsee |\btry |\(|: )(?:\./)?periph (?P<words>"
    + _SUBCOMMAND
    + r"[^`()\[\],;\"'\n]*?)"
    r"(?=\)|\(|,|;|\n|\.(?:\s|$)| — | or | then | to | for | and | after |$)"
)
# An upper-case word is a placeholder the user fills in (ENV, SERVICE), as in the docs.
_PLACEHOLDER = re.compile(r"\b[A-Z][A-Z_]+\b")


def commands_in(text: str, *, hint: bool = False) -> list[str]:
    """The words after ``periph`` of every command ``text`` tells a user to run.

    A bare subcommand (`periph history`) names the command rather than a line to run, so
    it is not checked; a ``hint=`` that is nothing but a command (``periph deploy prod
    --yes``) is.
    """
    found = [m.group("words").strip() for m in _SPAN.finditer(text)]
    found += [m.group("words").strip() for m in _PLAIN.finditer(text)]
    if hint and text.startswith("periph ") and "\n" not in text:
        found.append(text.removeprefix("periph ").strip())
    # "periph serve: …" opens a message: not a command.
    return [w for w in found if " " in w and not any(x.endswith(":") for x in w.split())]


def _docstrings(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                ids.add(id(body[0].value))
    return ids


def _text(node: ast.AST) -> str | None:
    """A string literal's text; an f-string's with each placeholder replaced by ``SAMPLE``."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(
            part.value if isinstance(part, ast.Constant) else SAMPLE for part in node.values
        )
    return None


@functools.cache
def message_commands() -> tuple[tuple[str, str], ...]:
    """(``file:line``, words after ``periph``) for every command periph's strings name
    (read once per session: parametrizing and the extractor's own test share it)."""
    return tuple(_message_commands())


def _message_commands() -> Iterator[tuple[str, str]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        skip = _docstrings(tree)
        inner = {id(v) for n in ast.walk(tree) if isinstance(n, ast.JoinedStr) for v in n.values}
        hints = {
            id(k.value) for k in ast.walk(tree) if isinstance(k, ast.keyword) and k.arg == "hint"
        }
        for node in ast.walk(tree):
            if id(node) in skip or id(node) in inner:
                continue
            text = _text(node)
            if text is None or "periph " not in text:
                continue
            where = f"{path.relative_to(REPO)}:{node.lineno}"
            for words in commands_in(text, hint=id(node) in hints):
                yield where, words


def _parse_error(words: list[str]) -> str | None:
    stderr = io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
            build_parser().parse_args(words)
    except SystemExit as exc:
        if exc.code:
            return stderr.getvalue().strip().splitlines()[-1]
    return None


def parse_error(words: str) -> str | None:
    """The parser's complaint about ``periph WORDS``, or None when it parses with some
    choice of sample values for its placeholders (the f-string's and the upper-case ones)."""
    split = _PLACEHOLDER.sub(SAMPLE, words).split()
    slots = [i for i, word in enumerate(split) if word == SAMPLE]
    first = None
    for values in itertools.product(SAMPLES, repeat=len(slots)):
        tried = list(split)
        for index, value in zip(slots, values, strict=True):
            tried[index] = value
        error = _parse_error(tried)
        if error is None:
            return None
        first = first or error
    return first


def test_the_extractor_finds_backticked_and_plain_commands():
    found = [w for _, w in message_commands()]
    assert "testenv up --tier registry" in found
    assert any(w.startswith("env check --env-file") for w in found)


def test_the_checker_refuses_a_flag_or_value_that_does_not_exist():
    assert parse_error("build --push --pin demo") is None
    assert parse_error("build --push --pin") is not None
    assert parse_error("testenv up --tier registries") is not None
    assert parse_error("serve --port demo") is None  # a placeholder may be a number


@pytest.mark.parametrize(
    ("where", "words"), sorted(set(message_commands())), ids=lambda v: str(v)[:60]
)
def test_every_command_a_message_names_parses(where: str, words: str):
    assert parse_error(words) is None, f"{where}: `periph {words}`"


def test_a_hint_in_a_file_the_extractor_reads(tmp_path: Path):
    # The extractor reads f-strings too: a placeholder stands for a value that parses.
    tree = ast.parse('hint = f"run `periph deploy {env} --yes` to confirm"')
    (node,) = [n for n in ast.walk(tree) if isinstance(n, ast.JoinedStr)]
    assert commands_in(_text(node) or "") == ["deploy demo --yes"]


def test_a_message_prefix_is_not_a_command():
    assert commands_in("periph serve: token required") == []
    assert commands_in("periph serve needs textual-serve") == []
    assert commands_in("hint: see periph history ENV") == ["history ENV"]
    assert commands_in("periph deploy prod --yes", hint=True) == ["deploy prod --yes"]
