"""The real node's footprint on the host, set up and undone: interfaces, sysctls, iptables
chains, mounts, cgroups and the directories the kubelet creates outside periph's cache.

Everything set up here is recorded first (``RUN_DIR/host.json``) so ``undo`` restores the
host as it was, even after a crash of the processes that made the changes.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import shutil
import signal
import subprocess
import time
from pathlib import Path

from periph_env.testenv import node_cleanup as ncleanup
from periph_env.testenv import node_config as ncfg
from periph_env.testenv.state import Log, run


def _record_file() -> Path:
    return ncfg.RUN_DIR / "host.json"


def _load_record() -> dict:
    try:
        return json.loads(_record_file().read_text())
    except (OSError, ValueError):
        return {}


def _save_record(record: dict) -> None:
    ncfg.RUN_DIR.mkdir(parents=True, exist_ok=True)
    _record_file().write_text(json.dumps(record, indent=1))


def _read_sysctl(key: str) -> str | None:
    try:
        return (Path("/proc/sys") / key).read_text().strip()
    except OSError:
        return None


def record_host_state() -> None:
    """Remember sysctls and which host dirs existed, once, before the node changes them."""
    record = _load_record()
    if "sysctls" not in record:
        values = {k: v for k in ncfg.SYSCTLS if (v := _read_sysctl(k)) is not None}
        record["sysctls"] = ncfg.parse_sysctls(values)
    if "host_dirs" not in record:
        record["host_dirs"] = [d for d in ncfg.HOST_DIRS if Path(d).exists()]
    _save_record(record)


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return run(["ip", *args], check=check, timeout=30)


def ensure_network() -> None:
    """The node IP on an interface of its own, the Service range routed into it (kept local).

    A bridge without ports stands in for a dummy interface: this kernel has no dummy driver
    (and no modprobe), while bridges are what the CNI plugin needs anyway.
    """
    if _ip("link", "show", ncfg.DUMMY_INTERFACE, check=False).returncode != 0:
        _ip("link", "add", ncfg.DUMMY_INTERFACE, "type", "bridge")
    addresses = _ip("-o", "addr", "show", "dev", ncfg.DUMMY_INTERFACE).stdout
    if f" {ncfg.NODE_IP}/" not in addresses:
        _ip("addr", "add", f"{ncfg.NODE_IP}/32", "dev", ncfg.DUMMY_INTERFACE)
    _ip("link", "set", ncfg.DUMMY_INTERFACE, "up")
    _ip("route", "replace", ncfg.SERVICE_CIDR, "dev", ncfg.DUMMY_INTERFACE)


def kill_processes_using(marker: str, log: Log) -> None:
    """SIGKILL every process whose command line mentions ``marker`` (our shims, our pods)."""
    me = os.getpid()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if marker in cmdline:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(int(entry.name), signal.SIGKILL)
                log(f"node: killed leftover pid {entry.name}")


def _cgroup_dirs() -> list[Path]:
    """Every ``kubepods`` cgroup directory in every mounted hierarchy."""
    found = []
    if not ncfg.CGROUP_ROOT.is_dir():
        return found
    for hierarchy in ncfg.CGROUP_ROOT.iterdir():
        candidate = hierarchy / ncfg.CGROUP_NAME
        if candidate.is_dir() and not hierarchy.is_symlink():
            found.append(candidate)
    unified = ncfg.CGROUP_ROOT / ncfg.CGROUP_NAME
    if unified.is_dir():
        found.append(unified)
    return found


def kill_pod_processes() -> None:
    """SIGKILL every process left in the kubepods cgroups (containers whose shim is gone)."""
    for root in _cgroup_dirs():
        for procs in root.rglob("cgroup.procs"):
            with contextlib.suppress(OSError):
                for pid in procs.read_text().split():
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.kill(int(pid), signal.SIGKILL)


def remove_cgroups(log: Log) -> None:
    """rmdir the kubepods trees, deepest first (a cgroup goes once its processes are gone)."""
    for root in _cgroup_dirs():
        dirs = sorted((p for p in root.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts))
        for directory in [*dirs, root]:
            for _ in range(20):
                try:
                    directory.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.1)
            else:
                log(f"node: could not remove cgroup {directory}")


def unmount_under(roots: list[Path], log: Log) -> None:
    """Unmount everything mounted at or below ``roots`` (pod volumes, netns, the kubelet root)."""
    mountinfo = Path("/proc/self/mountinfo").read_text()
    for point in ncleanup.mounts_under(mountinfo, roots):
        proc = run(["umount", point], check=False, timeout=30)
        if proc.returncode != 0:
            proc = run(["umount", "-l", point], check=False, timeout=30)
            if proc.returncode != 0:
                log(f"node: could not unmount {point}: {proc.stderr.strip()}")


def remove_cni_netns(log: Log) -> None:
    """Network namespaces containerd made for pods (``/run/netns/cni-*``)."""
    netns = Path("/run/netns")
    if not netns.is_dir():
        return
    for entry in netns.glob("cni-*"):
        run(["umount", str(entry)], check=False, timeout=30)
        with contextlib.suppress(OSError):
            entry.unlink()


def remove_iptables_chains(log: Log) -> None:
    """Delete the KUBE-* and CNI-* chains (and the rules jumping to them), IPv4 and IPv6."""
    for save, tool in (("iptables-save", "iptables"), ("ip6tables-save", "ip6tables")):
        if shutil.which(save) is None:
            continue
        dump = run([save], check=False, timeout=60).stdout
        for table, spec in ncleanup.rules_jumping_to_ours(dump):
            run([tool, "-w", "-t", table, *shlex.split(spec)], check=False, timeout=30)
        for table, chains in ncleanup.chains_to_remove(dump).items():
            for chain in chains:
                run([tool, "-w", "-t", table, "-F", chain], check=False, timeout=30)
            for chain in chains:
                proc = run([tool, "-w", "-t", table, "-X", chain], check=False, timeout=30)
                if proc.returncode != 0:
                    log(f"node: {tool} -t {table} -X {chain}: {proc.stderr.strip()}")


def _our_ipsets() -> list[str]:
    """kube-router's address sets (its firewall names them KUBE-SRC-*, KUBE-DST-*, ...)."""
    if shutil.which("ipset") is None:
        return []
    names = run(["ipset", "list", "-n"], check=False, timeout=30).stdout.split()
    return [n for n in names if n.startswith(("KUBE-", "kube-router-"))]


