"""Reading env files safely: regular files only, a size bound, encodings named.

Every command (check, diff, init, guard) reads env files through ``read_env_bytes`` so
they agree on what a missing, unreadable or unusable file is: a usage error (exit 2).
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


def _kind(mode: int) -> str | None:
    for test, name in _KINDS:
        if test(mode):
            return name
    return None if stat.S_ISREG(mode) else "not a regular file"


def read_env_bytes(path: str, what: str = "env file") -> bytes:
    """The bytes of the env-format file ``path``.

    Missing, unreadable, non-regular (FIFO, device, directory) and oversized files are
    usage errors (exit 2) with the reason; a FIFO is never opened, so it cannot block.
    """
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise UsageError(f"{what} {path} does not exist") from None
    except OSError as exc:
        raise UsageError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    kind = _kind(st.st_mode)
    if kind is not None:
        raise UsageError(
            f"cannot read {what} {path}: it is {kind}, not a regular file",
            hint="env files must be plain files",
        )
    if st.st_size > MAX_ENV_BYTES:
        raise UsageError(_too_big(what, path, st.st_size))
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_ENV_BYTES + 1)
    except OSError as exc:
        raise UsageError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    if len(data) > MAX_ENV_BYTES:  # grew since stat, or a /proc-style file
        raise UsageError(_too_big(what, path, len(data)))
    return data


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
