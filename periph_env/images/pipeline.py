"""``build`` and ``push`` of service images: plan, skip what did not change, build in
parallel, push, read the digest back, record it, pin it.

Each service runs in a worker thread (up to ``jobs`` at once) and reports through one
queue, so callers get a single stream of typed events: every service's stream ends with
a ``Done`` carrying its ``ServiceResult``; a failing service never stops the others.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from docker.errors import DockerException

from periph_env.common import config as project_config
from periph_env.errors import PeriphError, UsageError
from periph_env.images import gitinfo, record, services
from periph_env.images.credentials import resolve as resolve_credentials
from periph_env.images.engine import Engine, RetryPolicy
from periph_env.images.hashing import changed_inputs
from periph_env.images.models import (
    BuildStarted,
    Built,
    DirtyTree,
    Done,
    Event,
    Failed,
    Note,
    Planned,
    Pushed,
    PushFailed,
    ServiceResult,
    Unchanged,
)
from periph_env.images.plan import BuildPlan, make_plan

if TYPE_CHECKING:  # httpx, under registry_api, is imported only when a registry is asked
    from periph_env.images.registry_api import Manifest

PIN_EVENT = "(pin)"  # the service name of events about pinning, which concern them all


@dataclass(frozen=True)
class Pinned(Event):
    """Digests were written into an environment's release component."""

    env: str
    path: str
    pins: dict[str, str] = field(default_factory=dict)

    def line(self) -> str:
        return f"pinned {len(self.pins)} image(s) for {self.env} in {self.path}"


@dataclass(frozen=True)
class BuildOptions:
    services: list[str] | None = None
    branch: str | None = None
    push: bool = False
    pin: str | None = None  # environment whose release file gets the digests (implies push)
    allow_dirty: bool = False
    jobs: int | None = None  # default: the number of cores
    no_cache: bool = False  # rebuild every service without the layer cache (never skip)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    # Sees each raw push message; tests use it to stop a registry mid-push.
    on_push_message: Callable[[dict], None] | None = None


@dataclass
class _Context:
    root: Path
    config: dict[str, Any]
    registry: str
    engine: Engine
    credentials: Any
    git: gitinfo.GitState
    branch: str
    previous: dict[str, Any]
    options: BuildOptions
    _client: Any = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def client(self):
        """The registry client, made on first use: httpx costs a third of a second to
        import, which a no-op build served from local images should not pay."""
        with self._lock:
            if self._client is None:
                from periph_env.images.registry_api import RegistryClient

                self._client = RegistryClient(self.registry, self.credentials)
            return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()


def _release_tags(config: dict[str, Any]) -> set[str]:
    envs = config.get("environments", {}) or {"demo": {}, "prod": {}}
    tags = set()
    for name, env in envs.items():
        tags.add(services.tag_for_branch(str(env.get("tag", name))))
        tags.add(services.tag_for_branch(str(env.get("branch", name))))
    return tags


def _tags_for(git: gitinfo.GitState, branch: str, context: Path) -> list[str]:
    """Branch and commit tags; the commit tag says ``-dirty`` when this service's context
    has uncommitted changes (the image is then not what the commit holds)."""
    tags = [services.tag_for_branch(branch)]
    if git.sha:
        tags.append(git.sha + ("-dirty" if git.dirty_under(context) else ""))
    return tags


def _refuse_dirty(git: gitinfo.GitState, what: str) -> None:
    if git.sha is None:
        raise DirtyTree(
            f"refusing to build {what} outside a git commit (cannot prove what it contains)",
            hint="build from a clean checkout, or pass --allow-dirty",
        )
    if git.dirty:
        more = len(git.dirty) - 5
        shown = ", ".join(git.dirty[:5]) + (f" and {more} more" if more > 0 else "")
        raise DirtyTree(
            f"refusing to build {what} from a dirty work tree (uncommitted: {shown})",
            hint="commit or stash the changes, or pass --allow-dirty",
        )


