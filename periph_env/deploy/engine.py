"""The deploy itself: guards, summary, secrets, migrations, apply, rollout watch, history.

A ``DeployRun`` (an owned run, ``periph_env.deploy.runs``) yields typed events
(``periph_env.deploy.events``); the CLI prints them and the TUI shows them. It takes a stop
request, and it ends once, through ``OperationRun.finish``. Order matters and is the point
of this module:

1. render the overlay and its migrate kustomization, derive the Secrets they read;
2. run every guard and report them together; refuse (exit 2) if one fails;
3. summarise the change from a server-side dry-run; ``dry_run`` stops here;
4. namespace and Secrets, the schema check (its read Job logs in with those Secrets), then
   everything except Deployments (the database among them);
5. the migration Job with the new backend image: a failure stops before any Deployment;
6. the Deployments, watched until ``kubectl rollout status`` would say done or failed;
7. on failure with ``auto_rollback``, every Deployment this deploy moved goes back;
8. prune (only with ``prune``), record the result in the cluster, notify.

Steps 3-8 run holding the environment's deploy lock (``periph_env.deploy.lock``): a second
deploy, rollback or verify refuses (exit 2) or waits (``wait``). A dry run takes no lock.
The lock is released after the run's ending is recorded, however it ended.
"""

from __future__ import annotations

import contextlib
from collections.abc import Generator, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from periph_env.deploy import (
    canary,
    canary_judge,
    guards,
    history_store,
    manifests,
    pull_secrets,
    rollback,
    schema_read,
    stateful,
    verify_stage,
)
from periph_env.deploy.deploy_plan import Plan, plan
from periph_env.deploy.events import (
    Event,
    GuardResult,
    MigrationResult,
    Note,
    RolledBack,
    RolloutVerdict,
    Step,
    Summary,
)
from periph_env.deploy.kube import Kube
from periph_env.deploy.lock import peek
from periph_env.deploy.manifests import Obj
from periph_env.deploy.migrate import run_migration
from periph_env.deploy.runs import Ending, OperationRun, Work
from periph_env.deploy.session import Session, new_record, watch
from periph_env.deploy.sources import pinned_images
from periph_env.deploy.summary import image_changes, object_changes

# Kinds listed when looking for objects periph applied earlier that the render dropped.
PRUNABLE_KINDS = (
    "Deployment",
    "StatefulSet",
    "Service",
    "ConfigMap",
    "CronJob",
    "Ingress",
    "HorizontalPodAutoscaler",
    "PodDisruptionBudget",
    "ServiceAccount",
    "NetworkPolicy",
)


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
    force_schema: bool = False  # go ahead across contract migrations (schema_read.check)
    canary: bool = False  # one new backend pod judged beside the old ones first (canary.py)
    canary_window: float | None = None  # seconds; default: [verify] watch_window


def run_guards(plan_: Plan, session: Session, options: Options) -> list[GuardResult]:
    """Every guard, each on its own (one failing never hides another), side by side."""
    target, kube = plan_.target, session.kube
    rendered_images = [
        c.get("image", "") for o in plan_.stack + plan_.migration for c in manifests.containers(o)
    ]
    manifest_ok = not plan_.manifest_problems
    # The slow guards (the API server, git, the registry over HTTP) run side by side; git is
    # read once (``session.git``) for the branch, the clean tree, the lock and the record.
    git = session.git()
    with ThreadPoolExecutor(max_workers=5) as pool:
        context = pool.submit(guards.safely, "context", lambda: guards.context_guard(target, kube))
        # Every pod names the registry pull Secret: without it all of them would sit in
        # ImagePullBackOff after the apply, so refuse before anything changes.
        pulls = pool.submit(
            guards.safely,
            pull_secrets.GUARD,
            lambda: pull_secrets.pull_secret_guard(kube, plan_.stack + plan_.migration),
        )
        clean = pool.submit(
            guards.safely,
            "clean-tree",
            lambda: guards.clean_tree_guard(
                target.root, target.release_dir / "kustomization.yaml", git
            ),
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
        guards.branch_guard(target, git.branch, options.allow_branch),
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
        pulls.result(),
        guards.confirmation_guard(target, options.yes),
    ]


