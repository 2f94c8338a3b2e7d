"""The deploy's verify stage, ``periph verify ENV``, and the monitoring objects' apply.

``deploy(..., Options(verify=True))`` calls ``stage`` after a successful rollout; a bad
outcome fails the deploy (and, with ``auto_rollback``, returns the Deployments to their
previous revision: the engine's own rollback path). ``verify_environment`` runs the same
checks and watch on whatever is deployed now, without touching it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

from periph_env.common.config import CONFIG_NAME, load
from periph_env.deploy import verify, verify_config
from periph_env.deploy.events import Event, GuardResult, Note, Step
from periph_env.deploy.kube import Kube
from periph_env.deploy.manifests import Obj
from periph_env.deploy.runs import Ending, OperationRun, Work
from periph_env.deploy.target import Target
from periph_env.errors import PeriphError

MONITORING_DIR = "k8s/monitoring"
# The Prometheus Operator's rule kind; without it a PrometheusRule cannot be applied.
RULES_CRD = "prometheusrules.monitoring.coreos.com"


def config_for(target: Target) -> verify_config.VerifyConfig:
    """The verify settings of ``target`` from periph.toml (and its per-user overrides)."""
    return verify_config.from_config(load(target.root), target.name, str(target.root / CONFIG_NAME))


def config_guard(target: Target) -> GuardResult:
    """With ``--verify``: the ``[verify]`` settings are readable (checked before deploying,
    not after the rollout)."""
    try:
        config = config_for(target)
    except PeriphError as exc:
        return GuardResult("verify-config", False, exc.message, exc.hint)
    window = f"{config.watch_window:.0f}s watch"
    return GuardResult("verify-config", True, f"{len(config.checks)} smoke check(s), {window}")


def stage(
    target: Target,
    kube: Kube,
    window: float | None,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[Event]:
    """Checks and watch after a rollout; returns ``verify.Outcome``.

    ``sleep`` waits between scrapes (a run's ``sleep``: a stop request ends the watch).
    """
    config = config_for(target)
    window = config.watch_window if window is None else window
    yield Note(
        f"{len(config.checks)} smoke check(s), then {window:.0f}s error-rate watch of "
        f"{config.deployment}'s new pods (5xx above {config.max_error_ratio:.1%} fails)"
    )
    outcome = yield from verify.run(kube, config, window, sleep=sleep)
    return outcome


class VerifyRun(OperationRun):
    """``periph verify ENV``: the checks and the watch on what is deployed; changes nothing
    and records nothing."""

    action = "verify"

    def __init__(
        self, root: str | Path, environment: str, window: float | None = None, *, wait: bool = False
    ) -> None:
        super().__init__(root, environment)
        self.window, self.wait = window, wait

    def work(self) -> Work:
        """The verify stage on its own; ``verified`` or ``failed`` with the outcome.

        Holds the environment's lock: a deploy or rollback under way would make it judge a
        moving target (refused, exit 2, while one runs; ``wait`` waits for it)."""
        session = self.open()
        yield from self.hold_lock("verify", wait=self.wait, create_namespace=False)
        yield Step("verify")
        outcome = yield from stage(session.target, session.kube, self.window, sleep=self.sleep)
        return Ending(
            "verified" if outcome.ok else "failed",
            outcome.reason or "checks passed, error rate within the threshold",
            outcome.as_record(),
        )


def verify_environment(
    root: str | Path, environment: str, window: float | None = None, *, wait: bool = False
) -> Iterator[Event]:
    """``periph verify ENV``: the events of a ``VerifyRun``; ends Finished."""
    return VerifyRun(root, environment, window, wait=wait).events()


def has_crd(kube: Kube, name: str = RULES_CRD) -> bool:
    """Whether the cluster serves the CustomResourceDefinition ``name``."""
    from periph_env.deploy.kube_reach import ClusterUnreachable

    try:
        return kube.get("CustomResourceDefinition", name) is not None  # client: no process
    except ClusterUnreachable:
        raise
    except PeriphError:  # not allowed to read CRDs (RBAC): as if there were none
        return False


def apply_monitoring(kube: Kube, root: Path, rendered: list[Obj] | None = None) -> Iterator[Event]:
    """Apply ``k8s/monitoring`` (alert rules, dashboard) when the cluster has the CRDs;
    ``rendered``: its objects when already rendered with the overlay (else rendered here).

    Not labelled as a periph-managed stack object: ``--prune`` and the change summary leave
    it alone, and a cluster without the Prometheus Operator gets a notice, not a failure.
    """
    directory = root / MONITORING_DIR
    if not (directory / "kustomization.yaml").is_file():
        return
    if not has_crd(kube):
        yield Note(
            f"monitoring skipped: the cluster has no {RULES_CRD} CRD (Prometheus Operator); "
            f"plain rules for other setups: {MONITORING_DIR}/alert-rules.yaml"
        )
        return
    objs = rendered if rendered is not None else kube.render(str(directory))
    kube.apply(objs)
    yield Note(
        "monitoring applied: " + ", ".join(f"{o['kind']}/{o['metadata']['name']}" for o in objs)
    )
