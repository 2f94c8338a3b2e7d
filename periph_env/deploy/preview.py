"""Preview environments on the demo cluster: ``periph preview up|down|list|gc``.

``up`` is the demo deploy aimed at a namespace of the branch's own
(``peripheral-pr-<slug>``, ``preview_plan``): the same render (``deploy_plan.plan``: the demo
overlay, its migrate Job, the Secrets from ``.env.demo`` or in CI the process environment),
the same guards that apply to a branch of its own (context, env check, manifests, every
image pinned by digest and in the registry), the same order (namespace and Secrets, the
migration Job, then the Deployments, watched as ``kubectl rollout status`` would). What
differs, and why:

- no branch or clean-tree guard, no lock, no history record: a preview is the branch's own
  and throw-away; demo's lock and history stay demo's;
- the namespace carries periph's preview labels and an expiry annotation (``--ttl``;
  ``up`` again extends it), a ResourceQuota and a LimitRange;
- the registry pull Secrets the pods name are copied from the demo namespace (where the
  maintainer created them once) without being decoded, read or printed;
- the Ingress host is ``<slug>.<demo domain>`` (``[preview] domain`` or the demo Ingress
  host without its first label).

``down`` and ``gc`` delete namespaces only through ``_delete_preview``, which reads the
Namespace again and refuses anything ``preview_plan.is_preview`` does not accept.
"""

from __future__ import annotations

import base64
import contextlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from periph_env.common.config import load
from periph_env.deploy import deploy_plan, engine, guards, manifests, pull_secrets, stateful
from periph_env.deploy import preview_plan as pp
from periph_env.deploy.events import GuardResult, MigrationResult, Note, RolloutVerdict, Step
from periph_env.deploy.kube import Kube
from periph_env.deploy.manifests import Obj
from periph_env.deploy.migrate import run_migration
from periph_env.deploy.runs import Ending, OperationRun, Work
from periph_env.deploy.session import kube_for, rollout_timeout, watch
from periph_env.deploy.target import Target, resolve
from periph_env.errors import EngineError, UsageError

DEMO = "demo"
SERVICE_ACCOUNT_WAIT = 30.0  # seconds for a new namespace's default ServiceAccount


def preview_config(root: str | Path) -> dict:
    """``[preview]`` of the merged configuration (``{}`` when absent)."""
    table = load(root).get("preview", {})
    if not isinstance(table, dict):
        raise UsageError("[preview] in periph.toml must be a table")
    return table


def default_ttl(root: str | Path) -> float:
    """``[preview] ttl`` (default 24h), in seconds."""
    return pp.parse_ttl(preview_config(root).get("ttl", "24h"))


def branch_or_current(root: str | Path, branch: str | None) -> str:
    """``branch``, else the checkout's branch; UsageError on a detached HEAD."""
    if branch:
        return branch
    current = guards.read_git(Path(root)).branch
    if not current:
        raise UsageError(
            "no branch given and HEAD is detached",
            hint="name it: periph preview up BRANCH (in CI: the pull request's head branch)",
        )
    return current


def demo_kube(target: Target) -> Kube:
    """The demo cluster, bound to the demo namespace (namespaces themselves are cluster-wide)."""
    return kube_for(target)


def preview_kube(target: Target, slug: str, secrets: list[str]) -> Kube:
    """The demo cluster bound to the preview's namespace, masking ``secrets``."""
    return Kube(target.context, pp.namespace(slug), secrets)


def preview_host(root: str | Path, demo_hosts: list[str], slug: str) -> tuple[str, str]:
    """(the demo host the render serves, the preview's host ``<slug>.<domain>``)."""
    configured = str(preview_config(root).get("domain", "")).strip().strip(".")
    demo_host = demo_hosts[0] if demo_hosts else ""
    domain = configured or (pp.domain_of(demo_host) if demo_host else "")
    if not domain:
        raise UsageError(
            "the demo overlay renders no Ingress host to put previews under",
            hint="set [preview] domain in periph.toml",
        )
    return demo_host, f"{slug}.{domain}"


