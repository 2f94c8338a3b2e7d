"""Plan one service's build: its context files, input digests, content tag and tags.

Reads files and asks the engine for base image IDs; decides nothing about skipping
(``pipeline`` does, with the engine and the registry).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from periph_env.env.commit_guard import is_env_file
from periph_env.images import hashing
from periph_env.images.models import BuildFailed
from periph_env.images.services import ServiceSpec, image_repository


@dataclass(frozen=True)
class BuildPlan:
    spec: ServiceSpec
    repository: str
    inputs: hashing.BuildInputs
    paths: list[str]  # what the context sends (files and directories), sorted
    tags: list[str] = field(default_factory=list)  # tag names (not references), content first

    @property
    def content_tag(self) -> str:
        return self.inputs.content_tag()

    def ref(self, tag: str) -> str:
        return f"{self.repository}:{tag}"

    def refs(self) -> list[str]:
        return [self.ref(t) for t in self.tags]


def _relative(spec: ServiceSpec, root: Path) -> str:
    try:
        return str(spec.dockerfile_path.relative_to(root))
    except ValueError:
        return str(spec.dockerfile_path)


def make_plan(
    spec: ServiceSpec,
    root: Path,
    registry: str,
    extra_tags: list[str],
    base_id,
) -> BuildPlan:
    """The plan for ``spec``; ``base_id(ref) -> image ID`` resolves base images.

    Raises ``BuildFailed`` naming the Dockerfile when it is missing, and naming the file
    when an env file would enter the build context (``.dockerignore`` must exclude it:
    an image layer is forever).
    """
    shown = _relative(spec, root)
    if not spec.dockerfile_path.is_file():
        raise BuildFailed(
            f"{shown}: no such Dockerfile",
            hint=f"create it, or set [images.build.{spec.name}] dockerfile in periph.toml",
        )
    if not spec.context.is_dir():
        raise BuildFailed(f"{spec.context}: build context is not a directory")
    patterns = hashing.read_dockerignore(spec.context)
    paths = hashing.context_paths(spec.context, spec.dockerfile, patterns)
    leaking = [p for p in paths if is_env_file(p)]
    if leaking:
        context = _relative_dir(spec.context, root)
        raise BuildFailed(
            f"env file {context}/{leaking[0]} would enter the build context of {spec.name}",
            hint=f"add `**/.env` and `**/.env.*` to {context}/.dockerignore",
        )
    dockerfile_text = spec.dockerfile_path.read_text()
    bases = {ref: base_id(ref) for ref in hashing.base_images(dockerfile_text, spec.args)}
    inputs = hashing.BuildInputs(
        files=hashing.hash_files(spec.context, paths),
        dockerfile=hashing.text_digest(spec.dockerfile + "\0" + dockerfile_text),
        # Digests, not values: the record must never hold a build arg's value.
        args={k: hashing.text_digest(v) for k, v in spec.args.items()},
        bases=bases,
    )
    tags = list(dict.fromkeys([inputs.content_tag(), *extra_tags]))
    return BuildPlan(spec, image_repository(registry, spec.name), inputs, paths, tags)


def _relative_dir(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root)) or "."
    except ValueError:
        return str(path)
