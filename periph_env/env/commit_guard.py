"""The pre-commit guard: refuse staged real env files and staged copies of local secrets.

It reads what is staged (the index, not the working tree) through git, with every list
NUL-separated and every blob fetched by object id, so any name git can store (newlines,
quotes, unicode, leading dashes) is judged like any other. It fails closed: an env file it
cannot read, decode or parse is a usage error (exit 2), and a staged file or name it
cannot judge is a PE403 finding (exit 2). It never prints a secret: names and messages go
through the one masking path before they are shown.
"""

from __future__ import annotations

import os
import subprocess
import threading
from dataclasses import dataclass

from periph_env.env.files import read_env_bytes, shown_path
from periph_env.env.masking import Masker, doubtful, secret_name
from periph_env.env.model import ERROR, Finding
from periph_env.env.parser import ParsedFile, parse_bytes
from periph_env.env.schema import Schema, build
from periph_env.env.values import is_placeholder, looks_secret
from periph_env.errors import UsageError

# `.env.<suffix>` files with these suffixes are templates, meant to be committed.
TEMPLATE_SUFFIXES = frozenset(("example", "sample", "template", "dist", "defaults", "schema"))
# Shorter values would match innocent text too often to be worth refusing a commit.
MIN_SECRET_LEN = 8
# The temporary files `periph env init` writes (they hold a copy of the secrets).
TEMP_PREFIX = ".periph-tmp-"
# A staged secret is also looked for in these encodings of it.
_ENCODINGS = ("utf-8", "utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be")
_GITLINK = b"160000"


def is_env_file(path: str) -> bool:
    """True for real env files: ``.env``, ``.env.demo``, ``prod.env``, their backups and
    init's temporary files; not ``.envrc`` or ``.env.example``."""
    base = path.replace("\\", "/").rsplit("/", 1)[-1]
    if base == ".env" or base.startswith(TEMP_PREFIX):
        return True
    if ".env.bak" in base:
        return True
    if base.startswith(".env."):
        return base[5:].split(".", 1)[0] not in TEMPLATE_SUFFIXES
    return base.endswith(".env") and len(base) > 4


def shown_name(name: str) -> str:
    """A file name safe to print on one line: control characters and undecodable bytes
    escaped (and then quoted), like git's quoted paths."""
    return shown_path(name)


@dataclass(slots=True, frozen=True)
class Secret:
    """A secret value and where it came from (the value is never shown)."""

    value: str
    key: str
    source: str


@dataclass(slots=True, frozen=True)
class Staged:
    """A staged path: raw name bytes, git mode and object id."""

    name: bytes
    mode: bytes
    oid: bytes


def _git(root: str, *args: str) -> bytes:
    try:
        out = subprocess.run(
            ["git", "-c", "core.quotepath=off", *args], cwd=root, capture_output=True, check=True
        )
    except FileNotFoundError:
        msg = "git is not installed; the guard reads the staged files through git"
        raise UsageError(msg) from None
    except subprocess.CalledProcessError as exc:
        msg = exc.stderr.decode(errors="replace").strip()
        raise UsageError(f"git {args[0]} failed: {msg}") from None
    return out.stdout


def _unreadable(parsed: ParsedFile) -> str | None:
    """Why the guard cannot trust its reading of an env file, or None."""
    if parsed.encoding:
        return f"it is {parsed.encoding} text; save it as UTF-8"
    if not parsed.unread:
        return None
    line = min(parsed.unread)
    for finding in parsed.findings:
        if finding.line == line and finding.severity == ERROR:
            return f"line {line}: {finding.message}"
    return f"line {line} cannot be read"


def local_secrets(env_files: list[str], schema: Schema) -> list[Secret]:
    """Secret values of the local env files: secret-typed keys, keys named like secrets
    and credential look-alikes, as python-dotenv and as compose read them.

    Example defaults and placeholders are public already and never count. A file that
    cannot be read or parsed is a usage error: the guard does not guess around it.
    """
    secrets: dict[str, Secret] = {}

    def consider(key: str, value: str | None, path: str, always: bool = False) -> None:
        if value is None or len(value) < MIN_SECRET_LEN or is_placeholder(value):
            return
        spec = schema.specs.get(key)
        if spec is not None and value == spec.default:
            return
        marked = spec is not None and spec.secret
        if always or marked or secret_name(key) or looks_secret(value):
            secrets.setdefault(value, Secret(value, key, path))

    for path in env_files:
        # Fail closed: whatever sits where an env file should be (a directory, a FIFO, a
        # dangling link, a file it may not read) may hide secrets the commit holds, so
        # read_env_bytes refusing it is exit 2, worded as `env check` words it.
        parsed = parse_bytes(read_env_bytes(path, "env file"), path)
        why = _unreadable(parsed)
        if why:
            values = [e.value for e in parsed.entries] + parsed.other_values
            values += [b.value for b in parsed.compose.bindings if b.value]
            raise UsageError(
                doubtful(values).scrub(f"cannot read env file {path}: {why}"),
                hint="the guard refuses the commit until it can read every env file",
            )
        for entry in parsed.entries:
            consider(entry.key, entry.value, path)
            consider(entry.key, entry.compose, path)
        for binding in parsed.compose.bindings:
            consider(binding.key, binding.value, path)
        for value in parsed.other_values:
            consider("a malformed key", value, path, always=True)
    return list(secrets.values())


