"""Reading an env file the way python-dotenv does, with line numbers and findings.

The python-dotenv view comes from python-dotenv's own parser (``dotenv.parser``'s
``parse_stream``), so it cannot drift from the library the worker and tooling use. The
docker compose view comes from ``compose_view`` (no library has it); each entry carries
both. A bad line becomes a finding and reading goes on, as python-dotenv's does.

Before the parser sees the text, the bytes are judged: UTF-16/32 files, undecodable
lines, bare CRs (the readers split lines differently) and whitespace runs long enough to
make python-dotenv's comment regex quadratic become findings (and such lines are not read).
"""

from __future__ import annotations

import contextlib
import io
import re

from periph_env.common.redact import looks_secret, secret_name
from periph_env.env import compose_view
from periph_env.env.files import wide_encoding
from periph_env.env.model import ERROR, WARNING, Entry, Finding

_VALID_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
# How env keys are written by convention: a bare line shaped like this is a key that lost
# its '=', anything else may be a pasted value.
_KEY_NAME = re.compile(r"(?:export\s+)?[A-Z_][A-Z0-9_]*\Z")
# python-dotenv strips inline comments with re.sub(r"\s+#.*", ...), quadratic in a run of
# whitespace that no '#' follows. Lines with a run this long are reported, not parsed.
MAX_SPACE_RUN = 128
_LONG_SPACE = re.compile(rf"(?<![^\S\r\n])[^\S\r\n]{{{MAX_SPACE_RUN},}}")
_BARE_CR = re.compile(r"\r(?!\n)")
# The head of a statement: export, key (python-dotenv's unquoted or single-quoted key), '='.
_HEAD = re.compile(r"(?:export[^\S\r\n]+)?(?:'[^']+'|[^=#\s]+)?[^\S\r\n]*(=[^\S\r\n]*)?")
_QUOTED = {
    "'": re.compile(r"'((?:\\.|[^'\\])*)'", re.DOTALL),
    '"': re.compile(r'"((?:\\.|[^"\\])*)"', re.DOTALL),
}
_WARNINGS = frozenset(("PE006", "PE007"))

_parse_stream = None


def _load_parse_stream():
    """python-dotenv's ``parse_stream``, loaded without the package's ``__init__``.

    ``import dotenv`` pulls in ``dotenv.main`` (logging, tempfile, ...: ~30 ms), which the
    check hot path does not need; the parser module itself imports only re and typing.
    """
    global _parse_stream
    if _parse_stream is None:
        import sys

        module = sys.modules.get("dotenv.parser")
        if module is None:
            import importlib.util

            spec = importlib.util.find_spec("dotenv")
            origin = spec.origin if spec else None
            if origin:
                import os

                path = os.path.join(os.path.dirname(origin), "parser.py")
                part = importlib.util.spec_from_file_location("periph_env._dotenv_parser", path)
                if part is not None and part.loader is not None:
                    module = importlib.util.module_from_spec(part)
                    part.loader.exec_module(module)
            if module is None:  # an unusual installation: import it the ordinary way
                import dotenv.parser as module
        _parse_stream = module.parse_stream
    return _parse_stream


class ParsedFile:
    """Entries in file order plus the findings met while reading.

    ``unread`` lists the lines neither reader could be trusted on (undecodable, bare CR,
    pathological whitespace, python-dotenv errors); ``encoding`` names a UTF-16/32 file;
    ``other_values`` holds values python-dotenv reads under keys the checker rejects
    (they may still be secrets); ``compose`` is compose's reading of the text.
    """

    __slots__ = (
        "bare_keys",
        "compose",
        "encoding",
        "entries",
        "findings",
        "other_values",
        "path",
        "unread",
        "unread_pairs",
    )

    def __init__(self, path: str) -> None:
        self.path = path
        self.entries: list[Entry] = []
        self.findings: list[Finding] = []
        self.other_values: list[str] = []
        self.bare_keys: list[str] = []  # `KEY` lines without '=' (compose: the host's value)
        self.encoding: str | None = None
        self.unread: list[int] = []
        self.unread_pairs: list[tuple[str, str]] = []  # (key, value) of unread lines
        self.compose = compose_view.ComposeFile([], None, None)

    def add(self, line: int, code: str, message: str, key: str | None = None) -> None:
        """Record a finding at ``line`` with the code's severity (file findings only)."""
        severity = WARNING if code in _WARNINGS else ERROR
        self.findings.append(Finding(self.path, line, code, severity, key, message))


