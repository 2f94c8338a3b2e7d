"""``periph env init``: create the env file from the example, or append its missing keys.

It changes only what it owns:

* existing lines are never touched; new keys are appended with their comments, in place
  under a lock on the file, after re-reading it (``init_target``), so lines another
  process appends at the same time are never lost;
* a symlinked (or hard-linked) env file is written through only when the file reads as
  an env file and is the user's own; a dangling link is never followed to create a file;
* when two inits race to create the file, exactly one creates it; the other finds it and
  appends only what is still missing (usually nothing), and says so;
* the file keeps its inode, owner, group and mode (appending never replaces it);
* a key the file already sets in a form python-dotenv or compose understands is never
  appended again; a file the readers would split differently (bare CR line endings,
  undecodable bytes, UTF-16/32) or a line that only looks like it sets a key is refused;
* a timestamped backup is written first (temporary file + fsync + rename), and the
  temporary copy of the secrets is removed on every exit, signals included;
* keys annotated ``generate`` get a fresh random value instead of the placeholder.

Anything it cannot read or write is a usage error (exit 2) with the reason.
"""

from __future__ import annotations

import errno
import os
import re
import secrets
import signal
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field

from periph_env.env import init_target
from periph_env.env.commit_guard import TEMP_PREFIX
from periph_env.env.files import read_env_bytes, shown_path
from periph_env.env.masking import doubtful
from periph_env.env.model import Entry
from periph_env.env.parser import ParsedFile, parse_bytes
from periph_env.env.schema import Schema, build
from periph_env.errors import UsageError

# What a generated secret looks like: 32 random bytes as 64 hex characters.
GENERATED_BYTES = 32
# A line some reader could take as setting KEY: optional export, optional quotes, '=' or ':'.
_LOOSE_KEY = re.compile(r"\s*(?:export\s+)?['\"]?([^\s=:'\"#]+)['\"]?\s*[=:]")


@dataclass(slots=True)
class InitResult:
    """What ``init`` did: created the file, or appended ``added`` keys (with a backup).

    ``generated`` lists the added keys that got a fresh random value; ``written`` is the
    real file written (the symlink's target when ``env_path`` is a link); ``raced`` is
    True when another process created the file while this init was creating it (this
    one then only appended what was still missing, usually nothing).
    """

    env_path: str
    created: bool
    added: list[str]
    backup: str | None
    generated: list[str] = field(default_factory=list)
    written: str = ""
    raced: bool = False


def generate_secret() -> str:
    """A strong random value for a ``generate`` key (hex: safe unquoted for both readers)."""
    return secrets.token_hex(GENERATED_BYTES)


def _lines(text: str) -> list[str]:
    return text.replace("\r\n", "\n").split("\n")


def _blocks(
    example_text: str, entries: list[Entry], keys: set[str], schema: Schema, generated: list[str]
) -> list[str]:
    """The example's source lines for ``keys``: their comment block and statement."""
    lines = _lines(example_text)
    out: list[str] = []
    for entry in entries:
        if entry.key not in keys:
            continue
        keys.discard(entry.key)  # the first definition in the example
        out += [c for c in entry.comments if not c.startswith("# @")]
        spec = schema.specs.get(entry.key)
        if spec is not None and spec.generate:
            out.append(f"{entry.key}={generate_secret()}")
            generated.append(entry.key)
        else:
            out += lines[entry.line - 1 : entry.end_line]
    return out


def _fresh(example_text: str, example: ParsedFile, schema: Schema, generated: list[str]) -> str:
    """The whole example without annotations, ``generate`` keys given random values."""
    lines = _lines(example_text)
    replace: dict[int, tuple[int, str]] = {}
    for entry in example.entries:
        spec = schema.specs.get(entry.key)
        if spec is not None and spec.generate and entry.key not in generated:
            replace[entry.line] = (entry.end_line, f"{entry.key}={generate_secret()}")
            generated.append(entry.key)
    out: list[str] = []
    number = 1
    while number <= len(lines):
        if number in replace:
            end, text = replace[number]
            out.append(text)
            number = end + 1
            continue
        line = lines[number - 1]
        if not line.lstrip().startswith("# @"):
            out.append(line)
        number += 1
    return "\n".join(out).rstrip("\n") + "\n"