def copy_pull_secrets(demo: Kube, preview: Kube, names: list[str], labels: dict) -> list[str]:
    """Copy the named pull Secrets from the demo namespace into the preview's, as they are
    (base64 ``data``, never decoded here); their values join the preview's masked set.
    Returns the names that demo lacks (the pull-secrets guard then refuses)."""
    missing, copies = [], []
    for name in names:
        secret = demo.get("Secret", name)
        if secret is None:
            missing.append(name)
            continue
        data = dict(secret.get("data") or {})
        for value in data.values():
            preview.secrets.append(value)
            with contextlib.suppress(ValueError, UnicodeDecodeError):
                preview.secrets.append(base64.b64decode(value).decode())
        copies.append(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": name, "namespace": preview.namespace, "labels": labels},
                "type": secret.get("type", "Opaque"),
                "data": data,
            }
        )
    preview.apply(copies)
    return missing


@dataclass
class PreviewPlan:
    """The demo render made a preview: what ``up`` applies, in order."""

    slug: str
    branch: str
    host: str
    expires: str
    namespace: Obj
    guards: list[Obj] = field(default_factory=list)  # ResourceQuota, LimitRange
    secrets: list[Obj] = field(default_factory=list)
    stack: list[Obj] = field(default_factory=list)
    migration: list[Obj] = field(default_factory=list)
    pull_secrets: list[str] = field(default_factory=list)

    @property
    def deployments(self) -> list[str]:
        """Names of the Deployments the preview rolls out."""
        return [o["metadata"]["name"] for o in self.stack if o.get("kind") == "Deployment"]


def make_plan(
    demo: deploy_plan.Plan, root: str | Path, branch: str, ttl: float, now: datetime
) -> PreviewPlan:
    """The preview objects from the demo plan (pure but for reading ``[preview]``)."""
    slug = pp.slug(branch)
    demo_host, host = preview_host(root, pp.ingress_hosts(demo.stack), slug)
    template = next((o for o in demo.persistent if o.get("kind") == "Namespace"), None)
    labels = pp.labels_for(slug)
    sizing = pp.Sizing.from_config(preview_config(root))
    moved = [o for o in demo.stack if o.get("kind") != "Namespace"]
    return PreviewPlan(
        slug=slug,
        branch=branch,
        host=host,
        expires=pp.expires_at(now, ttl),
        namespace=pp.namespace_object(template, slug, branch, pp.expires_at(now, ttl)),
        guards=pp.guard_objects(pp.namespace(slug), labels, sizing),
        secrets=pp.preview_objects(demo.secrets, slug, demo_host, host),
        stack=pp.preview_objects(moved, slug, demo_host, host),
        migration=pp.preview_objects(demo.migration, slug, demo_host, host),
        pull_secrets=sorted(pull_secrets.pull_secret_names(demo.stack + demo.migration)),
    )


def _guards(demo: deploy_plan.Plan, kube: Kube) -> list[GuardResult]:
    """The deploy's guards that a branch of its own needs, side by side."""
    target = demo.target
    images = [
        c.get("image", "") for o in demo.stack + demo.migration for c in manifests.containers(o)
    ]
    with ThreadPoolExecutor(max_workers=4) as pool:
        context = pool.submit(guards.safely, "context", lambda: guards.context_guard(target, kube))
        env_check = pool.submit(
            guards.safely,
            "env-check",
            lambda: guards.env_check_guard(target, demo.source, demo.source_error),
        )
        pinned = pool.submit(
            guards.safely, "images", lambda: guards.images_guard(images, target.name)
        )
        # The copies come from the demo namespace: it must hold them.
        pulls = pool.submit(
            guards.safely,
            pull_secrets.GUARD,
            lambda: pull_secrets.pull_secret_guard(kube, demo.stack + demo.migration),
        )
    # The demo render names the demo namespace everywhere: that is what gets moved.
    problems = [p for p in demo.manifest_problems if "not the configured namespace" not in p]
    manifests_ok = not problems
    return [
        context.result(),
        env_check.result(),
        GuardResult(
            "manifests",
            manifests_ok,
            "rendered and secret keys consistent" if manifests_ok else "; ".join(problems),
        ),
        pinned.result(),
        pulls.result(),
    ]


