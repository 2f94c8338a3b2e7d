"""Image pins in an environment's release component (``k8s/overlays/<env>/release``).

kubectl ships kustomize without ``kustomize edit``, so periph writes ``images[]`` itself:
for each pinned service, ``newName: <registry>/peripheral-<svc>`` and ``digest: sha256:…``
(``newTag`` goes: a digest is the whole truth). The edit is line-based so every comment
and every other key stays as written; the result is parsed back and checked before it
replaces the file (atomically). The deploy engine reads pins back with ``read_pins``.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Any

import yaml

from periph_env.errors import UsageError
from periph_env.images.services import IMAGE_PREFIX, service_of

RELEASE_FILE = "release/kustomization.yaml"
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_TOP_KEY = re.compile(r"^[A-Za-z_][\w.-]*\s*:")
_ITEM = re.compile(r"^(?P<indent>\s*)-\s")
_KEY = re.compile(r"^(?P<indent>\s*)(?:-\s+)?(?P<key>[A-Za-z]+)\s*:\s*(?P<value>.*?)\s*$")


def release_file(root: Path, env: str, config: dict[str, Any] | None = None) -> Path:
    """The kustomization holding ``env``'s image pins."""
    envs = (config or {}).get("environments", {})
    overlay = envs.get(env, {}).get("overlay", f"k8s/overlays/{env}")
    return Path(root) / overlay / RELEASE_FILE