def build(
    root: str | Path, options: BuildOptions = BuildOptions(), engine: Engine | None = None
) -> Iterator[Event]:
    """Build (or skip) each selected service's image; yields events, ``Done`` per service.

    Raises before any work for problems that concern every service: unknown services,
    no branch to tag, release tags from a dirty tree, a registry refusing the credentials.
    """
    root = Path(root).resolve()
    config = project_config.load(root)
    registry = project_config.registry(root)
    names = services.select(config, options.services)
    specs = [services.spec(root, config, name) for name in names]
    git = gitinfo.state(root, [s.context for s in specs])
    branch = options.branch or git.branch
    if not branch:
        raise UsageError(
            "no branch to tag the images with (detached HEAD or not a git repository)",
            hint="pass --branch NAME",
        )
    environment = services.environment_for(config, options.pin, branch)
    if environment:
        # That environment's build args ([environments.<env>.build.<svc>]); the contexts,
        # and so the git state above, do not depend on them.
        specs = [services.spec(root, config, name, environment) for name in names]
    if options.pin:
        envs = config.get("environments", {})
        if envs and options.pin not in envs:
            known = ", ".join(envs)
            raise UsageError(f"unknown environment {options.pin!r}", hint=f"one of: {known}")
    release = services.tag_for_branch(branch) in _release_tags(config) or options.pin
    if release and not options.allow_dirty:
        _refuse_dirty(git, f"{options.pin or services.tag_for_branch(branch)} images")
    push = options.push or bool(options.pin)
    engine = engine or Engine()
    credentials = resolve_credentials(registry)
    ctx = _Context(
        root, config, registry, engine, credentials, git,
        branch, record.load(root), options,
    )  # fmt: skip
    if push:
        ctx.client.ping()  # wrong credentials or a registry that is down: say so before building
    results: list[ServiceResult] = []
    try:
        for event in _run_parallel([lambda s=s: _one_service(ctx, s) for s in specs], options.jobs):
            if isinstance(event, Done):
                results.append(event.result)
            yield event
    finally:
        ctx.close()
    if options.pin:
        failed = [r.service for r in results if r.status == "failed" or not r.digest]
        if failed:
            yield Failed(PIN_EVENT, f"{options.pin} not pinned: {', '.join(failed)} failed")
        else:
            yield pin(root, options.pin, results)


def _run_parallel(tasks: list[Callable[[], Iterator[Event]]], jobs: int | None) -> Iterator[Event]:
    """Run each task's event stream in a thread; yield all events as they come."""
    events: queue.Queue[Event | None] = queue.Queue()
    workers = max(1, min(len(tasks), jobs or os.cpu_count() or 1))

    # Set when the consumer lets go (a stopped build): each task closes its stream at its
    # next event, so the pool's exit does not wait for every build to finish.
    abandoned = threading.Event()

    def drain(task: Callable[[], Iterator[Event]]) -> None:
        stream = task()
        try:
            for event in stream:
                events.put(event)
                if abandoned.is_set():
                    break
        finally:
            close = getattr(stream, "close", None)
            if close is not None:
                close()
            events.put(None)

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="periph-image") as pool:
        try:
            for task in tasks:
                pool.submit(drain, task)
            remaining = len(tasks)
            while remaining:
                event = events.get()
                if event is None:
                    remaining -= 1
                else:
                    yield event
        finally:
            abandoned.set()


