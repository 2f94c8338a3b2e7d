"""After the rollout: smoke checks and the error-rate watch, through the API server only.

No Prometheus, no port-forward, no Ingress: the checks GET each Service through the API
server's service proxy (``/api/v1/namespaces/NS/services/NAME:PORT/proxy/PATH``) and the
watch scrapes the new backend pods' ``/metrics`` through the pod proxy, so it works from any
machine whose kubeconfig can reach the cluster. The arithmetic is in ``verify_rate``.

``run`` yields ``VerifyCheck`` per check, ``ErrorRateSample`` per scrape round and one
``VerifyVerdict``; it returns an ``Outcome`` for the deploy's history entry.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from periph_env.deploy import verify_rate
from periph_env.deploy.events import ErrorRateSample, Event, VerifyCheck, VerifyVerdict
from periph_env.deploy.kube import Kube
from periph_env.deploy.migrate import mask
from periph_env.deploy.verify_config import Check, VerifyConfig
from periph_env.errors import PeriphError

REQUEST_TIMEOUT = 10.0
BODY_IN_MESSAGE = 160  # characters of an unexpected answer shown to the user


@dataclass
class Outcome:
    """What verification found, as stored in the deploy's history entry."""

    ok: bool
    reason: str = ""
    checks: list[dict[str, Any]] = field(default_factory=list)
    error_rate: dict[str, Any] = field(default_factory=dict)

    def as_record(self) -> dict[str, Any]:
        """Plain data for ``history.Record.verification``."""
        return {
            "ok": self.ok,
            "reason": self.reason,
            "checks": self.checks,
            "error_rate": self.error_rate,
        }


def proxy_get(kube: Kube, path: str, timeout: float = REQUEST_TIMEOUT) -> tuple[int | None, str]:
    """GET an API-server path (a service or pod proxy): ``(status, body)``; status None when
    the API server itself could not be reached."""
    client = kube.client()
    try:
        # param_serialize adds the credentials; the path goes in as is (a path parameter
        # would have its slashes quoted). Non-2xx answers come back as responses, not raised.
        method, url, headers, _body, _post = client.param_serialize(
            "GET", path, header_params={"Accept": "*/*"}, auth_settings=["BearerToken"]
        )
        response = client.call_api(method, url, header_params=headers, _request_timeout=timeout)
        data = response.read() or b""
    except PeriphError as exc:  # the client's translation: the endpoint and what happened
        return None, exc.message
    except Exception as exc:  # anything else the proxied answer brings: say what it was
        return None, f"{type(exc).__name__}: {exc}"
    return response.status, data.decode(errors="replace")


def service_path(namespace: str, check: Check) -> str:
    """The service-proxy path of a check."""
    return f"/api/v1/namespaces/{namespace}/services/{check.service}:{check.port}/proxy{check.path}"


def pod_path(namespace: str, pod: str, port: str, path: str) -> str:
    """The pod-proxy path of ``pod:port/path``."""
    return f"/api/v1/namespaces/{namespace}/pods/{pod}:{port}/proxy{path}"


def _status_message(body: str) -> str:
    """The API server's own reason (a Status object: "no endpoints available ..."), or
    the body as it came."""
    try:
        data = json.loads(body)
    except ValueError:
        return body
    if isinstance(data, dict) and data.get("kind") == "Status":
        return str(data.get("message") or body)
    return body


def run_check(kube: Kube, check: Check) -> VerifyCheck:
    """One smoke check, with the reason when it fails (masked, shortened)."""
    started = time.monotonic()
    status, body = proxy_get(kube, service_path(kube.namespace, check))
    seconds = round(time.monotonic() - started, 2)
    target = f"{check.service}:{check.port}{check.path}"
    ok = status == check.status
    if ok:
        message = f"{status}"
    elif status is None:
        message = f"API server unreachable: {body}"
    else:
        snippet = " ".join(_status_message(body).split())[:BODY_IN_MESSAGE]
        message = f"answered {status}, expected {check.status}" + (
            f": {snippet}" if snippet else ""
        )
    return VerifyCheck(check.name, target, ok, status, mask(message, kube.secrets), seconds)


def run_checks(kube: Kube, checks: tuple[Check, ...]) -> Iterator[VerifyCheck]:
    """Every check side by side; results in the configured order."""
    if not checks:
        return
    with ThreadPoolExecutor(max_workers=min(8, len(checks))) as pool:
        futures = [pool.submit(run_check, kube, c) for c in checks]
        for future in futures:
            yield future.result()


def pod_selector(kube: Kube, deployment: str) -> str:
    """The label selector of ``deployment``'s current ReplicaSet (its new pods only)."""
    from periph_env.deploy import rollback

    dep = kube.json("get", "deployment", deployment)
    labels = (dep.get("spec", {}).get("selector") or {}).get("matchLabels") or {}
    parts = [f"{k}={v}" for k, v in sorted(labels.items())]
    template = rollback.template_hashes(kube, [deployment]).get(deployment)
    if template:
        parts.append(f"pod-template-hash={template}")
    return ",".join(parts)


