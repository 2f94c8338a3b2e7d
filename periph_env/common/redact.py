"""The one masking path: which values are secret, and text that is safe to show.

Everything periph prints (CLI text, JSON, SARIF, the TUI, history records, notifications,
the errors of compose, kubectl, docker and git) passes through ``Redactor.text``:

* every known secret value is masked, and so are its base64 (standard and URL-safe, with
  or without padding, and at any byte offset inside a longer base64 blob, as when kubectl
  echoes a Secret's ``data:``), URL-encoded and JSON-escaped forms;
* control characters (C0 but newline and tab, DEL, C1, bidi overrides, lone surrogates
  from undecodable bytes) are written visibly (``\\x1b``), so no file or tool can move the
  cursor, retitle the terminal or hide text.

The secret SET holds only real secrets: values of keys whose name says secret
(``secret_name``), of keys the contract marks ``@secret``, values shaped like a credential
(``looks_secret``) and URL passwords. Every member is then masked whatever its length,
down to ``MIN_SECRET_LEN`` (3) characters. Why 3: a one- or two-character string occurs in
almost every line, so masking it would wipe the output, and it protects nothing (there are
fewer than 10,000 of them). Switch words (``true``, ``off``, ...) are never members: a
secret-named setting such as ``AUTH_ENABLED=true`` is not a secret. Encoded forms obey the
same floor (the base64 of a 3-character secret inside a longer blob is 3 characters).

A process-wide registry (``remember``) collects every secret any engine learns, so the
last line of defence (``guard_streams`` around the CLI, ``safe`` in the TUI) masks them
even where the path that printed forgot to pass them.
"""

from __future__ import annotations

import io
import math
import re
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import TextIO

MASK = "****"
MIN_SECRET_LEN = 3

# The one rule for names (env keys, CLI flags, KEY=value argv) that announce a secret.
SECRET_NAME = re.compile(
    r"(?i)secret|passw|pwd|token|api[_-]?key|private|credential|auth|webhook"
    # *_KEY (ENCRYPTION_KEY, TWITTER_API_IO_KEY), but not public or publishable keys.
    r"|^(?!.*publi[cs]).*(?<![a-z])key\Z"
)
# Flags whose next argv word is a credential.
_SECRET_FLAGS = frozenset(("-p", "--password", "--token", "--secret", "--auth"))
# Values that are settings even under a secret-sounding name (AUTH_ENABLED=true).
_SWITCH_WORDS = frozenset(
    ("true", "false", "yes", "no", "on", "off", "none", "null", "enabled", "disabled")
)

# Well-known credential shapes. Stripe publishable keys (pk_) are public by design.
_CREDENTIAL = re.compile(
    r"(?:sk|rk)_(?:live|test)_|whsec_|gh[pousr]_[A-Za-z0-9]{20}|github_pat_|glpat-"
    r"|xox[abposr]-|AKIA[0-9A-Z]{16}|AIza[0-9A-Za-z_-]{30}|SG\.[\w-]{16,}\.[\w-]{16}"
    r"|-----BEGIN [A-Z ]*PRIVATE KEY|eyJ[\w-]{10,}\.[\w-]{10,}\.|[0-9]{6,12}:[\w-]{30}"
    r"|https://hooks\.slack\.com/|sk-[A-Za-z0-9_-]{20}|xai-[A-Za-z0-9]{20}"
)
_PUBLIC = re.compile(r"pk_(?:live|test)_")
# scheme://user:password@host: the password part makes the whole URL secret.
_URL_PASSWORD = re.compile(r"://[^/@\s:]*:(?P<password>[^/@\s]*)@")

# What a terminal or a report must never receive raw: C0 but tab and newline, DEL, C1,
# bidi embeddings/overrides/isolates (they reorder what is shown), the Unicode line and
# paragraph separators, and lone surrogates (undecodable bytes under surrogateescape).
_CONTROL = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)
_CONTROL_OR_LINE = re.compile(_CONTROL.pattern[:-1] + "\t\n]")
# Colour and style (SGR) sequences: harmless, so service logs may drop them instead of
# showing them escaped. Any other escape sequence is escaped like every control.
_SGR = re.compile(r"\x1b\[[0-9;:]*m")


def secret_name(name: str) -> bool:
    """True for key or flag names that announce a secret (``*_PASSWORD``, ``--token``)."""
    return SECRET_NAME.search(name) is not None


def entropy(value: str) -> float:
    """Shannon entropy in bits per character of ``value``'s character distribution."""
    if not value:
        return 0.0
    counts: dict[str, int] = {}
    for char in value:
        counts[char] = counts.get(char, 0) + 1
    size = len(value)
    return -sum(c / size * math.log2(c / size) for c in counts.values())


def has_credential(value: str) -> bool:
    """True when ``value`` holds a well-known credential shape (sk_live_..., ghp_...)."""
    return _CREDENTIAL.search(value) is not None


