"""Find the ``periph`` command lines that docs and workflows show, and check them against
the real argument parser (so a renamed command or flag breaks a test, not a reader)."""

from __future__ import annotations

import argparse
import functools
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from periph_env.cli import build_parser

REPO = Path(__file__).resolve().parents[2]
# `periph`, `./periph`, `.venv/bin/periph` at the start of a command.
_INVOCATION = re.compile(r"(?:^|[\s`(;&|])(?:\./|\.venv/bin/|\$\{?\w+\}?/)?periph(?=\s)")
_FLAG = re.compile(r"--[a-z][a-z0-9-]*")


@dataclass(frozen=True)
class CommandLine:
    """One shown command: where it was seen and its words after ``periph``."""

    source: str
    text: str

    @property
    def words(self) -> list[str]:
        return self.text.split()


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _options(parser: argparse.ArgumentParser) -> set[str]:
    return {opt for action in parser._actions for opt in action.option_strings}


@functools.cache
def _cli_parser() -> argparse.ArgumentParser:
    """periph's parser, built once: building it per checked line was most of the docs
    test's time (hundreds of lines); checking only reads it."""
    return build_parser()


def problems(line: CommandLine, parser: argparse.ArgumentParser | None = None) -> list[str]:
    """What in ``line`` the parser does not know: an unknown subcommand or flag."""
    parser = parser or _cli_parser()
    found: list[str] = []
    current, path = parser, ["periph"]
    words = [w.strip("[]`'\"(),") for w in line.words]
    descending = True
    for word in words:
        if not word:
            continue
        if word.startswith("--"):
            descending = False
            flag = _FLAG.match(word)
            if flag and flag.group(0) not in _options(current):
                found.append(f"{' '.join(path)}: no option {flag.group(0)}")
            continue
        if word.startswith("-") or not re.fullmatch(r"[a-z][a-z0-9-]*", word):
            descending = False
            continue
        subs = _subparsers(current)
        if descending and subs:
            if word in subs:
                current, path = subs[word], [*path, word]
            else:
                found.append(f"{' '.join(path)}: no command {word!r}")
                descending = False
        else:
            descending = False
    return found


def _commands_in(candidate: str, source: str) -> list[CommandLine]:
    out = []
    candidate = re.split(r"\s#", candidate)[0]  # a shell comment may mention periph
    for match in _INVOCATION.finditer(candidate):
        rest = candidate[match.end() :]
        # A command ends at a shell separator, a comment or a closing code span.
        rest = re.split(r"\s(?:#|&&|\|\||;|>|2>)|`|\|\s", rest)[0]
        out.append(CommandLine(source, rest.strip()))
    return out


def markdown_commands(text: str, source: str) -> list[CommandLine]:
    """``periph ...`` in fenced code blocks and inline code spans (prose is not a command).

    Inline spans may wrap across lines, so they are read from the prose joined up.
    """
    out: list[CommandLine] = []
    prose: list[str] = []
    fenced = False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        if not fenced:
            prose.append(line)
        elif not line.lstrip().startswith("#"):
            out += _commands_in(line, source)
    # CommonMark: a span opened by N backticks ends at the next run of exactly N
    # (``a `b` c`` is one span), so a double-backtick span cannot shift the pairing.
    for match in re.finditer(r"(?<!`)(`+)(?!`)(.+?)(?<!`)\1(?!`)", " ".join(prose)):
        out += _commands_in(match.group(2), source)
    return out


def workflow_commands(text: str, source: str) -> list[CommandLine]:
    """``periph ...`` in the ``run:`` scripts of a GitHub Actions workflow."""
    workflow = yaml.safe_load(text)
    out: list[CommandLine] = []
    for job in (workflow.get("jobs") or {}).values():
        for step in job.get("steps") or []:
            for line in str(step.get("run", "")).splitlines():
                if not line.lstrip().startswith("#"):
                    out += _commands_in(line, source)
    return out
