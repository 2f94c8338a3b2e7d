"""SQL in the dev stack's ``db`` container, through ``docker exec ... psql``.

psql runs inside the container over the local socket as ``$POSTGRES_USER`` (the
official image trusts local connections), so no password is passed, stored or
printed. The user and default database come from the container's own environment:
periph never reads ``DB_PASSWORD`` for this.
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import threading
from collections import deque
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any

from periph_env.common.redact import redact
from periph_env.errors import PeriphError

_META_AT_END = re.compile(r"\\[a-z]+$")  # e.g. a query ending in \gexec runs without ";"
SEP = "\x1f"  # unit separator: never in a database name, JSON comment or number
MAINTENANCE_DB = "periph_maintenance"  # only when the dev database is named postgres
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


def with_flag(span: str, flag: str) -> str:
    """A backticked command with ``flag`` (e.g. `` --cluster``) added before its closing
    backtick: the command stays one literal in the source, which test_hint_commands
    parses with periph's own parser."""
    return span[:-1] + flag + "`" if flag else span


def db_command(pg: Any, span: str) -> str:
    """A backticked ``periph`` command as it reaches ``pg``'s database (``--cluster``
    for a db pod): ``db_command(pg, "`periph db switch`")``."""
    return with_flag(span, getattr(pg, "cli_flag", ""))


def docker_env(host: str | None) -> dict[str, str]:
    """The process environment for the docker CLI, pointed at ``host``."""
    env = dict(os.environ)
    if host:
        env["DOCKER_HOST"] = host
    return env


