"""How-to-fix hints for a failing service: compose ``x-periph`` rules, regex → hint.

Rules live in the compose file, next to the service they are about (Compose ignores
``x-`` keys)::

    x-periph:                      # top level: rules every service gets (checked last)
      hints:
        - match: 'address already in use|port is already allocated'
          hint: "another process holds the port; `periph doctor` names it"
    services:
      backend:
        x-periph:
          hints:                   # this service's rules (checked first)
            - match: '(?P<file>[\\w./-]+\\.go):(?P<line>\\d+):\\d+: '
              hint: "Go does not compile: {file}:{line}"

``match`` is a Python regex searched in each log line (newest line first); ``hint`` may
use the match's named groups as ``{name}``. The first rule (service rules, then the
shared ones) that matches any of the lines wins. A rule that is not a mapping with a
string ``match`` and ``hint``, or whose regex does not compile, is a
``ComposeFileError`` naming the file, the line and the service: a broken rule must not
wait for a crash to be found. Pure: the caller passes the lines (already masked).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from periph_env.stack.errors import ComposeFileError

SHARED = "*"  # the key of the rules every service gets


@dataclass(frozen=True, slots=True)
class HintRule:
    """One ``match`` → ``hint`` rule."""

    pattern: re.Pattern[str]
    hint: str

    def apply(self, line: str) -> str | None:
        """The hint for ``line`` with the match's named groups filled in, or None."""
        found = self.pattern.search(line)
        if found is None:
            return None
        groups = {k: v or "" for k, v in found.groupdict().items()}
        try:
            return self.hint.format(**groups)
        except (KeyError, IndexError, ValueError):
            return self.hint  # a {name} the regex does not define: show the text as is


def _line_of(text: str, needle: str, start: int = 0) -> int:
    at = text.find(needle, start)
    return 1 if at < 0 else text.count("\n", 0, at) + 1


def parse_rules(raw: Any, owner: str, where: str) -> list[HintRule]:
    """``x-periph.hints`` of ``owner`` (a service name, or the shared rules) as rules."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ComposeFileError(
            f"{where}: {owner}: x-periph.hints must be a list of {{match, hint}} entries",
            hint="e.g. `hints: [{match: 'address already in use', hint: 'free the port'}]`",
        )
    rules = []
    for index, entry in enumerate(raw, 1):
        if not (
            isinstance(entry, dict)
            and isinstance(entry.get("match"), str)
            and isinstance(entry.get("hint"), str)
        ):
            raise ComposeFileError(
                f"{where}: {owner}: x-periph.hints entry {index} needs a string `match` "
                "(a regex) and a string `hint`"
            )
        try:
            pattern = re.compile(entry["match"])
        except re.error as exc:
            raise ComposeFileError(
                f"{where}: {owner}: x-periph.hints entry {index}: `match` is not a valid "
                f"regex: {exc}"
            ) from None
        rules.append(HintRule(pattern, entry["hint"]))
    return rules


def rules_from_text(text: str, path: Path) -> dict[str, list[HintRule]]:
    """Every service's hint rules (and the shared ones under ``SHARED``) in compose YAML."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        data = yaml.load(text, Loader=loader) or {}
    except yaml.YAMLError:
        return {}  # compose_file.load reports a broken file with its line; not our job
    if not isinstance(data, dict):
        return {}
    rules: dict[str, list[HintRule]] = {}
    top = data.get("x-periph")
    if isinstance(top, dict) and "hints" in top:
        where = f"{path}:{_line_of(text, 'x-periph:')}"
        rules[SHARED] = parse_rules(top["hints"], "x-periph", where)
    services = data.get("services")
    for name, raw in (services or {}).items() if isinstance(services, dict) else ():
        x_periph = raw.get("x-periph") if isinstance(raw, dict) else None
        if isinstance(x_periph, dict) and "hints" in x_periph:
            service_at = text.find(f"\n  {name}:")
            where = f"{path}:{_line_of(text, 'hints:', max(service_at, 0))}"
            rules[str(name)] = parse_rules(x_periph["hints"], f"service {name!r}", where)
    return rules


def load_rules(path: str | Path) -> dict[str, list[HintRule]]:
    """``rules_from_text`` of the compose file at ``path`` ({} when it cannot be read)."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError:
        return {}
    return rules_from_text(text, path)


def find_hint(
    rules: dict[str, list[HintRule]], service: str, lines: Sequence[str] | Iterable[str]
) -> str | None:
    """The hint for ``service`` given its last log ``lines`` (oldest first), or None.

    Service rules before shared ones; within a rule set the first rule in file order
    wins, tried against the newest line first (the cause is usually near the end)."""
    newest_first = list(lines)[::-1]
    for rule in [*rules.get(service, []), *rules.get(SHARED, [])]:
        for line in newest_first:
            hint = rule.apply(line)
            if hint is not None:
                return hint
    return None