@contextmanager
def _signals_raise() -> Iterator[None]:
    """Turn SIGTERM/SIGHUP into an exception while a temporary copy exists, so the
    cleanup runs (Ctrl-C already raises KeyboardInterrupt)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupted(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    saved = {}
    for sig in (signal.SIGTERM, signal.SIGHUP):
        with suppress(OSError, ValueError):
            saved[sig] = signal.signal(sig, interrupted)
    try:
        yield
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


def _cannot_write(path: str, exc: OSError) -> UsageError:
    reason = exc.strerror or str(exc)
    hint = None
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        hint = "run it where you may write, or pass --env-file PATH"
    return UsageError(f"cannot write {path}: {reason}", hint=hint)


def write_atomic(
    path: str, data: bytes, mode: int = 0o600, owner: tuple[int, int] | None = None
) -> None:
    """Write the new file ``path`` via a temporary file in the same directory and a rename.

    The temporary file gets ``mode`` (and ``owner``) before any byte is written, and is
    removed on every exit. Used for backups: the env file itself is only ever appended to.
    """
    directory = os.path.dirname(os.path.abspath(path))
    try:
        with _signals_raise():
            fd, tmp = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=directory)
            try:
                os.fchmod(fd, mode & 0o7777)
                if owner is not None:
                    os.fchown(fd, *owner)
                    os.fchmod(fd, mode & 0o7777)  # chown clears set-id bits
                with os.fdopen(fd, "wb") as handle:
                    handle.write(data)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(tmp, path)
            finally:
                if os.path.lexists(tmp):
                    os.unlink(tmp)
    except OSError as exc:
        raise _cannot_write(path, exc) from None
    init_target.sync_directory(directory)


def _backup_path(path: str) -> str:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    candidate, n = f"{path}.bak.{stamp}", 1
    while os.path.lexists(candidate):
        candidate, n = f"{path}.bak.{stamp}.{n}", n + 1
    return candidate


def _refuse_unless_plain(parsed: ParsedFile, path: str, what: str) -> None:
    """Refuse files init cannot extend without one reader seeing something else."""
    try:
        _check_plain(parsed, path, what)
    except UsageError as exc:
        values = [e.value for e in parsed.entries] + parsed.other_values
        values += [b.value for b in parsed.compose.bindings if b.value]
        raise UsageError(doubtful(values).scrub(exc.message), hint=exc.hint) from None


def _check_plain(parsed: ParsedFile, path: str, what: str) -> None:
    if parsed.encoding:
        raise UsageError(
            f"{what} {path} is {parsed.encoding} text; init writes UTF-8 only and will not "
            "mix encodings",
            hint="save it as UTF-8 (e.g. iconv -f UTF-16 -t UTF-8), then run init again",
        )
    view = parsed.compose
    for binding in view.bindings:
        if not binding.key:  # compose reads `KEY` at the very end as a nameless value
            raise UsageError(
                f"{what} {path} line {binding.line}: the last line has no '=' and no line "
                "break; appending after it would change what compose reads there",
                hint="end the line with '=' (KEY=) or a newline, then run init again",
            )
    if view.error_line is not None and view.error == "unterminated quoted value":
        raise UsageError(
            f"{what} {path} line {view.error_line}: a quote compose never sees closed; text "
            "appended after it would become part of that value",
            hint="close the quote first, then run init again",
        )
    for finding in parsed.findings:
        if finding.code in ("PE002", "PE005", "PE009", "PE010"):
            raise UsageError(
                f"{what} {path} line {finding.line}: {finding.message}",
                hint="fix that line first: python-dotenv and compose would not read the "
                "file alike, so appended keys could shadow it",
            )


def keys_set(parsed: ParsedFile, text: str) -> tuple[set[str], dict[str, int]]:
    """Keys python-dotenv or compose read from the file, and keys only a loose reading
    finds (key -> line): those lines look like settings that no reader understands."""
    have = {e.key for e in parsed.entries} | set(parsed.bare_keys)
    have |= {b.key for b in parsed.compose.bindings}
    have |= {b.value for b in parsed.compose.bindings if not b.key and b.value}
    loose: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), 1):
        m = _LOOSE_KEY.match(line)
        if m and m.group(1) not in have:
            loose.setdefault(m.group(1), number)
    return have, loose


def init(
    env_path: str = ".env",
    example_path: str = ".env.example",
    on_wait: Callable[[str], None] | None = None,
) -> InitResult:
    """Create ``env_path`` from the example, or append the keys it lacks.

    ``on_wait`` is told (once) when init has waited 2 s for another holder of the lock.
    """
    example_bytes = read_env_bytes(example_path, "example file")
    example = parse_bytes(example_bytes, example_path)
    _refuse_unless_plain(example, example_path, "example file")
    schema = build(example.entries, example_path)[0]
    example_text = example_bytes.decode("utf-8").removeprefix("\ufeff")
    raced = False
    for _ in range(3):
        with init_target.locked(env_path, on_wait) as held:
            if held is not None:
                result = _extend(held, example_path, example_text, example, schema)
                result.raced = raced
                return result
        generated: list[str] = []
        data = _fresh(example_text, example, schema, generated).encode()
        if _create(env_path, data):
            keys = list(dict.fromkeys(e.key for e in example.entries))
            real = os.path.realpath(env_path)
            return InitResult(env_path, True, keys, None, generated, real)
        # Someone else created it between our look and our create: extend theirs. The
        # values generated for our copy were never written anywhere and are dropped.
        raced = True
    raise UsageError(
        f"env file {shown_path(env_path)} kept appearing and disappearing while init ran; "
        "nothing was written",
        hint="run `periph env init` again when nothing else creates or removes the file",
    )


def _create(env_path: str, data: bytes) -> bool:
    init_target.check_place(env_path)
    try:
        with _signals_raise():
            return init_target.create(env_path, data, TEMP_PREFIX)
    except OSError as exc:
        raise _cannot_write(shown_path(os.path.realpath(env_path)), exc) from None


def _extend(
    held: init_target.Locked,
    example_path: str,
    example_text: str,
    example: ParsedFile,
    schema: Schema,
) -> InitResult:
    """Append what the locked file lacks (read under the lock: nothing appended before
    the lock was taken is missed)."""
    env_path, current = held.path, held.data
    parsed = parse_bytes(current, env_path)
    init_target.check_shape(held, parsed)
    _refuse_unless_plain(parsed, env_path, "env file")
    text = current.decode("utf-8").removeprefix("\ufeff")
    have, loose = keys_set(parsed, text)
    wanted = [k for k in dict.fromkeys(e.key for e in example.entries) if k not in have]
    unclear = [k for k in wanted if k in loose]
    if unclear:
        key = unclear[0]
        raise UsageError(
            doubtful([]).scrub(
                f"env file {env_path} line {loose[key]} looks like it sets {key}, but "
                "neither python-dotenv nor compose reads it"
            ),
            hint=f"fix that line (KEY=value) or delete it; init will not add a second {key}",
        )
    if not wanted:
        return InitResult(env_path, False, [], None, [], held.real)
    init_target.require_writable(held)
    generated: list[str] = []
    block = _blocks(example_text, example.entries, set(wanted), schema, generated)
    header = f"\n# Added by `periph env init` from {example_path} on {time.strftime('%Y-%m-%d')}\n"
    added = header + "\n".join(block) + "\n"
    st = os.fstat(held.fd)
    # A process that appends without the lock may have changed the last byte since the
    # read: judge the line break by the file's end now (the header starts a line anyway;
    # a write caught half done there adds at most a blank line, as init's write waits
    # for the end of it).
    tail = os.pread(held.fd, 1, st.st_size - 1) if st.st_size else b""
    newline = b"" if not tail or tail in (b"\n", b"\r") else b"\n"
    if b"\r\n" in current:  # keep the file's own line endings
        added, newline = added.replace("\n", "\r\n"), newline.replace(b"\n", b"\r\n")
    backup = _backup_path(held.real)
    # The backup is a new file: it can take the owner only as root (else it is ours).
    owner = (st.st_uid, st.st_gid) if os.geteuid() == 0 else None
    write_atomic(backup, current, st.st_mode, owner)
    init_target.append(held, newline + added.encode())
    return InitResult(env_path, False, wanted, backup, generated, held.real)
