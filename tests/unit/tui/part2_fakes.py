"""Typed fakes of the images and deploy engines for the Build/Deploy pilot tests.

They yield the engines' real event classes, so the views are tested against the real
event shapes; the integration tests (tests/integration/test_tui_*) use the real engines.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

from periph_env.deploy import Options
from periph_env.deploy import events as ev
from periph_env.deploy.history import Record
from periph_env.errors import EngineError, UsageError
from periph_env.images import models as im
from periph_env.images.listing import ImageRow, ServiceImages
from periph_env.images.pipeline import BuildOptions

DIGEST = "sha256:" + "ab" * 32


class FakeImages:
    """``build`` builds backend (3 steps) and finds worker unchanged; ``push`` pushes."""

    BuildOptions = BuildOptions

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.calls: list[tuple[str, object]] = []

    def list_images(self, root) -> list[ServiceImages]:
        return [
            ServiceImages("backend", "127.0.0.1:5000/peripheral-backend", local=[
                ImageRow(["127.0.0.1:5000/peripheral-backend:c-1111"], 12_300_000, None, None)
            ]),
            ServiceImages("worker", "127.0.0.1:5000/peripheral-worker"),
        ]  # fmt: skip

    def build(self, root, options) -> Iterator[im.Event]:
        self.calls.append(("build", options))
        services = options.services or ["backend", "worker"]
        if "worker" in services:
            yield im.Unchanged("worker", "registry", "c-2222")
            yield im.Done("worker", im.ServiceResult("worker", "unchanged", where="registry",
                                                     content_tag="c-2222"))  # fmt: skip
        if "backend" in services:
            yield im.BuildStarted("backend", ["services/backend/main.go"])
            for step in (1, 2, 3):
                yield im.StepStarted("backend", step, 3, f"RUN step {step}")
            if self.fail:
                tail = "go: compile error\nmain.go:3: undefined: x"
                yield im.Failed("backend", "build failed", step="RUN step 3", log_tail=tail)
                yield im.Done("backend", im.ServiceResult("backend", "failed", error="build failed",
                              step="RUN step 3", log_tail=tail))  # fmt: skip
                return
            yield im.Built("backend", "sha256:" + "1" * 64, 2.5)
            tags = ["127.0.0.1:5000/peripheral-backend:c-1111"]
            yield im.Done("backend", im.ServiceResult("backend", "built", tags=tags, seconds=2.5,
                          changed=["services/backend/main.go"], content_tag="c-1111"))  # fmt: skip

    def push(self, root, services=None) -> Iterator[im.Event]:
        self.calls.append(("push", services))
        tags = ["127.0.0.1:5000/peripheral-backend:c-1111"]
        yield im.PushProgress("backend", tags[0], "Pushing")
        yield im.Pushed("backend", tags, DIGEST, 0.4)
        yield im.Done("backend", im.ServiceResult("backend", "pushed", tags=tags, digest=DIGEST))


@dataclass
class FakeDeploy:
    """The deploy API: guards (one may fail), a summary, a rollout that waits on ``gate``."""

    failing_guard: str | None = None
    gate: threading.Event = field(default_factory=threading.Event)
    deploys: list[Options] = field(default_factory=list)
    rollbacks: list[int | None] = field(default_factory=list)
    forced: list[bool] = field(default_factory=list)  # each rollback's force_schema
    Options = Options

    def resolve(self, root, env):
        raise UsageError("no cluster in unit tests", hint="periph testenv up --tier k8s")

    def _guards(self, env: str) -> Iterator[ev.GuardResult]:
        for name in ("context", "branch", "clean-tree", "env-check", "images"):
            if name == self.failing_guard:
                yield ev.GuardResult(name, False, "uncommitted changes", hint="commit them")
            else:
                yield ev.GuardResult(name, True, "ok")

    def deploy(self, root, env, options: Options) -> Iterator[ev.Event]:
        yield from self._guards(env)
        if self.failing_guard:
            yield ev.Finished("refused", 2, 0.1, message=f"refused by {self.failing_guard}")
            return
        old = f"127.0.0.1:5000/peripheral-backend@sha256:{'0' * 64}"
        new = f"127.0.0.1:5000/peripheral-backend@{DIGEST}"
        yield ev.Summary(
            (ev.ImageChange("backend", "backend", old, new),),
            (ev.ObjectChange("Deployment", "backend", "changed", ("spec",)),
             ev.ObjectChange("ConfigMap", "extra", "added")),
        )  # fmt: skip
        if options.dry_run:
            yield ev.Finished("dry-run", 0, 0.2)
            return
        self.deploys.append(options)
        yield ev.DeploymentProgress("backend", 2, 1, 0, 0, 1, "1 of 2 updated")
        # The tests set the gate; the bound only ends a test that forgot to (a loaded
        # machine must not end the rollout before the test has seen it running).
        self.gate.wait(120)
        yield ev.DeploymentProgress("backend", 2, 2, 2, 2, 0, "rolled out")
        yield ev.RolloutVerdict("backend", True, "successfully rolled out")
        yield ev.Finished("succeeded", 0, 1.0, revision=3)

    def rollback_environment(
        self, root, env, to_revision=None, force_schema=False
    ) -> Iterator[ev.Event]:
        self.rollbacks.append(to_revision)
        self.forced.append(force_schema)
        yield ev.RolledBack({"backend": 1}, True, "rolled back backend to revision 1")
        yield ev.Finished("succeeded", 0, 0.5, revision=4)

    def rollout_status(self, root, env) -> Iterator[ev.Event]:
        yield ev.Finished("succeeded", 0, 0.1)

    def read_history(self, root, env) -> list[Record]:
        if env == "prod":
            raise EngineError("prod cluster unreachable")
        return [
            Record(env, 2, "deploy", "succeeded", "ana", "2026-11-27T06:00:00+00:00",
                   git_sha="abcdef123456", images={"reg/peripheral-backend": f"reg/x@{DIGEST}"},
                   duration=41.0),
            Record(env, 1, "deploy", "failed", "bo", "2026-11-26T06:00:00+00:00", duration=90.0),
        ]  # fmt: skip
