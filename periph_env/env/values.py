"""Judging single values: types, placeholders, entropy and "looks like a credential"."""

from __future__ import annotations

import re

# The credential shapes and entropy live with the one masker (common.redact); they are
# re-exported here because the env rules judge values with them.
from periph_env.common.redact import entropy, has_credential, looks_secret

TYPES = ("string", "secret", "int", "port", "host", "url", "email", "bool", "enum")
TRUE_WORDS = frozenset(("true", "1", "yes", "on"))
BOOL_WORDS = TRUE_WORDS | frozenset(("false", "0", "no", "off"))

_INT = re.compile(r"[+-]?[0-9]+\Z")
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOST = re.compile(rf"(?=[^\s]{{1,253}}\Z){_LABEL}(?:\.{_LABEL})*\.?\Z")
_IPV6 = re.compile(r"\[?[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*\]?\Z")
_URL = re.compile(
    r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?:[^\s/?#@]*@)?"
    r"(?P<host>\[[0-9A-Fa-f:.]+\]|[^\s/?#:\[\]]+)(?::(?P<port>[0-9]*))?(?:[/?#]\S*)?\Z"
)
_ADDR = re.compile(r"[^\s@<>\"]+@(?P<domain>[^\s@<>\"]+)\Z")
_NAMED_ADDR = re.compile(r"[^<>]*<(?P<addr>[^<>]+)>\s*\Z")

# Placeholders: the example's own style plus common "fill me in" words (anchored at start).
_PLACEHOLDER = re.compile(
    r"(?i:<[^<>\n]*>\Z|change[-_]?me|replace[-_]?me|your[-_]|todo\Z|tbd\Z|x{3,}\Z"
    r"|placeholder\Z|fill[-_]?me)"
)
# RFC 2606 example domains can never reach a real mail or web server.
_EXAMPLE_DOMAIN = re.compile(r"(?i)(?:^|[@./])example\.(?:com|org|net)(?:\Z|[/:>?#\s])")
_ADDRESS_TYPES = frozenset(("host", "url", "email"))

__all__ = ["entropy", "has_credential", "is_placeholder", "looks_secret", "type_error", "weakness"]


def is_placeholder(value: str, kind: str = "string") -> bool:
    """True when ``value`` is still a fill-me-in text rather than a real value."""
    if _PLACEHOLDER.match(value):
        return True
    return kind in _ADDRESS_TYPES and _EXAMPLE_DOMAIN.search(value) is not None


def weakness(value: str, default: str) -> str | None:
    """Why a must-be-strong secret is weak, or None when it is strong enough."""
    if value == default:
        return "is the example default"
    if len(value) < 32:
        return f"is shorter than 32 characters ({len(value)})"
    if entropy(value) < 3.0 or len(set(value)) < 10:
        return "is low-entropy (repeated or too few distinct characters)"
    return None


def _port_ok(digits: str) -> bool:
    # Length first: int() refuses strings over 4,300 digits.
    return len(digits.lstrip("+-")) <= 5 and 1 <= int(digits) <= 65535


def _host_ok(host: str) -> bool:
    return bool(_HOST.match(host) or _IPV6.match(host))


def type_error(kind: str, value: str, choices: tuple[str, ...] = ()) -> str | None:
    """A short description of why ``value`` is not a ``kind``, or None when it is."""
    if kind in ("int", "port"):
        if not _INT.match(value):
            return "is not an integer"
        if kind == "port" and not _port_ok(value):
            return "is outside the port range 1-65535"
    elif kind == "bool":
        if value.lower() not in BOOL_WORDS:
            return "is not a boolean (true/false, 1/0, yes/no, on/off)"
    elif kind == "enum":
        if value not in choices:
            return f"is not one of {', '.join(choices)}"
    elif kind == "host":
        if not _host_ok(value):
            return "is not a hostname or IP address"
    elif kind == "url":
        m = _URL.match(value)
        if not m or not _host_ok(m.group("host")):
            return "is not an absolute URL (scheme://host[:port][/path])"
        port = m.group("port")
        if port and not _port_ok(port):
            return "has a port outside 1-65535"
    elif kind == "email":
        named = _NAMED_ADDR.match(value)
        addr = named.group("addr").strip() if named else value
        m = _ADDR.match(addr)
        if not m or not _host_ok(m.group("domain")):
            return "is not an e-mail address (user@domain or Name <user@domain>)"
    return None
