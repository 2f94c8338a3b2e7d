"""Reading env files safely: regular files only, a size bound, encodings named.

Every command (check, diff, init, guard, doctor) judges env files through this module so
they agree on what a missing, dangling, unreadable or non-regular file is: a usage error
(exit 2) worded the same way, naming what is there instead ("a directory", "a FIFO").
"""

from __future__ import annotations

import os
import stat

from periph_env.errors import UsageError

# Real env files are a few KB. Past this the file is refused (exit 2) rather than read,
# which keeps memory and time small on pathological input (tens of MB of keys): reading
# costs python-dotenv's parser ~20 us per statement and, on an unterminated quote, its
# regex backtracking stack ~200 bytes per character (bench/env_bounds.py measures both).
MAX_ENV_BYTES = 256 << 10

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)

# Byte order marks, longest first (the UTF-32-LE mark starts with the UTF-16-LE one).
_BOMS = (
    (b"\xff\xfe\x00\x00", "UTF-32-LE"),
    (b"\x00\x00\xfe\xff", "UTF-32-BE"),
    (b"\xff\xfe", "UTF-16-LE"),
    (b"\xfe\xff", "UTF-16-BE"),
)

# O_NONBLOCK: a file swapped for a FIFO between stat and open must not block the open.
_OPEN_FLAGS = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)


def kind_of(mode: int) -> str | None:
    """None for a regular file, else what it is ("a directory", "a FIFO (named pipe)")."""
    for test, name in _KINDS:
        if test(mode):
            return name
    return None if stat.S_ISREG(mode) else "not a regular file"


def shown_path(path: str) -> str:
    """A path safe to print on one line: control characters and undecodable bytes escaped
    (and then quoted), like git's quoted paths; an ordinary path is shown as is."""
    if path.isprintable() and '"' not in path and "\\" not in path:
        return path
    out = []
    for char in path:
        if char in '"\\':
            out.append("\\" + char)
        elif "\udc80" <= char <= "\udcff":  # an undecodable byte (surrogateescape)
            out.append(f"\\x{ord(char) - 0xDC00:02x}")
        elif char.isprintable():
            out.append(char)
        else:
            out.append(repr(char)[1:-1])
    return '"' + "".join(out) + '"'


def problem(path: str) -> tuple[str, str] | None:
    """Why ``path`` is not a regular file periph can read, or None when it is one.

    Returns ``(state, phrase)``: state ``missing`` (nothing there), ``dangling`` (a
    symlink whose target is missing or a loop), ``kind`` (a directory, FIFO, socket,
    device) or ``unreadable``; the phrase completes "<what> <path> ...". Nothing is opened.
    """
    try:
        st = os.stat(path)
    except FileNotFoundError:
        if os.path.islink(path):
            target = _link_target(path)
            return "dangling", f"does not exist: it is a symlink to {target}, which is missing"
        return "missing", "does not exist"
    except OSError as exc:
        if os.path.islink(path):
            reason = exc.strerror or str(exc)
            return "dangling", f"is a symlink that cannot be followed ({reason})"
        return "unreadable", f"cannot be read: {exc.strerror or exc}"
    kind = kind_of(st.st_mode)
    if kind is not None:
        return "kind", f"is {kind}, not a regular file"
    return None


def _link_target(path: str) -> str:
    return shown_path(os.path.realpath(path))


def read_env_bytes(path: str, what: str = "env file") -> bytes:
    """The bytes of the env-format file ``path``.

    Missing, dangling, unreadable, non-regular (FIFO, device, directory, socket) and
    oversized files are usage errors (exit 2) with the reason; a FIFO is never opened for
    reading, so it cannot block.
    """
    shown = shown_path(path)
    found = problem(path)
    if found is not None:
        state, phrase = found
        if state in ("missing", "dangling"):
            raise UsageError(f"{what} {shown} {phrase}")
        if state == "kind":
            # The wording `env check` has always used: "cannot read X: it is a FIFO ...".
            raise UsageError(
                f"cannot read {what} {shown}: it {phrase}",
                hint="env files must be plain files",
            )
        raise UsageError(f"cannot read {what} {shown}: {phrase.removeprefix('cannot be read: ')}")
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as exc:
        raise UsageError(f"cannot read {what} {shown}: {exc.strerror or exc}") from None
    try:
        st = os.fstat(fd)
        kind = kind_of(st.st_mode)
        if kind is not None:  # swapped for something else since the stat above
            raise UsageError(
                f"cannot read {what} {shown}: it is {kind}, not a regular file",
                hint="env files must be plain files",
            )
        if st.st_size > MAX_ENV_BYTES:
            raise UsageError(_too_big(what, shown, st.st_size))
        data = read_fd(fd, MAX_ENV_BYTES + 1)
    except OSError as exc:
        raise UsageError(f"cannot read {what} {shown}: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    if len(data) > MAX_ENV_BYTES:  # grew since stat, or a /proc-style file
        raise UsageError(_too_big(what, shown, len(data)))
    return data


def read_fd(fd: int, limit: int) -> bytes:
    """Up to ``limit`` bytes of the open file ``fd`` from its start (its offset is kept)."""
    chunks: list[bytes] = []
    offset = 0
    while offset < limit:
        chunk = os.pread(fd, min(1 << 16, limit - offset), offset)
        if not chunk:
            break
        chunks.append(chunk)
        offset += len(chunk)
    return b"".join(chunks)


def _too_big(what: str, path: str, size: int) -> str:
    return (
        f"{what} {path} is {size >> 10} KiB; periph reads env files up to {MAX_ENV_BYTES >> 10} KiB"
    )


def wide_encoding(data: bytes) -> str | None:
    """``"UTF-16-LE"`` etc. when ``data`` is UTF-16/UTF-32 text (BOM or NUL pattern)."""
    for bom, name in _BOMS:
        if data.startswith(bom):
            return name
    sample = data[:4096]
    size = len(sample) - len(sample) % 4
    if size < 4:
        size = len(sample) - len(sample) % 2
        if size < 2:
            return None
    sample = sample[:size]
    # ASCII text in a wide encoding: NUL in fixed byte positions, never in the others.
    if size % 4 == 0:
        if _zeros(sample, 4, (1, 2, 3)) and not _has_zero(sample[0::4]):
            return "UTF-32-LE"
        if _zeros(sample, 4, (0, 1, 2)) and not _has_zero(sample[3::4]):
            return "UTF-32-BE"
    if _zeros(sample, 2, (1,)) and not _has_zero(sample[0::2]):
        return "UTF-16-LE"
    if _zeros(sample, 2, (0,)) and not _has_zero(sample[1::2]):
        return "UTF-16-BE"
    return None


def _zeros(sample: bytes, step: int, offsets: tuple[int, ...]) -> bool:
    """True when most bytes at ``offsets`` (mod ``step``) are NUL."""
    picked = b"".join(sample[o::step] for o in offsets)
    return bool(picked) and picked.count(0) >= 0.9 * len(picked)


def _has_zero(column: bytes) -> bool:
    return column.count(0) > len(column) // 10
