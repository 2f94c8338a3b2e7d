"""``periph exec SERVICE [CMD...]``: a shell or a command in a service's container.

Without a command: ``psql`` for db (as the stack's user, on its database), ``redis-cli``
for cache (authenticated), ``sh`` otherwise. A command runs with the same defaults in
its environment (``PGUSER``/``PGDATABASE`` for db, ``REDISCLI_AUTH`` for cache), so
``periph exec db psql -c 'select 1'`` just works. The values come from the container's
own environment inside it: periph never puts a password on a command line.

On a terminal the session is interactive (``docker exec -it``) and its bytes go straight
to the terminal. Piped, its output goes through periph's masker line by line, so a
``periph exec backend env`` in a script never leaks a secret into a log.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Sequence
from typing import IO, Any

from periph_env.data.pg import docker_env
from periph_env.errors import PeriphError

# The service's default interactive program, and the environment its commands get.
DEFAULTS: dict[str, tuple[list[str], str]] = {
    "db": (["psql"], 'export PGUSER="$POSTGRES_USER" PGDATABASE="$POSTGRES_DB"; '),
    "cache": (
        ["redis-cli"],
        'if [ -n "${REDIS_PASSWORD:-}" ]; then export REDISCLI_AUTH="$REDIS_PASSWORD"; fi; ',
    ),
}


class ServiceNotRunning(PeriphError):
    """The service has no running container to exec into."""


def argv_for(service: str, container: str, command: Sequence[str], *, tty: bool) -> list[str]:
    """The ``docker exec`` argv for ``command`` (default: the service's shell)."""
    default, prelude = DEFAULTS.get(service, (["sh"], ""))
    cmd = list(command) or default
    flags = ["-it"] if tty else ["-i"]
    # `sh -c '<prelude> exec "$@"' sh CMD...`: the defaults are read inside the
    # container, and CMD's words reach it unchanged (no shell re-parsing).
    return ["docker", "exec", *flags, container, "sh", "-c", prelude + 'exec "$@"', "sh", *cmd]


def running_container(stack: Any, service: str) -> str:
    """The id of ``service``'s running container, or a clear error."""
    statuses = {s.service: s for s in stack.ps()}
    if service not in statuses:
        from periph_env.errors import UsageError

        raise UsageError(
            f"unknown service {service!r}",
            hint=f"services in {stack.compose_path.name}: {', '.join(statuses)}",
        )
    status = statuses[service]
    if status.state != "running" or not status.container_id:
        raise ServiceNotRunning(
            f"{service} is not running (state: {status.state})",
            hint=f"`periph up {service}`",
        )
    return status.container_id


def run(stack: Any, service: str, command: Sequence[str], *, tty: bool | None = None) -> int:
    """Run ``command`` in ``service``'s container; returns its exit code."""
    container = running_container(stack, service)
    if tty is None:
        tty = sys.stdin.isatty() and sys.stdout.isatty()
    argv = argv_for(service, container, command, tty=tty)
    env = docker_env(getattr(stack.api, "host", None))
    if tty:
        return subprocess.call(argv, env=env)
    proc = subprocess.Popen(
        argv, env=env, stdin=None, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    pumps = [
        threading.Thread(target=_pump, args=(proc.stdout, sys.stdout, stack), daemon=True),
        threading.Thread(target=_pump, args=(proc.stderr, sys.stderr, stack), daemon=True),
    ]
    for t in pumps:
        t.start()
    code = proc.wait()
    for t in pumps:
        t.join()
    return code


def _pump(source: IO[bytes] | None, target: IO[str], stack: Any) -> None:
    """Copy ``source`` to ``target`` line by line, secrets masked."""
    if source is None:
        return
    for raw in iter(source.readline, b""):
        line = raw.decode("utf-8", "replace")
        target.write(stack.mask(line.rstrip("\n")) + ("\n" if line.endswith("\n") else ""))
        target.flush()
