"""Hot reload into pods: a batch of changed files as ONE tar stream through the exec API.

The same ``develop.watch`` rules as the local stack (``stack.reload.rules.plan``: the
same ignore rules, the build context's .dockerignore, rebuild over sync) and the same
reload markers (``x-periph.reload_marker``). Per service and batch:

1. deletions: one exec of ``rm -rf -- <paths>`` (first, as Compose does);
2. copies: one exec of ``head -c <size> | tar x -C /`` with the batch's tar (the one
   ``stack.reload.sync.build_tar`` builds for containers) written to its stdin over the
   kubernetes client's websocket stream. ``head -c`` gives tar its end of input without
   relying on the exec protocol's stdin close (only v5 of it has one);
3. the reload is ``serving`` when the pod's log shows the marker after the sync began
   (the pod's log read with timestamps, polled every 0.2 s), or it ends with the same
   note as locally when the marker does not come in time.

The result is the local ``ReloadEvent`` (``seen → synced → serving``), so the CLI prints
the same line. Files land owned by the container's user (tar as a non-root user cannot
chown), as ``docker compose watch`` leaves them. A ``rebuild`` plan is reported, not run,
in this slice.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from periph_env.stack.models import ReloadEvent
from periph_env.stack.reload import rules as rules_mod
from periph_env.stack.reload import sync as sync_mod
from periph_env.stack.reload.tracker import DEFAULT_TIMEOUT, no_marker_note

POLL = 0.2


class PodSync:
    """Applies batches of changed paths to the Ready pods of a dev stack."""

    def __init__(
        self,
        kube: Any,
        namespace: str,
        compiled_rules: list[Any],
        markers: dict[str, tuple[str, float]],
        ready_pod: Any,
    ) -> None:
        """``compiled_rules``: ``rules.compile_rules`` output; ``markers``: service ->
        (marker regex, timeout); ``ready_pod(service)`` -> the pod to sync into, or None."""
        self.kube = kube
        self.namespace = namespace
        self.rules = compiled_rules
        self.markers = markers
        self.ready_pod = ready_pod

    @classmethod
    def for_stack(cls, stack: Any, kube: Any, namespace: str, ready_pod: Any) -> PodSync:
        """The watch rules and markers of ``stack``'s compose file."""
        from periph_env.stack.reload import patterns

        model = stack.model
        specs = model.services
        ignores = {
            s: patterns.dockerignore(specs[s].build_context, specs[s].dockerfile)
            for s in specs
            if specs[s].build_context is not None
        }
        compiled = rules_mod.compile_rules(model.rules(), ignores)
        markers = {
            name: (spec.reload_marker, spec.reload_timeout or DEFAULT_TIMEOUT)
            for name, spec in specs.items()
            if spec.reload_marker
        }
        return cls(kube, namespace, compiled, markers, ready_pod)

    def roots(self) -> tuple[list[Path], list[Path]]:
        """(recursive, flat) directories a file watcher must watch."""
        return rules_mod.watch_roots(self.rules)

    def apply(self, paths: Iterable[Path], seen_at: float | None = None) -> list[ReloadEvent]:
        """Sync one batch; one finished ``ReloadEvent`` per service it touched."""
        seen_at = seen_at or time.time()
        plans = rules_mod.plan(list(paths), self.rules, Path.exists, sync_mod.walk_all)
        return [self._one(plan, seen_at) for plan in plans.values()]

    def _one(self, plan: Any, seen_at: float) -> ReloadEvent:
        files = [str(p) for p in plan.files]
        event = ReloadEvent(plan.service, plan.kind, files, seen_at)
        if plan.kind == "rebuild":
            return _end(event, False, error="rebuild rules are not run on a cluster yet: "
                        "`periph up --cluster` builds, pushes and rolls it")  # fmt: skip
        pod = self.ready_pod(plan.service)
        if pod is None:
            return _end(event, False, error=f"no Ready pod of {plan.service} to sync into")
        try:
            if plan.deletes:
                self._exec(pod, plan.service, ["rm", "-rf", "--", *plan.deletes])
            if plan.copies:
                archive = sync_mod.build_tar(plan.copies, ids=None)
                command = ["sh", "-c", f"head -c {len(archive)} | tar x -o -m -C / -f -"]
                self._exec(pod, plan.service, command, stdin=archive)
        except Exception as exc:  # the pod went away or refused: the event says so
            return _end(event, False, error=self.kube.mask(f"sync into {pod} failed: {exc}"))
        event.synced_at = time.time()
        marker = self.markers.get(plan.service)
        if marker is None or plan.kind != "sync":
            event.serving_at = event.synced_at
            return _end(event, True)
        pattern, timeout = marker
        found = self._wait_marker(pod, plan.service, re.compile(pattern), seen_at, timeout)
        if found is None:
            return _end(event, True, note=no_marker_note(timeout, pattern))
        event.serving_at = found
        return _end(event, True)

    def _exec(self, pod: str, container: str, argv: list[str], stdin: bytes | None = None):
        from kubernetes.client import ApiClient, CoreV1Api
        from kubernetes.stream import stream

        # Its own ApiClient: stream() swaps the request function of the client it gets.
        api = CoreV1Api(ApiClient(self.kube.client().configuration))
        resp = stream(
            api.connect_get_namespaced_pod_exec,
            pod,
            self.namespace,
            container=container,
            command=argv,
            stdin=stdin is not None,
            stdout=True,
            stderr=True,
            tty=False,
            _preload_content=False,
        )
        try:
            if stdin is not None:
                step = 1 << 20
                for start in range(0, len(stdin), step):
                    resp.write_stdin(stdin[start : start + step])
            resp.run_forever(timeout=120)
            code = resp.returncode
            errors = resp.read_stderr() if code else ""
        finally:
            resp.close()
        if code:
            raise RuntimeError(f"`{' '.join(argv[:3])}` exited {code}: {errors.strip()[-300:]}")

    def _wait_marker(
        self, pod: str, container: str, pattern: re.Pattern[str], after: float, timeout: float
    ) -> float | None:
        """When the marker appeared in the pod's log after ``after`` (None: not in time)."""
        from kubernetes.client import CoreV1Api

        core = CoreV1Api(self.kube.client())
        deadline = time.time() + timeout
        while time.time() < deadline:
            since = max(1, int(time.time() - after) + 2)
            try:
                text = core.read_namespaced_pod_log(
                    pod,
                    self.namespace,
                    container=container,
                    since_seconds=since,
                    timestamps=True,
                    _request_timeout=10,
                )
            except Exception:
                text = ""
            for line in str(text).splitlines():
                stamp, _, rest = line.partition(" ")
                at = _timestamp(stamp)
                if at is not None and at >= after and pattern.search(rest):
                    return at
            time.sleep(POLL)
        return None


def _timestamp(text: str) -> float | None:
    """An RFC 3339 log timestamp (nanoseconds cut to what Python reads) as epoch seconds."""
    match = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$", text)
    if match is None:
        return None
    zone = "+00:00" if match[3] == "Z" else match[3]
    fraction = (match[2] or ".0")[:7]
    return datetime.fromisoformat(match[1] + fraction + zone).timestamp()


def _end(event: ReloadEvent, ok: bool, error: str | None = None, note: str | None = None):
    event.ok = ok
    event.error = error
    event.note = note
    event.done = True
    return event
