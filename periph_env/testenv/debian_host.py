"""Facts about the Debian host the engines run on: installing packages and finding its mirror.

Engines that are missing get installed from the distribution (``apt-get install``), which
only works as root on Debian; anywhere else we stop with a message saying what to install.
The base-image stand-ins are bootstrapped from the mirror apt already uses, read from
``/etc/apt/sources.list`` and ``/etc/apt/sources.list.d`` (one-line and deb822 formats).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from periph_env.errors import EngineError
from periph_env.testenv.state import Log, run

SUITE = "bookworm"
DEFAULT_MIRROR = "http://deb.debian.org/debian"
DEFAULT_SECURITY_MIRROR = "http://deb.debian.org/debian-security"
APT_DIR = Path("/etc/apt")

# apt-get update runs at most once per process: a second `up` in the same process has
# nothing new to learn from the mirror.
_apt_updated = False


def is_debian(os_release: Path = Path("/etc/os-release")) -> bool:
    """Whether the host is Debian (or declares itself Debian-like)."""
    try:
        text = os_release.read_text()
    except OSError:
        return False
    fields = dict(
        line.split("=", 1) for line in text.splitlines() if "=" in line and not line.startswith("#")
    )
    ids = {fields.get("ID", "").strip('"')} | set(fields.get("ID_LIKE", "").strip('"').split())
    return "debian" in ids


def missing_commands(commands: Iterable[str]) -> list[str]:
    """The commands of ``commands`` not found on PATH (nor in the sbin directories)."""
    path = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
    return [c for c in commands if shutil.which(c, path=path) is None]


def ensure_packages(packages: dict[str, str], log: Log, *, why: str) -> None:
    """Install the Debian packages whose command is missing (``{command: package}``).

    Raises EngineError naming the packages when the host is not Debian or we are not root.
    """
    missing = missing_commands(packages)
    if not missing:
        return
    wanted = sorted({packages[c] for c in missing})
    if os.geteuid() != 0 or not is_debian():
        raise EngineError(
            f"{why} needs {', '.join(missing)}, which is not installed",
            hint=f"install the Debian packages {' '.join(wanted)} (periph installs them "
            "itself only when running as root on Debian)",
        )
    global _apt_updated
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    if not _apt_updated:
        with log.step("apt-get update"):
            run(["apt-get", "update"], env=env, timeout=600)
        _apt_updated = True
    with log.step(f"apt-get install {' '.join(wanted)}"):
        run(["apt-get", "install", "-y", "--no-install-recommends", *wanted], env=env, timeout=1200)


@dataclass(frozen=True)
class AptSource:
    """One ``deb`` source: a URI serving some suites and components."""

    uri: str
    suites: tuple[str, ...]
    components: tuple[str, ...]


def parse_one_line(text: str) -> list[AptSource]:
    """Parse the one-line ``deb [opts] URI SUITE COMPONENT...`` format (``*.list`` files)."""
    sources = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line.startswith("deb "):
            continue
        words = line.split()[1:]
        if words and words[0].startswith("["):
            # Options may contain spaces: skip words until the closing bracket.
            while words and not words[0].endswith("]"):
                words.pop(0)
            words = words[1:]
        if len(words) >= 2:
            sources.append(AptSource(words[0], (words[1],), tuple(words[2:])))
    return sources


def parse_deb822(text: str) -> list[AptSource]:
    """Parse the deb822 format (``*.sources`` files): stanzas separated by blank lines."""
    sources = []
    for stanza in _stanzas(text):
        if "deb" not in stanza.get("types", "").split():
            continue
        if stanza.get("enabled", "yes").lower() == "no":
            continue
        for uri in stanza.get("uris", "").split():
            sources.append(
                AptSource(
                    uri,
                    tuple(stanza.get("suites", "").split()),
                    tuple(stanza.get("components", "").split()),
                )
            )
    return sources


def _stanzas(text: str) -> list[dict[str, str]]:
    stanzas: list[dict[str, str]] = []
    current: dict[str, str] = {}
    key = ""
    for raw in [*text.splitlines(), ""]:
        if raw.startswith("#"):
            continue
        if not raw.strip():
            if current:
                stanzas.append(current)
            current, key = {}, ""
        elif raw[0] in " \t" and key:
            current[key] += " " + raw.strip()
        elif ":" in raw:
            key, value = raw.split(":", 1)
            key = key.strip().lower()
            current[key] = value.strip()
    return stanzas


def host_sources(apt_dir: Path = APT_DIR) -> list[AptSource]:
    """Every enabled ``deb`` source apt reads on this host, in apt's file order."""
    files: list[Path] = []
    if (apt_dir / "sources.list").exists():
        files.append(apt_dir / "sources.list")
    parts = apt_dir / "sources.list.d"
    if parts.is_dir():
        files += sorted(p for p in parts.iterdir() if p.suffix in (".list", ".sources"))
    sources: list[AptSource] = []
    for path in files:
        parse = parse_deb822 if path.suffix == ".sources" else parse_one_line
        sources += parse(path.read_text(errors="replace"))
    return sources


def pick_mirrors(sources: Sequence[AptSource], suite: str = SUITE) -> tuple[str, str]:
    """(archive mirror, security mirror) for ``suite``; Debian's CDN when none is configured.

    The archive mirror is the first source serving ``suite`` itself with ``main``; the
    security mirror the first serving ``<suite>-security``. Third-party repositories
    (``nodistro``, ``cloud-sdk-bookworm``) never match.
    """
    archive = next((s.uri for s in sources if suite in s.suites and "main" in s.components), None)
    security = next((s.uri for s in sources if f"{suite}-security" in s.suites), None)
    return (archive or DEFAULT_MIRROR).rstrip("/"), (security or DEFAULT_SECURITY_MIRROR).rstrip(
        "/"
    )
