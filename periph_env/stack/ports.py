"""Published-port pre-check: a taken port is named with its holder before Compose fails.

Compose's own message for a taken port is a wall of text mid-way through ``up``; checking
first lets periph say which port, which service wants it and (from ``/proc``) which
process holds it. Ports the project's own running containers already publish are fine.
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
from pathlib import Path
from typing import TYPE_CHECKING

from periph_env.stack.errors import PortInUse

if TYPE_CHECKING:
    from periph_env.stack.control import Stack


def published(config: dict, services: list[str] | None = None) -> list[tuple[str, str, int]]:
    """(service, host ip, host port) for every published TCP port in a ``compose config``
    JSON model, optionally only for ``services`` (pure)."""
    out = []
    for name, spec in (config.get("services") or {}).items():
        if services is not None and name not in services:
            continue
        for entry in spec.get("ports") or ():
            if not isinstance(entry, dict) or entry.get("protocol", "tcp") != "tcp":
                continue
            raw = str(entry.get("published") or "")
            if raw.isdigit():
                out.append((name, entry.get("host_ip") or "0.0.0.0", int(raw)))
    return out


def port_taken(ip: str, port: int) -> bool:
    """Whether binding ``ip:port`` fails because something already listens there."""
    family = socket.AF_INET6 if ":" in ip else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((ip, port))
        except OSError as exc:
            return exc.errno == errno.EADDRINUSE
    return False


def _listening_inodes(port: int) -> set[str]:
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                local, state, inode = fields[1], fields[3], fields[9]
                if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:
                    inodes.add(inode)
    return inodes


def holder(port: int) -> str | None:
    """``pid 1234 (python3)`` for the process listening on ``port``, when /proc tells."""
    inodes = _listening_inodes(port)
    if not inodes:
        return None
    wanted = {f"socket:[{i}]" for i in inodes}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        with contextlib.suppress(OSError):
            for fd in os.listdir(f"/proc/{pid}/fd"):
                with contextlib.suppress(OSError):
                    if os.readlink(f"/proc/{pid}/fd/{fd}") in wanted:
                        comm = Path(f"/proc/{pid}/comm").read_text().strip()
                        return f"pid {pid} ({comm})"
    return None


def check_free(stack: Stack, services: list[str] | None = None) -> None:
    """Raise ``PortInUse`` naming the first taken port the stack would publish."""
    own = {p for status in stack.ps() if status.state == "running" for p in status.ports}
    own_ports = {p.split("->")[0].rsplit(":", 1)[1] for p in own}
    for service, ip, port in published(stack.config(), services):
        if str(port) in own_ports or not port_taken(ip, port):
            continue
        who = holder(port)
        by = f" by {who}" if who else ""
        if who and "docker-proxy" in who:
            by = " by another container (docker-proxy)"
        raise PortInUse(
            f"port {ip}:{port} (service {service}) is already in use{by}",
            hint="stop what holds it, or publish the service elsewhere "
            "(PERIPH_*_PORT in .env, e.g. PERIPH_BACKEND_PORT=15058)",
        )