class Postgres:
    """The Postgres cluster of one compose project's ``db`` service.

    Commands reach the container through ``exec_argv`` (``docker exec``); the cluster's
    ``PodPostgres`` (``periph_env.cluster.db``) runs the same psql through ``kubectl
    exec`` into the db pod, and everything above it (snapshots, branches, seed) is
    unchanged."""

    tool = "docker"  # the CLI that runs commands in the container (named when missing)
    where = "container"
    cli_flag = ""  # what a hint's command adds to reach this database (``--cluster``)

    def __init__(self, stack: Any, service: str = "db") -> None:
        self.stack = stack
        self.service = service
        self._container: str | None = None
        self._dev: tuple[str, str, int] | None = None
        self._session: _Session | None = None
        self._maintenance: str | None = None

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

    def _identity(self) -> tuple[str, str, int]:
        if self._dev is None:
            try:
                rows = self.query(
                    "SELECT current_database(), current_user, current_setting('server_version_num')"
                )
            except DatabaseError as exc:
                if "does not exist" in exc.message:
                    raise DatabaseError(
                        exc.message,
                        hint="a restore or reset was cut short (killed); "
                        f"{db_command(self, '`periph db cleanup`')} puts the dev database back",
                    ) from None
                raise
            self._dev = (rows[0][0], rows[0][1], int(rows[0][2]))
        return self._dev

    def configured_db(self) -> str:
        """The dev database's name from the container's environment (``POSTGRES_DB``,
        else ``POSTGRES_USER`` as the image does), found without connecting to it: after
        a hard kill mid-restore it may not exist."""
        argv = [*self.exec_argv(), "sh", "-c", 'printf %s "${POSTGRES_DB:-$POSTGRES_USER}"']
        try:
            proc = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=self._env())
        except (OSError, subprocess.TimeoutExpired) as exc:
            what = f"cannot read the {self.service} {self.where}'s settings: {exc}"
            raise DatabaseError(what) from None
        if proc.returncode != 0 or not proc.stdout:
            raise DatabaseError(f"cannot read the {self.service} {self.where}'s POSTGRES_DB")
        return proc.stdout

    @property
    def maintenance_db(self) -> str:
        """Where statements about the dev database run (copy, rename, close to
        connections, drop): ``postgres``, unless the dev database is ``postgres`` itself
        (``.env.example``'s ``POSTGRES_DB``): no session can rename or copy the database
        it is on. Then periph's own empty ``periph_maintenance``, made once from
        ``template0``. Decided from the container's settings, without connecting to the
        dev database (after a killed restore it may be missing)."""
        if self._maintenance is None:
            # A session already knows the dev database's name: no second exec for it.
            dev = self._dev[0] if self._dev else self.configured_db()
            if dev != "postgres":
                self._maintenance = "postgres"
            else:
                self.run(
                    f"SELECT 'CREATE DATABASE {MAINTENANCE_DB} TEMPLATE template0' WHERE NOT "
                    f"EXISTS (SELECT FROM pg_database WHERE datname = '{MAINTENANCE_DB}') "
                    "\\gexec",
                    "template1",
                )
                self._maintenance = MAINTENANCE_DB
        return self._maintenance

    @property
    def dev_db(self) -> str:
        """The dev database (``POSTGRES_DB`` in the container)."""
        return self._identity()[0]

    @property
    def copy_strategy(self) -> str:
        """``CREATE DATABASE``'s copy option: ``STRATEGY FILE_COPY`` from Postgres 15 on
        (the files are copied after a checkpoint; the default ``WAL_LOG`` also writes
        every page of the copy into the WAL, 100 MB of WAL for a 100 MB snapshot, and
        leaves them dirty in shared buffers). Before 15 file copy is the only way."""
        return "STRATEGY FILE_COPY" if self._identity()[2] >= 150000 else ""

    @property
    def user(self) -> str:
        """The role psql connects as (the dev stack's superuser)."""
        return self._identity()[1]

    @contextmanager
    def session(self) -> Iterator[Postgres]:
        """While inside, statements go through one psql process in the container (one
        ``docker exec`` for a whole snapshot or restore instead of one per step: each
        exec costs a few hundred milliseconds, the copy itself well under a second)."""
        if self._session is not None:
            yield self
            return
        argv = [*self.exec_argv(stdin=True), "sh", "-c", _PSQL, "psql", "", SEP]
        argv += ["-v", "ON_ERROR_STOP=0"]  # a failed statement is reported, psql goes on
        self._session = _Session(argv, self._env())
        try:
            if self._dev is None:
                self._identity()  # through the session: psql starts on the dev database
            self._session.db = self.dev_db
            yield self
        finally:
            self._session.close()
            self._session = None

    def exec_argv(self, stdin: bool = False) -> list[str]:
        """The argv prefix that runs a command in the db container (``stdin``: fed)."""
        return ["docker", "exec", *(["-i"] if stdin else []), self.container]

    def _env(self) -> dict[str, str]:
        return docker_env(getattr(self.stack.api, "host", None))

    def run(
        self, sql: str | Sequence[str], db: str | None = None, *, single_transaction: bool = False
    ) -> str:
        """Run ``sql`` (a script, or statements one by one) in ``db`` and return psql's
        output; the first failing statement stops it with a ``DatabaseError`` carrying
        psql's masked message."""
        statements = [sql] if isinstance(sql, str) else list(sql)
        if self._session is not None and not single_transaction:
            try:
                target = db or (self._dev[0] if self._dev else None)
                return "".join(self._session.run(st, target) for st in statements)
            except DatabaseError as exc:
                raise DatabaseError(_message(self.stack, exc.message)) from None
        sql = "\n".join(statements)
        argv = [*self.exec_argv(stdin=True), "sh", "-c", _PSQL, "psql", db or "", SEP]
        if single_transaction:
            argv.append("--single-transaction")
        try:
            proc = subprocess.run(
                argv,
                input=sql,
                capture_output=True,
                text=True,
                timeout=TIMEOUT,
                env=self._env(),
            )
        except subprocess.TimeoutExpired:
            raise DatabaseError(
                f"psql in the {self.service} {self.where} took over {TIMEOUT:.0f}s"
            ) from None
        except FileNotFoundError:
            raise DatabaseError(
                f"the {self.tool} CLI is not installed (periph runs psql through it)"
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


class _Session:
    """One long-lived psql fed statement by statement; after each, a marker line carries
    the statement's error message (psql's ``LAST_ERROR_MESSAGE``, reset before it)."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self.mark = "periph-" + secrets.token_hex(8)
        self.seq = 0
        self.db: str | None = None  # None: still on the one psql started with
        self.errors: deque[str] = deque(maxlen=50)
        self.proc = subprocess.Popen(
            argv,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
            # Not in periph's process group: a ctrl+c stops periph between statements, and
            # psql stays to run the clean-up ones (rename the dev database back, allow
            # connections again) instead of dying in the middle of a restore.
            start_new_session=True,
        )
        # NOTICEs and errors go to stderr: drained so psql never blocks on a full pipe.
        self._drain = threading.Thread(target=self._read_errors, daemon=True)
        self._drain.start()

    def _read_errors(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.errors.append(line.rstrip("\n"))

    def _send(self, text: str) -> tuple[str, str]:
        stdin, stdout = self.proc.stdin, self.proc.stdout
        assert stdin is not None and stdout is not None
        self.errors.clear()  # a dying psql's message is about this statement
        try:
            self.seq += 1
            mark = f"{self.mark}-{self.seq}"
            stdin.write(f"\\set LAST_ERROR_MESSAGE ''\n{text}\n\\echo {mark} :LAST_ERROR_MESSAGE\n")
            stdin.flush()
        except (BrokenPipeError, OSError):
            raise DatabaseError(self._died()) from None
        out: list[str] = []
        for line in stdout:
            if line.startswith(mark + " ") or line.rstrip("\n") == mark:
                return "".join(out), line[len(mark) :].strip()
            if line.startswith(self.mark):
                out = []  # an earlier statement's end (ctrl+c left it unread): not ours
                continue
            out.append(line)
        raise DatabaseError(self._died())

    def _died(self) -> str:
        self.proc.wait(timeout=10)
        # Its last words are the reason (and what the hints match): the drain thread may
        # still be reading them when the process has already exited (it did, on a loaded
        # machine, and the error said only "exited (2)").
        self._drain.join(timeout=5)
        return "\n".join(self.errors) or f"psql in the db container exited ({self.proc.returncode})"

    def run(self, statement: str, db: str | None) -> str:
        """One statement in ``db`` (None: the current one); its output."""
        if db is not None and db != self.db:
            from periph_env.data.names import ident

            out, _err = self._send(f"\\connect {ident(db)}\nSELECT current_database();")
            if out.strip() != db:
                raise DatabaseError(f"cannot connect to database {db!r}")
            self.db = db
        text = statement.rstrip()
        if text and not text.endswith(";") and not _META_AT_END.search(text):
            text += ";"  # psql runs a query at its semicolon (or at the end of its input)
        out, err = self._send(text)
        if err:
            raise DatabaseError(err)
        return out

    def close(self) -> None:
        """End psql (it exits at the end of its input)."""
        if self.proc.stdin is not None:
            with suppress(OSError):
                self.proc.stdin.close()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _message(stack: Any, text: str) -> str:
    """psql's error lines, masked, without its "psql:<stdin>:N:" prefixes."""
    lines = []
    for line in text.strip().splitlines():
        if line.startswith("psql:<stdin>:"):
            line = line.split(":", 3)[-1].strip()
        lines.append(line)
    masked = stack.mask("\n".join(lines)) if hasattr(stack, "mask") else redact("\n".join(lines))
    return masked or "psql failed without a message"
