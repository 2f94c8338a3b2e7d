"""``periph deploy ENV --canary``: one pod of the new backend beside the old ones, judged
against them, then promoted (the normal rollout) or aborted (the canary removed).

No mesh and no Prometheus: the canary is its own Deployment whose pods the backend Service
selects like the old ones (``canary_judge``), and the watch scrapes the canary's and the old
pods' ``/metrics`` through the API server's pod proxy, as ``periph verify`` does. The engine
calls ``stage`` after the migrations and before any Deployment changes; on abort nothing but
the canary was created, and it is gone before the stage returns. On promote the engine rolls
the Deployments out as usual and then calls ``remove``.

Traffic leaves an aborted canary as fast as Kubernetes allows: the Deployment is deleted and
its pods too (a deleted pod leaves the Service's endpoints at once, its grace period still
serving what it had in flight), in the same scrape round that crossed the threshold.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Generator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from periph_env.deploy import canary_judge as judge
from periph_env.deploy import verify, verify_rate
from periph_env.deploy.events import CanarySample, Event, Note, RolloutVerdict, Step
from periph_env.deploy.kube import Kube
from periph_env.deploy.manifests import Obj
from periph_env.deploy.verify_config import VerifyConfig

STEP = "canary"


@dataclass
class Result:
    """How the canary ended: ``promote``, why, and the figures for the history record."""

    promote: bool
    reason: str
    name: str
    selector: str
    record: dict[str, Any] = field(default_factory=dict)


def remove(kube: Kube, name: str, selector: str) -> list[str]:
    """Delete the canary Deployment and its pods now (not when the garbage collector gets
    to them): a deleted pod leaves the Service's endpoints at once. The pods deleted."""
    kube.delete("Deployment", name)
    pods = [p["metadata"]["name"] for p in kube.list("Pod", selector)]
    for pod in pods:
        kube.delete("Pod", pod)
    return pods


def remove_leftovers(kube: Kube, environment: str) -> list[str]:
    """Delete canaries a deploy left behind (its process killed before it could end, a lost
    machine): one would otherwise keep taking its share of the traffic. The names removed."""
    from periph_env.deploy.manifests import ENV_LABEL

    removed = []
    for obj in kube.list("Deployment", f"{ENV_LABEL}={environment}"):
        if judge.is_canary(obj):
            name = obj["metadata"]["name"]
            labels = (obj.get("spec") or {}).get("selector", {}).get("matchLabels") or {}
            remove(kube, name, ",".join(f"{k}={v}" for k, v in sorted(labels.items())))
            removed.append(name)
    return removed


def _rendered(stack: list[Obj], deployment: str) -> Obj | None:
    for obj in stack:
        if obj.get("kind") == "Deployment" and obj["metadata"]["name"] == deployment:
            return obj
    return None


def stage(
    run: Any,
    stack: list[Obj],
    kube: Kube,
    config: VerifyConfig,
    window: float,
    timeout: float,
) -> Generator[Event, None, Result]:
    """Start the canary, wait for it to be Ready, watch it against the old pods for
    ``window`` seconds; remove it on abort. ``run``: the deploy (its ``sleep`` and stop)."""
    from periph_env.deploy.session import watch

    yield Step(STEP)
    rendered = _rendered(stack, config.deployment)
    if rendered is None:
        return Result(False, f"the render has no Deployment/{config.deployment}", "", "")
    obj = judge.canary_deployment(rendered)
    name, selector = obj["metadata"]["name"], judge.canary_selector(rendered)
    # The old pods: the current ReplicaSet's, read before the canary exists.
    baseline_selector = verify.pod_selector(kube, config.deployment)
    old = len(verify.running_pods(kube, baseline_selector))
    # Whatever ends the deploy (an error, ctrl+c, a stop), the canary does not outlive it.
    run.on_end(lambda: _quietly_remove(kube, name, selector))
    kube.apply([obj])
    yield Note(
        f"{name}: 1 pod of the new {config.deployment} beside {old} old pod(s), about "
        f"1/{old + 1} of the traffic; {window:.0f}s watch (5xx above "
        f"{config.max_error_ratio:.1%} and above the old pods' aborts)"
    )
    ready = True
    for event in watch(kube, [name], timeout, run=run):
        if isinstance(event, RolloutVerdict) and not event.ok:
            ready, why = False, event.message
        yield event
    if not ready:
        remove(kube, name, selector)
        reason = f"the canary pod did not become ready: {why}"
        return Result(False, reason, name, selector, {"outcome": "aborted", "reason": reason})
    result = yield from _watch(run, kube, config, window, name, selector, baseline_selector)
    return result


def _quietly_remove(kube: Kube, name: str, selector: str) -> None:
    with contextlib.suppress(Exception):  # a safety net: the deploy's ending says the rest
        remove(kube, name, selector)


def _watch(
    run: Any,
    kube: Kube,
    config: VerifyConfig,
    window: float,
    name: str,
    selector: str,
    baseline_selector: str,
) -> Generator[Event, None, Result]:
    """Scrape the canary and the old pods every ``scrape_interval`` until decided."""
    canary = verify_rate.RateTracker(status_label=config.status_label)
    baseline = verify_rate.RateTracker(status_label=config.status_label)
    restarts = verify_rate.RestartTracker()
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=4) as pool:
        while True:
            elapsed = time.monotonic() - started
            pods = {
                which: [p for p in verify.running_pods(kube, sel) if p.status.pod_ip]
                for which, sel in (("canary", selector), ("baseline", baseline_selector))
            }
            names = [p.metadata.name for group in pods.values() for p in group]
            scraped = dict(
                zip(
                    names,
                    pool.map(lambda n: verify.scrape_pod(kube, config, n), names),
                    strict=True,
                )
            )
            for which, tracker in (("canary", canary), ("baseline", baseline)):
                tracker.observe(
                    {p.metadata.name: scraped[p.metadata.name] for p in pods[which]
                     if scraped[p.metadata.name] is not None}
                )  # fmt: skip
            count = restarts.observe(
                {p.metadata.name: verify.pod_restarts(p) for p in pods["canary"]}
            )
            decision = judge.decide(
                canary.totals, baseline.totals, count,
                max_ratio=config.max_error_ratio, min_requests=config.min_requests,
                max_restarts=config.max_restarts, final=elapsed >= window,
            )  # fmt: skip
            if not pods["canary"] and decision.promote is not False:
                # Evicted or deleted by someone: nothing left to judge, nothing to promote on.
                decision = judge.Decision(False, f"the {name} pod is gone")
            if decision.promote is False:
                # Traffic off the canary first, in this round: then say so.
                removed = remove(kube, name, selector)
            c, b = canary.totals, baseline.totals
            yield CanarySample(
                round(elapsed, 1), window, c.requests, c.errors, c.ratio, b.requests, b.errors,
                b.ratio, config.max_error_ratio, count, decision.promote is False,
                decision.reason or judge.figures(c, b),
            )  # fmt: skip
            if decision.promote is not None:
                break
            run.sleep(max(0.0, min(config.scrape_interval, window - elapsed)))
    outcome = "promoted" if decision.promote else "aborted"
    record = judge.as_record(outcome, decision, c, b, count, window, config.max_error_ratio)
    if not decision.promote:
        yield Note(f"{name} removed ({', '.join(removed) or 'no pod left'}); nothing else changed")
    return Result(bool(decision.promote), decision.reason, name, selector, record)
