"""Showing env values without leaking secrets: the env commands' face of the one masker.

``Masker`` wraps ``periph_env.common.redact.Redactor`` (the one secret rule and the one
masker for everything periph prints) with what the env reports need: ``show`` quotes a
harmless value or masks it as ``sk_t…(32 chars)``, ``scrub_path`` judges file names as
paths, and ``finding`` is the scrub every env command applies to path, key and message of
each finding (secrets in any form masked, control characters escaped). Every secret a
``Masker`` learns is also remembered process-wide, for the CLI's last line of defence.
"""

from __future__ import annotations

import re

from periph_env.common.redact import (
    MIN_SECRET_LEN,
    Redactor,
    escape_controls,
    has_credential,
    has_url_password,
    looks_secret,
    remember,
    secret_name,
)
from periph_env.env.model import Finding

__all__ = [
    "MIN_SECRET_LEN",
    "Masker",
    "doubtful",
    "has_url_password",
    "mask",
    "secret_name",
]

# Long unbroken runs in a message: the only places a pasted credential could hide.
_LONG_TOKEN = re.compile(r"[^\s'\"(),;]{20,}")
_PATH_PART = re.compile(r"[^/\\]+")


def mask(value: str) -> str:
    """``sk_t…(32 chars)``: a short prefix (only for long values) and the length."""
    head = value[:4] if len(value) >= 16 else ""
    return f"{head}…({len(value)} chars)"


class Masker:
    """Decides, per value, whether a message may quote it or must mask it."""

    def __init__(self, secrets: set[str] | None = None) -> None:
        self._redactor = Redactor(secrets or ())
        # Every value named secret, whatever its length: ``show`` never quotes one (the
        # redactor's floor applies only to searching inside other text).
        self._exact = {s for s in secrets or () if s}
        remember(self._redactor.secrets)
        # File paths the user named: in messages they are judged as paths (known secrets
        # and credential shapes only), not by entropy, so a project path stays readable.
        self.paths: set[str] = set()

    def add(self, value: str) -> None:
        """Remember ``value`` as secret so that it is masked wherever it shows up."""
        if value:
            self._exact.add(value)
        self._redactor.add(value)
        remember((value,))

    @property
    def secrets(self) -> frozenset[str]:
        """The secret values this masker knows."""
        return self._redactor.secrets

    def is_secret(self, value: str) -> bool:
        """True when ``value`` is, holds or looks like a secret (in any encoding)."""
        if value in self._exact or looks_secret(value):
            return True
        return self._redactor.is_secret(value)

    def show(self, value: str) -> str:
        """A quotable form of ``value``: quoted when harmless, masked otherwise (``repr``
        writes control characters visibly)."""
        if self.is_secret(value) or has_url_password(value):
            return mask(value)
        shown = value if len(value) <= 60 else value[:57] + "..."
        return repr(shown)

    def scrub(self, text: str) -> str:
        """``text`` with every known or credential-looking token masked (file paths the
        user named are judged as paths, see ``scrub_path``). Control characters stay:
        the caller may quote the text its own way; ``finding`` and the renderers escape."""
        paths = [p for p in self.paths if p and p in text]
        if not paths:
            return self._scrub(text)
        pattern = "|".join(re.escape(p) for p in sorted(paths, key=len, reverse=True))
        parts = re.split(f"({pattern})", text)
        return "".join(
            self.scrub_path(part) if i % 2 else self._scrub(part) for i, part in enumerate(parts)
        )

    def _known(self, text: str) -> str:
        """Known secrets masked: as ``mask(secret)`` where they stand plain, as ``****``
        in their encoded forms."""
        for secret in sorted(self._redactor.secrets, key=len, reverse=True):
            if secret in text:
                text = text.replace(secret, mask(secret))
        return self._redactor.mask(text)

    def _scrub(self, text: str) -> str:
        """``text`` with every known or credential-looking token masked (a last line of
        defence: messages are built to hold no values, but keys and lines can be pasted
        secrets)."""
        text = self._known(text)
        return _LONG_TOKEN.sub(lambda m: mask(m[0]) if looks_secret(m[0]) else m[0], text)

    def scrub_path(self, path: str) -> str:
        """``path`` with known secrets and credential-shaped parts masked (file names are
        not judged by entropy: generated directory names would look random)."""
        path = self._known(path)
        return _PATH_PART.sub(lambda m: mask(m[0]) if has_credential(m[0]) else m[0], path)

    def finding(self, finding: Finding) -> Finding:
        """``finding`` with its path, key and message scrubbed and control characters
        escaped (each is shown on one line)."""
        key = self.scrub(finding.key) if finding.key else finding.key
        return finding._replace(
            path=escape_controls(self.scrub_path(finding.path), keep_lines=False),
            key=escape_controls(key, keep_lines=False) if key else key,
            message=escape_controls(self.scrub(finding.message), keep_lines=False),
        )

    def findings(self, findings: list[Finding]) -> list[Finding]:
        """Every finding scrubbed (see ``finding``)."""
        return [self.finding(f) for f in findings]


def doubtful(values: list[str]) -> Masker:
    """A masker that treats every value as secret: for messages about a file that could
    not be read properly, where nothing can be said about which values are secret."""
    return Masker(set(values))
