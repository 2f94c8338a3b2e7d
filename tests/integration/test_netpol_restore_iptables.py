"""The real node's kube-router restores through ``netpol_restore``, checked with real iptables.

Each test runs in a network namespace of its own (``unshare -n``), so it sees an empty
filter table and cannot disturb the host's: it builds the chains kube-router and Docker
would, saves the table as kube-router does, lets "Docker" add a rule after the save, then
hands kube-router's stale whole-table copy to the shim, as kube-router's sync does.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from periph_env.testenv import node_netpol
from periph_env.testenv.debian_host import ensure_packages

# kube-router's whole-table copy as the real node's firewall handed it to iptables-restore
# with the netpol tests' pods and policies in place (pod chains, policy chains, ipsets,
# kube-proxy's, the CNI's and Docker's chains). kube-proxy's one nfacct match is cut out:
# the accounting object it names lives in the host's network namespace only.
RECORDED_COPY = Path(__file__).parent / "data" / "kube_router_filter_copy.txt"

pytestmark = pytest.mark.docker  # Debian's docker.io brings iptables

SETUP = """
set -e
iptables -w -N DOCKER-USER
iptables -w -A FORWARD -j DOCKER-USER
iptables -w -N KUBE-ROUTER-FORWARD
iptables -w -I FORWARD 1 -m comment --comment "kube-router netpol" -j KUBE-ROUTER-FORWARD
iptables -w -N KUBE-POD-FW-OLD
iptables -w -A KUBE-POD-FW-OLD -j ACCEPT
iptables -w -A KUBE-ROUTER-FORWARD -d 10.1.1.1 -j KUBE-POD-FW-OLD
iptables-save -t filter > "$DIR/saved"
# Docker creates a network between kube-router's save and its restore.
iptables -w -A FORWARD -i br-abc -o br-abc -j ACCEPT
"""


def _run_in_own_netns(script: str, tmp_path: Path) -> str:
    proc = subprocess.run(
        ["unshare", "-n", "bash", "-c", script],
        env={"DIR": str(tmp_path), "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def _in_own_netns(tmp_path: Path, edit: str) -> str:
    """Run SETUP, make kube-router's copy with ``edit`` (sed), restore it through the shim,
    and return the namespace's filter table afterwards."""
    shims = node_netpol.restore_shims(tmp_path)
    script = (
        SETUP
        + f"""
sed {edit} "$DIR/saved" > "$DIR/wanted"
PATH={shims}:$PATH iptables-restore --wait -T filter < "$DIR/wanted"
iptables-save -t filter
"""
    )
    return _run_in_own_netns(script, tmp_path)


NEW_POD = "-e s/KUBE-POD-FW-OLD/KUBE-POD-FW-NEW/g -e s/10.1.1.1/10.1.1.2/"


def test_a_docker_rule_added_during_a_sync_survives_the_restore(docker_engine, tmp_path):
    table = _in_own_netns(tmp_path, NEW_POD)
    assert "-A FORWARD -i br-abc -o br-abc -j ACCEPT" in table
    assert "-A FORWARD -j DOCKER-USER" in table


def test_the_sync_still_replaces_kube_routers_own_chains(docker_engine, tmp_path):
    table = _in_own_netns(tmp_path, NEW_POD)
    assert "-A KUBE-ROUTER-FORWARD -d 10.1.1.2/32 -j KUBE-POD-FW-NEW" in table
    assert "-A KUBE-POD-FW-NEW -j ACCEPT" in table
    assert "KUBE-POD-FW-OLD" not in table
    assert table.count("-j KUBE-ROUTER-FORWARD") == 1


def test_its_cleanup_removes_its_chains_and_hooks_and_keeps_dockers(docker_engine, tmp_path):
    table = _in_own_netns(tmp_path, "-e /KUBE/d")
    assert "KUBE" not in table
    assert "-A FORWARD -i br-abc -o br-abc -j ACCEPT" in table
    assert "-A FORWARD -j DOCKER-USER" in table


def test_the_shim_logs_each_restore_with_its_exit_code(docker_engine, tmp_path):
    _in_own_netns(tmp_path, NEW_POD)
    log = (tmp_path / "logs" / "netpol-restore.log").read_text()
    assert "iptables-restore -T filter: exit 0" in log


def _table_only(dump: str) -> list[str]:
    """A filter dump without its comments and packet counters."""
    return [re.sub(r" \[\d+:\d+\]$", "", line) for line in dump.splitlines() if line[:1] != "#"]


def test_with_nobody_racing_it_the_result_is_what_kube_routers_own_restore_makes(
    docker_engine, tmp_path
):
    ensure_packages({"ipset": "ipset"}, print, why="kube-router's recorded rules")
    copy = RECORDED_COPY.read_text()
    sets = sorted(set(re.findall(r"--match-set (\S+)", copy)))
    shims = node_netpol.restore_shims(tmp_path)
    script = "set -e\n" + "".join(f"ipset create {name} hash:ip\n" for name in sets)
    script += f"""
iptables-restore -T filter < {RECORDED_COPY}
iptables-save -t filter > "$DIR/kube-router"
# The state before a sync: a pod chain kube-router no longer wants, hooked in, and a rule
# it wants missing.
iptables -w -N KUBE-POD-FW-STALE
iptables -w -A KUBE-POD-FW-STALE -j ACCEPT
iptables -w -I KUBE-ROUTER-FORWARD 1 -j KUBE-POD-FW-STALE
iptables -w -D KUBE-ROUTER-INPUT 1
PATH={shims}:$PATH iptables-restore --wait -T filter < {RECORDED_COPY}
iptables-save -t filter
"""
    through_shim = _run_in_own_netns(script, tmp_path)
    own = (tmp_path / "kube-router").read_text()
    assert sets and "-j KUBE-POD-FW-" in own  # the recording holds pods and policies
    assert _table_only(through_shim) == _table_only(own)
