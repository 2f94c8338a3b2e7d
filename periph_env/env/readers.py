"""Interpolation and the places where python-dotenv and docker compose disagree.

python-dotenv's own ``dotenv_values`` copies the environment for every key (quadratic);
this expansion is linear: each value is scanned once against a dict of earlier values.
"""

from __future__ import annotations

import re

from periph_env.env.model import WARNING, Entry, Finding
from periph_env.env.parser import ParsedFile

_VALID_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")

# python-dotenv's variable syntax: ${NAME} and ${NAME:-default}; compose reads them alike.
_DOTENV_VAR = re.compile(r"\$\{(?P<name>[^}:]*)(?::-(?P<default>[^}]*))?\}")
# What compose reads on top of that (or differently) in unquoted and double-quoted values.
_COMPOSE_ONLY = re.compile(
    r"(?P<esc>\\\$)|(?P<dd>\$\$)|\$\{(?P<bname>[A-Za-z_][A-Za-z0-9_]*)(?P<mod>[^}]{0,256})\}"
    r"|\$(?P<name>[A-Za-z_])"
)
# Chained references can make the expanded text grow quadratically (or worse) with the
# file; past this many characters in total, values are left unexpanded (and unjudged).
MAX_EXPANDED = 1 << 22


def expand(entries: list[Entry]) -> tuple[list[str], list[list[str]]]:
    """Expand every entry in file order as python-dotenv does, without os.environ.

    Returns the expanded values (parallel to ``entries``) and, for each entry, the names
    it referenced that no earlier entry defines ("" when expansion ran out of budget).
    """
    budget = [MAX_EXPANDED]  # characters that references may still insert
    known: dict[str, str] = {}
    values: list[str] = []
    missing: list[list[str]] = []

    def lookup(m: re.Match[str], unknown: list[str]) -> str:
        name = m.group("name")
        found = known.get(name)
        if found is None:
            unknown.append(name)
            return m.group("default") or ""
        if len(found) > budget[0]:
            unknown.append("")  # out of budget: left as written, and not judged
            return m.group(0)
        budget[0] -= len(found)
        return found

    for entry in entries:
        value, unknown = entry.value, []
        if "${" in value:
            # Nothing can match after the last "}": leaving that tail out keeps failed
            # scans from "${" to the end of a long value from turning quadratic.
            cut = value.rfind("}") + 1
            head = _DOTENV_VAR.sub(lambda m, u=unknown: lookup(m, u), value[:cut])
            value = head + value[cut:]
        known[entry.key] = value
        values.append(value)
        missing.append(unknown)
    return values, missing


def default_of(value: str, name: str) -> str:
    """The ``default`` of the first ``${name:-default}`` in ``value`` ("" when none)."""
    for m in _DOTENV_VAR.finditer(value):
        if m.group("name") == name and m.group("default"):
            return m.group("default")
    return ""


def divergences(entry: Entry, path: str) -> list[Finding]:
    """Warnings for an entry that python-dotenv and compose would read differently."""
    found: dict[str, str] = {}
    key = entry.key
    compose = entry.compose
    if entry.quote == "" and compose is not None and compose != entry.value:
        if not entry.value and compose.startswith("#"):
            found["PE201"] = (
                f"{key}: python-dotenv reads an empty value, compose reads the comment text; "
                "write `KEY=` on its own and put the comment on the line above"
            )
        elif "#" in compose[len(entry.value) :]:
            found["PE201"] = (
                f"{key}: a tab before '#': python-dotenv drops the comment, compose keeps "
                "it in the value; use a space before '#'"
            )
    if entry.quote == "'":
        if "${" in entry.value:
            found["PE202"] = (
                f"{key}: '${{...}}' in single quotes is expanded by python-dotenv but kept "
                "literal by compose; use double quotes or no quotes"
            )
    elif "$" in entry.value:
        for m in _COMPOSE_ONLY.finditer(entry.value):
            if m.group("esc") or m.group("dd"):
                found.setdefault(
                    "PE205",
                    f"{key}: compose reads '$$' and '\\$' as one '$', python-dotenv keeps "
                    "both characters",
                )
            elif m.group("name"):
                found.setdefault(
                    "PE203",
                    f"{key}: $VAR without braces is expanded by compose only; write ${{VAR}}",
                )
            elif m.group("mod") and not m.group("mod").startswith(":-"):
                found.setdefault(
                    "PE204",
                    f"{key}: a ${{VAR-...}}, ${{VAR:?...}} or ${{VAR+...}} modifier is applied by "
                    "compose but not by python-dotenv; only ${VAR} and ${VAR:-default} agree",
                )
    if not found and "$" not in entry.value and compose is not None and compose != entry.value:
        found["PE207"] = (
            f"{key}: python-dotenv and compose read different values from this line "
            "(escapes or whitespace); write the value so both read it alike"
        )
    return [Finding(path, entry.line, c, WARNING, key, msg) for c, msg in found.items()]


def compose_divergences(parsed: ParsedFile) -> list[Finding]:
    """PE207 where compose reads keys python-dotenv does not, or refuses the file."""
    flagged = {f.line for f in parsed.findings}
    dotenv_at = {(e.line, e.key) for e in parsed.entries}
    found: list[Finding] = []
    view = parsed.compose
    for binding in view.bindings:
        if (binding.line, binding.key) in dotenv_at:
            continue
        if binding.value is None or not binding.key:
            continue  # a bare KEY (or compose's nameless last line): PE001 covers it
        shown = binding.key if _VALID_KEY.match(binding.key) else "a key"
        found.append(
            Finding(
                parsed.path,
                binding.line,
                "PE207",
                WARNING,
                binding.key or None,
                f"compose reads {shown} from this line, python-dotenv does not; write it "
                "as KEY=value",
            )
        )
        flagged.add(binding.line)
    if view.error_line is not None and view.error_line not in flagged:
        found.append(
            Finding(
                parsed.path,
                view.error_line,
                "PE207",
                WARNING,
                None,
                f"compose refuses the whole file at this line ({view.error}); python-dotenv "
                "reads it",
            )
        )
    return found
