"""Registry credentials: ``PERIPH_REGISTRY_USERNAME``/``PERIPH_REGISTRY_PASSWORD``, else
``DOCKER_USERNAME``/``DOCKER_PASSWORD`` (as the seed's CI sets them), else the Docker
config and its credential helpers (``docker login``). One lookup for images and deploy.

The password lives only in a ``repr=False`` field; it is sent in request headers, never
in argv, and every message built here names the source and the user, never the secret.

The Docker config (``$DOCKER_CONFIG/config.json``, else ``~/.docker/config.json``) is
read here, by periph's own parser, because the docker SDK's crashes on a malformed file
(``auths`` a list, ``auth`` not base64) and its messages can quote what it read. A file
periph cannot use is a ``DockerConfigError`` (exit 2, like every unusable input file)
naming the file and the field — ``auths["ghcr.io"].auth: not valid base64`` — and never
the value. The whole file is checked (``check_config``), not only the entry periph needs:
the docker SDK reads every ``auths`` entry, ``proxies`` and ``HttpHeaders`` when a client
is made, and would crash on any of them (``docker_sdk.client`` checks first). The helper
``credHelpers``/``credsStore`` name is run only for the registry asked for.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import shutil
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from periph_env.errors import UsageError

DOCKER_HUB_KEYS = ("https://index.docker.io/v1/", "index.docker.io", "docker.io")


class DockerConfigError(UsageError):
    """The Docker config file cannot be used; the message names the file and the field."""


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str = field(repr=False)
    source: str = ""  # where they came from, for messages ("DOCKER_USERNAME/DOCKER_PASSWORD")

    def auth_config(self) -> dict[str, str]:
        """What the docker SDK's push takes as ``auth_config``."""
        return {"username": self.username, "password": self.password}

    def describe(self) -> str:
        return f"user {self.username!r} from {self.source}"


def registry_host(registry: str) -> str:
    """The host[:port] part of a registry reference (``ghcr.io/org`` -> ``ghcr.io``)."""
    return registry.split("/", 1)[0]


