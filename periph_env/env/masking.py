"""Showing values without leaking secrets: every message goes through here.

``Masker.finding`` is the one scrub every command applies to what it prints (path, key and
message of each finding, file names, key lists), whatever produced it.
"""

from __future__ import annotations

import re

from periph_env.env.model import Finding
from periph_env.env.values import has_credential, looks_secret

# Long unbroken runs in a message: the only places a pasted credential could hide.
_LONG_TOKEN = re.compile(r"[^\s'\"(),;]{20,}")
# scheme://user:password@host: the password part makes the whole URL secret.
_URL_PASSWORD = re.compile(r"://[^/@\s]*:[^/@\s]*@")

_PATH_PART = re.compile(r"[^/\\]+")
# Key names that say "secret" even when the example does not know the key: their values
# are masked too (when in doubt, mask).
_SECRET_NAME = re.compile(r"(?i)secret|passw|pwd|token|api_?key|private|credential|auth")

# Values shorter than this are never used to recognise a secret inside other text:
# too many innocent strings would match.
MIN_SECRET_LEN = 6


def mask(value: str) -> str:
    """``sk_t…(32 chars)``: a short prefix (only for long values) and the length."""
    head = value[:4] if len(value) >= 16 else ""
    return f"{head}…({len(value)} chars)"


class Masker:
    """Decides, per value, whether a message may quote it or must mask it."""

    def __init__(self, secrets: set[str] | None = None) -> None:
        self._secrets = {s for s in (secrets or ()) if len(s) >= MIN_SECRET_LEN}
        # File paths the user named: in messages they are judged as paths (known secrets
        # and credential shapes only), not by entropy, so a project path stays readable.
        self.paths: set[str] = set()

    def add(self, value: str) -> None:
        """Remember ``value`` as secret so that it is masked wherever it shows up."""
        if len(value) >= MIN_SECRET_LEN:
            self._secrets.add(value)

    def is_secret(self, value: str) -> bool:
        """True when ``value`` is, holds or looks like a secret."""
        if value in self._secrets or looks_secret(value):
            return True
        return any(s in value for s in self._secrets)

    def show(self, value: str) -> str:
        """A quotable form of ``value``: quoted when harmless, masked otherwise."""
        if self.is_secret(value) or _URL_PASSWORD.search(value):
            return mask(value)
        shown = value if len(value) <= 60 else value[:57] + "..."
        return repr(shown)

    def scrub(self, text: str) -> str:
        """``text`` with every known or credential-looking token masked (file paths the
        user named are judged as paths, see ``scrub_path``)."""
        paths = [p for p in self.paths if p and p in text]
        if not paths:
            return self._scrub(text)
        pattern = "|".join(re.escape(p) for p in sorted(paths, key=len, reverse=True))
        parts = re.split(f"({pattern})", text)
        return "".join(
            self.scrub_path(part) if i % 2 else self._scrub(part) for i, part in enumerate(parts)
        )

    def _scrub(self, text: str) -> str:
        """``text`` with every known or credential-looking token masked (a last line of
        defence: messages are built to hold no values, but keys and lines can be pasted
        secrets)."""
        # Longest first, so a secret that contains another is masked whole.
        for secret in sorted(self._secrets, key=len, reverse=True):
            if secret in text:
                text = text.replace(secret, mask(secret))
        return _LONG_TOKEN.sub(lambda m: mask(m[0]) if looks_secret(m[0]) else m[0], text)

    def scrub_path(self, path: str) -> str:
        """``path`` with known secrets and credential-shaped parts masked (file names are
        not judged by entropy: generated directory names would look random)."""
        for secret in sorted(self._secrets, key=len, reverse=True):
            if secret in path:
                path = path.replace(secret, mask(secret))
        return _PATH_PART.sub(lambda m: mask(m[0]) if has_credential(m[0]) else m[0], path)

    def finding(self, finding: Finding) -> Finding:
        """``finding`` with its path, key and message scrubbed."""
        key = self.scrub(finding.key) if finding.key else finding.key
        return finding._replace(
            path=self.scrub_path(finding.path), key=key, message=self.scrub(finding.message)
        )

    def findings(self, findings: list[Finding]) -> list[Finding]:
        """Every finding scrubbed (see ``finding``)."""
        return [self.finding(f) for f in findings]


def doubtful(values: list[str]) -> Masker:
    """A masker that treats every value as secret: for messages about a file that could
    not be read properly, where nothing can be said about which values are secret."""
    return Masker(set(values))


def has_url_password(value: str) -> bool:
    """True for ``scheme://user:password@host`` values (the password makes it secret)."""
    return _URL_PASSWORD.search(value) is not None


def secret_name(key: str) -> bool:
    """True for key names that announce a secret (``*_SECRET``, ``*_TOKEN``, ...)."""
    return _SECRET_NAME.search(key) is not None
