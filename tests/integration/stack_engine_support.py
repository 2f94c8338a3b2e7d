"""A small purpose-built compose project for the stack engine's tests.

Three services on the offline ``debian:bookworm-slim`` stand-in, built in a second:

- ``once``: a one-shot the others depend on (``service_completed_successfully``);
- ``app``: built from ``app/`` (a ``deps.txt`` rebuild rule; ``src/`` synced to
  ``/app/src``). Its loop prints the reload marker ``periph:reloaded version=<v>``
  whenever anything under ``/app/src`` changes, like an in-process reloader, and
  ``periph:sync-signal`` for each ``x-periph.sync_signal`` (SIGWINCH) periph sends;
- ``conf``: ``sync+restart`` of ``conf/`` to ``/conf``; prints the value at start; and
  ``sync+exec`` of ``hooks/`` (``initial_sync``) running ``cp /hooks/h.txt /tmp/exec-ran``.

A build fails when ``deps.txt`` contains ``fail``.
"""

from __future__ import annotations

import os
import secrets
import threading
import time
from pathlib import Path

from periph_env.stack import Stack
from periph_env.stack.models import ReloadEvent

COMPOSE = """\
name: ignored-by-project
services:
  once:
    image: debian:bookworm-slim
    command: ["sh", "-c", "echo once-ran"]
  app:
    build: ./app
    image: {image}
    init: true
    stop_grace_period: 1s
    depends_on:
      once:
        condition: service_completed_successfully
    x-periph:
      reload_marker: "periph:reloaded"
      sync_signal: winch
    develop:
      watch:
        - action: rebuild
          path: ./app/deps.txt
        - action: sync
          path: ./app/src
          target: /app/src
          ignore:
            - "*.log"
            - cache/
  conf:
    image: debian:bookworm-slim
    init: true
    stop_grace_period: 1s
    command: ["sh", "-c", "echo conf=$$(cat /conf/value 2>/dev/null); exec sleep infinity"]
    develop:
      watch:
        - action: sync+restart
          path: ./conf
          target: /conf
        - action: sync+exec
          path: ./hooks
          target: /hooks
          initial_sync: true
          exec:
            command: cp /hooks/h.txt /tmp/exec-ran
"""

DOCKERFILE = """\
FROM debian:bookworm-slim
COPY deps.txt /app/deps.txt
RUN ! grep -q fail /app/deps.txt
COPY src/ /app/src/
COPY run.sh /run.sh
CMD ["sh", "/run.sh"]
"""

RUN_SH = """\
echo "app started deps=$(cat /app/deps.txt)"
trap 'echo "periph:sync-signal"' WINCH
last=""
while true; do
  v=$(ls -lR --full-time /app/src 2>/dev/null | md5sum)
  if [ "$v" != "$last" ]; then echo "periph:reloaded version=$(cat /app/src/version)"; last="$v"; fi
  sleep 0.05
done
"""


def write_project(root: Path, project: str) -> Path:
    """Write the project under ``root``; returns the compose file."""
    (root / "app" / "src").mkdir(parents=True)
    (root / "conf").mkdir()
    (root / "hooks").mkdir()
    (root / "hooks" / "h.txt").write_text("h0\n")
    compose = root / "compose.yaml"
    compose.write_text(COMPOSE.format(image=f"{project}-app:dev"))
    (root / "app" / "Dockerfile").write_text(DOCKERFILE)
    (root / "app" / "run.sh").write_text(RUN_SH)
    (root / "app" / "deps.txt").write_text("deps-1\n")
    (root / "app" / "src" / "version").write_text("v0\n")
    (root / "app" / "src" / "main.txt").write_text("main\n")
    (root / "conf" / "value").write_text("c0\n")
    return compose


def mini_stack(root: Path, project: str) -> Stack:
    """A ``Stack`` over the project written by ``write_project``."""
    return Stack(
        root=root, compose_path=root / "compose.yaml", project=project, env_file=root / ".env"
    )


def exec_in(stack: Stack, service: str, *argv: str) -> tuple[int, str]:
    """Run ``argv`` in the service's container; (exit code, output)."""
    from periph_env.stack.reload.sync import run_exec

    cid = stack.container_id(service)
    assert cid, f"{service} has no container"
    return run_exec(stack.sdk().api, cid, list(argv))


def wait_for(predicate, what: str, timeout: float = 30, every: float = 0.1):
    """Poll until ``predicate`` is truthy; AssertionError naming ``what`` otherwise."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


def remove_image(ref: str) -> None:
    """Best-effort removal of a test image."""
    os.system(f"docker rmi -f {ref} >/dev/null 2>&1")


def token() -> str:
    """A short random suffix."""
    return secrets.token_hex(3)


class Events:
    """Collects finished reload events; ``wait(n)`` blocks until n have finished."""

    def __init__(self) -> None:
        self.done: list[ReloadEvent] = []
        self.initial: ReloadEvent | None = None
        self.updates: list[tuple[str, str]] = []
        self._cond = threading.Condition()

    def __call__(self, event: ReloadEvent) -> None:
        with self._cond:
            self.updates.append((event.service, event.breakdown()))
            if event.done:
                self.done.append(event)
                self._cond.notify_all()

    def wait(self, count: int, timeout: float = 60) -> list[ReloadEvent]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.done) < count:
                left = deadline - time.monotonic()
                assert left > 0, f"only {len(self.done)} of {count} reloads finished: {self.done}"
                self._cond.wait(left)
            return list(self.done)


def cat(stack, service: str, path: str) -> str:
    code, out = exec_in(stack, service, "cat", path)
    return out if code == 0 else f"<exit {code}>"
