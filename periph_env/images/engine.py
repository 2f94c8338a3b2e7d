"""The Docker engine side of images: base image IDs, local lookups, builds, tags, pushes.

Builds go through the Engine API's builder via the docker SDK's low-level
``api.build(decode=True)``, which streams structured messages as the build runs (the
high-level ``images.build`` returns only at the end). The context tar is made from the
very path list that was hashed, so the content tag always describes what was sent.
Pushes send credentials in the ``X-Registry-Auth`` header (never argv) and are retried
with backoff when the failure is transient (registry down, 5xx, connection reset).

Errors and timeouts: the client comes from ``stack.docker_sdk`` (a ping within 5 s
first, then 60 s per read; builds allow ``BUILD_TIMEOUT`` between two messages), and
every public method leaves SDK and transport errors as ``PeriphError``s through its
``sdk_errors`` — no docker, requests or urllib3 exception reaches the pipeline.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import docker
from docker.errors import APIError, ImageNotFound
from docker.utils.build import create_archive

from periph_env.common import migration_kinds as schema
from periph_env.common import trim_tail
from periph_env.errors import EngineError
from periph_env.images.credentials import Credentials
from periph_env.images.models import (
    BuildFailed,
    Built,
    Event,
    Failed,
    PushFailed,
    PushProgress,
    PushRefused,
    Retrying,
)
from periph_env.images.plan import BuildPlan
from periph_env.images.progress import BuildStream
from periph_env.stack import docker_sdk
from periph_env.stack.docker_sdk import sdk_errors

CONTENT_LABEL = "org.periph.content"
SERVICE_LABEL = "org.periph.service"
_REFUSED = ("unauthorized", "authentication required", "denied", "no basic auth credentials")
_TRANSIENT = (
    "connection refused",
    "connection reset",
    "eof",
    "timeout",
    "timed out",
    "503",
    "502",
    "500 internal",
    "broken pipe",
    "no route to host",
    "temporarily unavailable",
    "unknown blob",
    "blob upload unknown",
)


@dataclass(frozen=True)
class RetryPolicy:
    """``attempts`` tries in all; waits ``delay``, doubling each time, capped at ``max_delay``."""

    attempts: int = 4
    delay: float = 1.0
    max_delay: float = 8.0

    def delays(self) -> Iterator[float]:
        wait = self.delay
        for _ in range(self.attempts - 1):
            yield wait
            wait = min(wait * 2, self.max_delay)


def connect() -> docker.DockerClient:
    """A client for the engine ``DOCKER_HOST`` (or the default socket) names; raises
    ``EngineUnavailable`` naming the endpoint within seconds when it does not answer."""
    return docker_sdk.client()


class Engine:
    """One docker client shared by the build threads (the SDK's client is thread-safe)."""

    def __init__(self, client: docker.DockerClient | None = None) -> None:
        self.client = client or connect()
        self.api = self.client.api
        self.host = docker_sdk.docker_host()  # for messages: the endpoint as the user set it

    def inspect(self, ref: str) -> dict | None:
        """``docker image inspect`` of ``ref``, or None when there is no such image."""
        with sdk_errors(f"inspect image {ref}", self.host):
            try:
                found = self.api.inspect_image(ref)
            except ImageNotFound:
                return None
            except APIError as exc:
                if exc.status_code == 404:
                    return None
                raise EngineError(f"cannot inspect image {ref}: {exc.explanation}") from None
        if not isinstance(found, dict) or not isinstance(found.get("Id"), str):
            raise docker_sdk.lying(self.host, f"inspect image {ref}", "unexpected shape")
        return found

    def image_id(self, ref: str) -> str | None:
        """The local image ID of ``ref``, or None."""
        found = self.inspect(ref)
        return str(found["Id"]) if found else None

    def base_id(self, ref: str) -> str:
        """The ID of base image ``ref``, pulling it when it is not here."""
        found = self.image_id(ref)
        if found:
            return found
        # A failed pull is reported below as "not available"; an engine that stopped
        # answering is reported as such.
        with sdk_errors(f"pull {ref}", self.host), contextlib.suppress(APIError, ImageNotFound):
            self.api.pull(ref)
        found = self.image_id(ref)
        if not found:
            raise BuildFailed(
                f"base image {ref} is not available locally and could not be pulled",
                hint="the offline stand-ins come from `periph testenv up --tier docker`",
            )
        return found

    def tag(self, image_id: str, refs: list[str], present: list[str] = ()) -> None:
        """Point every ref at ``image_id`` (skipping those in ``present``, already there)."""
        for ref in refs:
            if ref in present:
                continue
            repo, tag = ref.rsplit(":", 1)
            with sdk_errors(f"tag {image_id[:19]} as {ref}", self.host):
                self.api.tag(image_id, repo, tag, force=True)

    def images(self, repository: str) -> list[dict]:
        """The local images of ``repository`` (``docker images <repository>``)."""
        with sdk_errors(f"list the images of {repository}", self.host):
            found = self.api.images(name=repository)
        if not isinstance(found, list) or not all(isinstance(i, dict) for i in found):
            raise docker_sdk.lying(self.host, "list images", "unexpected shape")
        return found

    def build(self, plan: BuildPlan, no_cache: bool = False) -> Iterator[Event]:
        """Build ``plan``'s image and tag it with every tag; the last event is Built or Failed."""
        start = time.monotonic()
        stream = BuildStream(plan.spec.name)
        try:  # the migrations the image carries, read from the registry by deploy/rollback
            labels = schema.image_labels(plan.spec.context, plan.paths)
        except schema.HeaderError as exc:
            yield Failed(plan.spec.name, str(exc))
            return
        labels.update({CONTENT_LABEL: plan.content_tag, SERVICE_LABEL: plan.spec.name})
        context = create_archive(root=str(plan.spec.context), files=plan.paths)
        heartbeat = docker_sdk.Heartbeat(self.host, None)
        try:
            with docker_sdk.responses_of_this_thread(self.api) as responses:
                messages = self.api.build(
                    fileobj=context,
                    custom_context=True,
                    dockerfile=plan.spec.dockerfile,
                    tag=plan.ref(plan.content_tag),
                    buildargs=dict(plan.spec.args),
                    labels=labels,
                    rm=True,
                    forcerm=True,
                    nocache=no_cache,
                    decode=True,
                    timeout=int(docker_sdk.BUILD_TIMEOUT),
                )
            # A silent RUN step may take minutes: the read timeout is long, and a
            # heartbeat notices an engine that stopped answering long before it.
            heartbeat = docker_sdk.Heartbeat(self.host, responses[-1] if responses else None)
            with heartbeat:
                for message in messages:
                    if not isinstance(message, dict):
                        raise docker_sdk.lying(self.host, "build", "a message not an object")
                    yield from stream.feed(message)
                yield from stream.finish()
        except Exception as exc:
            error = docker_sdk.translate(exc, f"build {plan.spec.name}", self.host)
            if error is None:
                raise
            stream.error = stream.error or error.message
        finally:
            context.close()
        if heartbeat.lost:  # the real cause, whatever the cut stream looked like
            stream.error = heartbeat.lost
        if stream.error or not stream.image_id:
            yield Failed(
                plan.spec.name,
                trim_tail(stream.error or "the build produced no image", 5),
                step=stream.step,
                log_tail=stream.tail(),
            )
            return
        image_id = self.image_id(plan.ref(plan.content_tag)) or stream.image_id
        self.tag(image_id, plan.refs())
        yield Built(plan.spec.name, image_id, time.monotonic() - start)

    def push(
        self,
        service: str,
        ref: str,
        credentials: Credentials | None,
        policy: RetryPolicy,
        on_progress: Callable[[dict], None] | None = None,
    ) -> Iterator[Event]:
        """Push ``ref``, retrying transient failures; raises PushFailed/PushRefused at the end.

        ``on_progress`` sees each raw push message (tests use it to stop a registry mid-push).
        """
        repo, tag = ref.rsplit(":", 1)
        auth = credentials.auth_config() if credentials else None
        delays = policy.delays()
        attempt = 0
        while True:
            attempt += 1
            error = self._push_once(service, repo, tag, auth, on_progress)
            if isinstance(error, list):
                yield from error
                return
            message, transient = error
            if not transient:
                raise PushRefused(message) if _is(message, _REFUSED) else PushFailed(message)
            wait = next(delays, None)
            if wait is None:
                raise PushFailed(
                    f"push of {ref} failed after {attempt} attempts: {message}",
                    hint="check that the registry is up, then run the same command again "
                    "(layers already pushed are not sent twice)",
                )
            yield Retrying(service, attempt, wait, message)
            time.sleep(wait)

    def _push_once(self, service, repo, tag, auth, on_progress):
        """Events on success; ``(message, transient)`` on failure."""
        heartbeat = docker_sdk.Heartbeat(self.host, None)
        try:
            with docker_sdk.responses_of_this_thread(self.api) as responses:
                messages = self.api.push(repo, tag=tag, stream=True, decode=True, auth_config=auth)
            # An engine that stops answering mid-push is noticed by the heartbeat, and not
            # retried: the engine is gone, not the registry.
            heartbeat = docker_sdk.Heartbeat(self.host, responses[-1] if responses else None)
            with heartbeat:
                return _push_events(messages, service, tag, on_progress, self.host)
        except APIError as exc:
            text = str(exc.explanation or exc)
            return text, exc.is_server_error() or _is(text, _TRANSIENT)
        except Exception as exc:
            if heartbeat.lost:
                return heartbeat.lost, False
            error = docker_sdk.translate(exc, f"push {repo}:{tag}", self.host)
            if error is None:
                raise
            return error.message, True


def _push_events(
    messages, service: str, tag: str, on_progress, host: str
) -> list[Event] | tuple[str, bool]:
    """The push stream's progress as events, or ``(message, transient)`` for its error."""
    events: list[Event] = []
    last_status = ""
    for message in messages:
        if not isinstance(message, dict):
            raise docker_sdk.lying(host, f"push {tag}", "a message that is not an object")
        if on_progress:
            on_progress(message)
        if "error" in message or "errorDetail" in message:
            detail = message.get("errorDetail") or {}
            text = str(message.get("error") or detail.get("message") or "push failed")
            return text, _is(text, _TRANSIENT) and not _is(text, _REFUSED)
        status = str(message.get("status", ""))
        if status and status != last_status and "id" not in message:
            events.append(PushProgress(service, tag, status))
        last_status = status or last_status
    return events


def _is(text: str, needles: tuple[str, ...]) -> bool:
    low = text.lower()
    return any(n in low for n in needles)