def config_path() -> Path:
    """The Docker config file the docker CLI reads."""
    return Path(os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker") / "config.json"


# Environment pairs tried in order: periph's own names first (a deploy job may carry both a
# registry login for pulls and other docker credentials), then the seed CI's names.
ENV_PAIRS = ("PERIPH_REGISTRY", "DOCKER")


def resolve(registry: str) -> Credentials | None:
    """Credentials for ``registry``, or None to go anonymous: ``$PERIPH_REGISTRY_USERNAME`` /
    ``$PERIPH_REGISTRY_PASSWORD``, else ``$DOCKER_USERNAME`` / ``$DOCKER_PASSWORD``, else
    the Docker config. The one lookup for building, pushing and the deploy's image guard."""
    for prefix in ENV_PAIRS:
        user = os.environ.get(f"{prefix}_USERNAME")
        password = os.environ.get(f"{prefix}_PASSWORD")
        if user and password:
            return Credentials(user, password, f"{prefix}_USERNAME/{prefix}_PASSWORD")
    return from_docker_config(registry_host(registry))


def from_docker_config(host: str, path: Path | None = None) -> Credentials | None:
    """The credentials ``docker login`` stored for ``host`` (None when there are none);
    ``DockerConfigError`` when the file or the entry cannot be used."""
    path = path or config_path()
    config = check_config(path)
    if config is None:
        return None
    names = _names(host)
    helpers = _field(config, path, "credHelpers", dict) or {}
    helper = next((helpers[n] for n in names if n in helpers), None)
    where = f'credHelpers["{host}"]'
    if helper is None and config.get("credsStore") is not None:
        helper, where = config["credsStore"], "credsStore"
    if helper is not None:
        if not isinstance(helper, str) or not helper:
            raise DockerConfigError(f"{path}: {where}: expected the name of a credential helper")
        found = _from_helper(helper, host, path, where)
        if found is not None:
            return found
    auths = _field(config, path, "auths", dict) or {}
    for key, entry in auths.items():
        if _hostname(key) in names:
            return _from_entry(entry, f'auths["{key}"]', path)
    return None


def check_config(path: Path | None = None) -> dict[str, Any] | None:
    """The Docker config as an object (None when there is no file), after checking every
    field a docker client reads; ``DockerConfigError`` names the first that is unusable."""
    path = path or config_path()
    config = _load(path)
    if config is None:
        return None
    for name in ("auths", "credHelpers", "proxies", "HttpHeaders"):
        _field(config, path, name, dict)
    store = config.get("credsStore")
    if store is not None and not isinstance(store, str):
        raise DockerConfigError(f"{path}: credsStore: expected the name of a credential helper")
    for key, entry in (config.get("auths") or {}).items():
        _from_entry(entry, f'auths["{key}"]', path)
    for key, value in (config.get("proxies") or {}).items():
        if not isinstance(value, dict):
            raise DockerConfigError(f'{path}: proxies["{key}"]: expected an object')
    return config


def _load(path: Path) -> dict[str, Any] | None:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        raise DockerConfigError(f"{path}: is a directory, not a file") from None
    except UnicodeDecodeError:
        raise DockerConfigError(f"{path}: not UTF-8 text") from None
    except OSError as exc:
        raise DockerConfigError(f"{path}: cannot be read ({exc.strerror})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        # The decoder's message says what it expected, never what it read.
        raise DockerConfigError(
            f"{path}:{exc.lineno}:{exc.colno}: not valid JSON ({exc.msg})",
            hint="fix the file, or remove it and run `docker login` again",
        ) from None
    if not isinstance(data, dict):
        raise DockerConfigError(f"{path}: expected a JSON object, found {_kind(data)}")
    return data


def _field(config: dict[str, Any], path: Path, name: str, kind: type) -> Any:
    value = config.get(name)
    if value is not None and not isinstance(value, kind):
        raise DockerConfigError(
            f"{path}: {name}: expected an object, found {_kind(value)}",
            hint="`docker login` writes it as an object keyed by registry host",
        )
    return value


def _kind(value: Any) -> str:
    return {list: "a list", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number" if isinstance(value, (int, float)) else "an object"
    )


def _names(host: str) -> set[str]:
    """The config keys that mean ``host`` (Docker Hub has several spellings)."""
    if host in ("docker.io", "index.docker.io", "registry-1.docker.io"):
        return {_hostname(k) for k in DOCKER_HUB_KEYS} | {"registry-1.docker.io"}
    return {host}


def _hostname(key: str) -> str:
    """``https://ghcr.io/v2/`` -> ``ghcr.io`` (how the docker CLI matches auths keys)."""
    for scheme in ("http://", "https://"):
        if key.startswith(scheme):
            key = key[len(scheme) :]
    return key.split("/", 1)[0]


def _from_entry(entry: Any, where: str, path: Path) -> Credentials | None:
    if not isinstance(entry, dict):
        raise DockerConfigError(f"{path}: {where}: expected an object, found {_kind(entry)}")
    source = f"the Docker config ({path})"
    token = entry.get("identitytoken")
    auth = entry.get("auth")
    if auth:
        if not isinstance(auth, str):
            raise DockerConfigError(f"{path}: {where}.auth: expected a string")
        try:
            decoded = base64.b64decode(auth, validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            raise DockerConfigError(
                f"{path}: {where}.auth: not valid base64 (the value is not shown)",
                hint="run `docker login` again to rewrite it",
            ) from None
        user, colon, password = decoded.partition(":")
        if not colon:
            raise DockerConfigError(
                f"{path}: {where}.auth: decodes to no `user:password` pair "
                "(no colon; the value is not shown)",
                hint="run `docker login` again to rewrite it",
            )
        secret = token if isinstance(token, str) and token else password
        return Credentials(user, secret, source) if secret else None
    user, password = entry.get("username"), entry.get("password")
    if isinstance(user, str) and isinstance(password, str) and password:
        return Credentials(user, password, source)
    if isinstance(token, str) and token:
        return Credentials(user if isinstance(user, str) else "", token, source)
    return None


def _from_helper(helper: str, host: str, path: Path, where: str) -> Credentials | None:
    """Ask ``docker-credential-<helper>``; it not knowing ``host`` is None, not an error."""
    from docker.credentials import Store
    from docker.credentials.errors import CredentialsNotFound, StoreError

    server = "https://index.docker.io/v1/" if "docker.io" in _names(host) else host
    program = f"docker-credential-{helper}"
    try:
        if shutil.which(program) is None:
            raise StoreError(f"{program} not installed")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the SDK warns on stderr besides raising
            found = Store(helper).get(server)
    except CredentialsNotFound:
        return None
    except StoreError as exc:
        # The helper's own message may quote what it got back; keep only its kind.
        missing = "not installed" in str(exc) or "not available" in str(exc)
        why = "is not installed (not on PATH)" if missing else f"failed ({type(exc).__name__})"
        raise DockerConfigError(
            f"{path}: {where}: the credential helper docker-credential-{helper} {why}",
            hint=f"install it, remove `{where}` from the file, or set DOCKER_USERNAME and "
            "DOCKER_PASSWORD",
        ) from None
    if not isinstance(found, dict):
        return None
    user, secret = found.get("Username"), found.get("Secret")
    if not isinstance(secret, str) or not secret:
        return None
    source = f"the credential helper docker-credential-{helper} ({where} in {path})"
    return Credentials(user if isinstance(user, str) else "", secret, source)