def running_pods(kube: Kube, selector: str) -> list[Any]:
    """The pods matching ``selector`` that are not being deleted (client objects)."""
    from kubernetes import client as k8s

    pods = k8s.CoreV1Api(kube.client()).list_namespaced_pod(
        kube.namespace, label_selector=selector, _request_timeout=REQUEST_TIMEOUT
    )
    return [p for p in pods.items if p.metadata.deletion_timestamp is None]


def pod_restarts(pod: Any) -> int:
    """Container restarts of one pod (client object), summed over its containers."""
    return sum(s.restart_count or 0 for s in (pod.status.container_statuses or []))


def scrape_pod(
    kube: Kube, config: VerifyConfig, pod: str
) -> dict[verify_rate.SeriesKey, float] | None:
    """``config.metric``'s series from ``pod``'s ``/metrics`` (pod proxy); None: no answer."""
    path = pod_path(kube.namespace, pod, config.metrics_port, config.metrics_path)
    status, body = proxy_get(kube, path, timeout=min(REQUEST_TIMEOUT, config.scrape_interval * 2))
    if status != 200:
        return None
    return verify_rate.parse_counter(body, config.metric)


def watch_error_rate(
    kube: Kube,
    config: VerifyConfig,
    window: float,
    *,
    started: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[Event]:
    """Scrape the new pods every ``scrape_interval`` until ``window`` seconds after
    ``started`` (default: now); stop early on a bad ratio or restarts. Returns the final
    ``(Judgement, Totals, restarts)``."""
    started = time.monotonic() if started is None else started
    selector = pod_selector(kube, config.deployment)
    rates = verify_rate.RateTracker(status_label=config.status_label)
    restarts = verify_rate.RestartTracker()
    judgement = verify_rate.Judgement(False)
    with ThreadPoolExecutor(max_workers=4) as pool:
        while True:
            elapsed = time.monotonic() - started
            pods = [p for p in running_pods(kube, selector) if p.status.pod_ip]
            names = [p.metadata.name for p in pods]
            scraped = dict(
                zip(names, pool.map(lambda n: scrape_pod(kube, config, n), names), strict=True)
            )
            answered = {n: s for n, s in scraped.items() if s is not None}
            rates.observe(answered)
            count = restarts.observe({p.metadata.name: pod_restarts(p) for p in pods})
            totals = rates.totals
            judgement = verify_rate.judge(
                totals,
                count,
                max_ratio=config.max_error_ratio,
                min_requests=config.min_requests,
                max_restarts=config.max_restarts,
            )
            silent = sorted(set(names) - set(answered))
            message = verify_rate.describe(totals) + (
                f"; no /metrics from {', '.join(silent)}" if silent else ""
            )
            yield ErrorRateSample(
                round(elapsed, 1), window, len(answered), totals.requests, totals.errors,
                totals.ratio, config.max_error_ratio, count, judgement.failed,
                judgement.reason or message,
            )  # fmt: skip
            if judgement.failed or elapsed >= window:
                break
            remaining = window - (time.monotonic() - started)
            sleep(max(0.0, min(config.scrape_interval, remaining)))
    if not judgement.failed and not rates.last:
        judgement = verify_rate.Judgement(
            True, f"no {config.metric} from any {config.deployment} pod at :{config.metrics_port}"
            f"{config.metrics_path}",
        )  # fmt: skip
    return judgement, rates.totals, restarts.restarts


def run(
    kube: Kube,
    config: VerifyConfig,
    window: float | None = None,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[Event]:
    """Smoke checks, then (if they pass and ``window`` > 0) the error-rate watch.

    Yields events; returns the ``Outcome``. A failing check stops before the watch.
    ``sleep`` waits between scrapes (a run's ``sleep`` ends the watch on a stop request).
    """
    window = config.watch_window if window is None else window
    # The window counts from the end of the rollout, checks included: verification adds
    # the window to a deploy, not the window plus the checks.
    started = time.monotonic()
    outcome = Outcome(ok=True)
    failed = []
    for result in run_checks(kube, config.checks):
        outcome.checks.append(
            {"name": result.name, "target": result.target, "ok": result.ok,
             "status": result.status, "message": result.message}
        )  # fmt: skip
        if not result.ok:
            failed.append(f"{result.name} ({result.target}) {result.message}")
        yield result
    if failed:
        outcome.ok = False
        outcome.reason = "smoke check failed: " + "; ".join(failed)
        yield VerifyVerdict(False, outcome.reason)
        return outcome
    if window > 0:
        judgement, totals, restarts = yield from watch_error_rate(
            kube, config, window, started=started, sleep=sleep
        )
        outcome.error_rate = {
            "window": window,
            "requests": totals.requests,
            "errors": totals.errors,
            "ratio": totals.ratio,
            "threshold": config.max_error_ratio,
            "restarts": restarts,
        }
        if judgement.failed:
            outcome.ok = False
            outcome.reason = f"error-rate watch: {judgement.reason}"
    message = outcome.reason or (
        f"{len(config.checks)} check(s) passed"
        + (f"; {verify_rate.describe(totals)} in {window:.0f}s" if window > 0 else "")
    )
    yield VerifyVerdict(outcome.ok, message)
    return outcome
