"""Compose's path matching for ``develop.watch``, in Python (pure).

``docker compose watch`` decides what a rule ignores with Docker's ``.dockerignore``
matcher (moby/patternmatcher), and ``develop.watch`` is the one source of truth, so
periph must give every pattern the same meaning. The rules, as Compose applies them:

- every pattern is made absolute: a rule's ``ignore``/``include`` entries are relative to
  the rule's ``path``, ``.dockerignore`` entries to the build context, and the built-in
  editor-temp patterns to ``/``. Entries are cleaned first, so ``./tmp/`` is ``tmp``.
- ``*`` and ``?`` never cross a ``/``; ``**`` crosses any number of directories. So
  ``*.pyc`` ignores only ``<path>/x.pyc``, not ``<path>/pkg/x.pyc`` (write
  ``**/*.pyc`` for that), unlike ``.gitignore``.
- a path is ignored when it or any of its parent directories matches, so a directory
  entry (``cache/`` or ``cache``) ignores everything under it.
- ``!pattern`` re-includes what an earlier pattern matched; the last match wins.
- a list that contains a bare ``*`` keeps only its ``!`` entries (Compose drops the
  rest), so a "send nothing but" ``.dockerignore`` ignores nothing for watch.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

# Compose's EphemeralPathMatcher (pkg/watch/ephemeral.go): editor temporaries and lock
# files that are never synced, whatever the rule says.
EPHEMERAL = (
    "**/*___jb_old___",  # JetBrains safe write
    "**/*___jb_tmp___",
    "**/.idea/**",
    "**/.#*",  # emacs lock and auto-save
    "**/#*#",
    "**/4913",  # vim's probe for a writable directory
    "**/*~",  # vim/emacs backups
    "**/.*.swp",  # vim swap files (.swp taken: .swo, .swn, .swx)
    "**/.*.swx",
    "**/.*.swo",
    "**/.*.swn",
    "**/.*.kate-swp",
    "**/*-go-tmp-umask",
)
# Temporaries that tools write next to a file and rename over it a moment later (so they
# never outlive the save): `sed -i` (sedXXXXXX) and GLib/gedit (.goutputstream-XXXXXX).
# Compose syncs and then deletes them; ignoring them leaves the container the same and
# keeps them out of the reload line.
_RENAMED_TEMP = re.compile(r"^(?:sed[A-Za-z0-9]{6}|\.goutputstream-[A-Za-z0-9]{6})$")
_ESCAPE = set(".+()|{}$")


def clean(path: str) -> str:
    """Go's ``filepath.Clean`` for ``/`` paths (``posixpath.normpath`` keeps ``//``)."""
    if not path:
        return "."
    out = posixpath.normpath(path)
    return "/" + out.lstrip("/") if out.startswith("//") else out


@dataclass(frozen=True, slots=True)
class Pattern:
    """One compiled pattern: how it matches and whether it re-includes (``!``)."""

    text: str
    kind: str  # exact | prefix | suffix | regexp
    regexp: re.Pattern[str] | None
    exclusion: bool

    def match(self, path: str) -> bool:
        """Whether ``path`` (absolute, cleaned) matches this pattern itself."""
        if self.kind == "exact":
            return path == self.text
        if self.kind == "prefix":
            return path.startswith(self.text[:-2])
        if self.kind == "suffix":
            suffix = self.text[2:]
            return path.endswith(suffix) or (suffix[:1] == "/" and path == suffix[1:])
        return self.regexp is not None and self.regexp.match(path) is not None


