"""``Stack``: one compose project over ``compose/compose.yaml`` with the repo's ``.env``.

Compose v2 (through python-on-whales) does what Compose owns: ordering by
``depends_on``, health waits, builds, recreation. periph adds what Compose does not:
a fast engine check first (an unreachable engine is a clear exit 1 within seconds, never
a hang), the
``.env`` created and checked before ``up``, a published-port pre-check that names the
port and its holder, and ``ps`` straight from the Engine API (``engine_api``) so it
answers in a fraction of ``docker compose ps``'s time.

A rebuild builds first and recreates only the rebuilt services (``--no-deps``): a failed
build leaves the old container serving, and db, cache and the migrate one-shot are never
restarted because another service was rebuilt.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from periph_env.common import find_project_root, trim_tail
from periph_env.common.redact import redact
from periph_env.errors import EngineError, PeriphError
from periph_env.stack import compose_file, ports
from periph_env.stack.engine_api import EngineAPI
from periph_env.stack.errors import BuildFailed, ComposeFileError
from periph_env.stack.models import ServiceStatus
from periph_env.stack.status_parse import statuses

Progress = Callable[[str], None]


class EnvCheckFailed(PeriphError):
    """The env check found errors; ``up`` stops (the findings are in the message, masked)."""


def _quiet(_line: str) -> None:
    pass


class Stack:
    """One compose project: control, status and the engine clients the watchers share."""

    def __init__(
        self,
        root: str | Path | None = None,
        *,
        env_file: str | Path | None = None,
        project: str | None = None,
        compose_path: str | Path | None = None,
        example_file: str | Path | None = None,
    ) -> None:
        # A compose file named explicitly (a purpose-built project) needs no periph root.
        explicit = root is not None and compose_path is not None
        self.root = Path(root).resolve() if explicit else find_project_root(root)
        self.compose_path = Path(compose_path or self.root / "compose" / "compose.yaml")
        self.env_file = Path(env_file) if env_file else self.root / ".env"
        self.example_file = Path(example_file) if example_file else self.root / ".env.example"
        self._model: compose_file.ComposeModel | None = None
        self._model_mtime: float | None = None
        self._project = project or os.environ.get("COMPOSE_PROJECT_NAME")
        self._sdk: Any = None
        self.api = EngineAPI()

    # --- the compose file ------------------------------------------------------------

    @property
    def model(self) -> compose_file.ComposeModel:
        """The parsed compose file (re-read when it changes on disk)."""
        try:
            mtime = self.compose_path.stat().st_mtime
        except OSError as exc:
            raise ComposeFileError(f"{self.compose_path}: {exc.strerror}") from None
        if self._model is None or mtime != self._model_mtime:
            self._model = compose_file.load(self.compose_path)
            self._model_mtime = mtime
        return self._model

    @property
    def project(self) -> str:
        """The compose project name (``--project``, ``COMPOSE_PROJECT_NAME``, the file's
        ``name:``, else the compose file's directory)."""
        return self._project or self.model.name or self.compose_path.parent.name

    def services(self) -> list[str]:
        """Service names in dependency order."""
        return self.model.ordered()

    def select(self, services: Iterable[str] | None) -> list[str]:
        """The named services, checked (none named: an empty list); an unknown
        name is a UsageError listing the known ones."""
        known = self.services()
        wanted = list(services or [])
        unknown = [s for s in wanted if s not in known]
        if unknown:
            from periph_env.errors import UsageError

            raise UsageError(
                f"unknown service(s): {', '.join(unknown)}",
                hint=f"services in {self.compose_path.name}: {', '.join(known)}",
            )
        return wanted

    # --- status ----------------------------------------------------------------------

    def ps(self) -> list[ServiceStatus]:
        """Every service's status, in dependency order (``missing`` when never created)."""
        from periph_env.stack.reload import lock

        model = self.model
        one_shots = {n for n, s in model.services.items() if s.one_shot}
        watched = (
            {n for n, s in model.services.items() if s.watch}
            if lock.held(self.project, self.compose_path)
            else set()
        )
        containers = self.api.project_containers(self.project)
        return statuses(containers, model.ordered(), one_shots, watched)

    def container_id(self, service: str) -> str | None:
        """The id of the service's current container (the newest), or None."""
        for status in self.ps():
            if status.service == service:
                return status.container_id
        return None

    # --- engine clients --------------------------------------------------------------

    def check_engine(self) -> None:
        """Raise ``EngineUnavailable`` unless the engine answers within seconds."""
        self.api.ping()

    def sdk(self) -> Any:
        """A docker SDK client (events, logs, archives), created on first use; made by
        ``docker_sdk.client`` (a ping within seconds, then bounded reads). Wrap its calls
        in ``docker_sdk.sdk_errors`` so its errors leave as ``PeriphError``s."""
        if self._sdk is None:
            from periph_env.stack import docker_sdk

            self._sdk = docker_sdk.client(self.api.host)
        return self._sdk

    def secrets(self) -> list[str]:
        """Secret values from the env file, to mask in anything periph prints (the env
        engine's one reading, unparseable lines included: see ``env.file_secrets``)."""
        if not self.env_file.is_file():
            return []
        from periph_env.env.values_api import file_secrets

        return file_secrets(self.env_file, self.example_file)

    def mask(self, text: str) -> str:
        """``text`` safe to show: every env-file secret (in any form) masked, control
        characters escaped (the one masker, ``periph_env.common.redact``)."""
        return redact(text, self.secrets())

    def _compose(self) -> Any:
        from python_on_whales import DockerClient

        # Without a .env yet (doctor, a fresh clone), the example still interpolates.
        env_files = [f for f in (self.env_file, self.example_file) if f.is_file()][:1]
        return DockerClient(
            host=self.api.host,
            compose_files=[self.compose_path],
            compose_env_files=env_files,
            compose_project_name=self.project,
        )

    def _stream(self, what: str, lines: Iterable[tuple[str, bytes]], progress: Progress) -> None:
        """Forward compose's output to ``progress``; a failure raises with the masked tail."""
        from python_on_whales.exceptions import DockerException

        secrets = self.secrets()
        kept: list[str] = []
        try:
            for _source, raw in lines:
                line = redact(raw.decode(errors="surrogateescape").rstrip(), secrets)
                if line:
                    kept.append(line)
                    del kept[:-200]
                    progress(line)
        except DockerException as exc:
            stderr = (exc.stderr or "") if isinstance(exc.stderr, str) else ""
            tail = redact(trim_tail("\n".join(kept) + "\n" + stderr), secrets)
            raise _compose_error(what, tail, self.compose_path) from None
        except OSError as exc:
            # The docker CLI itself could not be run (not installed, not executable).
            raise EngineError(
                f"cannot run `docker compose {what}`: {exc.strerror or type(exc).__name__}",
                hint="install the docker CLI with the Compose v2 plugin; `periph doctor` checks",
            ) from None

    # --- control ---------------------------------------------------------------------

    def prepare_env(self, progress: Progress = _quiet) -> None:
        """Create a missing ``.env`` from the example, then run the env check:
        errors raise ``EnvCheckFailed`` (masked findings), warnings go to ``progress``."""
        if not self.example_file.is_file():
            return
        from periph_env import env as env_engine

        if not self.env_file.exists():
            result = env_engine.init(str(self.env_file), str(self.example_file))
            progress(f"created {result.env_path} from {self.example_file.name}")
        report = env_engine.check(
            str(self.env_file), str(self.example_file), "local", env_required=True
        )
        if report.errors:
            raise EnvCheckFailed(
                f"{self.env_file} fails the env check:\n"
                + env_engine.render(report, "text").rstrip(),
                hint="fix the findings above (`periph env check` shows them again)",
            )
        if report.warnings:
            for line in env_engine.render(report, "text").rstrip().splitlines():
                progress(line)

    def up(
        self,
        services: Iterable[str] | None = None,
        *,
        build: bool = False,
        wait: bool = True,
        progress: Progress | None = None,
    ) -> None:
        """Start the stack (or ``services`` and their dependencies) in dependency order;
        with ``wait``, return once every started service is healthy and one-shots exited 0."""
        progress = progress or _quiet
        wanted = self.select(services)
        self.check_engine()
        self.prepare_env(progress)
        ports.check_free(self, wanted or None)
        compose = self._compose()
        lines = compose.compose.up(
            wanted or None,
            build=build,
            detach=True,
            wait=wait,
            stream_logs=True,
            wait_timeout=600 if wait else None,
        )
        self._stream("up", lines, progress)

    def down(self, *, volumes: bool = False, progress: Progress | None = None) -> None:
        """Stop and remove the stack's containers and network (and volumes with ``volumes``)."""
        self.check_engine()
        compose = self._compose()
        from python_on_whales.utils import stream_stdout_and_stderr

        argv = [*compose.client_config.docker_compose_cmd, "down", "--remove-orphans"]
        argv += ["--timeout", "10"] + (["--volumes"] if volumes else [])
        self._stream("down", stream_stdout_and_stderr(argv), progress or _quiet)

    def _simple(
        self,
        verb: str,
        services: Iterable[str] | None,
        progress: Progress | None,
        extra: list[str] | None = None,
    ) -> None:
        wanted = self.select(services)
        self.check_engine()
        compose = self._compose()
        from python_on_whales.utils import stream_stdout_and_stderr

        argv = [*compose.client_config.docker_compose_cmd, verb, *(extra or []), *wanted]
        self._stream(verb, stream_stdout_and_stderr(argv), progress or _quiet)

    def start(
        self, services: Iterable[str] | None = None, progress: Progress | None = None
    ) -> None:
        """Start existing containers of ``services`` (default: all)."""
        self._simple("start", services, progress)

    def stop(self, services: Iterable[str] | None = None, progress: Progress | None = None) -> None:
        """Stop ``services`` (default: all), keeping their containers."""
        self._simple("stop", services, progress)

    def restart(
        self, services: Iterable[str] | None = None, progress: Progress | None = None
    ) -> None:
        """Restart ``services`` (default: all) in place."""
        self._simple("restart", services, progress)

    def run_one_shot(self, service: str) -> None:
        """Run ``service``'s command once in a fresh container without its dependencies
        (``compose run --rm --no-deps``), e.g. the migrate job; a failure raises a
        PeriphError with the masked tail of its output."""
        from python_on_whales.exceptions import DockerException

        self.check_engine()
        try:
            self._compose().compose.run(service, remove=True, tty=False, dependencies=False)
        except DockerException as exc:
            out = (exc.stderr or "") + (exc.stdout or "")
            raise PeriphError(
                f"the {service} service failed:\n" + self.mask(trim_tail(out, 20)),
                hint=f"`periph logs {service}`",
            ) from None

    def rebuild(
        self, services: Iterable[str] | None = None, progress: Progress | None = None
    ) -> None:
        """Rebuild the images of ``services`` (default: every service with a build) and
        recreate only those containers. A failed build raises ``BuildFailed`` with the
        step and log tail; the running containers are untouched."""
        wanted = self.select(services) or [
            n for n in self.services() if self.model.services[n].has_build
        ]
        self.check_engine()
        progress = progress or _quiet
        self.build(wanted, progress)
        # Asked for explicitly: a fresh container even when the image did not change.
        self.recreate(wanted, progress, force=True)

    def build(self, services: list[str], progress: Progress | None = None) -> None:
        """Build the images of ``services``; ``BuildFailed`` on error (nothing recreated)."""
        buildable = [s for s in services if self.model.services[s].has_build]
        if not buildable:
            return
        compose = self._compose()
        from python_on_whales.utils import stream_stdout_and_stderr

        argv = [*compose.client_config.docker_compose_cmd, "build", *buildable]
        try:
            self._stream("build", stream_stdout_and_stderr(argv), progress or _quiet)
        except EngineError as exc:
            raise BuildFailed(
                f"build of {', '.join(buildable)} failed; the running containers keep serving\n"
                + exc.message,
                hint="fix the build error above; the next change retries",
            ) from None

    def recreate(
        self,
        services: list[str],
        progress: Progress | None = None,
        wait: bool = True,
        force: bool = False,
    ) -> None:
        """Recreate ``services`` from their current images, leaving their dependencies alone
        (Compose skips an unchanged container unless ``force``)."""
        compose = self._compose()
        from python_on_whales.utils import stream_stdout_and_stderr

        argv = [
            *compose.client_config.docker_compose_cmd,
            "up",
            "--detach",
            "--no-deps",
            "--no-build",
            *(["--force-recreate"] if force else []),
        ]
        argv += ["--wait", "--wait-timeout", "300"] if wait else []
        self._stream("up", stream_stdout_and_stderr([*argv, *services]), progress or _quiet)

    def config(self) -> dict:
        """The fully interpolated compose model (``docker compose config --format json``)."""
        from python_on_whales.exceptions import DockerException

        try:
            return self._compose().compose.config(return_json=True)
        except OSError as exc:
            raise EngineError(
                f"cannot run `docker compose config`: {exc.strerror or type(exc).__name__}",
                hint="install the docker CLI with the Compose v2 plugin; `periph doctor` checks",
            ) from None
        except DockerException as exc:
            stderr = exc.stderr if isinstance(exc.stderr, str) else ""
            raise _compose_error(
                "config", self.mask(trim_tail(stderr)), self.compose_path
            ) from None


def _compose_error(what: str, tail: str, path: Path) -> EngineError:
    """Compose's failure as an error that names the compose file and line when it can."""
    from periph_env.stack.engine_api import docker_host, unavailable

    if "Cannot connect to the Docker daemon" in tail or "connect: no such file" in tail:
        return unavailable(docker_host(), "compose could not connect")
    match = re.search(r"yaml: line (\d+): (.*)", tail)
    if match:
        return ComposeFileError(f"{path}:{match[1]}: {match[2]}")
    port = re.search(r"(?:Bind for |listen tcp4? )([\d.]*:(\d+))", tail)
    if port:
        from periph_env.stack.errors import PortInUse

        return PortInUse(
            f"port {port[2]} is already in use ({port[1]})\n{tail}",
            hint="stop what holds it, or set PERIPH_*_PORT in .env",
        )
    return EngineError(f"docker compose {what} failed:\n{tail}")