def _warm_up(kube: Kube) -> None:
    import importlib

    with contextlib.suppress(Exception):
        kube.client()
        for name in engine.WARM_MODULES:
            importlib.import_module(name)


class PreviewUpRun(OperationRun):
    """``periph preview up``: iterate it for its events; ``stop()`` interrupts it."""

    action = "preview up"
    changes_cluster = True

    def __init__(
        self, root: str | Path, branch: str, ttl: float, *, now: datetime | None = None
    ) -> None:
        super().__init__(root, DEMO)
        self.name = f"preview up of {branch}"
        self.branch, self.ttl = branch, ttl
        self.now = now
        self.preview: PreviewPlan | None = None

    def work(self) -> Work:
        """Render, guards, then namespace, Secrets, migration, Deployments, rollout."""
        session = self.open()
        target, kube = session.target, session.kube
        # The client (and its API classes) load while kustomize renders, as in a deploy.
        self.thread(_warm_up, kube, name="periph-preview-warm-up")
        yield Step("render")
        demo = deploy_plan.plan(target, kube, session.source, session.source_error)
        plan = self.preview = make_plan(
            demo, self.root, self.branch, self.ttl, self.now or datetime.now(UTC)
        )
        yield Note(f"preview {plan.slug}: namespace {pp.namespace(plan.slug)}, host {plan.host}")
        yield Step("guards")
        results = _guards(demo, kube)
        yield from results
        refused = [g for g in results if not g.ok]
        if refused:
            return Ending("refused", f"refused by {', '.join(g.name for g in refused)}")
        live = kube.get("Namespace", pp.namespace(plan.slug))
        if live is not None and not pp.is_preview(live):
            return Ending(
                "refused",
                f"namespace {pp.namespace(plan.slug)} exists and is not a periph preview: "
                "left alone",
                hint="pick another branch name, or remove that namespace yourself",
            )
        if live is not None and (live.get("metadata") or {}).get("deletionTimestamp"):
            # Anything applied into a namespace being deleted is refused by the API server.
            return Ending(
                "refused",
                f"preview {plan.slug} is still being deleted (namespace {pp.namespace(plan.slug)})",
                hint="run it again once `periph preview list` no longer shows it",
            )

        found = pp.previews(kube.list("Namespace", pp.SELECTOR))
        full = pp.room_for(found, plan.slug, pp.max_previews(preview_config(self.root)))
        if full:
            return Ending(
                "refused",
                full,
                hint="`periph preview gc` deletes the expired ones; `periph preview down "
                "BRANCH` any other; or raise [preview] max in periph.toml",
            )
        preview = preview_kube(target, plan.slug, list(kube.secrets))
        yield Step("namespace")
        preview.apply([plan.namespace, *plan.guards])
        self._await_service_account(preview)
        copy_pull_secrets(kube, preview, plan.pull_secrets, pp.labels_for(plan.slug))
        yield Step("secrets and infrastructure")
        others = [o for o in plan.stack if o.get("kind") != "Deployment"]
        preview.apply(plan.secrets + others)
        yield Step("migrations")
        outcome = yield from run_migration(preview, plan.migration, sleep=self.sleep)
        yield MigrationResult(outcome.ok, outcome.message, outcome.logs)
        if not outcome.ok:
            return Ending("failed", f"{outcome.message}; no Deployment was applied")
        yield Step("deployments")
        preview.apply([o for o in plan.stack if o.get("kind") == "Deployment"])
        yield Step("rollout")
        timeout = rollout_timeout(o for o in plan.stack if o.get("kind") == "Deployment")
        failed: list[RolloutVerdict] = []
        judged = stateful.judged(plan.stack)
        for event in watch(preview, plan.deployments, timeout, run=self, **judged):
            if isinstance(event, RolloutVerdict) and not event.ok:
                failed.append(event)
            yield event
        if failed:
            reason = "; ".join(v.message for v in failed)
            return Ending(
                "failed",
                f"preview {plan.slug} did not roll out: {reason}",
                hint=f"periph preview down {self.branch}",
            )
        return Ending(
            "succeeded",
            f"preview {plan.slug} up at https://{plan.host}/ (expires {plan.expires})",
        )

    def _await_service_account(self, preview: Kube) -> None:
        """Wait (at most ``SERVICE_ACCOUNT_WAIT`` s) for the new namespace's default
        ServiceAccount: pods are refused until the controller manager has made it, and the
        Job and StatefulSet controllers then retry with a growing backoff (seconds lost on
        every first preview; a deploy into an existing namespace never pays it)."""
        waited = 0.0
        while preview.get("ServiceAccount", "default") is None:
            if waited >= SERVICE_ACCOUNT_WAIT:
                return  # the controllers' own retries take over from here
            self.sleep(0.2)
            waited += 0.2


