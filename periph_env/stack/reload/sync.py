"""Applying a plan to a container through the Engine API: one tar per batch, one exec.

Never a process per file: every copied file of a batch goes into one in-memory tar sent
with ``put_archive`` to ``/`` (members carry their absolute container paths), and every
deletion of the batch is one ``rm -rf --`` exec. Files are owned by the container's
user (``Config.User`` when numeric, so a non-root dev server can rewrite them) and keep
their host mode and mtime.
"""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path
from typing import Any

from periph_env.errors import EngineError


def owner(inspect: dict) -> tuple[int, int]:
    """(uid, gid) files should get inside the container (root unless a numeric USER)."""
    user = ((inspect.get("Config") or {}).get("User") or "").strip()
    uid_text, _, gid_text = user.partition(":")
    uid = int(uid_text) if uid_text.isdigit() else 0
    gid = int(gid_text) if gid_text.isdigit() else uid
    return uid, gid


def build_tar(copies: list[tuple[Path, str]], uid: int = 0, gid: int = 0) -> bytes:
    """An uncompressed tar of ``copies`` (host file → absolute container path).

    A file that vanished since planning is skipped (the next batch deletes it)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for host, target in copies:
            try:
                data = host.read_bytes()
                stat = host.stat()
            except OSError:
                continue
            name = target.lstrip("/")
            # No directory members: the engine would re-apply their owner and mode to
            # existing folders (/app). Missing parents are created by the engine.
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), stat.st_mode & 0o7777, stat.st_mtime
            info.uid, info.gid = uid, gid
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def put_files(api: Any, container_id: str, copies: list[tuple[Path, str]], inspect: dict) -> None:
    """Copy ``copies`` into the container in one archive request."""
    if not copies:
        return
    uid, gid = owner(inspect)
    if not api.put_archive(container_id, "/", build_tar(copies, uid, gid)):
        raise EngineError(f"the engine refused the archive for container {container_id[:12]}")


def run_exec(api: Any, container_id: str, argv: list[str], user: str = "") -> tuple[int, str]:
    """Run ``argv`` in the container; (exit code, output)."""
    exec_id = api.exec_create(container_id, argv, user=user)["Id"]
    output = api.exec_start(exec_id)
    code = api.exec_inspect(exec_id).get("ExitCode")
    return (code if code is not None else 0), output.decode(errors="replace")


def delete_files(api: Any, container_id: str, paths: list[str]) -> None:
    """Remove ``paths`` in the container with one exec (root, so ownership never blocks)."""
    if not paths:
        return
    code, output = run_exec(api, container_id, ["rm", "-rf", "--", *paths], user="0")
    if code != 0:
        raise EngineError(
            f"deleting {len(paths)} file(s) in the container failed: {output.strip()}"
        )


def walk(path: Path) -> list[Path]:
    """Every file under the directory ``path`` (symlinked dirs are not followed)."""
    out = []
    for base, _dirs, files in os.walk(path):
        out.extend(Path(base) / name for name in files)
    return out
