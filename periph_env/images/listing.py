"""``periph images``: each service's images here and in the registry — tags, digests,
sizes and ages — grouped by image (local ID, remote manifest digest)."""

from __future__ import annotations

import re
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

from periph_env.common import config as project_config
from periph_env.errors import PeriphError
from periph_env.images import services
from periph_env.images.credentials import resolve as resolve_credentials
from periph_env.images.engine import Engine
from periph_env.images.registry_api import RegistryClient


@dataclass
class ImageRow:
    tags: list[str]
    size: int  # bytes: unpacked locally, compressed (what a pull downloads) remotely
    created: str | None  # ISO 8601
    age_seconds: float | None
    id: str | None = None  # local image ID
    digest: str | None = None  # registry manifest digest (local: the first repo digest)


@dataclass
class ServiceImages:
    service: str
    repository: str
    local: list[ImageRow] = field(default_factory=list)
    remote: list[ImageRow] = field(default_factory=list)
    remote_error: str | None = None

    def to_json(self) -> dict:
        return asdict(self)


def _age(created: str | None, now: float) -> float | None:
    """Seconds since an RFC 3339 time (registries give nanoseconds; Python takes micro)."""
    if not created:
        return None
    text = re.sub(r"(\.\d{6})\d+", r"\1", created.replace("Z", "+00:00"))
    try:
        stamp = datetime.fromisoformat(text)
    except ValueError:
        return None
    return round(max(0.0, now - stamp.timestamp()), 1)


def _iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch).astimezone().isoformat(timespec="seconds")


def list_images(root: str | Path, engine: Engine | None = None) -> list[ServiceImages]:
    """Every service's local and remote images, newest first."""
    root = Path(root).resolve()
    config = project_config.load(root)
    registry = project_config.registry(root)
    engine = engine or Engine()
    now = time.time()
    out: list[ServiceImages] = []
    with RegistryClient(registry, resolve_credentials(registry)) as client:
        remote_down: str | None = None
        for name in services.configured_services(config):
            repository = services.image_repository(registry, name)
            entry = ServiceImages(name, repository)
            for image in engine.images(repository):
                repo_tags = image.get("RepoTags") or []
                tags = sorted(t for t in repo_tags if t.startswith(repository + ":"))
                digests = [d.split("@", 1)[1] for d in image.get("RepoDigests") or [] if "@" in d]
                created = _iso(int(image.get("Created", 0)))
                entry.local.append(
                    ImageRow(
                        tags=[t.rsplit(":", 1)[1] for t in tags],
                        size=int(image.get("Size", 0)),
                        created=created,
                        age_seconds=round(max(0.0, now - int(image.get("Created", 0))), 1),
                        id=image.get("Id"),
                        digest=digests[0] if digests else None,
                    )
                )
            entry.local.sort(key=lambda r: r.age_seconds or 0)
            if remote_down:
                entry.remote_error = remote_down
            else:
                try:
                    entry.remote = _remote(client, repository, now)
                except PeriphError as exc:
                    entry.remote_error = remote_down = exc.message
            out.append(entry)
    return out


def _remote(client: RegistryClient, repository: str, now: float) -> list[ImageRow]:
    by_digest: dict[str, ImageRow] = {}
    for tag in client.tags(repository):
        manifest = client.manifest(repository, tag)
        if manifest is None:
            continue
        row = by_digest.get(manifest.digest)
        if row is None:
            created = None
            config_digest = manifest.config_digest()
            if config_digest:
                created = client.config_blob(repository, config_digest).get("created")
                created = created if isinstance(created, str) else None
            row = by_digest[manifest.digest] = ImageRow(
                tags=[], size=manifest.size(), created=created,
                age_seconds=_age(created, now), digest=manifest.digest,
            )  # fmt: skip
        row.tags.append(tag)
    return sorted(by_digest.values(), key=lambda r: r.age_seconds or 0)
