"""Where ``periph env init`` may write, and how it writes without losing anyone's lines.

* **What it may write.** The file the user named, when it is a regular file outside the
  system directories. When that file is also reachable by another name (``.env`` is a
  symlink, or a hard link with more than one name), init writes only if the file *reads
  as an env file* (see ``shape_problem``) and belongs to the user running init; a
  symlink's target must also be named like an env file. A dangling link, a link loop
  and a link to a directory, FIFO, socket or device are refused: init never creates a
  file through a link, so a link committed to a repository cannot make it write
  somewhere else.
* **How it reads.** Under the lock, to the end of a line: a process appending without
  the lock may be half way through a write (see ``_read_settled``), and init waits for
  its rest rather than judge (or refuse) a line cut in two.
* **How it appends.** Under ``flock`` on the file itself, after re-reading it, and by
  appending in place (``O_APPEND``, one write, fsync). A rename-replace would drop the
  lines another process appended to the old inode after init read it (``echo X=1 >>
  .env`` takes no lock); an append never replaces the inode, so no line can be lost.
* **How it creates.** The whole file is written to a temporary name, then hard-linked to
  the final name: ``link`` fails when the name exists (a file, or a symlink that
  appeared meanwhile) and never follows a link, so exactly one of two racing inits
  creates the file and the other finds it and appends what is still missing.

Every refusal is a usage error (exit 2) naming the link and its target, never a byte of
the target's content.
"""

from __future__ import annotations

import errno
import fcntl
import os
import pwd
import stat
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass

from periph_env.env.commit_guard import is_env_file
from periph_env.env.files import MAX_ENV_BYTES, kind_of, read_fd, shown_path
from periph_env.env.model import ERROR
from periph_env.env.parser import ParsedFile
from periph_env.errors import PeriphError, UsageError

# Directories of the operating system itself: init never writes through a link there,
# whatever the file holds (root may write them, and /etc/environment reads as env).
SYSTEM_DIRS = (
    "/etc", "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/boot",
    "/dev", "/proc", "/sys", "/var/lib", "/var/log", "/var/spool", "/var/cache",
    "/var/mail", "/var/backups",
)  # fmt: skip
# How long init waits for another holder of the file's lock before it gives up, and
# after how long it says what it waits for.
LOCK_TIMEOUT = 30.0
LOCK_NOTICE = 2.0
# A read that ends mid-line is looked at again until the file has not grown for SETTLE
# seconds (what a file whose last line has no line break costs), at most this many times.
SETTLE = 0.1
_SETTLE_ROUNDS = 50
# The name was replaced (renamed over) while init waited: re-resolve this many times.
_ATTEMPTS = 5
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


@dataclass(slots=True)
class Locked:
    """The env file, open and locked: ``data`` is its content read under the lock."""

    path: str  # as the user named it
    real: str  # the file itself (a link's target)
    fd: int
    data: bytes
    writable: bool
    linked: str | None  # "a symlink to X" / "hard-linked (2 names)": reachable elsewhere


def _owner_name(uid: int) -> str:
    try:
        return f"{pwd.getpwuid(uid).pw_name} (uid {uid})"
    except KeyError:
        return f"uid {uid}"


def _refuse(path: str, linked: str, why: str = "", hint: str | None = None) -> UsageError:
    why = f", {why}" if why else ""
    return UsageError(
        f"env file {shown_path(path)} is {linked}{why}; init writes through a link only "
        "into a regular env file of yours",
        hint=hint
        or "point the link at your own env file, or remove the link and run "
        "`periph env init` again",
    )


def _in_system_dir(real: str) -> bool:
    return any(real == d or real.startswith(d + "/") for d in SYSTEM_DIRS)


def check_place(path: str) -> None:
    """Refuse (exit 2) a path that leads into a system directory, by any route (a named
    path, a symlinked directory on the way): init writes project files, not the OS's."""
    real = os.path.realpath(path)
    if _in_system_dir(real):
        raise UsageError(
            f"env file {shown_path(path)} would be {shown_path(real)}, in a directory of the "
            "operating system; init does not write there",
            hint="keep the env file in your project (or your home) and point --env-file at it",
        )


def env_like_name(real: str) -> bool:
    """True for names of real env files: ``.env``, ``.env.<name>``, ``<name>.env``,
    ``env`` and ``<name>env``; not templates (``.env.example``) nor ``.envrc`` (direnv
    runs it as shell)."""
    base = os.path.basename(real)
    return is_env_file(base) or base.lower().endswith("env")


