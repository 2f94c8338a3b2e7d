"""kube-router's ``iptables-restore``, narrowed to the chains kube-router owns.

Why this exists: kube-router v2.1.0's firewall syncs by saving the whole filter table,
editing its own chains in that copy, and restoring the copy *without* ``--noflush``. Every
rule another program added between the save and the restore is gone: on a test machine
that is Docker's per-network rules (``-i br-x -o br-x -j ACCEPT`` under FORWARD's DROP
policy), so a Compose stack created in that window cannot reach its own database (a CI run
failed on exactly that), and the CNI firewall plugin's per-pod rules.

kube-router finds ``iptables-restore`` on its PATH; the node puts a shim first on that PATH
which runs this file. It turns kube-router's whole-table copy into a ``--noflush`` delta
that touches kube-router's chains and nothing else:

- each owned chain kube-router wants is declared and flushed, then refilled in its order;
- owned chains that exist now but that kube-router left out are flushed and deleted, with
  the rules in other chains that jump to them (how ``--cleanup-config`` unhooks itself);
- rules in any other chain are never written: the jumps from INPUT/FORWARD/OUTPUT into
  kube-router's chains are kube-router's own direct ``iptables -I`` calls, made before it
  saves, so they need no restore.

Standard library only: it runs as a script by path, once per kube-router sync.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import os
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

# kube-router's netpol chain names (network_policy_controller.go): KUBE-ROUTER-INPUT,
# -FORWARD, -OUTPUT; KUBE-POD-FW-<hash>; KUBE-NWPLCY-<hash> and KUBE-NWPLCY-DEFAULT.
OWNED_PREFIXES = ("KUBE-ROUTER-", "KUBE-POD-FW-", "KUBE-NWPLCY-")


@dataclass
class Table:
    """One table of an ``iptables-save`` dump or of kube-router's copy: its chains, its
    ``-A`` rules as (chain, spec), and every rule line (``-A`` and ``-I``) as (chain, line)
    in order. kube-router's copy inserts (``-I CHAIN 1 ...``) into its pod chains, so its
    lines are replayed as written, not re-appended."""

    chains: list[str] = field(default_factory=list)
    rules: list[tuple[str, str]] = field(default_factory=list)
    lines: list[tuple[str, str]] = field(default_factory=list)


def owned(chain: str) -> bool:
    """Whether kube-router's firewall owns ``chain``."""
    return chain.startswith(OWNED_PREFIXES)


def parse(dump: str, table: str = "filter") -> Table:
    """The chains and ``-A`` rules of ``table`` in an ``iptables-save`` dump."""
    result = Table()
    current = ""
    for line in dump.splitlines():
        if line.startswith("*"):
            current = line[1:].strip()
        elif current != table:
            continue
        elif line.startswith(":"):
            result.chains.append(line[1:].split()[0])
        elif line.startswith(("-A ", "-I ")):
            chain, _, spec = line[3:].partition(" ")
            result.lines.append((chain, line.strip()))
            if line.startswith("-A "):
                result.rules.append((chain, spec.strip()))
    return result


def target(spec: str) -> str | None:
    """The chain a rule jumps or goes to (``-j``/``-g``), if any."""
    try:
        words = shlex.split(spec)
    except ValueError:
        words = spec.split()
    for flag, value in itertools.pairwise(words):
        if flag in ("-j", "--jump", "-g", "--goto"):
            return value
    return None