def staged(root: str) -> list[Staged]:
    """What the commit would add or change: added, copied, modified, renamed, retyped."""
    raw = _git(
        root,
        "diff",
        "--cached",
        "--raw",
        "-z",
        "--no-renames",
        "--no-abbrev",
        "--diff-filter=ACMRT",
    )
    fields = raw.split(b"\0")
    out: list[Staged] = []
    for i in range(0, len(fields) - 1, 2):
        meta, name = fields[i], fields[i + 1]
        parts = meta.lstrip(b":").split()
        if len(parts) < 5:
            raise UsageError("git diff --raw printed something the guard cannot read")
        out.append(Staged(name, parts[1], parts[3]))
    return out


def _blobs(root: str, items: list[Staged]):
    """Yield (item, content or None when git cannot produce it), one blob at a time."""
    if not items:
        return
    proc = subprocess.Popen(
        ["git", "cat-file", "--batch"],
        cwd=root,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert proc.stdin is not None and proc.stdout is not None
    request = b"".join(item.oid + b"\n" for item in items)

    def feed() -> None:
        try:
            proc.stdin.write(request)  # type: ignore[union-attr]
            proc.stdin.close()  # type: ignore[union-attr]
        except OSError:
            pass

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    try:
        for item in items:
            header = proc.stdout.readline().split()
            if len(header) != 3 or header[0] != item.oid:
                yield item, None
                continue
            size = int(header[2])
            data = proc.stdout.read(size)
            proc.stdout.read(1)
            yield item, data if len(data) == size else None
    finally:
        proc.stdout.close()
        proc.wait()
        writer.join()


def default_env_files(root: str) -> list[str]:
    """Everything named like a real env file at the top of the repository.

    Directories, FIFOs, sockets and dangling links are listed too: the guard must read
    each of them and refuses (exit 2) what is not a regular, readable file.
    """
    return sorted(os.path.join(root, name) for name in os.listdir(root) if is_env_file(name))


def _example_schema(root: str, example: str) -> Schema:
    path = os.path.join(root, example)
    if not os.path.lexists(path):
        return Schema()
    parsed = parse_bytes(read_env_bytes(path, "example file"), path)
    why = _unreadable(parsed)
    if why:
        # Without the example the guard cannot tell secret keys: it does not guess.
        raise UsageError(f"cannot read example file {path}: {why}")
    return build(parsed.entries, path)[0]


def guard(
    root: str | None = None, env_files: list[str] | None = None, example: str = ".env.example"
) -> list[Finding]:
    """Findings (PE401, PE402, PE403) for what is staged in the repository at ``root``.

    Raises UsageError (exit 2) when an env file is missing, unreadable or unparseable.
    """
    if not root:
        top = _git(".", "rev-parse", "--show-toplevel")
        root = top.removesuffix(b"\n").decode(errors="surrogateescape")
    schema = _example_schema(root, example)
    files = env_files if env_files is not None else default_env_files(root)
    secrets = local_secrets(files, schema)
    masker = Masker({s.value for s in secrets})
    items = staged(root)

    findings: list[Finding] = []
    names: dict[bytes, str] = {}
    env_names: set[bytes] = set()
    for item in items:
        text = item.name.decode("utf-8", errors="surrogateescape")
        shown = shown_name(masker.scrub(text))
        names[item.name] = shown
        if any("\udc80" <= c <= "\udcff" for c in text):
            findings.append(
                Finding(
                    shown,
                    1,
                    "PE403",
                    ERROR,
                    None,
                    f"{shown}: the file name is not UTF-8 text; the guard cannot judge it "
                    "safely (rename the file)",
                )
            )
        if is_env_file(text):
            env_names.add(item.name)
            findings.append(
                Finding(
                    shown,
                    1,
                    "PE401",
                    ERROR,
                    None,
                    f"{shown} is a real env file; unstage it (git rm --cached -- {shown}) "
                    "and keep it local",
                )
            )
    needles = [(s.value.encode(enc), s) for s in secrets for enc in _ENCODINGS]
    needles = list({needle: (needle, s) for needle, s in needles}.values())
    for item in items:
        for needle, secret in needles:
            if needle in item.name:
                findings.append(_found(root, names[item.name], 1, secret, "the name of"))
                break
    content = [i for i in items if i.mode != _GITLINK and i.name not in env_names]
    if needles:
        for item, blob in _blobs(root, content):
            shown = names[item.name]
            if blob is None:
                findings.append(
                    Finding(
                        shown,
                        1,
                        "PE403",
                        ERROR,
                        None,
                        f"{shown}: git cannot produce the staged content; the guard cannot "
                        "judge it",
                    )
                )
                continue
            reported: set[str] = set()
            for needle, secret in needles:
                at = blob.find(needle) if secret.value not in reported else -1
                if at != -1:
                    reported.add(secret.value)
                    line = blob.count(b"\n", 0, at) + 1
                    findings.append(_found(root, shown, line, secret, ""))
    # Names were scrubbed as paths above; the final scrub must not re-judge them by entropy.
    masker.paths = set(names.values())
    return masker.findings(findings)


def _found(root: str, shown: str, line: int, secret: Secret, where: str) -> Finding:
    source = os.path.relpath(secret.source, root)
    subject = f"{where} {shown}".strip()
    return Finding(
        shown,
        line,
        "PE402",
        ERROR,
        secret.key,
        f"{subject} contains the value of {secret.key} from {source}; remove it "
        "(and rotate it if it was ever pushed)",
    )