def _live(kube: Kube, obj: Obj) -> Obj | None:
    meta = obj.get("metadata") or {}
    return kube.get(obj["kind"], meta["name"], api_version=obj.get("apiVersion", ""))


def summarize(plan_: Plan, kube: Kube) -> Summary:
    """Images old -> new and objects added / changed / removed: the live objects, one
    server-side dry-run apply of the whole set (``dryRun=All``) and the labelled objects the
    render no longer has, all read through the client side by side (no process)."""
    desired = plan_.persistent + plan_.stack + plan_.secrets
    selector = f"{manifests.MANAGED_BY}=periph,{manifests.ENV_LABEL}={plan_.target.name}"
    with ThreadPoolExecutor(max_workers=8) as pool:
        live_f = [pool.submit(_live, kube, o) for o in desired]
        removable_f = [pool.submit(kube.list, kind, selector) for kind in PRUNABLE_KINDS]
        namespace_f = pool.submit(kube.get, "Namespace", kube.namespace)
        live = [o for o in (f.result() for f in live_f) if o is not None]
        dry: list[Obj] = []
        removable: list[Obj] = []
        if namespace_f.result() is not None:
            # The dry run needs the namespace: a new one makes everything "added" anyway.
            dry = kube.apply(desired, dry_run=True)
            migration_keys = {manifests.key(o) for o in plan_.migration}
            removable = [
                o for f in removable_f for o in f.result() if manifests.key(o) not in migration_keys
            ]
    changes = object_changes(desired, dry, live, plan_.target.name, removable)
    return Summary(tuple(image_changes(plan_.stack, live)), tuple(changes))


# Modules to import while the renders run. None since issue 22's second slice: the lock,
# the migration wait and the rollout watch speak plain REST (kube_rest), so a deploy never
# imports the client's generated API classes and models (~1.1 s of CPU); only the client
# itself, which ``kube.client()`` loads in the warm-up.
WARM_MODULES: tuple[str, ...] = ()


def _warm_up(kube: Kube) -> None:
    import importlib

    with contextlib.suppress(Exception):
        kube.client()
        for name in WARM_MODULES:
            importlib.import_module(name)