def looks_secret(value: str) -> bool:
    """True for known credential shapes and long, random-looking tokens."""
    if _CREDENTIAL.search(value):
        return True
    if len(value) < 20 or _PUBLIC.match(value) or "://" in value:
        return False
    if any(c.isspace() for c in value):
        return False
    has_digit = any(c.isdigit() for c in value)
    has_alpha = any(c.isalpha() for c in value)
    return has_digit and has_alpha and entropy(value) >= 3.3


def has_url_password(value: str) -> bool:
    """True for ``scheme://user:password@host`` values (the password makes it secret)."""
    return _URL_PASSWORD.search(value) is not None


def url_passwords(value: str) -> list[str]:
    """The password parts of every ``scheme://user:password@host`` in ``value``, as
    written and percent-decoded."""
    found: list[str] = []
    for match in _URL_PASSWORD.finditer(value):
        password = match["password"]
        if password:
            from urllib.parse import unquote

            found += [password, unquote(password)]
    return found


def maskable(value: str) -> bool:
    """Whether ``value`` can be a member of the secret set (see the module doc)."""
    stripped = value.strip()
    return len(stripped) >= MIN_SECRET_LEN and stripped.lower() not in _SWITCH_WORDS


def secrets_in(values: dict[str, str], marked: Iterable[str] = ()) -> set[str]:
    """The secret set of ``KEY -> value`` pairs: values of ``marked`` (``@secret``) or
    secret-named keys, credential-shaped values, and URL passwords (with their URL)."""
    marked = frozenset(marked)
    found: set[str] = set()
    for key, value in values.items():
        if not value:
            continue
        if key in marked or secret_name(key) or looks_secret(value):
            found.add(value)
        passwords = url_passwords(value)
        if passwords:
            found.add(value)
            found.update(passwords)
    return {v for v in found if maskable(v)}


