"""``periph testenv env``: the exports that point a shell (and periph) at the running test engines.

Printed as ``export NAME='value'`` lines for ``eval "$(periph testenv env)"``:

- ``KUBECONFIG`` (periph's own kubeconfig of the test cluster; ``~/.kube/config`` is never
  touched), ``PERIPH_DEMO_CONTEXT`` and ``PERIPH_PROD_CONTEXT`` (its context), and
  ``PERIPH_KUBECTL`` (the cached kubectl matching the cluster's version);
- ``PERIPH_REGISTRY`` (the test registry's address);
- ``DOCKER_CONFIG``: a Docker config directory periph writes (0700, ``config.json`` 0600) with
  the test registry's login merged into a copy of the current config. The password goes
  through that file only: never into the environment, never onto stdout.

``probe()`` is the cheap check (state files and pids, no subprocess) the TUI uses to tell a
user with unset variables that the test engines already run.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shlex
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from periph_env.errors import EngineError
from periph_env.testenv import docker_engine, kube, registry
from periph_env.testenv import kube_config as cfg
from periph_env.testenv.state import STATE_DIR, Log

COMMAND = 'eval "$(periph testenv env)"'
# Docker config directories periph writes live here, one per base config they copy.
SHELL_DIR = STATE_DIR / "shell"
# Names the exports set; the TUI checks these to see whether a shell was pointed already.
# What starts the missing tiers (spelled out, so a test can parse every hint's command).
_START = {
    ("registry",): "start it with `periph testenv up --tier registry`",
    ("k8s",): "start it with `periph testenv up --tier k8s`",
    ("registry", "k8s"): "start them with `periph testenv up --tier registry --tier k8s`",
}
EXPORTED = (
    "KUBECONFIG",
    "PERIPH_DEMO_CONTEXT",
    "PERIPH_PROD_CONTEXT",
    "PERIPH_KUBECTL",
    "PERIPH_REGISTRY",
    "DOCKER_CONFIG",
)


@dataclass(frozen=True)
class Probe:
    """What of the test environment runs, judged from its state files (no subprocess)."""

    registry: str | None = None  # address when periph's registry is up
    context: str | None = None  # the test cluster's context when its control plane runs
    kubeconfig: Path | None = None
    missing: list[str] = field(default_factory=list)

    @property
    def running(self) -> bool:
        """Whether both the registry and the cluster run."""
        return bool(self.registry and self.context)


def probe() -> Probe:
    """Cheap check of the registry and cluster (pid files and a TCP connect, no kubectl)."""
    missing: list[str] = []
    addr = registry.address()
    reg: str | None = addr
    if not (registry.registry_dir() / "credentials.json").is_file() or not _port_open(addr):
        reg = None
        missing.append(f"the test registry ({addr})")
    kubeconfig = kube.kubeconfig_file()
    context: str | None = cfg.CONTEXT_NAME
    if not kubeconfig.is_file() or not all(kube.component_pid(p) for p in kube.PROCESSES):
        context = None
        missing.append(f"the test cluster ({cfg.CLUSTER_NAME})")
    return Probe(reg, context, kubeconfig if context else None, missing)


_PROBED: tuple[float, Probe] | None = None
PROBE_TTL = 5.0  # the TUI asks on every redraw of a banner; state files change rarely


def cached_probe() -> Probe:
    """``probe()``, reused for ``PROBE_TTL`` seconds."""
    global _PROBED
    now = time.monotonic()
    if _PROBED is None or now - _PROBED[0] > PROBE_TTL:
        _PROBED = (now, probe())
    return _PROBED[1]


def remedy(kind: str, default: str, environ: Mapping[str, str] | None = None) -> str:
    """The next step for a missing ``kind`` ("registry" or "k8s") in the TUI's hints.

    When the test registry or cluster already runs and this process was not pointed at it,
    the step is the eval line (periph does not switch to the test engines on its own: a
    failing context may be a real cluster's); otherwise ``default`` (how to start one).
    """
    environ = os.environ if environ is None else environ
    found = cached_probe()
    if points_here(environ, found):
        return default
    if kind == "registry" and found.registry:
        what = f"The test registry runs on {found.registry}"
    elif kind == "k8s" and found.context:
        what = f"The test cluster runs (context {found.context})"
    else:
        return default
    return (
        f"{what}: quit, run `{COMMAND}` in your shell and start periph again "
        "(periph does not switch to the test engines by itself)."
    )


def _port_open(addr: str) -> bool:
    try:
        return registry.port_open(addr)
    except OSError:
        return False


def points_here(environ: Mapping[str, str], found: Probe) -> bool:
    """Whether ``environ`` already carries the exports for the running test environment."""
    return bool(
        found.running
        and environ.get("PERIPH_REGISTRY") == found.registry
        and environ.get("PERIPH_DEMO_CONTEXT") == found.context
        and environ.get("KUBECONFIG") == str(found.kubeconfig)
    )


def exports(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The variables to export, after checking that registry and cluster answer.

    Raises ``EngineError`` naming every part that is not running (and how to start it).
    Writes the Docker config directory as a side effect.
    """
    environ = os.environ if environ is None else environ
    missing: list[str] = []
    tiers: list[str] = []
    addr = registry.address()
    login = _registry_login(addr)
    if login is None:
        answers = registry.probe(addr) is not None
        missing.append(
            f"the test registry on {addr}"
            + (" (it answers but refuses periph's test login)" if answers else "")
        )
        tiers.append("registry")
    cluster = kube.status()
    if not cluster.startswith("running"):
        missing.append(f"the test cluster {cfg.CLUSTER_NAME} ({cluster})")
        tiers.append("k8s")
    if missing:
        raise EngineError("not running: " + "; ".join(missing), hint=_START[tuple(tiers)])
    assert login is not None
    result = {
        "KUBECONFIG": str(kube.kubeconfig_file()),
        "PERIPH_DEMO_CONTEXT": cfg.CONTEXT_NAME,
        "PERIPH_PROD_CONTEXT": cfg.CONTEXT_NAME,
    }
    kubectl = cfg.bin_dir() / "kubectl"
    if kubectl.is_file():
        result["PERIPH_KUBECTL"] = str(kubectl)
    result["PERIPH_REGISTRY"] = addr
    result["DOCKER_CONFIG"] = str(write_docker_config(addr, login, environ))
    host = docker_engine.engine_host()
    if host != docker_engine.DEFAULT_HOST:
        result["DOCKER_HOST"] = host
    return result


def _registry_login(addr: str) -> tuple[str, str] | None:
    """The test user's login when the registry accepts it; None when it does not answer."""
    path = registry.registry_dir() / "credentials.json"
    if not path.is_file():
        return None
    data = json.loads(path.read_text())
    login = (data["username"], data["password"])
    return login if registry.probe(addr, login) == 200 else None


def _base_config(environ: Mapping[str, str]) -> Path:
    """The Docker config directory the shell uses now (what periph's copy starts from)."""
    return Path(environ.get("DOCKER_CONFIG") or Path.home() / ".docker")


def docker_config_dir(base: Path) -> Path:
    """periph's Docker config directory derived from ``base`` (stable per base)."""
    if base.resolve().parent == SHELL_DIR.resolve():
        return base  # the shell was pointed here already: update in place
    digest = hashlib.sha256(str(base.resolve()).encode()).hexdigest()[:10]
    return SHELL_DIR / f"docker-{digest}"


def write_docker_config(addr: str, login: tuple[str, str], environ: Mapping[str, str]) -> Path:
    """Write the directory: the base config plus the registry's ``auths`` entry (0600).

    Everything else in the base directory (``cli-plugins`` with Compose, buildx state) is
    linked, so ``docker compose`` keeps working in the pointed shell.
    """
    base = _base_config(environ)
    target = docker_config_dir(base)
    SHELL_DIR.mkdir(parents=True, exist_ok=True)
    target.mkdir(mode=0o700, exist_ok=True)
    target.chmod(0o700)
    config: dict = {}
    if (base / "config.json").is_file():
        try:
            config = json.loads((base / "config.json").read_text())
        except ValueError as exc:
            raise EngineError(
                f"{base / 'config.json'}: not valid JSON (line {getattr(exc, 'lineno', '?')})",
                hint="fix that file, or point DOCKER_CONFIG at another directory",
            ) from None
    if target != base and base.is_dir():
        for entry in base.iterdir():
            link = target / entry.name
            if entry.name == "config.json" or (link.exists() and not link.is_symlink()):
                continue
            link.unlink(missing_ok=True)
            link.symlink_to(entry.resolve())
    token = base64.b64encode(f"{login[0]}:{login[1]}".encode()).decode()
    config.setdefault("auths", {})[addr] = {"auth": token}
    # A credential store or helper would shadow the file's entry for the test registry.
    config.get("credHelpers", {}).pop(addr, None)
    config.pop("credsStore", None)
    _write_private(target / "config.json", json.dumps(config, indent=2) + "\n")
    return target


def _write_private(path: Path, text: str) -> None:
    """Replace ``path`` atomically with a 0600 file (a concurrent reader never sees half)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    registry.write_private(tmp, text)
    os.replace(tmp, path)


def render(variables: Mapping[str, str]) -> str:
    """``export NAME='value'`` lines, quoted for POSIX shells."""
    return "".join(f"export {name}={shlex.quote(value)}\n" for name, value in variables.items())


def main(log: Log | None = None) -> int:
    """Print the exports to stdout; exit 1 (naming what is not running) on stderr otherwise."""
    log = log or Log()
    try:
        variables = exports()
    except EngineError as exc:
        log(f"error: {exc}")
        return 1
    print(f"# periph test engines; use: {COMMAND}")
    print(render(variables), end="")
    return 0


def announce(log: Log) -> None:
    """The line ``periph testenv up`` ends with: how to point a shell at what it started."""
    log(f"up: point this shell and periph at the test engines: {COMMAND}")