def _one_service(ctx: _Context, spec: services.ServiceSpec) -> Iterator[Event]:
    start = time.monotonic()
    result = ServiceResult(spec.name, "failed")
    try:
        extra_tags = _tags_for(ctx.git, ctx.branch, spec.context)
        plan = make_plan(spec, ctx.root, ctx.registry, extra_tags, ctx.engine.base_id)
        result.content_tag = plan.content_tag
        result.tags = plan.refs()
        previous = ctx.previous["services"].get(spec.name)
        result.changed = changed_inputs(record.inputs_of(previous), plan.inputs)
        yield Planned(spec.name, plan.content_tag, result.changed)
        remote: Manifest | None = None
        local = None if ctx.options.no_cache else ctx.engine.inspect(plan.ref(plan.content_tag))
        image_id = local["Id"] if local else None
        if local:
            ctx.engine.tag(image_id, plan.refs(), present=local.get("RepoTags") or [])
            result.status, result.where, result.changed = "unchanged", "local", []
            yield Unchanged(spec.name, "local", plan.content_tag)
        else:
            if not ctx.options.no_cache:
                remote = yield from _remote_lookup(ctx, plan)
            if remote:
                result.status, result.where, result.changed = "unchanged", "registry", []
                yield Unchanged(spec.name, "registry", plan.content_tag)
            else:
                yield BuildStarted(spec.name, result.changed)
                for event in ctx.engine.build(plan, no_cache=ctx.options.no_cache):
                    yield event
                    if isinstance(event, Failed):
                        result.tags = []  # nothing was tagged
                        result.error, result.step, result.log_tail = (
                            event.message, event.step, event.log_tail,
                        )  # fmt: skip
                        return
                    if isinstance(event, Built):
                        image_id, result.status = event.image_id, "built"
        result.image_id = image_id
        if ctx.options.push or ctx.options.pin:
            result.digest = yield from _push(ctx, plan, remote)
        elif remote:
            result.digest = remote.digest
    except PeriphError as exc:
        result.status = "failed"
        result.error = exc.message
        result.step = result.step or getattr(exc, "step", "") or None
        result.log_tail = result.log_tail or getattr(exc, "log_tail", "") or None
        yield Failed(spec.name, exc.message, result.step or "", result.log_tail or "", exc.hint)
    except (DockerException, OSError) as exc:
        # An engine or file error mid-way fails this service only, with what went wrong.
        result.status, result.error = "failed", _describe(exc, f"build {spec.name}")
        yield Failed(spec.name, result.error)
    finally:
        result.seconds = time.monotonic() - start
        if result.status != "failed":
            _remember(ctx, plan, result)
        yield Done(spec.name, result)


def _describe(exc: Exception, what: str) -> str:
    """An engine error as ``docker_sdk`` words it (endpoint named); a file error as is."""
    from periph_env.stack.docker_sdk import translate

    engine_side = isinstance(exc, (DockerException, ConnectionError, TimeoutError))
    error = translate(exc, what) if engine_side else None
    return error.message if error else f"{type(exc).__name__}: {exc}"


def _remote_lookup(ctx: _Context, plan: BuildPlan) -> Iterator[Event]:
    """The registry's manifest of the content tag, or None (also when the registry is out
    of reach and we are not pushing: then building locally is the right call anyway).

    One GET, not a HEAD: a push tags that manifest next, and each request to a registry
    with htpasswd auth costs a bcrypt check on its side (~0.1 s on these cores)."""
    try:
        return ctx.client.manifest(plan.repository, plan.content_tag)
    except PeriphError as exc:
        if ctx.options.push or ctx.options.pin:
            raise
        yield Note(plan.spec.name, f"registry lookup skipped: {exc.message}")
    return None


def _push(ctx: _Context, plan: BuildPlan, remote: Manifest | None) -> Iterator[Event]:
    """Push the content tag (unless the registry has it), tag the rest in the registry, and
    check that every tag names the one digest; returns the digest.

    The other tags are checked by the digest the registry answers each PUT with (what it
    stored), not by reading each back: a no-op push of five is then three requests per
    service instead of seven."""
    start = time.monotonic()
    service = plan.spec.name
    content_ref = plan.ref(plan.content_tag)
    manifest = remote
    if manifest is None:
        yield from ctx.engine.push(
            service, content_ref, ctx.credentials, ctx.options.retry, ctx.options.on_push_message
        )
        manifest = ctx.client.manifest(plan.repository, plan.content_tag)
        if manifest is None:
            raise PushFailed(f"{content_ref} is not in the registry after its push")
    digest = manifest.digest
    for tag in plan.tags[1:]:
        got = ctx.client.put_manifest(plan.repository, tag, manifest)
        if got != digest:
            raise PushFailed(f"{plan.ref(tag)} was stored as {got}, expected {digest}")
    yield Pushed(service, plan.refs(), digest, time.monotonic() - start)
    return digest


_record_lock = threading.Lock()