def _blank(lines: list[str], number: int) -> None:
    """Empty a line but keep its line break, so later line numbers stay right."""
    line = lines[number - 1]
    lines[number - 1] = "\r" if line.endswith("\r") else ""


def decode(data: bytes, parsed: ParsedFile) -> str:
    """Bytes to text: name wide encodings, strip a BOM, blank the lines not to be read."""
    wide = wide_encoding(data)
    if wide:
        parsed.encoding = wide
        parsed.unread.append(1)
        parsed.add(
            1,
            "PE008",
            f"file is {wide} text; python-dotenv and compose read UTF-8 only: save it as "
            "UTF-8 (no line of it was read)",
        )
        return ""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
        parsed.add(1, "PE006", "file starts with a UTF-8 byte order mark; remove it")
    crlf = data.find(b"\r\n")
    if crlf != -1:
        line = data.count(b"\n", 0, crlf) + 1
        parsed.add(line, "PE007", "CRLF line endings; save the file with LF endings")
    text: str | None = None
    if b"\0" not in data:
        with contextlib.suppress(UnicodeDecodeError):
            text = data.decode("utf-8")
    lines: list[str] | None = None
    if text is None:  # rare: decode line by line so each bad line is named
        raw_lines = data.split(b"\n")
        lines = []
        for number, raw in enumerate(raw_lines, 1):
            try:
                if b"\0" in raw:
                    raise ValueError
                lines.append(raw.decode("utf-8"))
            except ValueError:
                parsed.unread.append(number)
                parsed.add(number, "PE005", "line is not valid UTF-8 text (or holds a NUL byte)")
                lines.append("")
        text = "\n".join(lines)
    if "\r" in text and _BARE_CR.search(text):
        lines = text.split("\n") if lines is None else lines
        for number, line in enumerate(lines, 1):
            if _BARE_CR.search(line.removesuffix("\r")):
                parsed.unread.append(number)
                parsed.add(
                    number,
                    "PE009",
                    "a carriage return (CR) not followed by a newline: python-dotenv starts "
                    "a new line there, compose does not; save the file with LF endings",
                )
                _blank(lines, number)
    if _LONG_SPACE.search(text):
        lines = text.split("\n") if lines is None else lines
        for number, line in enumerate(lines, 1):
            if _LONG_SPACE.search(line):
                parsed.unread.append(number)
                parsed.add(
                    number,
                    "PE010",
                    f"a run of {MAX_SPACE_RUN}+ whitespace characters; the line is not read "
                    "(python-dotenv takes quadratic time on it)",
                )
                _blank(lines, number)
    return text if lines is None else "\n".join(lines)


def parse_bytes(data: bytes, path: str) -> ParsedFile:
    """Parse raw file content; never raises on any input."""
    parsed = ParsedFile(path)
    text = decode(data, parsed)
    if text:
        _read(text, parsed)
        parsed.compose = compose_view.read(text)
        _attach_compose(parsed)
    return parsed


def _attach_compose(parsed: ParsedFile) -> None:
    """Set each entry's ``compose`` to what compose reads for its key on its line."""
    by_line = compose_view.keys_at(parsed.compose)
    for i, entry in enumerate(parsed.entries):
        value = None
        for binding in by_line.get(entry.line, ()):
            if binding.key == entry.key:
                value = binding.value
        parsed.entries[i] = entry._replace(compose=value)


def _newlines(text: str) -> int:
    """Line breaks as python-dotenv counts them (CRLF, LF or CR)."""
    return text.count("\n") + text.count("\r") - text.count("\r\n")


