"""Offline stand-ins for the base images the project's Dockerfiles start ``FROM``.

Nothing can be pulled here, so each name in docs/architecture.md is built locally:
``debian:bookworm-slim`` from a debootstrap minbase rootfs (``docker import``), the others
with ``docker build`` (classic builder) from ``images/<dir>/Dockerfile`` on top of it.

Rules: every stand-in carries ``org.periph.standin=true`` and a content hash of its
definition (Dockerfile, files next to it, host inputs such as the Go tree, the base's hash)
in ``org.periph.standin.hash``; an existing stand-in with the same hash is reused, a changed
definition rebuilds it, and an image of that name without the label is a real image and is
never overwritten. The rootfs tarball is cached under ``$PERIPH_CACHE/images``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from periph_env.errors import EngineError
from periph_env.testenv import debian_host
from periph_env.testenv.docker_engine import engine_host, server_version
from periph_env.testenv.state import CACHE_DIR, Log, run, state_path

STANDIN_LABEL = "org.periph.standin"
HASH_LABEL = "org.periph.standin.hash"
IMAGES_DIR = Path(__file__).parent / "images"
ROOTFS_CACHE = CACHE_DIR / "images"
# CA certificates the host trusts beyond Debian's bundle (a TLS-intercepting egress proxy,
# a company CA). The stand-ins trust them too, or no package download works in a build.
EXTRA_CA_DIR = Path("/usr/local/share/ca-certificates")
DEBIAN = "debian:bookworm-slim"
BUILD_TIMEOUT = 1800


@dataclass(frozen=True)
class HostInput:
    """A host file or tree copied into a build context (``context`` is its name there)."""

    context: str
    host: Path


@dataclass(frozen=True)
class StandIn:
    """One stand-in image and where its definition lives."""

    name: str
    directory: str
    base: str | None = DEBIAN
    inputs: tuple[HostInput, ...] = ()
    build_args: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class BaseImagesInfo:
    """Stand-ins available in the engine: name -> what happened (built/reused/real)."""

    images: dict[str, str]


def go_root() -> Path:
    """The host's Go installation (the official golang image keeps it at /usr/local/go)."""
    go = shutil.which("go") or "/usr/local/go/bin/go"
    return Path(go).resolve().parents[1]


def node_prefix() -> Path:
    """The prefix of the host's Node 20 (``<prefix>/bin/node``, ``<prefix>/lib/node_modules``)."""
    node = shutil.which("node") or "/usr/local/bin/node"
    return Path(node).resolve().parents[1]


def host_extra_cas(directory: Path = EXTRA_CA_DIR) -> list[Path]:
    """The host's locally added CA certificates (``*.crt``, as update-ca-certificates reads)."""
    return sorted(directory.rglob("*.crt")) if directory.is_dir() else []


def _first_line(path: Path) -> str:
    try:
        return path.read_text().splitlines()[0].strip()
    except (OSError, IndexError):
        return ""


def standins() -> list[StandIn]:
    """Every stand-in, bases first."""
    go = go_root()
    node = node_prefix()
    node_version = run([str(node / "bin" / "node"), "--version"], check=False).stdout.strip()
    return [
        StandIn(DEBIAN, "debian", base=None),
        StandIn(
            "golang:1.26-bookworm",
            "golang",
            inputs=(HostInput("go", go),),
            build_args={"GOLANG_VERSION": _first_line(go / "VERSION").removeprefix("go")},
        ),
        StandIn("python:3.11-slim-bookworm", "python"),
        StandIn(
            "node:20-bookworm-slim",
            "node",
            inputs=(
                HostInput("node/bin/node", node / "bin" / "node"),
                HostInput("node/lib/node_modules/npm", node / "lib" / "node_modules" / "npm"),
                HostInput(
                    "node/lib/node_modules/corepack", node / "lib" / "node_modules" / "corepack"
                ),
            ),
            build_args={"NODE_VERSION": node_version.removeprefix("v")},
        ),
        StandIn("postgres:15-bookworm", "postgres"),
        StandIn("redis:7-bookworm", "redis"),
    ]


# --- content hashing -------------------------------------------------------------------


def _walk(path: Path) -> Iterable[Path]:
    if path.is_dir() and not path.is_symlink():
        for child in sorted(path.iterdir()):
            yield from _walk(child)
    else:
        yield path