def _remember(ctx: _Context, plan: BuildPlan, result: ServiceResult) -> None:
    """Record the service's image (tags, digest, git SHA, time, inputs) in the build record."""
    with _record_lock:
        data = record.load(ctx.root)
        old = data["services"].get(plan.spec.name, {})
        entry = {
            "repository": plan.repository,
            "content_tag": plan.content_tag,
            "tags": plan.refs(),
            "image_id": result.image_id,
            "digest": result.digest
            or (old.get("digest") if old.get("content_tag") == plan.content_tag else None),
            "git_sha": ctx.git.sha,
            "dirty": bool(ctx.git.dirty_under(plan.spec.context)),
            "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "status": result.status,
            "inputs": record.inputs_json(plan.inputs),
        }
        data["services"][plan.spec.name] = entry
        record.save(ctx.root, data)


def pin(root: str | Path, env: str, results: list[ServiceResult]) -> Pinned:
    """Write the digests of ``results`` into ``env``'s release file."""
    from periph_env.images.pins import write_pins

    root = Path(root).resolve()
    pins = {}
    for r in results:
        if r.digest and r.tags:
            pins[r.service] = (r.tags[0].rsplit(":", 1)[0], r.digest)
    path = write_pins(root, env, pins)
    return Pinned(PIN_EVENT, env, str(path), {s: f"{repo}@{d}" for s, (repo, d) in pins.items()})


def push(
    root: str | Path,
    names: list[str] | None = None,
    *,
    retry: RetryPolicy | None = None,
    jobs: int | None = None,
    engine: Engine | None = None,
) -> Iterator[Event]:
    """Push the last recorded build of each service (``periph push``); ``Done`` per service."""
    root = Path(root).resolve()
    config = project_config.load(root)
    registry = project_config.registry(root)
    selected = services.select(config, names)
    previous = record.load(root)
    engine = engine or Engine()
    credentials = resolve_credentials(registry)
    git = gitinfo.GitState(None, None, [])
    options = BuildOptions(push=True, retry=retry or RetryPolicy())
    ctx = _Context(root, config, registry, engine, credentials, git, "", previous, options)
    try:
        ctx.client.ping()
        yield from _run_parallel([lambda n=n: _push_recorded(ctx, n) for n in selected], jobs)
    finally:
        ctx.close()


def _push_recorded(ctx: _Context, name: str) -> Iterator[Event]:
    start = time.monotonic()
    entry = ctx.previous["services"].get(name)
    result = ServiceResult(name, "failed")
    try:
        if not entry:
            raise PushFailed(f"no build of {name} recorded", hint="run `periph build` first")
        repository, content_tag = entry["repository"], entry["content_tag"]
        if not repository.startswith(ctx.registry + "/"):
            raise PushFailed(
                f"{name} was built for {repository}, not for registry {ctx.registry}",
                hint="run `periph build` again with this registry",
            )
        result.tags, result.content_tag = list(entry["tags"]), content_tag
        image_id = ctx.engine.image_id(f"{repository}:{content_tag}")
        remote = ctx.client.manifest_digest(repository, content_tag)
        if not image_id and not remote:
            raise PushFailed(
                f"{repository}:{content_tag} is neither here nor in the registry",
                hint="run `periph build` again",
            )
        spec = services.ServiceSpec(name, ctx.root, "")
        tags = [t.rsplit(":", 1)[1] for t in entry["tags"]]
        plan = BuildPlan(spec, repository, record.inputs_of(entry), [], tags)
        result.digest = yield from _push(ctx, plan, remote)
        result.status, result.image_id = "pushed", image_id
        with _record_lock:
            data = record.load(ctx.root)
            if name in data["services"]:
                data["services"][name]["digest"] = result.digest
                record.save(ctx.root, data)
    except PeriphError as exc:
        result.error = exc.message
        yield Failed(name, exc.message, hint=exc.hint)
    except (DockerException, OSError) as exc:
        result.error = _describe(exc, f"push {name}")
        yield Failed(name, result.error)
    finally:
        result.seconds = time.monotonic() - start
        yield Done(name, result)