class DeployRun(OperationRun):
    """One deploy of an environment: iterate it for its events; ``stop()`` interrupts it.

    It owns what it starts (the client warm-up thread, the rollout watch's threads, the
    migration's wait) and ends through ``OperationRun.finish`` only.
    """

    action = "deploy"

    def __init__(self, root: str | Path, environment: str, options: Options | None = None) -> None:
        super().__init__(root, environment)
        self.options = options or Options()
        self.plan: Plan | None = None
        self.before: dict[str, int] = {}  # each Deployment's revision before this deploy
        self.before_stateful: dict[str, int] = {}  # each StatefulSet's generation (rollback)
        self.back_contract: list[str] = []  # what an auto-rollback would cross (schema_read)
        self.changes_cluster = not self.options.dry_run

    def work(self) -> Work:
        """Render, guards, summary; then (not a dry run) apply, migrate, roll out."""
        options = self.options
        session = self.open()
        target, kube = session.target, session.kube
        # The Python client (0.6 s to import, its API classes more) is needed from the
        # context guard on: load it while kustomize renders.
        self.thread(_warm_up, kube, name="periph-deploy-warm-up")

        yield Step("render")
        plan_ = self.plan = plan(target, kube, session.source, session.source_error)
        yield Step("guards")
        results = run_guards(plan_, session, options)
        if options.verify:
            results.append(verify_stage.config_guard(target))
        yield from results
        refused = [g for g in results if not g.ok]
        if refused:
            return Ending("refused", f"refused by {', '.join(g.name for g in refused)}")

        if not options.dry_run:  # a dry run changes nothing: it takes no lock
            yield from self.hold_lock("deploy", wait=options.wait)
        yield Step("summary")
        summary = summarize(plan_, kube)
        yield summary
        if options.canary:
            problems = canary_judge.scope_problems(
                summary, verify_stage.config_for(target).deployment
            )
            if problems:
                return Ending(
                    "refused", "--canary judges new pods against the live objects, but "
                    + "; ".join(problems), hint="deploy those changes without --canary first",
                )  # fmt: skip
        if options.dry_run:
            busy = peek(kube, target.name)
            if busy:
                yield Note(f"{busy}: the change may differ once that is done")
            return Ending("dry-run", "dry run: nothing applied")
        self.begin_record(plan_, session)
        return (yield from self._rollout(plan_, kube, summary))

    def begin_record(self, plan_: Plan, session: Session) -> None:
        """Write the "running" record (with the Namespace and claims, in one apply)."""
        kube = session.kube
        self.before = rollback.revisions(kube, plan_.deployments)
        stateful_names = stateful.judged(plan_.stack)["statefulsets"]
        self.before_stateful = rollback.generations(kube, "StatefulSet", stateful_names)
        record, existing = new_record(
            session,
            "deploy",
            {name: self.before.get(name, 0) for name in plan_.deployments},
            holder=self.lock.identity if self.lock is not None else "",
            images=pinned_images(plan_.target),
        )
        # The Namespace and the claims first (their own kustomization, never pruned; an
        # overlay that still renders its Namespace works too), then the "running" record:
        # created, never written over (a revision taken meanwhile moves this one up).
        namespaces = [o for o in plan_.stack if o.get("kind") == "Namespace"]
        kube.apply([*plan_.persistent, *namespaces])
        history_store.save(kube, record)
        self.record = record  # from here on, every ending is written to it
        # Under the lock, a "running" record of another run is one whose process is gone.
        history_store.mark_interrupted(kube, existing)

    def _rollout(self, plan_: Plan, kube: Kube, summary: Summary) -> Work:
        options = self.options
        yield Step("secrets and infrastructure")
        # The Secrets first: the schema read below logs in to the database with them, and
        # after a password rotation (role first, then Secret: docs/deploy-runbook.md) only
        # the new one works. A changed Secret alone restarts no pod.
        kube.apply(plan_.secrets)
        yield Note(
            f"{len(plan_.secrets)} Secret(s) applied: "
            + ", ".join(f"{s['metadata']['name']} ({len(s['data'])} keys)" for s in plan_.secrets)
        )
        # Before any workload changes: would the new code run on a schema it does not know?
        check = yield from schema_read.check(
            kube,
            plan_.target.root,
            "this deploy",
            schema_read.rendered_images(plan_.stack),
            schema_read.deployment_images(kube, plan_.deployments, {}),
            force=options.force_schema,
            sleep=self.sleep,
        )
        if self.record is not None:
            self.record.schema = check.record
        if not check.ok:
            return Ending("refused", check.message, hint=check.hint)
        self.back_contract = check.back_contract
        # Everything but the Deployments (the database among them) in one apply.
        others = [o for o in plan_.stack if o.get("kind") not in ("Namespace", "Deployment")]
        kube.apply(others)
        yield from verify_stage.apply_monitoring(kube, plan_.target.root, plan_.monitoring)

        yield Step("migrations")
        outcome = yield from run_migration(kube, plan_.migration, sleep=self.sleep)
        yield MigrationResult(outcome.ok, outcome.message, outcome.logs)
        if not outcome.ok:
            return Ending("failed", f"{outcome.message}; no Deployment was changed")

        for name in canary.remove_leftovers(kube, plan_.target.name):
            yield Note(f"{name} removed: a canary left behind by an earlier deploy")
        promoted: canary.Result | None = None
        if options.canary:
            config = verify_stage.config_for(plan_.target)
            window = config.watch_window if options.canary_window is None else options.canary_window
            promoted = yield from canary.stage(
                self, plan_.stack, kube, config, window, plan_.rollout_timeout()
            )
            assert self.record is not None
            self.record.verification["canary"] = promoted.record
            if not promoted.promote:
                return Ending("failed", f"canary aborted: {promoted.reason}; nothing else changed")

        yield Step("deployments")
        kube.apply([o for o in plan_.stack if o.get("kind") == "Deployment"])
        yield Step("rollout")
        timeout = options.rollout_timeout or plan_.rollout_timeout()
        verdicts: dict[str, RolloutVerdict] = {}
        # The StatefulSets (db, cache), Jobs and claims too: a db that never becomes Ready
        # is a failed deploy, not a rolled-out one.
        judged = stateful.judged(plan_.stack)
        for event in watch(kube, plan_.deployments, timeout, run=self, **judged):
            if isinstance(event, RolloutVerdict):
                verdicts[event.name] = event
            yield event
        if promoted is not None:  # the new pods are up (or failed): the canary has served
            canary.remove(kube, promoted.name, promoted.selector)
            yield Note(f"{promoted.name} removed: promoted ({promoted.reason})")
        failed = [v for v in verdicts.values() if not v.ok]
        bad, what, reason = bool(failed), "rollout failed", "; ".join(v.message for v in failed)
        if not bad and options.verify:
            yield Step("verify")
            session = self.open()
            outcome = yield from verify_stage.stage(
                session.target, kube, options.watch_window, sleep=self.sleep
            )
            assert self.record is not None
            self.record.verification.update(outcome.as_record())  # beside a canary's figures
            if not outcome.ok:
                bad, what, reason = True, "verification failed", outcome.reason
        if not bad:
            if options.prune:
                yield from _prune(kube, summary)
            done = "rolled out and verified" if options.verify else "rolled out"
            return Ending("succeeded", f"canary promoted, {done}" if promoted else done)
        if not options.auto_rollback:
            return Ending("failed", f"{what}: {reason} (no --auto-rollback: left as is)")
        if self.back_contract and not options.force_schema:
            # The old code would break on the contract migrations this deploy applied.
            return Ending(
                "failed",
                f"{what}: {reason}; not rolled back: the previous release does not know "
                f"contract migration(s) {', '.join(self.back_contract)} this deploy applied",
                hint="fix forward, or `periph rollback` with --force-schema",
            )

        yield Step("rollback")
        rolled = yield from _roll_back(self, kube, plan_.deployments, timeout)
        status = "rolled-back" if rolled.ok else "failed"
        return Ending(status, f"{what}: {reason}; {rolled.message}")