def _read(text: str, parsed: ParsedFile) -> None:
    comments: list[str] = []
    for binding in _load_parse_stream()(io.StringIO(text)):
        original, first = binding.original.string, binding.original.line
        body = original.lstrip()
        lead = original[: len(original) - len(body)]
        line = first + _newlines(lead)
        if lead and _newlines(lead):
            comments = []  # a blank line ends the comment block
        if not body:
            continue
        statement = body.rstrip("\r\n")
        end_line = line + _newlines(statement)
        if binding.error:
            _error(parsed, statement, line)
            parsed.unread.append(line)
            comments = []
            continue
        key, value = binding.key, binding.value
        if key is None:  # a comment line
            comments.append(statement.strip())
            continue
        if value is None:
            parsed.bare_keys.append(key)
            _no_equals(parsed, key, line)
        elif not _VALID_KEY.match(key):
            parsed.other_values += [value, key]  # a malformed key may be a pasted value
            parsed.add(line, "PE003", "key is not a portable name ([A-Za-z_][A-Za-z0-9_]*)", None)
        else:
            quote = _quote_of(statement)
            parsed.entries.append(Entry(key, value, value, quote, line, end_line, comments))
        comments = []


def _quote_of(statement: str) -> str:
    m = _HEAD.match(statement)
    if m is None or not m.group(1):
        return ""
    first = statement[m.end() : m.end() + 1]
    return first if first in ("'", '"') else ""


def _no_equals(parsed: ParsedFile, key: str, line: int) -> None:
    # The line is described by its shape, never quoted: a password pasted alone on a line
    # reads as a bare key. Its text joins the values that may be secrets (masked
    # wherever it shows up, compose's own error about it included) unless it is
    # written like a key name.
    text = key.strip()
    if not _KEY_NAME.match(text):
        parsed.other_values.append(text)
    parsed.add(
        line,
        "PE001",
        f"line {line}: {_shape(text)}, no '='; python-dotenv ignores it and compose copies "
        "a variable of that name from the host environment (add '=value' to a key, "
        "delete a pasted value)",
    )


def _shape(text: str) -> str:
    """``11 characters`` (what a message may say about a line's content)."""
    return f"{len(text)} character{'s' if len(text) != 1 else ''}"


def _doubtful(parsed: ParsedFile, statement: str) -> None:
    """Keep what may be a secret on a line python-dotenv could not read: the value when
    the one secret rule says so (secret-named key, credential shape), the whole text
    when no key can be told. Compose quotes such lines in its own errors, so they must be
    masked. ``unread_pairs`` keeps every (key, value) for the contract's ``@secret``."""
    first = statement.split("\n", 1)[0]
    head, eq, rest = first.partition("=")
    head = head.strip().removeprefix("export").strip().strip("'")
    value = rest.strip().strip("'\"").strip()
    if not eq or not _VALID_KEY.match(head):
        parts = [first.strip(), head, rest.strip(), value] if eq else [first.strip()]
    elif secret_name(head) or looks_secret(value):
        parts = [rest.strip(), value]
    else:
        parts = []
    if eq and _VALID_KEY.match(head) and value:
        parsed.unread_pairs.append((head, value))
    parsed.other_values.extend(p for p in dict.fromkeys(parts) if p)


def _error(parsed: ParsedFile, statement: str, line: int) -> None:
    """Name what python-dotenv could not read in ``statement`` (it skipped it). The key
    is named only when it is a key name; the rest of the line is never quoted."""
    _doubtful(parsed, statement)
    m = _HEAD.match(statement)
    if m is None or not m.group(1):
        if not statement.split("=", 1)[0].strip():
            parsed.add(line, "PE003", "empty key; the line is dropped")
        else:
            parsed.add(line, "PE003", "key has a space or '#' in it; the line is dropped")
        return
    key = statement[: m.start(1)].strip().removeprefix("export").strip().strip("'") or None
    if key is None:
        parsed.add(line, "PE003", "empty key; the line is dropped")
        return
    if not _VALID_KEY.match(key):
        shown, key = f"line {line}: the text before '=' ({_shape(key)}, not a key name)", None
    else:
        shown = key
    at = m.end()
    quote = statement[at : at + 1]
    if quote in _QUOTED:
        closed = _QUOTED[quote].match(statement, at)
        if closed is None or "\n" in statement[at : closed.end()]:
            parsed.add(line, "PE002", f"{shown}: quote {quote} is not closed on this line", key)
        else:
            parsed.add(line, "PE004", f"{shown}: text after the closing quote", key)
        return
    parsed.add(line, "PE003", "python-dotenv cannot read this line; it is dropped", key)