def _resolve(path: str) -> tuple[str, str | None] | None:
    """``(file to open, "a symlink to X" or None)``; None when nothing is at ``path``.

    Refuses dangling links, loops and links to anything but a regular file, without
    opening anything.
    """
    try:
        lst = os.lstat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise UsageError(f"cannot read env file {shown_path(path)}: {exc.strerror}") from None
    if not stat.S_ISLNK(lst.st_mode):
        kind = kind_of(lst.st_mode)
        if kind is not None:
            raise UsageError(
                f"cannot write env file {shown_path(path)}: it is {kind}, not a regular file",
                hint="move it out of the way; init creates the file",
            )
        check_place(path)
        return os.path.abspath(path), None
    linked = f"a symlink to {shown_path(os.path.realpath(path))}"
    try:
        real = os.path.realpath(path, strict=True)
    except FileNotFoundError:
        raise _refuse(
            path,
            linked,
            "which does not exist",
            hint="init never creates a file through a link: create the target yourself "
            "(e.g. `touch` it) or remove the link",
        ) from None
    except OSError as exc:
        why = "a symlink loop" if exc.errno == errno.ELOOP else exc.strerror
        raise _refuse(path, f"a symlink that cannot be followed ({why})") from None
    linked = f"a symlink to {shown_path(real)}"
    try:
        st = os.stat(real)
    except OSError as exc:
        raise _refuse(path, linked, f"which cannot be read ({exc.strerror})") from None
    kind = kind_of(st.st_mode)
    if kind is not None:
        raise _refuse(path, linked, f"which is {kind}")
    if _in_system_dir(real):
        raise _refuse(path, linked, "a file of the operating system")
    if not env_like_name(real):
        # A shell profile of `export` lines reads as env; placeholders appended to it
        # would break every login shell. The name says what the file is for.
        raise _refuse(
            path,
            linked,
            "which is not named like an env file (.env, .env.NAME, NAME.env, env)",
            hint="rename the target (e.g. to dev.env) and point the link at it, or pass "
            "--env-file with the target's path if you really mean that file",
        )
    return real, linked


def _open(real: str) -> tuple[int, bool]:
    """Open for appending (read-only when the file is not writable), never following a
    link in the last component and never blocking on a FIFO swapped in meanwhile."""
    flags = os.O_NONBLOCK | _NOFOLLOW | _CLOEXEC
    try:
        return os.open(real, os.O_RDWR | os.O_APPEND | flags), True
    except OSError as exc:
        if exc.errno not in (errno.EACCES, errno.EPERM, errno.EROFS, errno.ETXTBSY):
            raise
    return os.open(real, os.O_RDONLY | flags), False


@contextmanager
def _flock(fd: int, path: str, on_wait: Callable[[str], None] | None) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``fd``, saying so after LOCK_NOTICE seconds of
    waiting and giving up (exit 1) after LOCK_TIMEOUT."""
    start = time.monotonic()
    delay, told = 0.001, False
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            pass
        except OSError as exc:  # no locks on this filesystem: lock-free, as before
            if exc.errno in (errno.ENOLCK, errno.EOPNOTSUPP, errno.EINVAL):
                break
            raise
        waited = time.monotonic() - start
        if waited >= LOCK_TIMEOUT:
            raise PeriphError(
                f"another process has held the lock on {shown_path(path)} for "
                f"{int(waited)} s; init did not change it",
                hint="another `periph env init` may be stuck: find it (fuser the file) "
                "and run init again",
            )
        if not told and waited >= LOCK_NOTICE and on_wait is not None:
            on_wait(f"waiting for another process to release the lock on {shown_path(path)}")
            told = True
        time.sleep(delay)
        delay = min(delay * 2, 0.05)
    try:
        yield
    finally:
        with suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_UN)


@contextmanager
def locked(path: str, on_wait: Callable[[str], None] | None = None) -> Iterator[Locked | None]:
    """The env file at ``path`` open, locked and read; None when nothing is there.

    Once the lock is held, ``path`` is resolved again: when another tool renamed a new
    file over it while init waited, init locks and reads that one instead.
    """
    for _ in range(_ATTEMPTS):
        resolved = _resolve(path)
        if resolved is None:
            yield None
            return
        real, linked = resolved
        try:
            fd, writable = _open(real)
        except FileNotFoundError:
            continue  # removed between resolving and opening: look again
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                continue  # the last component became a link: resolve it again
            raise UsageError(f"cannot read env file {shown_path(path)}: {exc.strerror}") from None
        try:
            with _flock(fd, path, on_wait):
                st = os.fstat(fd)
                if not _still_named(path, st):
                    continue
                if kind_of(st.st_mode) is not None:
                    continue
                if linked is None and st.st_nlink > 1:
                    linked = f"hard-linked ({st.st_nlink} names for one file)"
                if linked is not None and st.st_uid != os.geteuid():
                    raise _refuse(path, linked, f"which belongs to {_owner_name(st.st_uid)}")
                if st.st_size > MAX_ENV_BYTES:
                    raise UsageError(_too_big(path, st.st_size))
                data = _read_settled(fd)
                if len(data) > MAX_ENV_BYTES:
                    raise UsageError(_too_big(path, len(data)))
                yield Locked(path, real, fd, data, writable, linked)
                return
        finally:
            os.close(fd)
    raise PeriphError(
        f"env file {shown_path(path)} kept changing while init tried to lock it; nothing "
        "was written",
        hint="run `periph env init` again when nothing else rewrites the file",
    )


def _read_settled(fd: int) -> bytes:
    """The file's content, read again while it ends mid-line and keeps growing.

    The lock keeps out other inits, not ``echo X=1 >> .env``: the kernel copies such a
    write into the file page by page and the size grows after each page, so a read can
    end in the middle of the line being written (``LINE_73`` of ``LINE_738=1``, at a
    page boundary). Judged as it is, that half line is a last line without '=' (init
    refused the file) or a quote never closed. The rest of the write lands moments
    later: init reads again when the file grew, and takes a last line without a line
    break as the file's own once the size has held still for SETTLE seconds.
    """
    data = read_fd(fd, MAX_ENV_BYTES + 1)
    for _ in range(_SETTLE_ROUNDS):
        if not data or data.endswith(b"\n") or len(data) > MAX_ENV_BYTES:
            break
        if not _grows(fd, len(data)):
            break
        data = read_fd(fd, MAX_ENV_BYTES + 1)
    return data


def _grows(fd: int, size: int) -> bool:
    """True when the file's size leaves ``size`` within SETTLE seconds."""
    deadline = time.monotonic() + SETTLE
    delay = 0.001
    while os.fstat(fd).st_size == size:
        if time.monotonic() >= deadline:
            return False
        time.sleep(delay)
        delay = min(delay * 2, 0.01)
    return True