def definition_hash(
    directory: Path,
    inputs: Iterable[HostInput] = (),
    extra: Iterable[str] = (),
) -> str:
    """Hash of a stand-in's definition: its directory's files, its host inputs, extra facts.

    Definition files are hashed by content; host inputs (a whole Go tree) by name, size and
    mtime, which changes whenever the host's toolchain is upgraded, at a fraction of the cost.
    """
    digest = hashlib.sha256()
    for path in _walk(directory):
        digest.update(
            f"file {path.relative_to(directory)} {path.stat().st_mode & 0o111}\n".encode()
        )
        digest.update(path.read_bytes())
    for item in inputs:
        digest.update(f"input {item.context}\n".encode())
        for path in _walk(item.host):
            st = path.lstat()
            digest.update(
                f"{path.relative_to(item.host.parent)} {st.st_size} {st.st_mtime_ns}\n".encode()
            )
    for fact in extra:
        digest.update(f"fact {fact}\n".encode())
    return digest.hexdigest()[:16]


# --- engine queries --------------------------------------------------------------------


def image_labels(name: str) -> dict[str, str] | None:
    """Labels of image ``name`` ({} when it has none), or None when it does not exist."""
    proc = run(
        ["docker", "image", "inspect", "--format", "{{json .Config.Labels}}", name], check=False
    )
    if proc.returncode != 0:
        return None
    return json.loads(proc.stdout.strip() or "null") or {}


def image_id(name: str) -> str:
    return run(["docker", "image", "inspect", "--format", "{{.Id}}", name]).stdout.strip()


# --- building --------------------------------------------------------------------------


def ensure(log: Log) -> BaseImagesInfo:
    """Build every missing or outdated stand-in; reuse current ones; never touch real images."""
    results: dict[str, str] = {}
    hashes: dict[str, str] = {}
    mirrors = debian_host.pick_mirrors(debian_host.host_sources())
    cas = host_extra_cas()
    built = _built_ids()
    for image in standins():
        facts = [image.name, *(f"{k}={v}" for k, v in sorted(image.build_args.items()))]
        if image.base:
            facts.append(f"base={hashes.get(image.base) or image_id(image.base)}")
        else:
            facts += [f"mirror={mirrors[0]}", f"security={mirrors[1]}"]
            facts += [f"ca={hashlib.sha256(ca.read_bytes()).hexdigest()}" for ca in cas]
        wanted = definition_hash(IMAGES_DIR / image.directory, image.inputs, facts)
        labels = image_labels(image.name)
        if labels is not None and labels.get(STANDIN_LABEL) != "true":
            log(f"images: {image.name} is a real image, kept as is")
            results[image.name] = "real"
            continue
        hashes[image.name] = wanted
        if labels is not None and labels.get(HASH_LABEL) == wanted:
            current = image_id(image.name)
            # Labels are inherited: an image built FROM the stand-in and tagged with its name
            # carries the same hash. Only the image periph built (or found first) is reused.
            if built.setdefault(image.name, current) == current:
                results[image.name] = "reused"
                _record_built_ids(built)
                continue
            log(f"images: {image.name} was replaced outside periph; rebuilding it")
        verb = "rebuilt" if labels is not None else "built"
        previous = image_id(image.name) if labels is not None else None
        with log.step(f"images: {verb} {image.name}"):
            if image.base is None:
                _import_debian(wanted, mirrors, cas, log)
            else:
                _build(image, wanted)
        built[image.name] = image_id(image.name)
        _record_built_ids(built)
        if previous and previous != built[image.name]:
            # The outdated stand-in lost its tag; drop it unless containers still use it.
            run(["docker", "image", "rm", previous], check=False)
        results[image.name] = verb
    reused = [n for n, r in results.items() if r == "reused"]
    if reused:
        log(f"images: reused {len(reused)} stand-ins ({', '.join(reused)})")
    return BaseImagesInfo(results)


def _built_ids() -> dict[str, str]:
    """Image IDs of the stand-ins periph built in this engine, by name."""
    path = state_path("standins.json")
    return json.loads(path.read_text()) if path.exists() else {}


def _record_built_ids(ids: dict[str, str]) -> None:
    state_path("standins.json").write_text(json.dumps(ids, indent=2, sort_keys=True) + "\n")


