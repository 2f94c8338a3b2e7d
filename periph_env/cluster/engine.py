"""``periph up|down|ps --cluster``: the dev stack in ``peripheral-dev-<user>``.

``up`` builds the dev images as ``periph up --build`` does (compose build, the images
Compose names), tags each by its image ID (a changed image is a new tag, so the pods roll;
an unchanged one is the same tag, so nothing moves) and pushes it with the images engine,
then applies the translation (``translate``) over the deploy engine's REST client as
server-side apply, in dependency waves: a wave is applied only once every service of the
previous one is Ready (Deployment: kubectl's rollout verdict; Job: complete), as Compose
orders ``depends_on``. A crash loop or an image that cannot be pulled fails ``up`` at once
with the pod's last log lines (masked).

``down`` deletes exactly what ``up`` made: every object of the kinds the translation makes
carrying this developer's stack label, then the namespace if ``up`` created it (it carries
the label; a namespace an admin made for you is left). It waits until they are gone.

Every message goes through ``Kube.mask`` (the .env's secrets and the registry password).
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from periph_env.cluster import translate as t
from periph_env.cluster.config import ClusterSettings
from periph_env.errors import EngineError

Obj = dict[str, Any]
Progress = Callable[[str], None]
# The kinds `up` makes, in the order `down` deletes them (workloads first: no pod restarts
# against a deleted Secret).
KINDS = (
    ("Deployment", "apps/v1"),
    ("Job", "batch/v1"),
    ("Service", "v1"),
    ("Secret", "v1"),
    ("PersistentVolumeClaim", "v1"),
    ("ResourceQuota", "v1"),
    ("LimitRange", "v1"),
)
# Waiting reasons that will not fix themselves while periph waits.
FATAL = frozenset(
    {"CrashLoopBackOff", "ImagePullBackOff", "InvalidImageName", "CreateContainerConfigError"}
)
POLL = 1.0


class ClusterUpFailed(EngineError):
    """A service of the dev stack did not become Ready on the cluster."""


@dataclass(frozen=True)
class ServiceState:
    """One service as ``ps --cluster`` shows it."""

    service: str
    kind: str  # Deployment | Job
    ready: bool
    status: str  # Ready, Completed, Waiting: <reason>, ...
    pod: str | None
    restarts: int
    # For the Stack area (the rows of ``cluster.backend``): the pod's image and when its
    # container started (epoch seconds), when known.
    image: str | None = None
    started_at: float | None = None
    oom_killed: bool = False  # its container's last end was the kernel's OOM killer

    def to_json(self) -> dict[str, Any]:
        """The JSON ``ps --cluster --format json`` prints."""
        return {
            "service": self.service,
            "kind": self.kind,
            "ready": self.ready,
            "status": self.status,
            "pod": self.pod,
            "restarts": self.restarts,
        }


def _quiet(_line: str) -> None:
    pass


class ClusterStack:
    """The dev stack of one developer on one cluster."""

    def __init__(self, stack: Any, settings: ClusterSettings, notice: Progress | None = None):
        from periph_env.deploy.kube import Kube
        from periph_env.images.credentials import resolve

        self.stack = stack
        self.settings = settings
        self.credentials = resolve(settings.registry)
        password = self.credentials.password if self.credentials else ""
        self.kube = Kube(
            settings.context,
            settings.namespace,
            secrets=[*stack.secrets(), password],
            notice=notice,
        )

    @property
    def namespace(self) -> str:
        return self.settings.namespace

    @property
    def user(self) -> str:
        return self.settings.user

    # -- images --------------------------------------------------------------------------

    def push_images(self, config: Obj, progress: Progress = _quiet) -> dict[str, str]:
        """Build every service with a ``build:``, push every image a service runs;
        compose image name -> pushed reference."""
        from periph_env.images.engine import Engine

        services = t.services(config)
        buildable = [n for n, raw in services.items() if raw.get("build")]
        if buildable:
            progress(f"building {', '.join(buildable)}")
            self.stack.build(buildable, progress)
        engine = Engine()
        out: dict[str, str] = {}
        for name, raw in services.items():
            image = raw.get("image")
            if not image or image in out:
                continue
            out[image] = self.push_image(name, image, progress, engine)
        return out

    def push_image(self, name: str, image: str, progress: Progress = _quiet, engine=None) -> str:
        """Tag the local ``image`` (service ``name``) by its image ID and push it; the
        pushed reference (an unchanged image is the same reference: nothing rolls)."""
        from periph_env.images.engine import Engine, RetryPolicy

        engine = engine or Engine()
        image_id = engine.image_id(image)
        if image_id is None:
            raise EngineError(
                f"service {name!r}: image {image} is not in the local engine",
                hint="it needs a `build:` in compose/compose.yaml, or `docker pull` it",
            )
        repo = image.rsplit("/", 1)[-1].split(":", 1)[0]
        slug = t.user_slug(self.user)
        ref = f"{self.settings.registry}/{repo}:dev-{slug}-{image_id.split(':')[-1][:12]}"
        engine.tag(image_id, [ref])
        progress(f"pushing {ref}")
        for _event in engine.push(name, ref, self.credentials, RetryPolicy()):
            pass
        return ref

    # -- objects -------------------------------------------------------------------------

    def target(self, images: dict[str, str]) -> t.Target:
        """Where the translation puts the stack (the settings, the pushed images)."""
        s = self.settings
        return t.Target(
            user=s.user,
            namespace=s.namespace,
            images=images,
            storage=s.storage,
            storage_class=s.storage_class,
            volume_size=s.volume_size,
            node_selector=s.node_selector,
            tolerations=s.tolerations,
            pull_secret=t.PULL_SECRET if self.credentials else None,
            quota=s.quota,
        )

    def pull_secret(self) -> Obj | None:
        """The registry login pods pull with (a ``dockerconfigjson`` Secret), if any."""
        if self.credentials is None:
            return None
        from periph_env.images.credentials import registry_host

        user, password = self.credentials.username, self.credentials.password
        auth = base64.b64encode(f"{user}:{password}".encode()).decode()
        docker = {"auths": {registry_host(self.settings.registry): {"auth": auth}}}
        encoded = base64.b64encode(json.dumps(docker).encode()).decode()
        return {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "kubernetes.io/dockerconfigjson",
            "metadata": {
                "name": t.PULL_SECRET,
                "namespace": self.namespace,
                "labels": t.labels(self.user),
            },
            "data": {".dockerconfigjson": encoded},
        }

    def objects(self, config: Obj, images: dict[str, str]) -> list[Obj]:
        """Everything ``up`` applies; the Namespace only when ``up`` owns it."""
        objs = t.translate(config, self.target(images))
        secret = self.pull_secret()
        if secret is not None:
            objs.append(secret)
        existing = self.kube.get("Namespace", self.namespace)
        if existing is not None and not _ours(existing, self.user):
            objs = [o for o in objs if o["kind"] != "Namespace"]
        return objs

    # -- up ------------------------------------------------------------------------------

    def up(self, progress: Progress = _quiet) -> list[t.Forward]:
        """Build, push, apply in waves, wait until every service is Ready; the forwards."""
        # The local `up`'s checks first: a missing .env is created, a broken one stops here
        # (masked findings) rather than as a pod that cannot start.
        self.stack.check_engine()
        self.stack.prepare_env(progress)
        password = self.credentials.password if self.credentials else ""
        self.kube.secrets = [s for s in (*self.stack.secrets(), password) if s]
        config = self.stack.config()
        t.waves(config)  # a dependency cycle fails before anything is built
        images = self.push_images(config, progress)
        objs = self.objects(config, images)
        workloads = {o["metadata"]["name"]: o for o in objs if o["kind"] in ("Deployment", "Job")}
        base = [o for o in objs if o["kind"] not in ("Deployment", "Job")]
        progress(f"applying the stack to namespace {self.namespace} ({self.settings.context})")
        self.kube.rest.apply(base)
        self._wait_service_account()
        deadline = time.monotonic() + self.settings.timeout
        for wave in t.waves(config):
            for name in wave:
                if workloads[name]["kind"] == "Job":
                    # A Job's template cannot change: the one-shot runs again, as `up` does
                    # locally (migrations are idempotent).
                    self.delete_job(name)
            self.kube.rest.apply([workloads[n] for n in wave])
            self._wait_ready(wave, workloads, deadline, progress)
        return t.forwards(config)

    def wait_rolled(
        self, services: list[str], progress: Progress = _quiet, kind: str = "Deployment"
    ) -> None:
        """Wait until each ``kind`` of ``services`` finished (a Deployment's rollout after
        a rebuild or restart, a Job's run), failing at once on a crash loop as ``up`` does."""
        deadline = time.monotonic() + self.settings.timeout
        workloads = {name: {"kind": kind} for name in services}
        self._wait_ready(services, workloads, deadline, progress)

    def _wait_service_account(self) -> None:
        """Pods of a new namespace are refused until its ``default`` ServiceAccount exists."""
        deadline = time.monotonic() + 60
        while self.kube.get("ServiceAccount", "default") is None:
            if time.monotonic() > deadline:
                raise EngineError(f"namespace {self.namespace} got no default ServiceAccount")
            time.sleep(0.2)

    def delete_job(self, name: str, timeout: float = 60) -> None:
        """Delete Job ``name`` (if there is one) and wait until it is gone."""
        if not self.kube.delete("Job", name):
            return
        deadline = time.monotonic() + timeout
        while self.kube.get("Job", name) is not None:
            if time.monotonic() > deadline:
                raise EngineError(f"Job {name} was not deleted within {timeout:.0f} s")
            time.sleep(0.2)

    def _wait_ready(
        self, wave: list[str], workloads: dict[str, Obj], deadline: float, progress: Progress
    ) -> None:
        said: dict[str, str] = {}
        pending = list(wave)
        while pending:
            for name in list(pending):
                ready, message = self._check(name, workloads[name]["kind"])
                if ready:
                    pending.remove(name)
                    progress(
                        f"{name}: ready"
                        if workloads[name]["kind"] != "Job"
                        else f"{name}: completed"
                    )
                elif message != said.get(name):
                    said[name] = message
                    progress(f"{name}: {message}")
            if pending and time.monotonic() > deadline:
                raise ClusterUpFailed(
                    f"not Ready after {self.settings.timeout:.0f}s: "
                    + "; ".join(f"{n} ({said.get(n, 'waiting')})" for n in pending),
                    hint=f"`periph ps --cluster`; `kubectl -n {self.namespace} describe pods`",
                )
            if pending:
                time.sleep(POLL)

    def _check(self, name: str, kind: str) -> tuple[bool, str]:
        """(ready, what it waits for); raises ``ClusterUpFailed`` for a fatal pod state."""
        from periph_env.deploy.verdict import deployment_verdict, pod_problems

        obj = self.kube.get(kind, name) or {}
        pods = self._pods(name)
        for pod in pods:
            for reason, message in pod_problems(pod):
                if reason in FATAL or (kind == "Job" and reason == "Failed"):
                    self._fail(name, pod, f"{reason}: {message}")
        if kind == "Job":
            status = obj.get("status") or {}
            if status.get("succeeded"):
                return True, "completed"
            backoff = (obj.get("spec") or {}).get("backoffLimit", 6)
            if (status.get("failed") or 0) > backoff:
                self._fail(name, pods[-1] if pods else None, "the job failed")
            return False, "running" if status.get("active") else "starting"
        verdict = deployment_verdict(obj) if obj else None
        if verdict is not None and verdict.done:
            return True, "ready"
        waiting = [_pod_status(p) for p in pods]
        return False, ", ".join(waiting) or (verdict.message if verdict else "not created yet")

    def _fail(self, name: str, pod: Obj | None, reason: str) -> None:
        logs = self.pod_logs(pod["metadata"]["name"]) if pod else ""
        text = f"{name} did not become Ready: {self.kube.mask(reason)}"
        if logs:
            text += "\n" + "\n".join("    " + line for line in logs.splitlines()[-20:])
        raise ClusterUpFailed(
            text, hint=f"`periph ps --cluster`; fix {name}, then `periph up --cluster`"
        )

    def _pods(self, service: str) -> list[Obj]:
        sel = f"{t.selector(self.user)},{t.SERVICE_LABEL}={service}"
        pods = self.kube.list("Pod", sel)
        return sorted(pods, key=lambda p: p["metadata"].get("creationTimestamp") or "")

    def pod_logs(self, pod: str, lines: int = 20) -> str:
        """The last ``lines`` of a pod's log, masked ("" when there is none yet)."""
        from kubernetes.client import CoreV1Api

        try:
            text = CoreV1Api(self.kube.client()).read_namespaced_pod_log(
                pod, self.namespace, tail_lines=lines, _request_timeout=10
            )
        except Exception:  # no log yet (container never started): the reason says enough
            return ""
        return self.kube.mask(str(text))

    # -- hot reload ----------------------------------------------------------------------

    def ready_pod(self, service: str) -> str | None:
        """The newest Ready, not terminating pod of ``service`` (None: none is)."""
        ready = [
            p
            for p in self._pods(service)
            if _pod_ready(p) and not p["metadata"].get("deletionTimestamp")
        ]
        return ready[-1]["metadata"]["name"] if ready else None

    def pod_sync(self) -> Any:
        """The hot reload into this stack's pods (``sync.PodSync``: compose's watch rules)."""
        from periph_env.cluster.rebuild import rebuild
        from periph_env.cluster.sync import PodSync

        return PodSync.for_stack(
            self.stack,
            self.kube,
            self.namespace,
            self.ready_pod,
            rebuild=lambda service, note: rebuild(self, service, note),
        )

    # -- ps ------------------------------------------------------------------------------

    def ps(self) -> list[ServiceState]:
        """Every service ``up`` made, with its pod's state."""
        sel = t.selector(self.user)
        states = []
        workloads = self.kube.list("Deployment", sel) + self.kube.list("Job", sel)
        pods = self.kube.list("Pod", sel)
        for obj in sorted(workloads, key=lambda o: o["metadata"]["name"]):
            name = obj["metadata"]["name"]
            own = sorted(
                (
                    p
                    for p in pods
                    if (p["metadata"].get("labels") or {}).get(t.SERVICE_LABEL) == name
                ),
                key=lambda p: p["metadata"].get("creationTimestamp") or "",
            )
            pod = own[-1] if own else None
            restarts = sum(
                cs.get("restartCount", 0)
                for cs in ((pod or {}).get("status") or {}).get("containerStatuses") or []
            )
            if obj["kind"] == "Job":
                done = bool((obj.get("status") or {}).get("succeeded"))
                status = "Completed" if done else (_pod_status(pod) if pod else "Pending")
                states.append(
                    ServiceState(name, "Job", done, status, _name(pod), restarts, *_seen(pod))
                )
                continue
            ready = bool(pod) and _pod_ready(pod)
            oom = any(
                ((cs.get("lastState") or {}).get("terminated") or {}).get("reason") == "OOMKilled"
                for cs in ((pod or {}).get("status") or {}).get("containerStatuses") or []
            )
            stopped = (obj.get("spec") or {}).get("replicas") == 0  # `stop` scaled it to 0
            status = "Ready" if ready else (_pod_status(pod) if pod else "no pod")
            status = "Stopped" if stopped and not pod else status
            states.append(
                ServiceState(
                    name, "Deployment", ready, status, _name(pod), restarts, *_seen(pod), oom
                )
            )
        return states

    # -- down ----------------------------------------------------------------------------

    def down(self, progress: Progress = _quiet, timeout: float = 180) -> list[str]:
        """Delete what ``up`` made (by label) and wait until it is gone; what was deleted."""
        sel = t.selector(self.user)
        deleted: list[str] = []
        for kind, version in KINDS:
            for obj in self.kube.list(kind, sel, api_version=version):
                name = obj["metadata"]["name"]
                if self.kube.delete(kind, name, api_version=version):
                    deleted.append(f"{kind}/{name}")
                    progress(f"deleted {kind}/{name}")
        namespace = self.kube.get("Namespace", self.namespace)
        owned = namespace is not None and _ours(namespace, self.user)
        if owned and self.kube.delete("Namespace", self.namespace):
            deleted.append(f"Namespace/{self.namespace}")
            progress(f"deleted Namespace/{self.namespace}")
        deadline = time.monotonic() + timeout
        while True:
            left = self.leftovers(include_namespace=owned)
            if not left:
                return deleted
            if time.monotonic() > deadline:
                raise EngineError(
                    f"still there after {timeout:.0f}s: {', '.join(left[:10])}",
                    hint=f"`kubectl -n {self.namespace} get all`; "
                    "run `periph down --cluster` again",
                )
            time.sleep(POLL)

    def leftovers(self, *, include_namespace: bool = True) -> list[str]:
        """Objects of this developer's stack still on the cluster (pods included)."""
        sel = t.selector(self.user)
        left = [
            f"{kind}/{o['metadata']['name']}"
            for kind, version in (*KINDS, ("Pod", "v1"))
            for o in self.kube.list(kind, sel, api_version=version)
        ]
        if include_namespace and self.kube.get("Namespace", self.namespace) is not None:
            left.append(f"Namespace/{self.namespace}")
        return left


def _ours(obj: Obj, user: str) -> bool:
    found = (obj.get("metadata") or {}).get("labels") or {}
    return all(found.get(k) == v for k, v in t.labels(user).items())


def _name(pod: Obj | None) -> str | None:
    return pod["metadata"]["name"] if pod else None


def _seen(pod: Obj | None) -> tuple[str | None, float | None]:
    """(image, when its first container started) of ``pod``, as far as the API says."""
    if pod is None:
        return None, None
    from periph_env.cluster.sync import log_timestamp

    containers = (pod.get("spec") or {}).get("containers") or [{}]
    started = None
    for cs in (pod.get("status") or {}).get("containerStatuses") or []:
        running = (cs.get("state") or {}).get("running") or {}
        if running.get("startedAt"):
            started = log_timestamp(str(running["startedAt"]))
            break
    return containers[0].get("image"), started


def _pod_ready(pod: Obj) -> bool:
    for cond in (pod.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return cond.get("status") == "True"
    return False


def _pod_status(pod: Obj | None) -> str:
    """A pod's state in a few words: its waiting reason, else phase and readiness."""
    if pod is None:
        return "no pod"
    if pod["metadata"].get("deletionTimestamp"):
        return "Terminating"
    status = pod.get("status") or {}
    for cs in status.get("containerStatuses") or []:
        waiting = (cs.get("state") or {}).get("waiting") or {}
        if waiting.get("reason"):
            return f"Waiting: {waiting['reason']}"
    phase = status.get("phase") or "Pending"
    if phase == "Running" and not _pod_ready(pod):
        return "Running, not ready"
    return "Ready" if phase == "Running" else phase