def remove_ipsets(log: Log) -> None:
    """Destroy the firewall's ipsets kube-router --cleanup-config left (after the chains go:
    a set an iptables rule still references cannot be destroyed)."""
    for name in _our_ipsets():
        proc = run(["ipset", "destroy", name], check=False, timeout=30)
        if proc.returncode != 0:
            log(f"node: ipset destroy {name}: {proc.stderr.strip()}")


def remove_runtime_dir() -> None:
    """containerd's state (task dirs, log FIFOs) and sockets under ``RUN_DIR``; the lock stays."""
    if not ncfg.RUN_DIR.is_dir():
        return
    for entry in ncfg.RUN_DIR.iterdir():
        if entry.name in (".lock", "host.json"):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)


def remove_interfaces() -> None:
    """The CNI bridge, leftover pod veths on it, and the dummy interface (with its route)."""
    for name in (ncfg.BRIDGE, ncfg.DUMMY_INTERFACE):
        _ip("link", "delete", name, check=False)


def restore_host(log: Log) -> None:
    """Write recorded sysctls back and remove host dirs the kubelet created."""
    record = _load_record()
    for key, value in record.get("sysctls", {}).items():
        current = _read_sysctl(key)
        if current is not None and current != value:
            try:
                (Path("/proc/sys") / key).write_text(value + "\n")
                log(f"node: restored {key.replace('/', '.')} {current} -> {value}")
            except OSError as exc:
                log(f"node: could not restore {key}: {exc}")
    existed = set(record.get("host_dirs", ncfg.HOST_DIRS))
    for directory in ncfg.HOST_DIRS:
        if directory not in existed and Path(directory).exists():
            shutil.rmtree(directory, ignore_errors=True)
    _record_file().unlink(missing_ok=True)


def leftovers() -> list[str]:
    """What of the node is still on the host (for status and tests): empty when clean."""
    found = []
    for name in (ncfg.DUMMY_INTERFACE, ncfg.BRIDGE):
        if _ip("link", "show", name, check=False).returncode == 0:
            found.append(f"interface {name}")
    found += [f"cgroup {p}" for p in _cgroup_dirs()]
    if shutil.which("iptables-save"):
        chains = ncleanup.chains_to_remove(run(["iptables-save"], check=False, timeout=60).stdout)
        found += [f"iptables {t}/{c}" for t, cs in chains.items() for c in cs]
    found += [f"ipset {name}" for name in _our_ipsets()]
    return found
