"""Applying a plan to a container through the Engine API: one tar per batch, one exec.

Never a process per file: every copied file of a batch goes into one in-memory tar sent
with ``put_archive`` to ``/`` (members carry their absolute container paths), and every
deletion of the batch is one ``rm -rf --`` exec (run first, as Compose does). Ownership
and modes follow ``docker compose watch`` (see ``owner``).
"""

from __future__ import annotations

import io
import os
import tarfile
from collections.abc import Callable
from pathlib import Path
from stat import S_ISDIR, S_ISLNK, S_ISREG
from typing import Any

from periph_env.errors import EngineError


def _entries(text: str | None) -> list[list[str]]:
    return [line.split(":") for line in (text or "").splitlines() if line.count(":") >= 2]


def owner(
    inspect: dict, read_file: Callable[[str], str | None] = lambda _p: None
) -> tuple[int, int] | None:
    """(uid, gid) synced files get inside the container; None keeps the host's ids.

    What ``docker compose watch`` does: with no ``USER`` the archive's (host) ids are
    kept; with one, every file belongs to that user. Names and a missing group are
    resolved in the container's own /etc/passwd and /etc/group (``read_file``), where
    Docker 20.10's copy looks in the host's and fails; unknown ones fall back to 0."""
    user = ((inspect.get("Config") or {}).get("User") or "").strip()
    if not user:
        return None
    user_text, has_group, group_text = user.partition(":")
    uid, gid = (int(user_text), 0) if user_text.isdigit() else (0, 0)
    if not (user_text.isdigit() and has_group and group_text.isdigit()):
        for fields in _entries(read_file("/etc/passwd")):
            known = len(fields) > 3 and fields[2].isdigit() and fields[3].isdigit()
            if known and user_text in (fields[0], fields[2]):
                uid, gid = int(fields[2]), int(fields[3])
                break
    if group_text.isdigit():
        gid = int(group_text)
    elif group_text:
        for fields in _entries(read_file("/etc/group")):
            if fields[0] == group_text and fields[2].isdigit():
                gid = int(fields[2])
                break
    return uid, gid


def build_tar(copies: list[tuple[Path, str]], ids: tuple[int, int] | None = None) -> bytes:
    """An uncompressed tar of ``copies`` (host path → absolute container path).

    Files keep their host mode and mtime, directories are directory entries (so an
    empty one is created), symlinks stay symlinks (as Compose archives them). ``ids``
    owns every entry; None keeps the host's. A path that vanished since planning is
    skipped (the next batch deletes it)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for host, target in copies:
            try:
                stat = host.lstat()
                info = tarfile.TarInfo(target.lstrip("/"))
                data = b""
                if S_ISLNK(stat.st_mode):
                    info.type, info.linkname = tarfile.SYMTYPE, os.readlink(host)
                elif S_ISDIR(stat.st_mode):
                    info.type = tarfile.DIRTYPE
                elif S_ISREG(stat.st_mode):
                    data = host.read_bytes()
                else:
                    continue  # sockets, fifos: not in a tar (Compose skips them too)
            except OSError:
                continue
            info.size, info.mode, info.mtime = len(data), stat.st_mode & 0o7777, stat.st_mtime
            info.uid, info.gid = ids if ids is not None else (stat.st_uid, stat.st_gid)
            tar.addfile(info, io.BytesIO(data) if data else None)
    return buffer.getvalue()


def read_text(api: Any, container_id: str, path: str) -> str | None:
    """A small text file of the container (None when it is not there)."""
    try:
        chunks, _stat = api.get_archive(container_id, path)
        raw = b"".join(chunks)
        with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
            member = tar.next()
            handle = tar.extractfile(member) if member is not None else None
            return handle.read().decode(errors="replace") if handle is not None else None
    except Exception:  # a missing file, a scratch image: the ids fall back to root
        return None


def put_files(
    api: Any,
    container_id: str,
    copies: list[tuple[Path, str]],
    inspect: dict,
    ids: tuple[int, int] | None = None,
) -> None:
    """Copy ``copies`` into the container in one archive request (owned by ``ids``)."""
    if not copies:
        return
    if not api.put_archive(container_id, "/", build_tar(copies, ids)):
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


def walk_all(path: Path) -> list[Path]:
    """Every entry under the directory ``path``: directories, files and symlinks (a
    symlinked directory is an entry, not followed), as Compose's archive walks it."""
    out = []
    for base, dirs, files in os.walk(path):
        out.extend(Path(base) / name for name in (*dirs, *files))
    return out