def _load(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file (the environment's release component)") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark else ""
        problem = getattr(exc, "problem", exc)
        raise UsageError(f"{path}{where}: invalid YAML: {problem}") from None
    if not isinstance(data, dict):
        raise UsageError(f"{path}: not a kustomization (expected a mapping)")
    return data


def read_pins(root: str | Path, env: str, config: dict[str, Any] | None = None) -> dict[str, str]:
    """``{service: "<registry>/peripheral-<svc>@sha256:…"}`` for every digest-pinned image."""
    if config is None:
        from periph_env.common.config import load

        config = load(root)
    path = release_file(Path(root), env, config)
    pins: dict[str, str] = {}
    for image in _load(path).get("images") or []:
        if not isinstance(image, dict) or not image.get("digest"):
            continue
        service = service_of(str(image.get("name", "")))
        if not service:
            continue
        if not _DIGEST.match(str(image["digest"])):
            raise UsageError(
                f"{path}: image {image['name']}: {image['digest']!r} is not a sha256 digest",
                hint=f"pin it again with `periph build --pin {env}`",
            )
        pins[service] = f"{image.get('newName') or image['name']}@{image['digest']}"
    return pins


def pin_text(text: str, pins: dict[str, tuple[str, str]], path: str = "kustomization") -> str:
    """``text`` with ``pins`` (``{service: (repository, digest)}``) written into ``images:``.

    Comments, ordering and unrelated keys are kept; services without an entry get one at
    the end of the list; a file without ``images:`` gets the key appended.
    """
    for service, (_repo, digest) in pins.items():
        if not _DIGEST.match(digest):
            raise UsageError(f"{service}: {digest!r} is not a sha256 digest")
    lines = text.splitlines()
    start = next((i for i, ln in enumerate(lines) if re.match(r"^images\s*:\s*$", ln)), None)
    if start is None:
        if re.search(r"(?m)^images\s*:", text):
            raise UsageError(f"{path}: `images:` must be a block list to pin digests")
        lines = [*lines, "images:"]
        start, block_end = len(lines) - 1, len(lines)
    else:
        block_end = start + 1
        while block_end < len(lines) and not _TOP_KEY.match(lines[block_end]):
            block_end += 1
    items = _items(lines, start + 1, block_end)
    done: set[str] = set()
    out = lines[: start + 1]
    item_indent, key_indent = "  ", "    "
    cursor = start + 1
    for first, last in items:
        out.extend(lines[cursor:first])
        body = lines[first:last]
        name = _value(body, "name")
        item_indent = _ITEM.match(body[0]).group("indent")
        key_indent = item_indent + "  "
        service = service_of(name or "")
        if service in pins and name == IMAGE_PREFIX + service:
            repo, digest = pins[service]
            kept = [ln for ln in body if _key(ln) not in ("newName", "newTag", "digest")]
            kept = _trim_blank_tail(kept)
            out.extend(kept)
            out.append(f"{key_indent}newName: {repo}")
            out.append(f"{key_indent}digest: {digest}")
            trailing = body[len(_trim_blank_tail(body)) :]
            out.extend(trailing)
            done.add(service)
        else:
            out.extend(body)
        cursor = last
    tail = lines[cursor:block_end]
    trailing_blank = []
    while tail and not tail[-1].strip():
        trailing_blank.insert(0, tail.pop())
    out.extend(tail)
    for service, (repo, digest) in pins.items():
        if service not in done:
            out.append(f"{item_indent}- name: {IMAGE_PREFIX}{service}")
            out.append(f"{key_indent}newName: {repo}")
            out.append(f"{key_indent}digest: {digest}")
    out.extend(trailing_blank)
    out.extend(lines[block_end:])
    result = "\n".join(out) + ("\n" if text.endswith("\n") or not text else "")
    _verify(result, pins, path)
    return result


def _items(lines: list[str], begin: int, end: int) -> list[tuple[int, int]]:
    """``(first, last)`` line ranges of the list items in ``lines[begin:end]``."""
    starts = [i for i in range(begin, end) if _ITEM.match(lines[i])]
    ranges = []
    for n, first in enumerate(starts):
        last = starts[n + 1] if n + 1 < len(starts) else end
        # Comments and blank lines just before the next item belong to the next item.
        while last - 1 > first and _is_filler(lines[last - 1]):
            last -= 1
        ranges.append((first, last))
    return ranges


def _is_filler(line: str) -> bool:
    return not line.strip() or line.lstrip().startswith("#")


def _key(line: str) -> str | None:
    match = _KEY.match(line)
    return match.group("key") if match and not line.lstrip().startswith("#") else None


def _value(body: list[str], key: str) -> str | None:
    for line in body:
        match = _KEY.match(line)
        if match and match.group("key") == key and not line.lstrip().startswith("#"):
            return match.group("value").strip("'\"")
    return None


def _trim_blank_tail(body: list[str]) -> list[str]:
    end = len(body)
    while end > 1 and not body[end - 1].strip():
        end -= 1
    return body[:end]


def _verify(text: str, pins: dict[str, tuple[str, str]], path: str) -> None:
    """Parse the edited text back; any mismatch is a bug, reported rather than written."""
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise UsageError(f"{path}: pinning would produce invalid YAML ({exc})") from None
    images = {i.get("name"): i for i in data.get("images") or [] if isinstance(i, dict)}
    for service, (repo, digest) in pins.items():
        entry = images.get(IMAGE_PREFIX + service) or {}
        if entry.get("digest") != digest or entry.get("newName") != repo:
            raise UsageError(f"{path}: could not pin {service} (unexpected layout of images:)")


def write_pins(
    root: str | Path,
    env: str,
    pins: dict[str, tuple[str, str]],
    config: dict[str, Any] | None = None,
) -> Path:
    """Pin ``{service: (repository, digest)}`` in ``env``'s release file; returns its path."""
    if config is None:
        from periph_env.common.config import load

        config = load(root)
    if env not in config.get("environments", {}) and config.get("environments"):
        known = ", ".join(config["environments"])
        raise UsageError(f"unknown environment {env!r}", hint=f"environments: {known}")
    path = release_file(Path(root), env, config)
    _load(path)  # a clear error for a missing or malformed file, before editing
    text = pin_text(path.read_text(), pins, str(path))
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".kustomization-", suffix=".yaml")
    with os.fdopen(fd, "w") as out:
        out.write(text)
    os.chmod(tmp, path.stat().st_mode & 0o777)
    os.replace(tmp, path)
    return path