def _base64_forms(data: bytes) -> set[str]:
    """Every base64 text that can only come from ``data``: whole (padded or not) and the
    stable core when ``data`` sits at byte offset 0, 1 or 2 of a longer encoded blob."""
    import base64

    forms: set[str] = set()
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + data).decode()
        if offset == 0:
            forms.update((encoded, encoded.rstrip("=")))
        # Characters fed only by data's bits: skip those holding prefix bits, stop
        # before the one that also holds the next byte's bits.
        start = -(-8 * offset // 6)
        end = 8 * (offset + len(data)) // 6
        forms.add(encoded[start:end])
    urlsafe = {f.replace("+", "-").replace("/", "_") for f in forms}
    return forms | urlsafe


def forms_of(secret: str) -> set[str]:
    """``secret`` and every encoding of it this module masks (base64, URL, JSON)."""
    import json
    from urllib.parse import quote, quote_plus

    try:
        data = secret.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a lone surrogate that is no escaped byte
        data = secret.encode("utf-8", "surrogatepass")
    forms = {secret, secret.strip()} | _base64_forms(data)
    for encoded in (quote(secret, safe=""), quote(secret), quote_plus(secret)):
        # Percent-escapes in either case: %2F and %2f are the same byte.
        forms.update((encoded, re.sub(r"%[0-9A-F]{2}", lambda m: m[0].lower(), encoded)))
    for ascii_only in (True, False):
        forms.add(json.dumps(secret, ensure_ascii=ascii_only)[1:-1])
    forms.add(repr(secret)[1:-1])
    if "\n" in secret:
        # A multi-line secret (a PEM key) is printed, and masked, line by line: each line
        # long enough to be its own is a form (short ones such as "}" would hit anything).
        forms.update(line.strip() for line in secret.splitlines() if len(line.strip()) >= 8)
    return {f for f in forms if len(f) >= MIN_SECRET_LEN}


def escape_controls(text: str, *, keep_lines: bool = True, colors: str = "escape") -> str:
    """``text`` with every control character written visibly (``\\x1b``, ``\\u202e``,
    ``\\xff`` for an undecodable byte). ``keep_lines``: newlines and tabs stay (a tail
    of tool output); otherwise they are escaped too (one-line fields). ``colors="drop"``
    removes colour (SGR) sequences instead of escaping them (service logs)."""
    if colors == "drop" and "\x1b" in text:
        text = _SGR.sub("", text)
    if keep_lines:
        text = text.replace("\r\n", "\n")
    pattern = _CONTROL if keep_lines else _CONTROL_OR_LINE
    return pattern.sub(_escape_one, text)


def _escape_one(match: re.Match[str]) -> str:
    code = ord(match[0])
    if 0xDC80 <= code <= 0xDCFF:  # a byte surrogateescape could not decode
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


class Redactor:
    """Masks a set of secret values, in every form, in any text."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        self._found: set[str] = set()  # every form of every secret
        self._forms: list[str] | None = None
        self._lock = threading.Lock()
        self.update(secrets)

    @property
    def secrets(self) -> frozenset[str]:
        """The secret values this redactor masks."""
        return frozenset(self._secrets)

    def add(self, value: str) -> None:
        """Remember ``value`` as secret (ignored when it cannot be one, see ``maskable``)."""
        if value and value not in self._secrets and maskable(value):
            forms = forms_of(value)  # computed once per secret, outside the lock
            with self._lock:
                self._secrets.add(value)
                self._found |= forms
                self._forms = None

    def update(self, values: Iterable[str]) -> None:
        """``add`` each of ``values``."""
        for value in values:
            self.add(value)

    def _all_forms(self) -> list[str]:
        forms = self._forms
        if forms is None:
            with self._lock:
                # Longest first, so a secret that contains another is masked whole.
                forms = self._forms = sorted(self._found, key=lambda f: (-len(f), f))
        return forms

    def is_secret(self, value: str) -> bool:
        """True when ``value`` holds a known secret (in any form)."""
        return any(form in value for form in self._all_forms())

    def mask(self, text: str, replace: str = MASK) -> str:
        """``text`` with every form of every known secret replaced by ``replace``."""
        for form in self._all_forms():
            if form in text:
                text = text.replace(form, replace)
        return text

    def text(self, text: str, *, keep_lines: bool = True, colors: str = "escape") -> str:
        """``text`` safe to show: secrets masked, control characters escaped."""
        return escape_controls(self.mask(text), keep_lines=keep_lines, colors=colors)


_KNOWN = Redactor()


def remember(secrets: Iterable[str]) -> None:
    """Add ``secrets`` to the process-wide set every last-line-of-defence printer masks."""
    _KNOWN.update(secrets)


def forget_all() -> None:
    """Empty the process-wide set (one CLI invocation, or a test, starts clean)."""
    global _KNOWN
    _KNOWN = Redactor()


def known() -> frozenset[str]:
    """The process-wide secret set."""
    return _KNOWN.secrets


def redact(
    text: str, secrets: Iterable[str] = (), *, keep_lines: bool = True, colors: str = "escape"
) -> str:
    """``text`` safe to show: ``secrets`` and every remembered secret masked (all their
    forms), control characters escaped (see ``escape_controls`` for the options). The
    function every printer calls."""
    known = _KNOWN.secrets
    extra = [s for s in secrets if s not in known]
    if extra:
        remember(extra)
    return _KNOWN.text(text, keep_lines=keep_lines, colors=colors)


def safe(text: object, *, keep_lines: bool = True) -> str:
    """``redact(str(text))`` with the remembered secrets: for TUI widgets and the like."""
    return redact(str(text), keep_lines=keep_lines)


def mask_argv(argv: Sequence[str], secrets: Iterable[str] = ()) -> list[str]:
    """``argv`` safe to print: credential flag values (``--password x``, ``--token=x``),
    ``KEY=value`` pairs under secret names, and every known secret masked."""
    out: list[str] = []
    hide_next = False
    for token in argv:
        shown = token
        if hide_next:
            shown, hide_next = MASK, False
        elif token in _SECRET_FLAGS or (token.startswith("--") and secret_name(token)):
            hide_next = "=" not in token
            if "=" in token:
                shown = token.split("=", 1)[0] + "=" + MASK
        elif "=" in token:
            name = token.split("=", 1)[0]
            if secret_name(name):
                shown = name + "=" + MASK
        out.append(redact(shown, secrets, keep_lines=False))
    return out


class _GuardedStream(io.TextIOBase):
    """A text stream that masks and escapes whole lines before they reach ``target``."""

    def __init__(self, target: TextIO) -> None:
        super().__init__()
        self._target = target
        self._pending = ""
        self._lock = threading.Lock()

    def write(self, text: str) -> int:  # type: ignore[override]
        with self._lock:
            self._pending += text
            if "\n" in self._pending:
                whole, _, self._pending = self._pending.rpartition("\n")
                self._target.write(redact(whole + "\n"))
        return len(text)

    def flush(self) -> None:
        with self._lock:
            if self._pending:
                self._target.write(redact(self._pending))
                self._pending = ""
        self._target.flush()

    def isatty(self) -> bool:
        return self._target.isatty()

    def fileno(self) -> int:
        return self._target.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self._target, "encoding", "utf-8")

    def __getattr__(self, name: str) -> object:
        return getattr(self._target, name)


@contextmanager
def guard_streams() -> Iterator[None]:
    """While inside, ``sys.stdout`` and ``sys.stderr`` mask every remembered secret and
    escape control characters, line by line: the CLI's last line of defence."""
    import sys

    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = _GuardedStream(saved[0]), _GuardedStream(saved[1])  # type: ignore[assignment]
    try:
        yield
    finally:
        for stream in (sys.stdout, sys.stderr):
            with suppress(OSError, ValueError):
                stream.flush()
        sys.stdout, sys.stderr = saved