def _too_big(path: str, size: int) -> str:
    return (
        f"env file {shown_path(path)} is {size >> 10} KiB; periph reads env files up to "
        f"{MAX_ENV_BYTES >> 10} KiB"
    )


def _still_named(path: str, st: os.stat_result) -> bool:
    """True when ``path`` still leads to the open file (not renamed over, not removed)."""
    try:
        now = os.stat(path)
    except OSError:
        return False
    return (now.st_dev, now.st_ino) == (st.st_dev, st.st_ino) and st.st_nlink > 0


def shape_problem(parsed: ParsedFile) -> str | None:
    """Why a file reached by another name does not *read as an env file*, or None.

    It reads as one when it is UTF-8 text in which python-dotenv and compose both read
    every statement as ``KEY=value`` with a portable key and agree on the keys (blank and
    comment lines are fine; an empty file reads as one). Only positions and shapes are
    named, never content.
    """
    if parsed.encoding:
        return f"it is {parsed.encoding} text"
    binary = sorted({f.line for f in parsed.findings if f.code == "PE005"})
    if binary:
        return f"it holds binary data (line {binary[0]} is not UTF-8 text)"
    bad = {f.line for f in parsed.findings if f.severity == ERROR}
    dotenv_at = {(e.line, e.key) for e in parsed.entries}
    for binding in parsed.compose.bindings:
        if (binding.line, binding.key) not in dotenv_at:
            bad.add(binding.line)
    if parsed.compose.error_line is not None:
        bad.add(parsed.compose.error_line)
    if bad:
        lines = sorted(bad)
        count = "1 line is" if len(lines) == 1 else f"{len(lines)} lines are"
        return f"{count} not KEY=value (first: line {lines[0]})"
    return None


def check_shape(held: Locked, parsed: ParsedFile) -> None:
    """Refuse (exit 2) a linked file that does not read as an env file."""
    if held.linked is None:
        return
    why = shape_problem(parsed)
    if why is not None:
        raise _refuse(held.path, held.linked, f"which does not read as an env file: {why}")


def require_writable(held: Locked) -> None:
    """Refuse (exit 2) before anything is written when the file was opened read-only."""
    if not held.writable:
        raise UsageError(
            f"cannot write env file {shown_path(held.path)}: Permission denied",
            hint="run it where you may write, or pass --env-file PATH",
        )


def append(held: Locked, data: bytes) -> None:
    """Append ``data`` at the end of the locked file in one write, then fsync.

    ``O_APPEND`` puts the bytes after whatever another process appended meanwhile, and a
    regular file's write is not interleaved with another write, so nothing is lost.
    """
    require_writable(held)
    view = memoryview(data)
    try:
        while view:
            written = os.write(held.fd, view)
            view = view[written:]
        os.fsync(held.fd)
    except OSError as exc:
        raise UsageError(f"cannot write env file {shown_path(held.path)}: {exc.strerror}") from None


def create(path: str, data: bytes, temp_prefix: str) -> bool:
    """Create ``path`` holding ``data`` (mode 0600) unless something is there already.

    Returns False when another process (or file) got there first; ``path`` is then left
    exactly as that one made it. The content is complete before the name appears.
    """
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=temp_prefix, dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), 0o600)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(tmp, path, follow_symlinks=False)
        except FileExistsError:
            return False
        except OSError as exc:
            if exc.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.EMLINK, errno.ENOSYS):
                raise
            return _create_exclusive(path, data)  # a filesystem without hard links
    finally:
        with suppress(FileNotFoundError):
            os.unlink(tmp)
    sync_directory(directory)
    return True


def _create_exclusive(path: str, data: bytes) -> bool:
    """O_EXCL creation, for filesystems without hard links (the file is locked at once;
    a racing init that opens it in the instant before can still see it empty)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC, 0o600)
    except FileExistsError:
        return False
    try:
        with suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_EX)
        os.fchmod(fd, 0o600)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    return True


def sync_directory(directory: str) -> None:
    """fsync ``directory`` so a name just created or renamed in it survives a crash
    (best effort: a file system that cannot sync a directory is left as it is)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
