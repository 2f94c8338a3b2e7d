"""Content hashing of an image's build inputs (pure: paths in, digests out, no engine).

The content tag must change exactly when the image could: the files the build context
sends after ``.dockerignore``, the Dockerfile, the build args and the base images' IDs.
Files are hashed as sorted ``(path, mode, content)`` — never tar bytes, which carry
mtimes — and the list of files comes from the docker SDK's own ``exclude_paths`` so the
hash sees exactly what ``docker build`` would send. Per-file digests are kept so a
rebuild can name what changed since the last recorded build.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from docker.utils.build import exclude_paths

# Bumped when the hashing scheme changes, so old content tags never match new ones.
SCHEME = "periph-content-v1"
TAG_PREFIX = "c-"
TAG_HEX = 20
CHANGED_SHOWN = 5
_READ_CHUNK = 1 << 20


@dataclass(frozen=True)
class BuildInputs:
    """Everything that determines an image, as digests (no file contents kept)."""

    files: dict[str, str]  # context-relative path -> digest of (mode, content)
    dockerfile: str  # digest of the Dockerfile text
    args: dict[str, str] = field(default_factory=dict)
    bases: dict[str, str] = field(default_factory=dict)  # base reference -> image ID

    def digest(self) -> str:
        """The sha256 hex digest over every input, in a canonical order."""
        h = hashlib.sha256(SCHEME.encode() + b"\0")
        for path in sorted(self.files):
            h.update(b"F\0" + path.encode() + b"\0" + self.files[path].encode() + b"\0")
        h.update(b"D\0" + self.dockerfile.encode() + b"\0")
        for key in sorted(self.args):
            h.update(b"A\0" + key.encode() + b"\0" + self.args[key].encode() + b"\0")
        for ref in sorted(self.bases):
            h.update(b"B\0" + ref.encode() + b"\0" + self.bases[ref].encode() + b"\0")
        return h.hexdigest()

    def content_tag(self) -> str:
        """The image tag naming this exact set of inputs, e.g. ``c-3f9a…`` (22 chars)."""
        return TAG_PREFIX + self.digest()[:TAG_HEX]


def read_dockerignore(context: Path) -> list[str]:
    """The context's ``.dockerignore`` patterns as the docker SDK reads them ([] if none)."""
    path = context / ".dockerignore"
    if not path.is_file():
        return []
    lines = (line.strip() for line in path.read_text().splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def context_paths(context: Path, dockerfile: str, patterns: Iterable[str]) -> list[str]:
    """Sorted context-relative paths (files and directories) the build context sends.

    ``dockerfile`` is relative to the context; like ``docker build`` it is always sent.
    ``exclude_paths`` appends ``!<dockerfile>`` to the list it gets, so it gets a copy.
    """
    return sorted(exclude_paths(str(context), list(patterns), dockerfile=dockerfile))


def file_digest(path: Path) -> str:
    """Digest of one context entry: its type and permission bits plus its content.

    A symlink is hashed by its target text (the context carries the link, not the file);
    a directory by its mode alone (its files are entries of their own).
    """
    info = path.lstat()
    h = hashlib.sha256(f"{stat.S_IFMT(info.st_mode):o}:{stat.S_IMODE(info.st_mode):o}\0".encode())
    if stat.S_ISLNK(info.st_mode):
        h.update(os.readlink(path).encode())
    elif stat.S_ISREG(info.st_mode):
        with path.open("rb") as handle:
            while chunk := handle.read(_READ_CHUNK):
                h.update(chunk)
    return h.hexdigest()


def hash_files(context: Path, paths: Iterable[str]) -> dict[str, str]:
    """``{path: file_digest}`` for every context-relative path."""
    return {p: file_digest(context / p) for p in paths}


def text_digest(text: str) -> str:
    """sha256 hex digest of a text."""
    return hashlib.sha256(text.encode()).hexdigest()


_FROM = re.compile(r"^\s*FROM\s+(?P<rest>.+?)\s*$", re.IGNORECASE)
_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_ARG = re.compile(rf"^\s*ARG\s+(?P<name>{_NAME})(?:=(?P<value>\S*))?", re.IGNORECASE)
_VAR = re.compile(rf"\$\{{(?P<braced>{_NAME})(?::-(?P<default>[^}}]*))?\}}|\$(?P<bare>{_NAME})")


def _logical_lines(text: str) -> list[str]:
    """Dockerfile lines with backslash continuations joined and comments dropped."""
    lines: list[str] = []
    pending = ""
    for raw in text.splitlines():
        if not pending and raw.lstrip().startswith("#"):
            continue
        if raw.rstrip().endswith("\\"):
            pending += raw.rstrip()[:-1] + " "
            continue
        lines.append(pending + raw)
        pending = ""
    if pending:
        lines.append(pending)
    return lines


def _expand(value: str, variables: Mapping[str, str]) -> str:
    def sub(match: re.Match[str]) -> str:
        name = match.group("braced") or match.group("bare")
        if name in variables and variables[name] != "":
            return variables[name]
        return match.group("default") or ""

    return _VAR.sub(sub, value)


def base_images(dockerfile_text: str, args: Mapping[str, str] | None = None) -> list[str]:
    """The external images a Dockerfile builds ``FROM``, in order, without duplicates.

    Stage names defined earlier (``FROM x AS build`` … ``FROM build``) and ``scratch`` are
    not images; ``ARG``s declared before the first ``FROM`` are substituted, build args
    overriding their defaults.
    """
    args = dict(args or {})
    global_args: dict[str, str] = {}
    stages: set[str] = set()
    bases: list[str] = []
    seen_from = False
    for line in _logical_lines(dockerfile_text):
        arg = _ARG.match(line)
        if arg and not seen_from:
            name = arg.group("name")
            global_args[name] = args.get(name, arg.group("value") or "")
            continue
        match = _FROM.match(line)
        if not match:
            continue
        seen_from = True
        words = [w for w in match.group("rest").split() if not w.startswith("--")]
        if not words:
            continue
        ref = _expand(words[0], global_args)
        if len(words) >= 3 and words[1].lower() == "as":
            stages.add(words[2].lower())
        if ref.lower() in stages or ref.lower() == "scratch" or ref in bases:
            continue
        bases.append(ref)
    return bases


def changed_inputs(
    previous: BuildInputs | None, current: BuildInputs, limit: int = CHANGED_SHOWN
) -> list[str]:
    """What differs from the previous build, most telling first, at most ``limit`` entries.

    Entries: ``Dockerfile``, ``build-arg NAME``, ``base IMAGE``, then context paths (added,
    removed or modified). ``["no previous build"]`` when there is nothing to compare with;
    a last ``"… and N more"`` entry when the list was cut.
    """
    if previous is None:
        return ["no previous build"]
    changed: list[str] = []
    if previous.dockerfile != current.dockerfile:
        changed.append("Dockerfile")
    for key in sorted(set(previous.args) | set(current.args)):
        if previous.args.get(key) != current.args.get(key):
            changed.append(f"build-arg {key}")
    for ref in sorted(set(previous.bases) | set(current.bases)):
        if previous.bases.get(ref) != current.bases.get(ref):
            changed.append(f"base {ref}")
    for path in sorted(set(previous.files) | set(current.files)):
        if previous.files.get(path) != current.files.get(path):
            changed.append(path)
    if len(changed) > limit:
        return [*changed[:limit], f"… and {len(changed) - limit} more"]
    return changed
