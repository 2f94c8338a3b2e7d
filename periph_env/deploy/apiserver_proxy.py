"""The API server's source addresses for NetworkPolicy ``apiserver-proxy``, per cluster.

``periph verify`` and ``deploy --verify`` reach backend and frontend through the API
server's service and pod proxy, whose connections come from the control plane: no pod or
namespace selector matches them, only an ``ipBlock`` of the cluster's own addresses
(docs/k8s.md, "Network policies", says which per kind of cluster). The overlays commit a
placeholder (``192.0.2.1/32``, a documentation address matching nothing, so an unset
cluster fails verify closed). ``[environments.<env>] apiserver_cidrs = ["10.0.0.10/32"]``
in ``periph.toml`` (or in the per-user config: it is a fact of the cluster the context
names) replaces the rendered policy's sources with one ``ipBlock`` each at deploy time.
Unset, the overlay's value stands.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

from periph_env.common import config as project_config

POLICY = "apiserver-proxy"
KEY = "apiserver_cidrs"

Obj = dict[str, Any]


def configured(config: dict[str, Any], environment: str) -> tuple[list[str], list[str]]:
    """(the CIDRs ``[environments.<env>] apiserver_cidrs`` names, problems with them).

    An empty list is refused: a NetworkPolicy rule with no sources admits every source.
    Host bits set (``10.0.0.1/8``) are refused too: the policy would not mean what it says.
    """
    where = f"periph.toml [environments.{environment}] {KEY}"
    value = ((config.get("environments") or {}).get(environment) or {}).get(KEY)
    if value is None:
        return [], []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        return [], [f'{where}: must be a list of CIDR strings, like ["10.0.0.10/32"]']
    if not value:
        return [], [f"{where}: is empty (a rule with no source admits every source)"]
    problems = []
    for cidr in value:
        try:
            ipaddress.ip_network(cidr, strict=True)
        except ValueError as exc:
            problems.append(f"{where}: {cidr!r} is not a network address ({exc})")
    return (value, []) if not problems else ([], problems)


def apply(stack: Iterable[Obj], cidrs: list[str]) -> list[str]:
    """Replace the sources of ``apiserver-proxy``'s first rule with ``cidrs``, in place;
    problems (the overlay renders no such policy) are returned, not raised."""
    for obj in stack:
        if obj.get("kind") == "NetworkPolicy" and obj["metadata"].get("name") == POLICY:
            rules = (obj.get("spec") or {}).get("ingress") or []
            if not rules:
                return [f"NetworkPolicy/{POLICY}: has no ingress rule to set {KEY} in"]
            rules[0]["from"] = [{"ipBlock": {"cidr": cidr}} for cidr in cidrs]
            return []
    return [f"periph.toml sets {KEY} but the overlay renders no NetworkPolicy/{POLICY}"]


def apply_configured(stack: list[Obj], root: Any, environment: str) -> list[str]:
    """``configured`` then ``apply`` for the project at ``root``; the problems of either."""
    cidrs, problems = configured(project_config.load(root), environment)
    if problems or not cidrs:
        return problems
    return apply(stack, cidrs)
