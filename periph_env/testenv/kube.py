"""A real Kubernetes control plane for tests: kwokctl's binary runtime on cached binaries.

etcd, kube-apiserver, kube-controller-manager and kube-scheduler are the real thing (built
from the Go module proxy by scripts/build-kube.sh); kwok-controller plays the kubelets of
two fake nodes, moving pods through the stages in ``kwok/stages.yaml``. Nothing is
downloaded: every binary kwokctl could ask for points into the cache.

``ensure`` is idempotent: a healthy cluster with the same config is reused as is, dead
processes (a reboot, a fresh CI container with a warm cache) are restarted, a changed config
recreates the cluster.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

from periph_env.common.process import run_streamed
from periph_env.errors import EngineError, PeriphError
from periph_env.testenv import kube_config as cfg
from periph_env.testenv import kube_provisioner
from periph_env.testenv.state import (
    Log,
    clear_started,
    mark_started,
    pid_alive,
    run,
    spawn,
    terminate,
    was_started,
)

BUILD_SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "build-kube.sh"
# Processes kwokctl starts, by the pid-file name it gives them.
PROCESSES = (
    "etcd",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kwok-controller",
)
READY_TIMEOUT = 120.0
WATCHDOG_MODULE = "periph_env.testenv.kube_watchdog"


def component() -> str:
    """State-file name of the cluster: the default keeps its historical name ("kube")."""
    return "kube" if cfg.CLUSTER_NAME == cfg.DEFAULT_CLUSTER_NAME else f"kube-{cfg.CLUSTER_NAME}"


@dataclass(frozen=True)
class ClusterInfo:
    """How to reach the test cluster."""

    name: str
    kubeconfig: Path
    context: str
    bin_dir: Path
    server: str
    started_by_periph: bool

    def kubectl_argv(self, *args: str) -> list[str]:
        """argv for the cached kubectl (matches the server's version) bound to this cluster."""
        return [
            str(self.bin_dir / "kubectl"),
            "--kubeconfig",
            str(self.kubeconfig),
            "--context",
            self.context,
            *args,
        ]

    def kubectl(
        self,
        *args: str,
        input: str | None = None,
        check: bool = True,
        timeout: float = 180,
    ) -> subprocess.CompletedProcess[str]:
        """Run kubectl against this cluster; raises CommandFailed on a non-zero exit if check."""
        return run(self.kubectl_argv(*args), input=input, check=check, timeout=timeout)


def config_file() -> Path:
    return cfg.periph_dir() / "kwokctl.yaml"


def kubeconfig_file() -> Path:
    return cfg.periph_dir() / "kubeconfig"


def pod_log_file() -> Path:
    return cfg.periph_dir() / "pod.log"


def fingerprint_file() -> Path:
    return cfg.periph_dir() / "fingerprint"


def component_pid(name: str) -> int | None:
    """Pid of a control-plane process kwokctl started, if it still runs as that binary."""
    try:
        pid = int((cfg.cluster_dir() / "pids" / f"{name}.pid").read_text().strip())
    except (OSError, ValueError):
        return None
    if not pid_alive(pid):
        return None
    try:
        argv0 = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0", 1)[0].decode()
    except OSError:
        return None
    # After a reboot a stale pid file can name an unrelated process that got the same pid.
    return pid if Path(argv0).name == name else None


def ensure_binaries(log: Log) -> Path:
    """Build the binaries with scripts/build-kube.sh unless cached; stream its progress."""
    directory = cfg.bin_dir()
    if not cfg.missing_binaries(directory):
        return directory
    if not BUILD_SCRIPT.is_file():
        raise EngineError(
            f"Kubernetes binaries missing in {directory} and {BUILD_SCRIPT} not found",
            hint="run scripts/build-kube.sh from a periph checkout",
        )
    env = {**os.environ, "KUBE_VERSION": cfg.KUBE_VERSION, "KWOK_VERSION": cfg.KWOK_VERSION}
    with log.step("kube: built control-plane binaries (cold: 20-40 min on 2 cores)"):
        run_streamed(["bash", str(BUILD_SCRIPT)], lambda line: log(f"kube: {line}"), env=env)
    missing = cfg.missing_binaries(directory)
    if missing:
        raise EngineError(f"build-kube.sh finished but {', '.join(missing)} missing in {directory}")
    return directory


@contextlib.contextmanager
def _locked() -> Iterator[None]:
    """Serialise ensure/stop/restarts across processes (testenv, pytest, the watchdog)."""
    cfg.periph_dir().mkdir(parents=True, exist_ok=True)
    with open(cfg.periph_dir() / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


@contextlib.contextmanager
def _try_locked() -> Iterator[bool]:
    """The same lock without waiting: True if taken (the watchdog retries later if not)."""
    cfg.periph_dir().mkdir(parents=True, exist_ok=True)
    with open(cfg.periph_dir() / ".lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
        else:
            yield True


# --- the watchdog: restarts components that exit (see kube_watchdog) ---------------------


def watchdog_pid_file() -> Path:
    return cfg.periph_dir() / "watchdog.pid"


def watchdog_log_file() -> Path:
    return cfg.periph_dir() / "watchdog.log"


def _hold_file() -> Path:
    return cfg.periph_dir() / "watchdog.hold"


def watchdog_pid() -> int | None:
    """Pid of this cluster's watchdog, if it runs (checked by its command line)."""
    try:
        pid = int(watchdog_pid_file().read_text().strip())
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (OSError, ValueError):
        return None
    ours = WATCHDOG_MODULE.encode() in argv and cfg.CLUSTER_NAME.encode() in argv
    return pid if ours and pid_alive(pid) else None


def restarts_are_held() -> bool:
    """Whether a test asked the watchdog to leave dead components dead for now.

    A hold whose process is gone (a test run killed mid-test) no longer counts.
    """
    try:
        holder = int(_hold_file().read_text().strip())
    except (OSError, ValueError):
        return False
    return pid_alive(holder)


@contextlib.contextmanager
def restarts_held() -> Iterator[None]:
    """Pause the watchdog's restarts (a test killing the apiserver for good); resume after."""
    cfg.periph_dir().mkdir(parents=True, exist_ok=True)
    _hold_file().write_text(f"{os.getpid()}\n")
    try:
        yield
    finally:
        _hold_file().unlink(missing_ok=True)


def dead_components() -> list[str]:
    """The control-plane processes of the cluster that are not running."""
    return [name for name in PROCESSES if component_pid(name) is None]


def restart_dead(_: list[str] | None = None) -> str | None:
    """Start the components that exited (``kwokctl start cluster`` skips live ones).

    Returns None when done, or why not (the lock is busy, kwokctl failed).
    """
    with _try_locked() as taken:
        if not taken:
            return "the cluster is locked by testenv up/down; retrying"
        if not dead_components():  # ensure restarted them while we waited
            return None
        _drop_stale_pid_files()
        try:
            _kwokctl("start", "cluster", "--timeout", "2m", timeout=240)
        except PeriphError as exc:
            return str(exc).splitlines()[0]
    return None


def _ensure_watchdog(log: Log) -> None:
    if watchdog_pid() is not None:
        return
    argv = [sys.executable, "-m", WATCHDOG_MODULE, cfg.CLUSTER_NAME]
    proc = spawn(argv, watchdog_log_file())
    watchdog_pid_file().write_text(f"{proc.pid}\n")
    log(f"kube: watchdog (pid {proc.pid}) restarts components that exit")


def _stop_watchdog(log: Log) -> None:
    pid = watchdog_pid()
    if pid is not None:
        terminate(pid, timeout=5)
        log(f"kube: watchdog (pid {pid}) stopped")
    watchdog_pid_file().unlink(missing_ok=True)
    _hold_file().unlink(missing_ok=True)


def _drop_stale_pid_files() -> None:
    """After a reboot a pid file can name an unrelated process; never let kwokctl signal it."""
    for name in PROCESSES:
        if component_pid(name) is None:
            (cfg.cluster_dir() / "pids" / f"{name}.pid").unlink(missing_ok=True)


def _kwokctl(*args: str, timeout: float = 360) -> subprocess.CompletedProcess[str]:
    argv = cfg.kwokctl_argv(cfg.bin_dir() / "kwokctl", *args)
    return run(argv, env=cfg.kwokctl_env(os.environ), timeout=timeout)


def _server() -> str:
    data = yaml.safe_load(kubeconfig_file().read_text())
    return data["clusters"][0]["cluster"]["server"]


def _info() -> ClusterInfo:
    return ClusterInfo(
        name=cfg.CLUSTER_NAME,
        kubeconfig=kubeconfig_file(),
        context=cfg.CONTEXT_NAME,
        bin_dir=cfg.bin_dir(),
        server=_server(),
        started_by_periph=was_started(component()),
    )


def cluster_info() -> ClusterInfo:
    """The default test cluster as configured (name, kubeconfig, context, server)."""
    return _info()


def _apiserver_ready() -> bool:
    """Whether the apiserver answers /readyz with "ok" through periph's kubeconfig."""
    if not kubeconfig_file().is_file() or not (cfg.bin_dir() / "kubectl").is_file():
        return False
    proc = _info().kubectl("get", "--raw", "/readyz", "--request-timeout=5s", check=False)
    return proc.returncode == 0 and proc.stdout.strip() == "ok"


def _healthy() -> bool:
    return all(component_pid(p) for p in PROCESSES) and _apiserver_ready()


def _write_kubeconfig() -> None:
    kwok_kubeconfig = yaml.safe_load((cfg.cluster_dir() / "kubeconfig.yaml").read_text())
    path = kubeconfig_file()
    path.write_text(yaml.safe_dump(cfg.periph_kubeconfig(kwok_kubeconfig), sort_keys=False))
    path.chmod(0o600)


def _wait_ready(timeout: float = READY_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not _apiserver_ready():
        if time.monotonic() > deadline:
            raise EngineError(
                f"kube-apiserver of {cfg.CLUSTER_NAME} not ready after {timeout:.0f}s",
                hint=f"see the logs in {cfg.cluster_dir() / 'logs'}",
            )
        time.sleep(0.5)


def _bring_up_workloads(info: ClusterInfo) -> None:
    """Fake nodes Ready and the default ServiceAccount present, so pods can be created."""
    nodes = cfg.dump_documents(cfg.node_documents())
    info.kubectl("apply", "--server-side", "--field-manager=periph", "-f", "-", input=nodes)
    node_refs = [f"node/{n}" for n in cfg.NODE_NAMES]
    info.kubectl("wait", "--for=condition=Ready", *node_refs, "--timeout=120s")
    info.kubectl(
        "wait", "--for=create", "serviceaccount/default", "-n", "default", "--timeout=120s"
    )


def _write_config(binaries: Path) -> tuple[str, str]:
    """Write the kwokctl config and the pod log; return the config's fingerprints.

    The second fingerprint is the config without the real node's patches: a cluster created
    before they existed still serves the k8s tier as it is (see ``ensure``).
    """
    cfg.periph_dir().mkdir(parents=True, exist_ok=True)
    # kwok reads the file on every request; rewrite it only when the configured lines change.
    log_file = pod_log_file()
    if not log_file.is_file() or cfg.log_lines(log_file.read_text()) != list(cfg.POD_LOG_LINES):
        log_file.write_text(cfg.pod_log_text())
    documents = cfg.config_documents(binaries, pod_log_file(), cfg.REAL_NODE_CONTROL_PLANE)
    config_file().write_text(cfg.dump_documents(documents))
    without_node = cfg.config_documents(binaries, pod_log_file(), real_node=False)
    return cfg.fingerprint(documents), cfg.fingerprint(without_node)


def _recorded_fingerprint() -> str | None:
    try:
        return fingerprint_file().read_text().strip()
    except OSError:
        return None


def _delete_cluster() -> None:
    _kwokctl(*cfg.delete_args(cfg.periph_dir() / "kwokctl-scratch.kubeconfig"))
    for path in (kubeconfig_file(), fingerprint_file()):
        path.unlink(missing_ok=True)


def _start_existing(log: Log) -> bool:
    """Restart the processes of an existing cluster; False if it cannot come back."""
    _drop_stale_pid_files()
    try:
        with log.step(f"kube: restarted cluster {cfg.CLUSTER_NAME}"):
            # Stop the survivors first (SIGKILL): kwokctl start skips a component whose
            # process is still alive, even one still shutting down, which then never serves.
            _kwokctl("stop", "cluster")
            _kwokctl("start", "cluster", "--timeout", "5m")
            _write_kubeconfig()
            _wait_ready()
    except EngineError as exc:
        log(f"kube: restart failed, recreating: {str(exc).splitlines()[0]}")
        return False
    return True


def _create(log: Log, fingerprint: str) -> None:
    with log.step(f"kube: created cluster {cfg.CLUSTER_NAME} ({cfg.KUBE_VERSION}, kwok)"):
        _kwokctl(*cfg.create_args(config_file()))
        mark_started(component())
        fingerprint_file().write_text(fingerprint + "\n")
        _write_kubeconfig()
        _wait_ready()


def ensure(log: Log, *, require_real_node: bool = False) -> ClusterInfo:
    """Bring the test cluster up (or reuse it) and return how to reach it.

    A healthy cluster created without the real node's patches is reused unless
    ``require_real_node`` (the node tier): adding the patches recreates a shared cluster only
    when a real node needs them, never under a kwok-only test run.
    """
    if not cfg.valid_cluster_name(cfg.CLUSTER_NAME):
        raise EngineError(
            f"PERIPH_KUBE_CLUSTER={cfg.CLUSTER_NAME!r} is not a valid cluster name",
            hint="use lowercase letters, digits and '-' (a DNS label of at most 40 characters)",
        )
    binaries = ensure_binaries(log)
    with _locked():
        fingerprint, without_node = _write_config(binaries)
        exists = (cfg.cluster_dir() / "kwok.yaml").is_file()
        same_config = cfg.reusable_config(
            _recorded_fingerprint(), fingerprint, without_node, require_real_node
        )
        if exists and same_config and _healthy():
            info = _info()
            log(f"kube: reusing cluster {info.name} at {info.server}")
            _ensure_watchdog(log)
            kube_provisioner.ensure_running(log)
            return info
        if exists and not same_config:
            with log.step(f"kube: deleted cluster {cfg.CLUSTER_NAME} (config changed)"):
                _delete_cluster()
            exists = False
        if not (exists and _start_existing(log)):
            if exists:
                _delete_cluster()
            _create(log, fingerprint)
        info = _info()
        with log.step(f"kube: {len(cfg.NODE_NAMES)} fake nodes Ready"):
            _bring_up_workloads(info)
        _ensure_watchdog(log)
        # kwok binds no claim by itself: the default StorageClass's provisioner does.
        kube_provisioner.ensure_running(log)
        log(f"kube: cluster {info.name} ready at {info.server} (kubeconfig {info.kubeconfig})")
        return info


def status() -> str:
    """One line: whether the cluster runs, where, and with which kubeconfig."""
    if cfg.missing_binaries(cfg.bin_dir()):
        return f"not running (binaries not built in {cfg.bin_dir()})"
    if not (cfg.cluster_dir() / "kwok.yaml").is_file():
        return "not created (binaries cached)"
    if not _healthy():
        dead = [p for p in PROCESSES if component_pid(p) is None]
        return f"stopped ({', '.join(dead) or 'apiserver not ready'}); `up` restarts it"
    owner = "started by periph" if was_started(component()) else "not started by periph"
    pid = watchdog_pid()
    watchdog = f"watchdog pid {pid}" if pid else "no watchdog: `up` starts it"
    return (
        f"running {cfg.CLUSTER_NAME} at {_server()} "
        f"({owner}; {watchdog}; kubeconfig {kubeconfig_file()})"
    )


def stop(log: Log) -> None:
    """Delete the cluster if periph created it; otherwise leave it alone.

    The watchdog stops either way: nothing periph started outlives ``down``.
    """
    if watchdog_pid_file().exists():  # no lock file (nor directory) where nothing ran
        with _locked():
            _stop_watchdog(log)
            kube_provisioner.stop(log)
    if not (cfg.cluster_dir() / "kwok.yaml").is_file():
        clear_started(component())
        return
    if not was_started(component()):
        log(f"kube: cluster {cfg.CLUSTER_NAME} was not started by periph; leaving it running")
        return
    if cfg.missing_binaries(cfg.bin_dir()):
        raise EngineError(f"cannot delete {cfg.CLUSTER_NAME}: kwokctl missing in {cfg.bin_dir()}")
    with _locked(), log.step(f"kube: deleted cluster {cfg.CLUSTER_NAME}"):
        _delete_cluster()
        clear_started(component())
