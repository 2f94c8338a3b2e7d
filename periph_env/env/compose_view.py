"""What docker compose reads from an env file, before interpolation (hand-written).

No Python library implements compose's env-file grammar (compose-go's ``dotenv``
package), so this follows it by hand; tests/integration/test_env_compose_view.py compares
it with the real ``docker compose --env-file F config`` over a corpus of tricky lines.

The grammar, in short: whitespace (any Unicode space, newlines included) and ``#``
comment lines are skipped between statements; ``export`` is dropped; a key runs to ``=``,
``:`` (YAML style) or a newline (a bare ``KEY`` copies the host's value); an unquoted
value runs to the newline (a CR does not end it), is cut at `` #`` and right-trimmed; a
quoted value runs to the matching unescaped quote, possibly over several lines, and any
text after it starts the next statement. A bad key or an unterminated quote makes
compose refuse the whole file; we record where and stop, as compose does.
"""

from __future__ import annotations

import re
from typing import NamedTuple

# compose-go's isSpace: spaces that are not line breaks.
_SPACE = "\t\v\f\r \x85\xa0"
_EXPORT = re.compile(r"export\s+")
# Characters a key may hold (letters, digits, '_', '.') and the spaces compose skips in it.
_KEY_CHARS = re.compile(r"(?:[^\W]|[.\t\v\f\r \x85\xa0])*")
# Double-quoted escapes compose decodes (Go's UnquoteChar plus \0NNN octal).
_ESCAPE = re.compile(r"\\(?:[abcfnrtv\"\\$]|0[0-9]{0,3})")
_QUOTE_STOP = {"'": re.compile(r"[\\'\n]"), '"': re.compile(r'[\\"\n]')}
_ESCAPED = {
    "a": "\a",
    "b": "\b",
    "c": "\\c",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
    '"': '"',
    "\\": "\\",
    "$": "$$",
}


class Binding(NamedTuple):
    """One statement compose reads: ``value`` is None for a bare ``KEY`` (inherited)."""

    key: str
    value: str | None
    line: int


class ComposeFile(NamedTuple):
    """Compose's statements in order, and where (and why) it stopped reading, if it did."""

    bindings: list[Binding]
    error_line: int | None
    error: str | None


def _is_go_space(char: str) -> bool:
    """Go's unicode.IsSpace (Python's isspace also counts \\x1c-\\x1f)."""
    return char in _SPACE or char == "\n" or (char > "\xff" and char.isspace())


def _rstrip(text: str) -> str:
    end = len(text)
    while end and _is_go_space(text[end - 1]):
        end -= 1
    return text[:end]


def _skip_blank(text: str, pos: int, line: int) -> tuple[int, int]:
    """Skip whitespace and comment lines; return the next statement's offset and line."""
    size = len(text)
    while pos < size:
        char = text[pos]
        if char == "\n":
            line += 1
            pos += 1
        elif _is_go_space(char):
            pos += 1
        elif char == "#":
            nl = text.find("\n", pos)
            pos = size if nl == -1 else nl
        else:
            break
    return pos, line


def _skip_spaces(text: str, pos: int) -> int:
    size = len(text)
    while pos < size and text[pos] in _SPACE:
        pos += 1
    return pos


def read(text: str) -> ComposeFile:
    """Compose's reading of ``text`` (BOM already removed), in time linear in its size."""
    bindings: list[Binding] = []
    pos, line, size = 0, 1, len(text)
    while True:
        pos, line = _skip_blank(text, pos, line)
        if pos >= size:
            return ComposeFile(bindings, None, None)
        start_line = line
        m = _EXPORT.match(text, pos)
        if m:
            pos = _skip_spaces(text, pos + len("export"))
        key_start = pos
        pos = _KEY_CHARS.match(text, pos).end()  # type: ignore[union-attr]
        terminator = text[pos : pos + 1]
        if terminator and terminator not in "=:\n":
            return ComposeFile(bindings, line, "unexpected character in a variable name")
        key = _rstrip(text[key_start:pos])
        if not terminator:  # end of file inside the key: compose reads it as a value of ""
            bindings.append(Binding("", key, start_line))
            return ComposeFile(bindings, None, None)
        if " " in key:
            return ComposeFile(bindings, line, "a key cannot contain a space")
        pos += 1
        if terminator == "\n":
            line += 1
            bindings.append(Binding(key, None, start_line))
            continue
        pos = _skip_spaces(text, pos)
        quote = text[pos : pos + 1]
        if quote in ("'", '"'):
            value, pos, line = _quoted(text, pos, line, quote)
            if value is None:
                return ComposeFile(bindings, start_line, "unterminated quoted value")
        else:
            nl = text.find("\n", pos)
            end = size if nl == -1 else nl
            value = _rstrip(text[pos:end].split(" #", 1)[0])
            pos = end
        bindings.append(Binding(key, value, start_line))


def _quoted(text: str, pos: int, line: int, quote: str) -> tuple[str | None, int, int]:
    """The quoted value at ``pos``: (value or None if unterminated, next offset, line)."""
    stop = _QUOTE_STOP[quote]
    chars: list[str] = []
    i = run = pos + 1  # run: start of the current stretch of ordinary characters
    while True:
        m = stop.search(text, i)
        if m is None:
            return None, len(text), line
        j = m.start()
        char = text[j]
        if char == "\n":
            line += 1
            i = j + 1
        elif char == quote:
            chars.append(text[run:j])
            value = "".join(chars)
            if quote == '"':
                value = _ESCAPE.sub(lambda m: _unescape(m.group(0)), value)
            return value, j + 1, line
        else:  # a backslash: an escaped quote drops it, any other escape keeps it
            if j + 1 >= len(text):
                return None, len(text), line
            nxt = text[j + 1]
            chars.append(text[run:j])
            chars.append(nxt if nxt == quote else "\\" + nxt)
            line += nxt == "\n"
            i = run = j + 2


def _unescape(escape: str) -> str:
    if escape[1] == "0":
        # `\0NNN` is octal NNN; anything shorter or non-octal is kept as written.
        digits = escape[2:]
        if len(digits) == 3 and digits.isdigit() and "8" not in digits and "9" not in digits:
            code = int(digits, 8)
            return chr(code) if code < 256 else escape
        return escape
    return _ESCAPED[escape[1]]


def keys_at(view: ComposeFile) -> dict[int, list[Binding]]:
    """Compose's bindings grouped by the line each starts on."""
    out: dict[int, list[Binding]] = {}
    for binding in view.bindings:
        out.setdefault(binding.line, []).append(binding)
    return out
