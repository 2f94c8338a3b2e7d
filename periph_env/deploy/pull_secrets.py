"""The registry pull Secrets the rendered pods name must exist before a deploy.

The manifests name ``imagePullSecrets`` (``peripheral-registry``): a docker-registry
Secret the maintainer creates once per namespace (docs/deploy-runbook.md). Without it
every pod of the deploy would sit in ImagePullBackOff; this guard says so before anything
changes. Only names are read: a Secret's content is never fetched.
"""

from __future__ import annotations

from collections.abc import Iterable

from periph_env.deploy.events import GuardResult
from periph_env.deploy.kube import Kube
from periph_env.deploy.manifests import Obj, pod_spec

GUARD = "pull-secrets"


def pull_secret_names(objs: Iterable[Obj]) -> dict[str, list[str]]:
    """Pull Secret name -> the ``Kind/name`` of the workloads naming it."""
    names: dict[str, list[str]] = {}
    for obj in objs:
        spec = pod_spec(obj) or {}
        for ref in spec.get("imagePullSecrets") or []:
            if ref.get("name"):
                reader = f"{obj.get('kind')}/{obj.get('metadata', {}).get('name')}"
                names.setdefault(ref["name"], []).append(reader)
    return names


def _namespace_exists(kube: Kube) -> bool:
    proc = kube.run("get", "namespace", kube.namespace, "-o", "name", check=False, namespaced=False)
    return proc.returncode == 0 and bool(proc.stdout.strip())


def pull_secret_guard(kube: Kube, objs: Iterable[Obj]) -> GuardResult:
    """Refuse when a pull Secret the pods name is missing from the namespace."""
    wanted = pull_secret_names(objs)
    if not wanted:
        return GuardResult(GUARD, True, "no imagePullSecrets named")
    proc = kube.run(
        "get", "secrets", "--ignore-not-found", "-o", "name", *sorted(wanted), check=False
    )
    present = {line.split("/", 1)[-1] for line in proc.stdout.split() if line}
    missing = sorted(set(wanted) - present)
    if proc.returncode != 0 and not missing:
        missing = sorted(wanted)
    if missing:
        readers = "; ".join(f"{n} (named by {', '.join(sorted(wanted[n]))})" for n in missing)
        create = (
            f"kubectl -n {kube.namespace} create secret generic {missing[0]} "
            "--type=kubernetes.io/dockerconfigjson "
            "--from-file=.dockerconfigjson=<docker config with the registry's auth> "
            "(docs/deploy-runbook.md)"
        )
        # A first deploy: the Secret can only be created once the namespace exists, so
        # say which comes first (only looked up on this failing path).
        if proc.returncode == 0 and not _namespace_exists(kube):
            return GuardResult(
                GUARD,
                False,
                f"namespace {kube.namespace} does not exist yet, so it lacks pull Secret(s) "
                f"{readers}",
                hint=(
                    "create the namespace first (kubectl apply --server-side -k "
                    f"k8s/overlays/<env>/persistent), then: {create}"
                ),
            )
        return GuardResult(
            GUARD, False, f"namespace {kube.namespace} lacks pull Secret(s) {readers}", hint=create
        )
    return GuardResult(GUARD, True, f"pull Secret(s) present: {', '.join(sorted(wanted))}")
