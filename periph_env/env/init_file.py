"""``periph env init``: create the env file from the example, or append its missing keys.

Existing lines are never touched: new keys are appended with their comments and
placeholders. Writes are atomic (temporary file + rename) and an existing file is first
copied to a timestamped backup. Schema annotations (``# @...``) stay in the example.
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass

from periph_env.env.checker import read_file
from periph_env.env.model import Entry
from periph_env.env.parser import parse_bytes


@dataclass(slots=True)
class InitResult:
    """What ``init`` did: created the file, or appended ``added`` keys (with a backup)."""

    env_path: str
    created: bool
    added: list[str]
    backup: str | None


def _blocks(example_text: str, entries: list[Entry], keys: set[str]) -> list[str]:
    """The example's source lines for ``keys``: their comment block and statement."""
    lines = example_text.splitlines()
    out: list[str] = []
    for entry in entries:
        if entry.key not in keys:
            continue
        keys.discard(entry.key)  # the first definition in the example
        out += [c for c in entry.comments if not c.startswith("# @")]
        out += lines[entry.line - 1 : entry.end_line]
    return out


def _strip_annotations(text: str) -> str:
    kept = [line for line in text.splitlines() if not line.lstrip().startswith("# @")]
    return "\n".join(kept) + "\n"


def write_atomic(path: str, data: bytes, mode: int = 0o600) -> None:
    """Write ``data`` to ``path`` via a temporary file in the same directory and a rename."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".periph-", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _backup_path(path: str) -> str:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    candidate, n = f"{path}.bak.{stamp}", 1
    while os.path.exists(candidate):
        candidate, n = f"{path}.bak.{stamp}.{n}", n + 1
    return candidate


def init(env_path: str = ".env", example_path: str = ".env.example") -> InitResult:
    """Create ``env_path`` from the example, or append the keys it lacks."""
    example_bytes = read_file(example_path, "example file")
    example = parse_bytes(example_bytes, example_path)
    example_text = example_bytes.decode("utf-8", errors="replace").removeprefix("\ufeff")
    if not os.path.exists(env_path):
        write_atomic(env_path, _strip_annotations(example_text).encode())
        return InitResult(env_path, True, [e.key for e in example.entries], None)

    current = read_file(env_path, "env file")
    have = {e.key for e in parse_bytes(current, env_path).entries}
    wanted = [k for k in dict.fromkeys(e.key for e in example.entries) if k not in have]
    if not wanted:
        return InitResult(env_path, False, [], None)
    block = _blocks(example_text, example.entries, set(wanted))
    newline = b"" if not current or current.endswith(b"\n") else b"\n"
    header = f"\n# Added by `periph env init` from {example_path} on {time.strftime('%Y-%m-%d')}\n"
    added = header + "\n".join(block) + "\n"
    if b"\r\n" in current:  # keep the file's own line endings
        added, newline = added.replace("\n", "\r\n"), newline.replace(b"\n", b"\r\n")
    data = current + newline + added.encode()
    mode = os.stat(env_path).st_mode & 0o777
    backup = _backup_path(env_path)
    write_atomic(backup, current, mode)
    write_atomic(env_path, data, mode)
    return InitResult(env_path, False, wanted, backup)
