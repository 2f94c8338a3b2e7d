"""The deploy's plan: the overlay rendered, labelled and checked, and the Secrets derived.

Nothing here changes the cluster: ``plan`` reads the namespace's Secret-hash key and
renders with one kustomize process; every problem is collected on the ``Plan`` for the
``manifests`` guard to report, never raised. ``periph deploy`` (``engine``) and
``periph preview up`` (``preview``) start from it.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from periph_env.deploy import apiserver_proxy, manifests, secret_hash, verify_stage
from periph_env.deploy.kube import Kube
from periph_env.deploy.kube_reach import ClusterUnreachable
from periph_env.deploy.manifests import Obj
from periph_env.deploy.session import rollout_timeout
from periph_env.deploy.sources import SecretSource
from periph_env.deploy.target import Target
from periph_env.errors import PeriphError


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
    monitoring: list[Obj] | None = None  # k8s/monitoring rendered (None: not rendered)
    manifest_problems: list[str] = field(default_factory=list)

    @property
    def deployments(self) -> list[str]:
        """Names of the Deployments this deploy rolls out."""
        return [o["metadata"]["name"] for o in self.stack if o.get("kind") == "Deployment"]

    def rollout_timeout(self) -> float:
        """Longest progressDeadlineSeconds of the Deployments (default 600) plus a margin."""
        return rollout_timeout(o for o in self.stack if o.get("kind") == "Deployment")


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
    # One kubectl process for all of them (~0.5 s of CPU each on a loaded machine);
    # monitoring rides along when present (applied later only if the cluster has its CRD).
    monitoring = target.root / verify_stage.MONITORING_DIR
    extra = [monitoring] if (monitoring / "kustomization.yaml").is_file() else []
    # The namespace's key for the Secret-change stamp, read while kustomize renders.
    with ThreadPoolExecutor(max_workers=1) as pool:
        key_read = pool.submit(_hash_key, kube)
        try:
            try:
                objs = kube.render_all([str(d) for d in wanted + extra])
            except PeriphError:
                if not extra:
                    raise
                # Monitoring's own error is for when it is applied (only with its CRD).
                objs, extra = kube.render_all([str(d) for d in wanted]), []
        except PeriphError as exc:
            result.manifest_problems.append(f"cannot render {target.overlay}: {exc.message}")
            return result
        key, key_problem = key_read.result()
    if key_problem:
        result.manifest_problems.append(key_problem)
    if extra:
        result.monitoring = objs.pop()
    rendered = {d: manifests.label(o, target.name) for d, o in zip(wanted, objs, strict=True)}
    result.stack = rendered[target.overlay]
    result.persistent = rendered.get(target.persistent_overlay, [])
    result.migration = rendered.get(target.migrate_overlay, [])
    everything = result.persistent + result.stack + result.migration
    result.manifest_problems += _namespace_problems(everything, target.namespace)
    # This cluster's API server source addresses (periph.toml), for `periph verify`.
    result.manifest_problems += apiserver_proxy.apply_configured(
        result.stack, target.root, target.name
    )
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
    # A changed Secret must roll the pods that read it (docs/k8s.md, "Secret changes"); the
    # key is applied with the Secrets (a first deploy's is new) and masked like them.
    kube.secrets.append(key)
    result.secrets.append(secret_hash.key_object(target.namespace, key, target.name))
    secret_hash.stamp(result.stack + result.migration, result.secrets, key)
    return result


def _hash_key(kube: Kube) -> tuple[str, str]:
    """The namespace's Secret-hash key (a new one when it has none) and a problem, if any.

    An unreachable cluster or an unusable context gets a new key and no problem here: the
    context guard refuses the deploy and says why. An error the API server answered (403)
    is a manifests problem.
    """
    try:
        key = secret_hash.key_of(kube.get("Secret", secret_hash.KEY_SECRET))
    except ClusterUnreachable:
        return secret_hash.new_key(), ""
    except PeriphError as exc:
        if getattr(exc, "status", None) is None:
            # Not an answer of the API server (no such context, no kubeconfig): the
            # context guard refuses the deploy and says why, once.
            return secret_hash.new_key(), ""
        return secret_hash.new_key(), (
            f"Secret/{secret_hash.KEY_SECRET}: cannot read the Secret-hash key: {exc.message}"
        )
    return key or secret_hash.new_key(), ""
