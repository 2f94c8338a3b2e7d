"""SQL in the dev stack's ``db`` container, through ``docker exec ... psql``.

psql runs inside the container over the local socket as ``$POSTGRES_USER`` (the
official image trusts local connections), so no password is passed, stored or
printed. The user and default database come from the container's own environment:
periph never reads ``DB_PASSWORD`` for this.
"""

from __future__ import annotations

import os
import subprocess
from typing import Any

from periph_env.common.redact import redact
from periph_env.errors import PeriphError

SEP = "\x1f"  # unit separator: never in a database name, JSON comment or number
TIMEOUT = 900.0  # a template copy of a large database is disk-bound; never hang forever

# Connect to $1 (empty: $POSTGRES_DB) as $POSTGRES_USER; fields split by $2; the rest
# are more psql options.
_PSQL = (
    'db=$1; sep=$2; shift 2; exec psql -X -q -v ON_ERROR_STOP=1 -At -F "$sep" '
    '-U "$POSTGRES_USER" -d "${db:-$POSTGRES_DB}" "$@"'
)


class DatabaseError(PeriphError):
    """psql in the db container failed (the message is psql's error, masked)."""


class DbNotRunning(PeriphError):
    """The stack's db service has no running container."""


def docker_env(host: str | None) -> dict[str, str]:
    """The process environment for the docker CLI, pointed at ``host``."""
    env = dict(os.environ)
    if host:
        env["DOCKER_HOST"] = host
    return env


class Postgres:
    """The Postgres cluster of one compose project's ``db`` service."""

    def __init__(self, stack: Any, service: str = "db") -> None:
        self.stack = stack
        self.service = service
        self._container: str | None = None
        self._dev: tuple[str, str] | None = None

    @property
    def container(self) -> str:
        """The running db container's id (a clear error when the stack is down)."""
        if self._container is None:
            running = {s.service: s for s in self.stack.ps()}
            status = running.get(self.service)
            if status is None or status.state != "running" or not status.container_id:
                raise DbNotRunning(
                    f"the {self.service} service of stack {self.stack.project} is not running",
                    hint=f"start it with `periph up {self.service}`",
                )
            self._container = status.container_id
        return self._container

    def _identity(self) -> tuple[str, str]:
        if self._dev is None:
            rows = self.query("SELECT current_database(), current_user")
            self._dev = (rows[0][0], rows[0][1])
        return self._dev

    @property
    def dev_db(self) -> str:
        """The dev database (``POSTGRES_DB`` in the container)."""
        return self._identity()[0]

    @property
    def user(self) -> str:
        """The role psql connects as (the dev stack's superuser)."""
        return self._identity()[1]

    def run(self, sql: str, db: str | None = None, *, single_transaction: bool = False) -> str:
        """Run ``sql`` (one or more statements, fed on stdin) in ``db`` and return psql's
        output; a failure is a ``DatabaseError`` carrying psql's masked message."""
        argv = ["docker", "exec", "-i", self.container, "sh", "-c", _PSQL, "psql", db or "", SEP]
        if single_transaction:
            argv.append("--single-transaction")
        try:
            proc = subprocess.run(
                argv,
                input=sql,
                capture_output=True,
                text=True,
                timeout=TIMEOUT,
                env=docker_env(getattr(self.stack.api, "host", None)),
            )
        except subprocess.TimeoutExpired:
            raise DatabaseError(
                f"psql in the {self.service} container took over {TIMEOUT:.0f}s"
            ) from None
        except FileNotFoundError:
            raise DatabaseError(
                "the docker CLI is not installed (periph runs psql through it)"
            ) from None
        if proc.returncode != 0:
            raise DatabaseError(_message(self.stack, proc.stderr or proc.stdout))
        return proc.stdout

    def query(self, sql: str, db: str | None = None) -> list[list[str]]:
        """Rows of one query, each a list of text fields (NULL is '')."""
        out = self.run(sql, db)
        return [line.split(SEP) for line in out.splitlines() if line]

    def databases(self) -> list[str]:
        """Every database of the cluster."""
        return [r[0] for r in self.query("SELECT datname FROM pg_database ORDER BY 1")]


def _message(stack: Any, text: str) -> str:
    """psql's error lines, masked, without its "psql:<stdin>:N:" prefixes."""
    lines = []
    for line in text.strip().splitlines():
        if line.startswith("psql:<stdin>:"):
            line = line.split(":", 3)[-1].strip()
        lines.append(line)
    masked = stack.mask("\n".join(lines)) if hasattr(stack, "mask") else redact("\n".join(lines))
    return masked or "psql failed without a message"
