"""What the real node leaves on the host and how ``down`` finds it again.

Pure parsers (command output in, what to undo out), unit-tested with recorded output;
``periph_env.testenv.node_host`` runs the commands and the undo steps.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from periph_env.testenv.node_config import CHAIN_PREFIXES


def chains_to_remove(iptables_save: str) -> dict[str, list[str]]:
    """Chains to delete by table, from ``iptables-save`` output (ours: KUBE-*, CNI-*)."""
    tables: dict[str, list[str]] = {}
    table = ""
    for line in iptables_save.splitlines():
        if line.startswith("*"):
            table = line[1:].strip()
        elif line.startswith(":"):
            chain = line[1:].split()[0]
            if chain.startswith(CHAIN_PREFIXES):
                tables.setdefault(table, []).append(chain)
    return tables


def rules_jumping_to_ours(iptables_save: str) -> list[tuple[str, str]]:
    """(table, rule spec) of rules in any chain that jump to one of our chains.

    The spec is the ``-A CHAIN ...`` line with ``-A`` turned into ``-D``, ready for
    ``iptables -t TABLE``.
    """
    out = []
    table = ""
    for line in iptables_save.splitlines():
        if line.startswith("*"):
            table = line[1:].strip()
        elif line.startswith("-A "):
            parts = line.split()
            chain = parts[1]
            if chain.startswith(CHAIN_PREFIXES):
                continue  # flushed with its chain
            if any(
                p in ("-j", "-g") and i + 1 < len(parts) and parts[i + 1].startswith(CHAIN_PREFIXES)
                for i, p in enumerate(parts)
            ):
                out.append((table, "-D" + line[2:]))
    return out


def mounts_under(mountinfo: str, roots: Sequence[Path]) -> list[str]:
    """Mount points below (or at) any of ``roots``, deepest first, for unmounting."""
    prefixes = [str(r).rstrip("/") for r in roots]
    points = []
    for line in mountinfo.splitlines():
        parts = line.split()
        if len(parts) < 5:
            continue
        point = parts[4].replace("\\040", " ")
        if any(point == p or point.startswith(p + "/") for p in prefixes):
            points.append(point)
    return sorted(set(points), key=lambda p: (-p.count("/"), p))
