"""The cluster, reached through kubectl (apply, render, logs) and the Python client (watches).

Every call names the target's context explicitly: periph never acts on whatever context
happens to be current. ``KUBECONFIG`` is honoured as kubectl honours it (both tools read it).
kubectl is ``$PERIPH_KUBECTL`` or the one on PATH.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
from collections.abc import Iterable
from typing import Any

import yaml

from periph_env.common.process import run
from periph_env.errors import EngineError, UsageError

Obj = dict[str, Any]


def kubectl_binary() -> str:
    """``$PERIPH_KUBECTL``, else kubectl from PATH."""
    found = os.environ.get("PERIPH_KUBECTL") or shutil.which("kubectl")
    if not found:
        raise UsageError("kubectl not found", hint="install kubectl or set PERIPH_KUBECTL")
    return found


def dump(objs: Iterable[Obj]) -> str:
    """Objects as one multi-document YAML stream (kubectl's ``-f -`` input)."""
    return yaml.safe_dump_all(list(objs), sort_keys=False)


class Kube:
    """kubectl bound to one context (and namespace), masking ``secrets`` in any error."""

    def __init__(self, context: str, namespace: str, secrets: Iterable[str] = ()) -> None:
        self.context = context
        self.namespace = namespace
        self.secrets = [s for s in secrets if s]
        self.binary = kubectl_binary()
        self._client: Any = None
        self._lock = threading.Lock()

    def argv(self, *args: str, namespaced: bool = True) -> list[str]:
        """kubectl argv with ``--context`` (and ``-n``) set."""
        argv = [self.binary, "--context", self.context]
        if namespaced:
            argv += ["-n", self.namespace]
        return [*argv, *args]

    def run(
        self,
        *args: str,
        input: str | None = None,
        check: bool = True,
        timeout: float = 300,
        namespaced: bool = True,
    ) -> subprocess.CompletedProcess[str]:
        """Run kubectl; CommandFailed (with secrets masked) on a non-zero exit if ``check``."""
        return run(
            self.argv(*args, namespaced=namespaced),
            input=input,
            check=check,
            timeout=timeout,
            secrets=self.secrets,
        )

    def json(self, *args: str, input: str | None = None, namespaced: bool = True) -> Obj:
        """kubectl with ``-o json``, parsed."""
        out = self.run(*args, "-o", "json", input=input, namespaced=namespaced).stdout
        return json.loads(out) if out.strip() else {}

    def items(self, *args: str, input: str | None = None) -> list[Obj]:
        """The ``items`` of a kubectl list (a single object becomes a one-item list)."""
        data = self.json(*args, input=input)
        if not data:
            return []
        return data.get("items", [data]) if data.get("kind", "").endswith("List") else [data]

    def render(self, directory: str) -> list[Obj]:
        """``kubectl kustomize DIR`` as objects."""
        out = self.run("kustomize", directory, namespaced=False).stdout
        return [d for d in yaml.safe_load_all(out) if d]

    def apply(self, objs: list[Obj], *, dry_run: bool = False) -> list[Obj]:
        """Server-side apply as field manager ``periph`` (taking over conflicting fields)."""
        if not objs:
            return []
        args = ["apply", "--server-side", "--field-manager=periph", "--force-conflicts"]
        if dry_run:
            args.append("--dry-run=server")
        return self.items(*args, "-f", "-", input=dump(objs))

    def client(self) -> Any:
        """A kubernetes ``ApiClient`` for this context (imported lazily: 0.6 s)."""
        with self._lock:
            return self._load_client()

    def _load_client(self) -> Any:
        if self._client is None:
            from kubernetes import config

            try:
                # The client reads $KUBECONFIG once, when first imported: pass it each time.
                self._client = config.new_client_from_config(
                    config_file=os.environ.get("KUBECONFIG") or None, context=self.context
                )
            except Exception as exc:
                raise EngineError(f"cannot load kube context {self.context!r}: {exc}") from None
        return self._client

    def contexts(self) -> tuple[list[str], str]:
        """The kubeconfig's context names and its current context (unused, shown in errors)."""
        names = run([self.binary, "config", "get-contexts", "-o", "name"], check=False).stdout
        current = run([self.binary, "config", "current-context"], check=False).stdout.strip()
        return names.split(), current