def up(root: str | Path, branch: str | None = None, ttl: float | None = None) -> PreviewUpRun:
    """The run of ``periph preview up`` (iterate it for its events)."""
    name = branch_or_current(root, branch)
    return PreviewUpRun(root, name, default_ttl(root) if ttl is None else ttl)


def list_previews(root: str | Path) -> list[pp.Preview]:
    """The previews on the demo cluster, soonest to expire first."""
    kube = demo_kube(resolve(root, DEMO))
    return pp.previews(kube.list("Namespace", pp.SELECTOR))


def _delete_preview(kube: Kube, name: str, now: datetime | None = None) -> bool:
    """Delete the namespace ``name`` if (read again now) it is a periph preview and, with
    ``now``, expired at ``now``. False when it is gone or no longer qualifies."""
    live = kube.get("Namespace", name)
    if live is None or not pp.is_preview(live):
        return False
    if now is not None and not pp.preview_of(live).expired(now):
        return False  # extended by an `up` since it was listed
    return kube.delete("Namespace", name)


def down(root: str | Path, branch: str | None = None) -> str:
    """Delete the preview of ``branch``; what happened, in words. UsageError when that
    namespace exists but is not a periph preview."""
    name = branch_or_current(root, branch)
    ns = pp.namespace(pp.slug(name))
    kube = demo_kube(resolve(root, DEMO))
    live = kube.get("Namespace", ns)
    if live is None:
        return f"no preview of {name} ({ns} does not exist)"
    if not pp.is_preview(live):
        raise UsageError(
            f"namespace {ns} is not a periph preview (no periph preview labels): left alone"
        )
    if not _delete_preview(kube, ns):
        return f"no preview of {name} ({ns} is gone)"
    return f"deleting preview {pp.slug(name)} (namespace {ns})"


@dataclass(frozen=True)
class Collected:
    """What one ``gc`` did."""

    deleted: list[pp.Preview]
    kept: list[pp.Preview]
    errors: list[str]


def gc(root: str | Path, *, dry_run: bool = False, now: datetime | None = None) -> Collected:
    """Delete the expired previews (only those); ``dry_run``: only say which."""
    now = now or datetime.now(UTC)
    kube = demo_kube(resolve(root, DEMO))
    namespaces = kube.list("Namespace", pp.SELECTOR)
    found = pp.previews(namespaces)
    due = pp.expired(namespaces, now)
    kept = [p for p in found if p not in due]
    if dry_run:
        return Collected(due, kept, [])
    deleted, errors = [], []
    for preview in due:
        try:
            if _delete_preview(kube, preview.namespace, now):
                deleted.append(preview)
            else:
                kept.append(preview)
        except EngineError as exc:
            errors.append(f"{preview.namespace}: {exc.message}")
    return Collected(deleted, kept, errors)