def _label_args(digest: str) -> list[str]:
    return ["--label", f"{STANDIN_LABEL}=true", "--label", f"{HASH_LABEL}={digest}"]


def _build(image: StandIn, digest: str) -> None:
    """``docker build`` from a tar context: the definition directory plus host inputs."""
    argv = ["docker", "build", "--tag", image.name, *_label_args(digest), "--force-rm"]
    for key, value in sorted(image.build_args.items()):
        argv += ["--build-arg", f"{key}={value}"]
    argv.append("-")
    logfile = state_path(f"build-{image.directory}.log")
    env = {**os.environ, "DOCKER_BUILDKIT": "0"}  # no buildx here: the classic builder
    with logfile.open("wb") as out:
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=out, stderr=out, env=env)
        assert proc.stdin is not None
        try:
            # GNU format and no "." entry: the CLI sniffs stdin and takes a tar whose first
            # member is a PAX header for a bare Dockerfile.
            with tarfile.open(fileobj=proc.stdin, mode="w|", format=tarfile.GNU_FORMAT) as tar:
                for path in sorted((IMAGES_DIR / image.directory).iterdir()):
                    tar.add(path, arcname=path.name)
                for item in image.inputs:
                    tar.add(item.host, arcname=item.context)
        except BrokenPipeError:
            pass  # docker stopped reading; its exit code and log say why
        finally:
            proc.stdin.close()
        code = proc.wait(timeout=BUILD_TIMEOUT)
    if code != 0:
        tail = "\n".join(logfile.read_text(errors="replace").splitlines()[-25:])
        raise EngineError(f"building stand-in {image.name} failed (log {logfile}):\n{tail}")


def rootfs_tarball(digest: str, mirrors: tuple[str, str], cas: Iterable[Path], log: Log) -> Path:
    """The cached, slimmed debootstrap rootfs for ``digest``, bootstrapping it if missing."""
    tarball = ROOTFS_CACHE / f"debian-bookworm-minbase-{digest}.tar"
    if tarball.exists():
        log(f"images: reused rootfs {tarball}")
        return tarball
    debian_host.ensure_packages({"debootstrap": "debootstrap"}, log, why="the debian stand-in")
    ROOTFS_CACHE.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="rootfs-", dir=ROOTFS_CACHE))
    rootfs = workdir / "rootfs"
    try:
        with log.step(f"images: debootstrap minbase bookworm from {mirrors[0]}"):
            run(
                ["debootstrap", "--variant=minbase", debian_host.SUITE, str(rootfs), mirrors[0]],
                timeout=1200,
            )
        run([str(IMAGES_DIR / "debian" / "slim.sh"), str(rootfs), *mirrors, *map(str, cas)])
        partial = workdir / "rootfs.tar"
        run(["tar", "--numeric-owner", "--xattrs", "-C", str(rootfs), "-cf", str(partial), "."])
        partial.rename(tarball)
    finally:
        # --one-file-system: never descend into a proc/sys debootstrap failed to unmount.
        subprocess.run(["rm", "-rf", "--one-file-system", str(workdir)], check=False)
    for old in ROOTFS_CACHE.glob("debian-bookworm-minbase-*.tar"):
        if old != tarball:
            old.unlink()
    return tarball


def _import_debian(digest: str, mirrors: tuple[str, str], cas: list[Path], log: Log) -> None:
    tarball = rootfs_tarball(digest, mirrors, cas, log)
    changes = [
        'CMD ["bash"]',
        f"LABEL {STANDIN_LABEL}=true",
        f"LABEL {HASH_LABEL}={digest}",
    ]
    argv = ["docker", "import"]
    for change in changes:
        argv += ["--change", change]
    run([*argv, str(tarball), DEBIAN], timeout=600)


def status() -> str:
    """One line: which stand-ins exist."""
    if shutil.which("docker") is None:
        return "docker CLI not installed"
    if server_version(engine_host()) is None:
        return "unknown (Docker engine not running)"
    present, missing = [], []
    for name in (s.name for s in standins()):
        (present if image_labels(name) is not None else missing).append(name)
    if not missing:
        return f"all {len(present)} stand-ins present"
    return f"{len(present)} present, missing: {', '.join(missing)}"


def stop(log: Log) -> None:
    """Images are kept across ``down``: rebuilding them is the slow part of a cold start."""
    log("images: kept (stand-ins stay in the engine; `docker rmi` them to rebuild)")
