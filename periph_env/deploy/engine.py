"""The deploy itself: guards, summary, secrets, migrations, apply, rollout watch, history.

``deploy`` is a generator of typed events (``periph_env.deploy.events``); the CLI prints
them and the TUI shows them. Order matters and is the point of this module:

1. render the overlay and its migrate kustomization, derive the Secrets they read;
2. run every guard and report them together; refuse (exit 2) if one fails;
3. summarise the change from a server-side dry-run; ``dry_run`` stops here;
4. namespace and Secrets, then everything except Deployments (the database among them);
5. the migration Job with the new backend image: a failure stops before any Deployment;
6. the Deployments, watched until ``kubectl rollout status`` would say done or failed;
7. on failure with ``auto_rollback``, every Deployment this deploy moved goes back;
8. prune (only with ``prune``), record the result in the cluster, notify.

Steps 3-8 run holding the environment's deploy lock (``periph_env.deploy.lock``): a second
deploy, rollback or verify refuses (exit 2) or waits (``wait``). A dry run takes no lock.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from periph_env.deploy import (
    guards,
    history,
    history_store,
    manifests,
    notify,
    rollback,
    secret_hash,
    verify_stage,
)
from periph_env.deploy.events import (
    Event,
    Finished,
    GuardResult,
    MigrationResult,
    Note,
    Notified,
    ObjectChange,
    RolledBack,
    RolloutVerdict,
    Step,
    Summary,
)
from periph_env.deploy.kube import Kube
from periph_env.deploy.lock import DeployLock, locked, peek
from periph_env.deploy.manifests import Obj
from periph_env.deploy.migrate import mask, run_migration
from periph_env.deploy.sources import SecretSource, pinned_images, read_source
from periph_env.deploy.summary import image_changes, object_changes
from periph_env.deploy.target import Target, resolve
from periph_env.deploy.watch import RolloutWatch
from periph_env.errors import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, PeriphError

# Kinds listed when looking for objects periph applied earlier that the render dropped.
PRUNABLE_KINDS = (
    "deployments.apps,statefulsets.apps,services,configmaps,cronjobs.batch,"
    "ingresses.networking.k8s.io,horizontalpodautoscalers.autoscaling,"
    "poddisruptionbudgets.policy,serviceaccounts,networkpolicies.networking.k8s.io"
)
ROLLOUT_MARGIN = 60.0  # seconds past the longest progress deadline before giving up


@dataclass
class Options:
    """What the user asked for on the command line (or in the TUI)."""

    yes: bool = False
    dry_run: bool = False
    auto_rollback: bool = False
    prune: bool = False
    allow_branch: bool = False
    rollout_timeout: float | None = None  # default: longest progressDeadlineSeconds + 60 s
    verify: bool = False  # smoke checks + error-rate watch after the rollout (verify_stage)
    watch_window: float | None = None  # seconds; default: [verify] watch_window
    wait: bool = False  # wait for the environment's lock instead of refusing


@dataclass
class Plan:
    """Everything rendered and derived before touching the cluster."""

    target: Target
    source: SecretSource | None
    source_error: PeriphError | None
    persistent: list[Obj] = field(default_factory=list)
    stack: list[Obj] = field(default_factory=list)
    migration: list[Obj] = field(default_factory=list)
    secrets: list[Obj] = field(default_factory=list)
    manifest_problems: list[str] = field(default_factory=list)

    @property
    def deployments(self) -> list[str]:
        """Names of the Deployments this deploy rolls out."""
        return [o["metadata"]["name"] for o in self.stack if o.get("kind") == "Deployment"]

    def rollout_timeout(self) -> float:
        """Longest progressDeadlineSeconds of the Deployments (default 600) plus a margin."""
        deadlines = [
            o.get("spec", {}).get("progressDeadlineSeconds", 600)
            for o in self.stack
            if o.get("kind") == "Deployment"
        ]
        return max(deadlines, default=600) + ROLLOUT_MARGIN


def _namespace_problems(objs: list[Obj], namespace: str) -> list[str]:
    problems = []
    for obj in objs:
        kind, ns, name = manifests.key(obj)
        if kind == "Namespace":
            if name != namespace:
                problems.append(f"Namespace/{name}: not the configured namespace {namespace}")
        elif ns and ns != namespace:
            problems.append(f"{kind}/{name}: namespace {ns}, configured {namespace}")
    return problems


def plan(
    target: Target, kube: Kube, source: SecretSource | None, error: PeriphError | None
) -> Plan:
    """Render, label and derive the Secrets; problems are collected, not raised."""
    result = Plan(target, source, error)
    directories = [target.overlay, target.persistent_overlay, target.migrate_overlay]
    wanted = [d for i, d in enumerate(directories) if i == 0 or d.is_dir()]
    # Each render is a kubectl process (~0.5 s): run them side by side.
    with ThreadPoolExecutor(max_workers=len(wanted)) as pool:
        futures = {d: pool.submit(kube.render, str(d)) for d in wanted}
    try:
        rendered = {d: manifests.label(f.result(), target.name) for d, f in futures.items()}
    except PeriphError as exc:
        result.manifest_problems.append(f"cannot render {target.overlay}: {exc.message}")
        return result
    result.stack = rendered[target.overlay]
    result.persistent = rendered.get(target.persistent_overlay, [])
    result.migration = rendered.get(target.migrate_overlay, [])
    everything = result.persistent + result.stack + result.migration
    result.manifest_problems += _namespace_problems(everything, target.namespace)
    needs = manifests.secret_needs(everything)
    values = source.values if source else {}
    for need in needs.values():
        data, missing = manifests.secret_data(need, values)
        if missing and source is not None:
            readers = ", ".join(sorted(need.readers))
            result.manifest_problems.append(
                f"Secret/{need.name}: {source.origin} lacks {', '.join(missing)} "
                f"(read by {readers})"
            )
        result.secrets.append(
            manifests.secret_object(need.name, target.namespace, data, target.name)
        )
    # A changed Secret must roll the pods that read it (docs/k8s.md, "Secret changes").
    secret_hash.stamp(result.stack + result.migration, result.secrets)
    return result


def run_guards(plan_: Plan, kube: Kube, options: Options) -> list[GuardResult]:
    """Every guard, each on its own (one failing never hides another)."""
    target = plan_.target
    branch = guards.git(target.root, "rev-parse", "--abbrev-ref", "HEAD")
    branch = "" if branch == "HEAD" else branch
    rendered_images = [
        c.get("image", "") for o in plan_.stack + plan_.migration for c in manifests.containers(o)
    ]
    manifest_ok = not plan_.manifest_problems
    # The slow guards (kubectl, git, the registry over HTTP) run side by side.
    with ThreadPoolExecutor(max_workers=4) as pool:
        context = pool.submit(guards.safely, "context", lambda: guards.context_guard(target, kube))
        clean = pool.submit(
            guards.safely,
            "clean-tree",
            lambda: guards.clean_tree_guard(target.root, target.release_dir / "kustomization.yaml"),
        )
        env_check = pool.submit(
            guards.safely,
            "env-check",
            lambda: guards.env_check_guard(target, plan_.source, plan_.source_error),
        )
        images = pool.submit(
            guards.safely, "images", lambda: guards.images_guard(rendered_images, target.name)
        )
    return [
        context.result(),
        guards.branch_guard(target, branch, options.allow_branch),
        clean.result(),
        env_check.result(),
        GuardResult(
            "manifests",
            manifest_ok,
            "rendered, namespaces and secret keys consistent"
            if manifest_ok
            else "; ".join(plan_.manifest_problems),
        ),
        images.result(),
        guards.confirmation_guard(target, options.yes),
    ]


def _namespace_exists(kube: Kube) -> bool:
    proc = kube.run("get", "namespace", kube.namespace, "-o", "name", check=False, namespaced=False)
    return proc.returncode == 0


def summarize(plan_: Plan, kube: Kube) -> Summary:
    """Images old -> new and objects added / changed / removed (server-side dry-run)."""
    desired = plan_.persistent + plan_.stack + plan_.secrets
    selector = f"{manifests.MANAGED_BY}=periph,{manifests.ENV_LABEL}={plan_.target.name}"
    # Three independent reads of the cluster, side by side (each is a kubectl process).
    with ThreadPoolExecutor(max_workers=3) as pool:
        live_f = pool.submit(
            kube.items, "get", "--ignore-not-found", "-f", "-", input=_dump(desired)
        )
        dry_f = pool.submit(kube.apply, desired, dry_run=True)
        removable_f = pool.submit(kube.items, "get", PRUNABLE_KINDS, "-l", selector)
    live = live_f.result()
    renders_namespace = any(o.get("kind") == "Namespace" for o in desired)
    namespace_live = any(o.get("kind") == "Namespace" for o in live)
    dry: list[Obj] = []
    removable: list[Obj] = []
    if namespace_live or (not renders_namespace and _namespace_exists(kube)):
        dry = dry_f.result()
        migration_keys = {manifests.key(o) for o in plan_.migration}
        removable = [o for o in removable_f.result() if manifests.key(o) not in migration_keys]
    # else: a new namespace; the dry-run could not run there and everything is "added".
    changes = object_changes(desired, dry, live, plan_.target.name, removable)
    return Summary(tuple(image_changes(plan_.stack, live)), tuple(changes))


def _dump(objs: list[Obj]) -> str:
    from periph_env.deploy.kube import dump

    return dump(objs)


def _git_info(root: Path) -> tuple[str, str]:
    sha = guards.git(root, "rev-parse", "HEAD")
    branch = guards.git(root, "rev-parse", "--abbrev-ref", "HEAD")
    return sha, ("" if branch == "HEAD" else branch)


def _finish_record(
    kube: Kube, record: history.Record, status: str, started: float, message: str = ""
) -> None:
    record.status = status
    record.duration = round(time.monotonic() - started, 1)
    record.message = mask(message, kube.secrets)
    try:
        record.deployments = rollback.revisions(kube, list(record.previous) or None)
        record.templates = rollback.template_hashes(kube, list(record.deployments))
    except PeriphError:
        pass
    history_store.save(kube, record)
    if record.revision > history.KEEP:
        history_store.prune(kube, record.environment)


def _notify(record: history.Record, source: SecretSource | None, kube: Kube) -> Iterator[Event]:
    if source is None:
        return
    for channel, error in notify.send(record, source.values, kube.secrets):
        yield Notified(channel, error is None, error)


def _watch(
    kube: Kube, names: list[str], timeout: float, *, after_change: bool = True
) -> Iterator[Event]:
    """Watch ``names`` roll out; ``after_change`` when periph has just changed them."""
    watch = RolloutWatch(
        kube.client(), kube.namespace, names, timeout,
        after_change=after_change, secrets=kube.secrets,
    )  # fmt: skip
    yield from watch.events()
    if watch.reconnects:
        yield Note(f"watch resumed {watch.reconnects} time(s) after a dropped connection")


def _open(
    root: str | Path, environment: str
) -> tuple[Target, SecretSource | None, PeriphError | None, Kube]:
    target = resolve(root, environment)
    source, error = None, None
    try:
        source = read_source(target)
    except PeriphError as exc:
        error = exc
    kube = Kube(target.context, target.namespace, source.secret_values() if source else [])
    return target, source, error, kube


def _warm_up(kube: Kube) -> None:
    with contextlib.suppress(Exception):
        kube.client()


def deploy(root: str | Path, environment: str, options: Options | None = None) -> Iterator[Event]:
    """Deploy ``environment`` of the project at ``root``; yields events, ends with Finished."""
    options = options or Options()
    started = time.monotonic()
    target, source, error, kube = _open(root, environment)
    # The Python client (0.6 s to import) is needed only for the rollout watch: load it
    # while the guards run.
    threading.Thread(target=_warm_up, args=(kube,), daemon=True).start()

    yield Step("render")
    plan_ = plan(target, kube, source, error)
    yield Step("guards")
    results = run_guards(plan_, kube, options)
    if options.verify:
        results.append(verify_stage.config_guard(target))
    yield from results
    refused = [g for g in results if not g.ok]
    if refused:
        names = ", ".join(g.name for g in refused)
        yield Finished(
            "refused", EXIT_USAGE, time.monotonic() - started, message=f"refused by {names}"
        )
        return

    if options.dry_run:  # changes nothing: takes no lock
        yield from _summarized(plan_, kube, options, started, holder="")
        return
    lock = DeployLock(kube, target.name, "deploy", _git_info(target.root)[0])
    run = _summarized(plan_, kube, options, started, holder=lock.identity)
    yield from locked(lock, run, wait=options.wait, started=started)


def _summarized(
    plan_: Plan, kube: Kube, options: Options, started: float, holder: str
) -> Iterator[Event]:
    yield Step("summary")
    summary = summarize(plan_, kube)
    yield summary
    if options.dry_run:
        busy = peek(kube, plan_.target.name)
        if busy:
            yield Note(f"{busy}: the change may differ once that is done")
        yield Finished(
            "dry-run", EXIT_OK, time.monotonic() - started, message="dry run: nothing applied"
        )
        return
    yield from _apply(plan_, kube, options, summary, started, holder)


def _apply(
    plan_: Plan, kube: Kube, options: Options, summary: Summary, started: float, holder: str
) -> Iterator[Event]:
    target = plan_.target
    existing = history_store.records(kube, target.name)
    sha, branch = _git_info(target.root)
    before = rollback.revisions(kube, plan_.deployments)
    record = history.Record(
        environment=target.name,
        revision=history.next_revision(existing),
        action="deploy",
        status=history.RUNNING,
        user=history_store.who(),
        started=history_store.now(),
        git_sha=sha,
        git_branch=branch,
        images=pinned_images(target),
        previous={name: before.get(name, 0) for name in plan_.deployments},
        holder=holder,
    )
    # The Namespace and the claims first (their own kustomization, never pruned; an overlay
    # that still renders its Namespace works too), then the "running" record: created, never
    # written over (a revision taken meanwhile moves this one up).
    namespaces = [o for o in plan_.stack if o.get("kind") == "Namespace"]
    kube.apply([*plan_.persistent, *namespaces])
    history_store.save(kube, record)
    # Under the lock, a "running" record of another run is one whose process is gone.
    history_store.mark_interrupted(kube, existing)
    try:
        yield from _rollout(plan_, kube, options, summary, record, before, started)
    except PeriphError as exc:
        # The cluster may be what failed (its API server gone): recording that there can
        # fail too, and must not replace the cause (the next deploy marks it interrupted).
        with contextlib.suppress(PeriphError):
            _finish_record(kube, record, "failed", started, exc.message)
        yield from _notify(record, plan_.source, kube)
        yield Finished(
            "failed",
            EXIT_FAILURE,
            time.monotonic() - started,
            record.revision,
            message=mask(str(exc), kube.secrets),
        )
    except BaseException:
        # Ctrl-C: say so in the shared history (a SIGKILL leaves "running", which the next
        # deploy turns into "interrupted").
        with contextlib.suppress(BaseException):
            _finish_record(kube, record, history.INTERRUPTED, started, "interrupted by the user")
        raise


def _rollout(
    plan_: Plan,
    kube: Kube,
    options: Options,
    summary: Summary,
    record: history.Record,
    before: dict[str, int],
    started: float,
) -> Iterator[Event]:
    elapsed = lambda: time.monotonic() - started  # noqa: E731

    yield Step("secrets and infrastructure")
    # Secrets and everything but the Deployments (the database among them) in one apply.
    others = [o for o in plan_.stack if o.get("kind") not in ("Namespace", "Deployment")]
    kube.apply(plan_.secrets + others)
    yield from verify_stage.apply_monitoring(kube, plan_.target.root)
    yield Note(
        f"{len(plan_.secrets)} Secret(s) applied: "
        + ", ".join(f"{s['metadata']['name']} ({len(s['data'])} keys)" for s in plan_.secrets)
    )

    yield Step("migrations")
    outcome = yield from run_migration(kube, plan_.migration)
    yield MigrationResult(outcome.ok, outcome.message, outcome.logs)
    if not outcome.ok:
        _finish_record(kube, record, "failed", started, outcome.message)
        yield from _notify(record, plan_.source, kube)
        yield Finished(
            "failed", EXIT_FAILURE, elapsed(), record.revision,
            message=f"{outcome.message}; no Deployment was changed",
        )  # fmt: skip
        return

    yield Step("deployments")
    kube.apply([o for o in plan_.stack if o.get("kind") == "Deployment"])
    yield Step("rollout")
    timeout = options.rollout_timeout or plan_.rollout_timeout()
    verdicts: dict[str, RolloutVerdict] = {}
    for event in _watch(kube, plan_.deployments, timeout):
        if isinstance(event, RolloutVerdict):
            verdicts[event.name] = event
        yield event
    failed = [v for v in verdicts.values() if not v.ok]
    bad, what, reason = bool(failed), "rollout failed", "; ".join(v.message for v in failed)
    if not bad and options.verify:
        yield Step("verify")
        outcome = yield from verify_stage.stage(plan_.target, kube, options.watch_window)
        record.verification = outcome.as_record()
        if not outcome.ok:
            bad, what, reason = True, "verification failed", outcome.reason
    if not bad:
        if options.prune:
            yield from _prune(kube, summary)
        _finish_record(kube, record, "succeeded", started)
        yield from _notify(record, plan_.source, kube)
        done = "rolled out and verified" if options.verify else "rolled out"
        yield Finished("succeeded", EXIT_OK, elapsed(), record.revision, message=done)
        return

    if not options.auto_rollback:
        _finish_record(kube, record, "failed", started, reason if failed else f"{what}: {reason}")
        yield from _notify(record, plan_.source, kube)
        yield Finished(
            "failed", EXIT_FAILURE, elapsed(), record.revision,
            message=f"{what}: {reason} (no --auto-rollback: left as is)",
        )  # fmt: skip
        return

    yield Step("rollback")
    rolled = yield from _roll_back(kube, before, plan_.deployments, timeout)
    status = "rolled-back" if rolled.ok else "failed"
    _finish_record(kube, record, status, started, f"{what}: {reason}; {rolled.message}")
    yield from _notify(record, plan_.source, kube)
    yield Finished(
        status, EXIT_FAILURE, elapsed(), record.revision,
        message=f"{what}: {reason}; {rolled.message}",
    )  # fmt: skip


def _roll_back(
    kube: Kube, before: dict[str, int], names: list[str], timeout: float
) -> Iterator[Event]:
    """Return every Deployment this deploy moved to its revision before it; watch that."""
    after = rollback.revisions(kube, names)
    targets = {n: before[n] for n in names if before.get(n) and after.get(n) != before[n]}
    created = [n for n in names if not before.get(n)]
    for name, revision in targets.items():
        rollback.undo(kube, name, revision)
    verdicts = []
    if targets:
        for event in _watch(kube, list(targets), timeout):
            if isinstance(event, RolloutVerdict):
                verdicts.append(event)
            yield event
    ok = all(v.ok for v in verdicts)
    message = (
        f"rolled back {', '.join(f'{n} to revision {r}' for n, r in targets.items())}"
        if targets
        else "nothing to roll back"
    )
    if created:
        message += f"; {', '.join(created)} had no earlier revision (left as is)"
    if not ok:
        message += "; the rollback did not finish either"
    event = RolledBack(targets, ok, message)
    yield event
    return event


def _prune(kube: Kube, summary: Summary) -> Iterator[Event]:
    removed = [c for c in summary.objects if c.action == "removed"]
    for change in removed:
        kube.run("delete", f"{change.kind}/{change.name}", "--ignore-not-found")
    if removed:
        yield Note("pruned " + ", ".join(f"{c.kind}/{c.name}" for c in removed))


def changes_of(summary: Summary, action: str) -> list[ObjectChange]:
    """The summary's object changes with ``action`` (added / changed / removed)."""
    return [c for c in summary.objects if c.action == action]