def deploy(root: str | Path, environment: str, options: Options | None = None) -> Iterator[Event]:
    """Deploy ``environment`` of the project at ``root``; yields events, ends with Finished.

    The events of a ``DeployRun``; build the run yourself to be able to stop it.
    """
    return DeployRun(root, environment, options).events()


def _roll_back(
    run: DeployRun, kube: Kube, names: list[str], timeout: float
) -> Generator[Event, None, RolledBack]:
    """Return every Deployment this deploy moved to its revision before it; watch that."""
    before = run.before
    after = rollback.revisions(kube, names)
    targets = {n: before[n] for n in names if before.get(n) and after.get(n) != before[n]}
    created = [n for n in names if not before.get(n)]
    for name, revision in targets.items():
        rollback.undo(kube, name, revision)
    verdicts = []
    if targets:
        for event in watch(kube, list(targets), timeout, run=run):
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
    left = rollback.stateful_changed(kube, run.before_stateful)
    if left:
        message += "; " + rollback.stateful_refusal(left, kube.namespace)
    event = RolledBack(targets, ok, message)
    yield event
    return event


def _prune(kube: Kube, summary: Summary) -> Iterator[Event]:
    removed = [c for c in summary.objects if c.action == "removed"]
    for change in removed:
        kube.delete(change.kind, change.name)
    if removed:
        yield Note("pruned " + ", ".join(f"{c.kind}/{c.name}" for c in removed))
