"""The build record: per service, the last image built or found (tags, digest, git SHA, time)
and the per-file digests of its inputs, so the next build can name what changed.

It lives in periph's cache (``$PERIPH_CACHE/images/<project-key>/record.json``), outside
the repository: it describes this machine's builds, and it is rewritten atomically so a
crash never leaves half a file.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from periph_env.common import cache_dir
from periph_env.images.hashing import BuildInputs

VERSION = 1


def record_path(root: Path) -> Path:
    """Where the record of the project at ``root`` lives."""
    key = hashlib.sha256(str(Path(root).resolve()).encode()).hexdigest()[:16]
    return cache_dir() / "images" / key / "record.json"


def load(root: Path) -> dict[str, Any]:
    """The record (``{"version": 1, "services": {svc: entry}}``); empty if none or unreadable."""
    path = record_path(root)
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {"version": VERSION, "services": {}}
    if not isinstance(data, dict) or data.get("version") != VERSION:
        return {"version": VERSION, "services": {}}
    data.setdefault("services", {})
    return data


def save(root: Path, record: dict[str, Any]) -> Path:
    """Write the record atomically; returns its path."""
    path = record_path(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".record-", suffix=".json")
    with os.fdopen(fd, "w") as out:
        json.dump(record, out, indent=2, sort_keys=True)
        out.write("\n")
    os.replace(tmp, path)
    return path


def inputs_of(entry: dict[str, Any] | None) -> BuildInputs | None:
    """The inputs a record entry was built from (None when not recorded)."""
    if not entry or "inputs" not in entry:
        return None
    raw = entry["inputs"]
    return BuildInputs(
        files=dict(raw.get("files", {})),
        dockerfile=raw.get("dockerfile", ""),
        args=dict(raw.get("args", {})),
        bases=dict(raw.get("bases", {})),
    )


def inputs_json(inputs: BuildInputs) -> dict[str, Any]:
    return {
        "files": inputs.files,
        "dockerfile": inputs.dockerfile,
        "args": inputs.args,
        "bases": inputs.bases,
    }
