"""Every periph command and flag that the docs, README and workflows show exists, and
every relative link between the docs resolves."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.unit.command_lines import (
    REPO,
    CommandLine,
    markdown_commands,
    problems,
    workflow_commands,
)

DOCS = sorted([REPO / "README.md", *(REPO / "docs").glob("*.md"), REPO / "CHANGELOG.md"])
WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.yml"))


def _all_commands(paths: list[Path]) -> list[CommandLine]:
    lines = []
    for path in paths:
        if path.exists():
            read = workflow_commands if path.suffix == ".yml" else markdown_commands
            lines += read(path.read_text(), str(path.relative_to(REPO)))
    return lines


def test_the_checker_catches_an_unknown_flag_and_command():
    assert problems(CommandLine("t", "env check --no-such-flag"))
    assert problems(CommandLine("t", "no-such-command"))
    assert not problems(CommandLine("t", "env check --env-file PATH --target demo"))


def test_workflows_call_only_commands_and_flags_that_exist():
    lines = _all_commands(WORKFLOWS)
    assert lines, "the workflows should run periph"
    assert [p for line in lines for p in problems(line)] == []


def test_docs_show_only_commands_and_flags_that_exist():
    lines = _all_commands(DOCS)
    assert len(lines) > 10
    bad = [f"{line.source}: `periph {line.text}`: {p}" for line in lines for p in problems(line)]
    assert bad == []


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_relative_links_resolve(doc: Path):
    if not doc.exists():
        pytest.fail(f"{doc.name} is missing")
    text = re.sub(r"```.*?```", "", doc.read_text(), flags=re.DOTALL)
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue
        path = target.split("#", 1)[0]
        if not (doc.parent / path).exists():
            broken.append(target)
    assert broken == [], f"{doc.name} links to missing files"
