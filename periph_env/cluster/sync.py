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
chown), as ``docker compose watch`` leaves them.

A ``rebuild`` plan builds, pushes and rolls that one Deployment (``cluster.rebuild``):
notes say ``built``, ``pushed``, the line ends ``rebuilt +Xs → serving +Ys``.

A pod replaced mid-session (deleted, evicted, crashed, rolled by someone else) starts from
its image, without what this session synced. So every service keeps a record of the
files synced into it (container path -> host path, or deleted) and the pod they went to;
when the Ready pod of a service is another one (``catch_up``, polled by the watcher, and
before any batch), that pod first gets ONE tar of the record (and one ``rm`` of what was
deleted), reported as its own reload, serving when its marker shows. A rebuild starts the
record afresh for files inside the service's build context: the new image has them.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable
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
        rebuild: Any = None,
        contexts: dict[str, Path] | None = None,
    ) -> None:
        """``compiled_rules``: ``rules.compile_rules`` output; ``markers``: service ->
        (marker regex, timeout); ``ready_pod(service)`` -> the pod to sync into, or None;
        ``rebuild(service, note)`` -> ``rebuild.Rolled`` (None: rebuilds are refused);
        ``contexts``: service -> its build context (what a rebuild puts in the image)."""
        self.kube = kube
        self.namespace = namespace
        self.rules = compiled_rules
        self.markers = markers
        self.ready_pod = ready_pod
        self.rebuild = rebuild
        self.contexts = contexts or {}
        # Files synced this session: service -> container path -> host path (None:
        # deleted), and the pod that has them (a replaced pod gets the record first).
        self.synced: dict[str, dict[str, Path | None]] = {}
        self.pods: dict[str, str] = {}
        # Hears a reload's steps before it ends (``done`` False, ``note`` set).
        self.on_progress: Callable[[ReloadEvent], None] = lambda _event: None

    @classmethod
    def for_stack(
        cls, stack: Any, kube: Any, namespace: str, ready_pod: Any, rebuild: Any = None
    ) -> PodSync:
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
        contexts = {s: specs[s].build_context for s in specs if specs[s].build_context}
        return cls(kube, namespace, compiled, markers, ready_pod, rebuild, contexts)

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
            event.trigger = str(plan.trigger) if plan.trigger else None
            return self._rebuild(event)
        pod = self.ready_pod(plan.service)
        if pod is None:
            return _end(event, False, error=f"no Ready pod of {plan.service} to sync into")
        changes: dict[str, Path | None] = {}
        if self.pods.get(plan.service) != pod:
            # A pod this session has not synced into: what it missed goes in the same tar.
            changes.update(self.synced.get(plan.service, {}))
        changes.update({target: None for target in plan.deletes})
        changes.update({target: host for host, target in plan.copies})
        return self._send(event, pod, changes)

    def catch_up(self) -> list[ReloadEvent]:
        """A finished reload per service whose Ready pod is not the one this session
        synced into: that pod got the session's record first (see the module docstring)."""
        out = []
        for service, record in list(self.synced.items()):
            pod = self.ready_pod(service)
            if pod is None or pod == self.pods.get(service) or not record:
                continue
            files = sorted(str(h) for h in record.values() if h is not None)
            event = ReloadEvent(service, "sync", files, time.time(), trigger=f"new pod {pod}")
            self.on_progress(_note(event, f"new pod {pod}: sending {len(record)} path(s) "
                                   "synced this session"))  # fmt: skip
            out.append(self._send(event, pod, dict(record)))
        return out

    def _send(self, event: ReloadEvent, pod: str, changes: dict[str, Path | None]):
        """Deletions then one tar into ``pod``; the reload ends when its marker shows."""
        service = event.service
        deletes = [target for target, host in changes.items() if host is None]
        # By container path: a directory before what is inside it (its mode applies).
        copies = sorted(
            ((host, target) for target, host in changes.items() if host is not None),
            key=lambda c: c[1],
        )
        try:
            if deletes:
                self._exec(pod, service, ["rm", "-rf", "--", *deletes])
            if copies:
                archive = sync_mod.build_tar(copies, ids=None)
                command = ["sh", "-c", f"head -c {len(archive)} | tar x -o -m -C / -f -"]
                self._exec(pod, service, command, stdin=archive)
        except Exception as exc:  # the pod went away or refused: the event says so
            return _end(event, False, error=self.kube.mask(f"sync into {pod} failed: {exc}"))
        self._record(service, pod, changes)
        event.synced_at = time.time()
        marker = self.markers.get(service)
        if marker is None or event.kind != "sync":
            event.serving_at = event.synced_at
            return _end(event, True)
        pattern, timeout = marker
        found = self._wait_marker(pod, service, re.compile(pattern), event.seen_at, timeout)
        if found is None:
            return _end(event, True, note=no_marker_note(timeout, pattern))
        event.serving_at = found
        return _end(event, True)

    def _record(self, service: str, pod: str, changes: dict[str, Path | None]) -> None:
        record = self.synced.setdefault(service, {})
        for target, host in changes.items():
            if host is None:  # `rm -rf` of a directory took what was under it too
                for inner in [k for k in record if k.startswith(target.rstrip("/") + "/")]:
                    del record[inner]
            record[target] = host
        self.pods[service] = pod

    def _rebuild(self, event: ReloadEvent) -> ReloadEvent:
        service = event.service
        if self.rebuild is None:
            return _end(event, False, error="rebuild rules are not run here: "
                        "`periph up --cluster` builds, pushes and rolls it")  # fmt: skip
        try:
            rolled = self.rebuild(service, lambda text: self.on_progress(_note(event, text)))
        except Exception as exc:  # a failed build or rollout: the old pod keeps serving
            message = getattr(exc, "message", None) or str(exc)
            return _end(event, False, error=self.kube.mask(f"rebuild failed: {message}"))
        event.restarted_at = rolled.pushed_at
        event.serving_at = rolled.serving_at
        context = self.contexts.get(service)
        record = self.synced.get(service, {})
        for target, host in list(record.items()):
            # In the new image (built from the local tree): no need to send it again.
            if host is not None and context is not None and host.is_relative_to(context):
                del record[target]
        if rolled.pod is not None and not record:
            # Files synced from outside the build context are not in the image: the pod
            # stays "not synced into", so the next catch-up sends them.
            self.pods[service] = rolled.pod
        note = None if rolled.rolled else "image unchanged: nothing rolled"
        return _end(event, True, note=note)

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
                at = log_timestamp(stamp)
                if at is not None and at >= after and pattern.search(rest):
                    return at
            time.sleep(POLL)
        return None


def log_timestamp(text: str) -> float | None:
    """A pod log line's RFC 3339 timestamp (nanoseconds cut to what Python reads), as
    epoch seconds."""
    match = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$", text)
    if match is None:
        return None
    zone = "+00:00" if match[3] == "Z" else match[3]
    fraction = (match[2] or ".0")[:7]
    return datetime.fromisoformat(match[1] + fraction + zone).timestamp()


def _note(event: ReloadEvent, text: str) -> ReloadEvent:
    """A copy of ``event`` in progress, saying ``text`` (the CLI prints it as a note)."""
    from dataclasses import replace

    return replace(event, note=text, done=False)


def _end(event: ReloadEvent, ok: bool, error: str | None = None, note: str | None = None):
    event.ok = ok
    event.error = error
    event.note = note
    event.done = True
    return event