def delta(desired: str, current: str, table: str = "filter") -> str:
    """An ``iptables-restore --noflush`` input that makes the owned chains of ``current``
    what ``desired`` (kube-router's whole-table copy) says, leaving every other rule be."""
    want, have = parse(desired, table), parse(current, table)
    wanted_chains = [c for c in want.chains if owned(c)]
    stale = [c for c in have.chains if owned(c) and c not in set(wanted_chains)]
    wanted_rules = set(want.rules)
    lines = [f"*{table}"]
    lines += [f":{chain} - [0:0]" for chain in wanted_chains]
    lines += [f"-F {chain}" for chain in wanted_chains]
    for chain, spec in have.rules:
        jump = target(spec)
        if not owned(chain) and jump and owned(jump) and (chain, spec) not in wanted_rules:
            lines.append(f"-D {chain} {spec}")
    lines += [line for chain, line in want.lines if owned(chain)]
    lines += [f"-F {chain}" for chain in stale]
    lines += [f"-X {chain}" for chain in stale]
    lines.append("COMMIT")
    return "\n".join(lines) + "\n"


def _table(args: list[str]) -> str:
    for flag, value in itertools.pairwise(args):
        if flag in ("-T", "--table"):
            return value
    return "filter"


def _real(tool: str, own_dir: Path) -> str:
    """``tool`` on PATH, skipping the shim directory (the shim is named like the tool)."""
    path = os.pathsep.join(
        p for p in os.environ.get("PATH", "").split(os.pathsep) if p and Path(p) != own_dir
    )
    found = shutil.which(tool, path=path)
    if found is None:
        raise SystemExit(f"netpol_restore: {tool} not found on PATH")
    return found


def _foreign_rules(dump: str, table: str) -> int:
    return sum(1 for chain, _ in parse(dump, table).rules if not owned(chain))


def _log(path: Path, line: str) -> None:
    """One line per restore; a log that cannot be written never fails kube-router's sync."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a") as out:
            out.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {line}\n")
    except OSError:
        pass


def _save(path: Path, text: str) -> None:
    with contextlib.suppress(OSError):
        path.write_text(text)


def main(argv: list[str] | None = None) -> int:
    """Run as kube-router's ``iptables-restore``/``ip6tables-restore``: read its table from
    stdin, apply the owned-chains delta with the real tool, exit with the real tool's code."""
    parser = argparse.ArgumentParser(prog="netpol_restore")
    parser.add_argument("--tool", required=True, help="iptables-restore or ip6tables-restore")
    parser.add_argument("--shim-dir", type=Path, required=True)
    parser.add_argument("--log", type=Path)
    parser.add_argument("args", nargs=argparse.REMAINDER)
    opts = parser.parse_args(argv)
    args = [a for a in opts.args if a != "--"]
    table = _table(args)
    desired = sys.stdin.read()
    save = opts.tool.replace("-restore", "-save")
    current = subprocess.run(
        [_real(save, opts.shim_dir), "-t", table], capture_output=True, text=True, check=True
    ).stdout
    script = delta(desired, current, table)
    restore = [_real(opts.tool, opts.shim_dir), "--noflush", *args]
    proc = subprocess.run(restore, input=script, capture_output=True, text=True, check=False)
    sys.stderr.write(proc.stderr)
    if opts.log is not None:
        # The last copy kube-router asked for, for whoever debugs a firewall rule.
        _save(opts.log.with_name(f"{opts.tool}.last-input"), desired)
        _log(opts.log, f"{opts.tool} -T {table}: exit {proc.returncode}, "
             f"{script.count(chr(10)) - 2} owned-chain lines, "
             f"{_foreign_rules(current, table)} other rules left as they were")  # fmt: skip
    return proc.returncode


def write_shims(directory: Path, log: Path) -> Path:
    """The ``iptables-restore`` and ``ip6tables-restore`` shims kube-router finds first on
    its PATH; returns their directory."""
    directory.mkdir(parents=True, exist_ok=True)
    for tool in ("iptables-restore", "ip6tables-restore"):
        shim = directory / tool
        command = [sys.executable, str(Path(__file__).resolve()), "--tool", tool,
                   "--shim-dir", str(directory), "--log", str(log), "--"]  # fmt: skip
        shim.write_text(f'#!/bin/sh\nexec {shlex.join(command)} "$@"\n')
        shim.chmod(0o755)
    return directory


if __name__ == "__main__":
    sys.exit(main())