def compile_pattern(text: str, exclusion: bool = False) -> Pattern:
    """Compile a cleaned pattern the way moby/patternmatcher does."""
    regex, kind, i, n = "^", "exact", 0, len(text)
    pos = 0
    while pos < n:
        ch = text[pos]
        pos += 1
        if ch == "*":
            if pos < n and text[pos] == "*":
                pos += 1
                if pos < n and text[pos] == "/":  # "**/" is "**"
                    pos += 1
                if pos >= n:  # a trailing "**" matches everything below
                    if kind == "exact":
                        kind = "prefix"
                    else:
                        regex += ".*"
                        kind = "regexp"
                else:
                    regex += "(.*/)?"
                    kind = "regexp"
                if i == 0:
                    kind = "suffix"
            else:
                regex += "[^/]*"
                kind = "regexp"
        elif ch == "?":
            regex += "[^/]"
            kind = "regexp"
        elif ch in _ESCAPE:
            regex += "\\" + ch
        elif ch == "\\":
            if pos < n:
                regex += re.escape(text[pos])
                pos += 1
                kind = "regexp"
            else:
                regex += "\\\\"
        elif ch in "[]":
            regex += ch
            kind = "regexp"
        else:
            regex += ch
        i += 1
    compiled = None
    if kind == "regexp":
        try:
            compiled = re.compile(regex + "$")
        except re.error:
            compiled = None  # a bad pattern matches nothing (Compose warns and skips it)
    return Pattern(text, kind, compiled, exclusion)


class PathMatcher:
    """Patterns made absolute against ``root``; ``matches(path)`` as Compose decides."""

    def __init__(self, root: str | Path, patterns: Iterable[str]) -> None:
        items = [p for p in patterns]
        if "*" in items:
            items = [p for p in items if p.startswith("!")]
        root_text = clean(str(root))
        self.patterns: list[Pattern] = []
        for raw in items:
            entry = raw.strip()
            if not entry:
                continue
            entry = clean(entry)
            exclusion = entry.startswith("!")
            body = entry[1:] if exclusion else entry
            if not body:
                continue
            if not body.startswith("/"):
                body = clean(posixpath.join(root_text, body))
            self.patterns.append(compile_pattern(clean(body), exclusion))

    def __bool__(self) -> bool:
        return bool(self.patterns)

    def matches(self, path: str | Path) -> bool:
        """Whether ``path`` or one of its parent directories matches (last match wins)."""
        file = clean(str(path))
        parent = posixpath.dirname(file)
        prefixes: list[str] | None = None
        matched = False
        for pattern in self.patterns:
            if pattern.exclusion != matched:
                continue
            hit = pattern.match(file)
            if not hit and parent != ".":
                if prefixes is None:
                    parts = parent.split("/")
                    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
                hit = any(pattern.match(prefix) for prefix in prefixes)
            if hit:
                matched = not pattern.exclusion
        return matched

    def matches_entire_dir(self, path: str | Path) -> bool:
        """Whether everything under the directory ``path`` is ignored (no ``!`` entry
        re-includes something inside it), so a new directory need not be walked."""
        if not self.matches(path):
            return False
        prefix = clean(str(path)) + "/"
        return not any(p.exclusion and p.text.startswith(prefix) for p in self.patterns)


def ephemeral(path: str | Path) -> bool:
    """Whether ``path`` is an editor or tool temporary that is never synced."""
    return _EPHEMERAL.matches(path) or _RENAMED_TEMP.match(Path(path).name) is not None


_EPHEMERAL = PathMatcher("/", EPHEMERAL)


def read_ignore_file(text: str) -> list[str]:
    """The patterns of a ``.dockerignore`` (moby's ignorefile.ReadAll): comments and blank
    lines dropped, entries cleaned, a leading ``/`` removed (relative to the context)."""
    out = []
    for number, line in enumerate(text.splitlines()):
        if number == 0:
            line = line.removeprefix("\ufeff")
        if line.startswith("#"):
            continue
        entry = line.strip()
        if not entry:
            continue
        invert = entry.startswith("!")
        if invert:
            entry = entry[1:].strip()
        if entry:
            entry = clean(entry)
            if len(entry) > 1 and entry.startswith("/"):
                entry = entry[1:]
        out.append("!" + entry if invert else entry)
    return out


def dockerignore(context: Path | None, dockerfile: str | None = None) -> PathMatcher:
    """The build context's ignore file as Compose loads it for watch:
    ``<dockerfile>.dockerignore`` in the context first, else ``.dockerignore``."""
    if context is None:
        return PathMatcher("/", ())
    candidates = [context / f"{dockerfile}.dockerignore"] if dockerfile else []
    candidates.append(context / ".dockerignore")
    for candidate in candidates:
        try:
            text = candidate.read_text()
        except FileNotFoundError:
            continue
        except OSError:
            continue
        return PathMatcher(context, read_ignore_file(text))
    return PathMatcher(context, ())
