"""A linear-time reader for env files that keeps line numbers and both readers' views.

It follows python-dotenv's grammar (the reading the worker and tooling get) and records
what docker compose would read where that differs, so the rules can warn about lines the
two readers disagree on. Unlike both readers it never gives up: a bad line becomes a
finding and parsing resumes on the next line.
"""

from __future__ import annotations

import re

from periph_env.env.model import ERROR, WARNING, Entry, Finding

# A statement: optional `export`, a key (python-dotenv's unquoted key), optional `=`.
_STATEMENT = re.compile(
    r"[ \t]*(?:export[ \t]+(?=[^\s=]))?(?P<key>[^=#\s]*)[ \t]*(?:(?P<eq>=)(?P<ws>[ \t]*))?"
)
_VALID_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
# Quoted values may span lines; a backslash always escapes the next character.
_QUOTED = {
    "'": re.compile(r"'((?:\\.|[^'\\])*)'", re.DOTALL),
    '"': re.compile(r'"((?:\\.|[^"\\])*)"', re.DOTALL),
}
_AFTER_QUOTE = re.compile(r"[ \t]*(?:#[^\n]*)?\Z")
_ESCAPES = {
    "'": re.compile(r"\\[\\']"),
    '"': re.compile(r"\\[\\'\"abfnrtv]"),
}
_ESCAPED = {
    "\\\\": "\\",
    "\\'": "'",
    '\\"': '"',
    "\\a": "\a",
    "\\b": "\b",
    "\\f": "\f",
    "\\n": "\n",
    "\\r": "\r",
    "\\t": "\t",
    "\\v": "\v",
}


class ParsedFile:
    """Entries in file order plus the findings met while reading."""

    __slots__ = ("entries", "findings", "path")

    def __init__(self, path: str) -> None:
        self.path = path
        self.entries: list[Entry] = []
        self.findings: list[Finding] = []

    def add(self, line: int, code: str, message: str, key: str | None = None) -> None:
        """Record a finding at ``line`` with the code's severity (file findings only)."""
        severity = WARNING if code in ("PE006", "PE007") else ERROR
        self.findings.append(Finding(self.path, line, code, severity, key, message))


def decode(data: bytes, parsed: ParsedFile) -> str:
    """Bytes to text: strip a BOM, normalise CRLF, blank out undecodable lines."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
        parsed.add(1, "PE006", "file starts with a UTF-8 byte order mark; remove it")
    crlf = data.find(b"\r\n")
    if crlf != -1:
        line = data.count(b"\n", 0, crlf) + 1
        parsed.add(line, "PE007", "CRLF line endings; save the file with LF endings")
        data = data.replace(b"\r\n", b"\n")
    if b"\0" not in data:
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            pass
    # Rare path: decode line by line so each bad line is named and the rest still parses.
    lines = data.split(b"\n")
    for number, raw in enumerate(lines, 1):
        try:
            if b"\0" in raw:
                raise ValueError
            raw.decode("utf-8")
        except ValueError:
            parsed.add(number, "PE005", "line is not valid UTF-8 text (or holds a NUL byte)")
            lines[number - 1] = b""
    return b"\n".join(lines).decode("utf-8")


def parse_bytes(data: bytes, path: str) -> ParsedFile:
    """Parse raw file content; never raises on any input."""
    parsed = ParsedFile(path)
    _parse_text(decode(data, parsed), parsed)
    return parsed


def _strip_dotenv_comment(raw: str) -> str:
    """python-dotenv's ``re.sub(r"\\s+#.*", "", raw).rstrip()`` without the regex, whose
    backtracking is quadratic on long runs of whitespace."""
    at = raw.find("#", 1)
    while at != -1 and not raw[at - 1].isspace():
        at = raw.find("#", at + 1)
    return (raw if at == -1 else raw[:at]).rstrip()


def _unescape(quote: str, body: str) -> str:
    if "\\" not in body:
        return body
    return _ESCAPES[quote].sub(lambda m: _ESCAPED[m.group(0)], body)


def _parse_text(text: str, parsed: ParsedFile) -> None:
    pos, line, size = 0, 1, len(text)
    comments: list[str] = []
    while pos < size:
        nl = text.find("\n", pos)
        end = size if nl == -1 else nl
        stripped = text[pos:end].strip()
        if not stripped:
            comments = []
        elif stripped.startswith("#"):
            comments.append(stripped)
        else:
            end, line = _statement(text, pos, end, line, parsed, comments)
            comments = []
        pos = end + 1
        line += 1


def _statement(
    text: str, pos: int, end: int, line: int, parsed: ParsedFile, comments: list[str]
) -> tuple[int, int]:
    """Parse the statement starting at ``pos``; return (offset it ends at, its last line)."""
    m = _STATEMENT.match(text, pos, end)
    assert m is not None  # every part of the pattern is optional
    key, rest_at = m.group("key"), m.end()
    if not m.group("eq"):
        rest = text[rest_at:end].strip()
        if key and "=" in rest:
            parsed.add(line, "PE003", "key has a space or '#' in it; the line is dropped")
        elif key and not rest:
            parsed.add(
                line,
                "PE001",
                f"{key} has no '='; python-dotenv ignores it and compose "
                "copies it from the host environment",
                key,
            )
        else:
            parsed.add(line, "PE001", "statement has no '='", None)
        return end, line
    if not _VALID_KEY.match(key):
        what = "empty key" if not key else "key is not a portable name ([A-Za-z_][A-Za-z0-9_]*)"
        parsed.add(line, "PE003", what)
        return end, line
    first = text[rest_at : rest_at + 1]
    if m.group("ws") and first == "#":
        parsed.entries.append(Entry(key, "", "# ...", "", line, line, comments))
        return end, line
    if first in _QUOTED:
        return _quoted(text, rest_at, end, line, key, first, parsed, comments)
    raw = text[rest_at:end]
    dotenv = _strip_dotenv_comment(raw)
    compose = raw.split(" #", 1)[0].rstrip()
    parsed.entries.append(Entry(key, dotenv, compose, "", line, line, comments))
    return end, line


def _quoted(
    text: str,
    start: int,
    end: int,
    line: int,
    key: str,
    quote: str,
    parsed: ParsedFile,
    comments: list[str],
) -> tuple[int, int]:
    m = _QUOTED[quote].match(text, start)
    close = m.end() if m else -1
    # Where the statement's last line ends: the line the closing quote is on.
    tail_end = -1 if close == -1 else text.find("\n", close)
    if tail_end == -1:
        tail_end = len(text)
    multiline = m is not None and close > end
    if m is None or not _AFTER_QUOTE.match(text, close, tail_end):
        if m is None or multiline:
            parsed.add(line, "PE002", f"{key}: quote {quote} is not closed on this line", key)
        else:
            parsed.add(line, "PE004", f"{key}: text after the closing quote", key)
        return end, line
    last = line + text.count("\n", start, close) if multiline else line
    value = _unescape(quote, m.group(1))
    parsed.entries.append(Entry(key, value, value, quote, line, last, comments))
    return tail_end, last
