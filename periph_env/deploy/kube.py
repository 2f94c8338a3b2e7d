"""The cluster: kubectl renders (``kustomize``); everything else goes through the client.

Every call names the target's context explicitly: periph never acts on whatever context
happens to be current. ``KUBECONFIG`` is honoured as kubectl honours it (both tools read it).
kubectl is ``$PERIPH_KUBECTL`` or the one on PATH.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import yaml

from periph_env.common.process import mask_argv, trim_tail
from periph_env.common.redact import redact
from periph_env.deploy import kube_reach as reach
from periph_env.errors import CommandFailed, EngineError, UsageError

Obj = dict[str, Any]
NOTICE_AFTER = 2.0  # a wait longer than this says what it waits for
FIRST_PROBE = 3.0  # kubectl running this long: check that the API server still answers,
PROBE_EVERY = 5.0  # and again this often
# A failed probe this recent answers for the next step of the same command (render, then
# the guards): a silent API server is waited on once per command, not once per step.
# Retries (``again``) always probe.
FAILED_PROBE_HOLD = 2.0


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
    """kubectl and the Python client bound to one context (and namespace).

    Every failure leaves as a ``PeriphError`` naming the API server and the context
    (``kube_reach``), with ``secrets`` masked; every request is bounded (connect and read
    timeouts, ``--request-timeout``), and a wait longer than ``NOTICE_AFTER`` seconds says
    on ``notice`` (stderr by default) what it waits for.
    """

    def __init__(
        self,
        context: str,
        namespace: str,
        secrets: Iterable[str] = (),
        notice: Callable[[str], None] | None = None,
    ) -> None:
        self.context = context
        self.namespace = namespace
        self.secrets = [s for s in secrets if s]
        self.binary = kubectl_binary()
        self.notice = notice or _stderr_notice
        self._client: Any = None
        self._rest: Any = None
        self._lock = threading.Lock()
        self._probe_lock = threading.Lock()
        self._reachable = False
        self._probed_at = 0.0
        self._probe_failure: str | None = None
        self._endpoint: reach.Endpoint | None = None

    @property
    def endpoint(self) -> reach.Endpoint:
        """The context's API server as the kubeconfig names it."""
        if self._endpoint is None:
            self._endpoint = reach.endpoint(self.context)
        return self._endpoint

    def mask(self, text: str) -> str:
        """``text`` through the one masker: this environment's secret values in every form
        (plain, base64, URL-encoded, JSON-escaped) and control characters escaped."""
        return redact(text, self.secrets)

    def unreachable(self, reason: str) -> reach.ClusterUnreachable:
        """The error for an API server that cannot be used, for ``reason``; the next call
        probes first again (a quick failure rather than a full request timeout)."""
        self._reachable = False
        return reach.ClusterUnreachable(self.endpoint, self.mask(reason))

    def ensure_reachable(self, *, again: bool = False) -> None:
        """Probe the API server once (``again``: even if it answered before); raise
        ``ClusterUnreachable`` within a few seconds when it does not answer."""
        asked = time.monotonic()
        with self._probe_lock:
            held = (
                not again
                and self._probe_failure is not None
                and asked - self._probed_at < FAILED_PROBE_HOLD
            )
            # A probe that ended while this call waited for the lock answers for it too:
            # threads starting together (the guards, the client warm-up) probe once.
            if self._probed_at < asked and not held:
                if self._reachable and not again:
                    return
                limit = reach.PROBE_CONNECT + reach.PROBE_ANSWER
                with self.waiting("a liveness check", limit):
                    self._probe_failure = reach.probe(self.endpoint)
                self._probed_at = time.monotonic()
                self._reachable = self._probe_failure is None
            if self._probe_failure is not None:
                raise self.unreachable(self._probe_failure)

    @contextlib.contextmanager
    def waiting(self, what: str, limit: float = reach.READ_TIMEOUT) -> Iterator[None]:
        """Say on ``notice`` what is awaited if the block lasts over ``NOTICE_AFTER`` s."""
        timer = threading.Timer(
            NOTICE_AFTER,
            lambda: self.notice(
                f"waiting for {self.endpoint.describe()} to answer {what} (up to {limit:.0f} s)"
            ),
        )
        timer.daemon = True
        timer.start()
        try:
            yield
        finally:
            timer.cancel()

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
        local: bool = False,
    ) -> subprocess.CompletedProcess[str]:
        """Run kubectl; CommandFailed (with secrets masked) on a non-zero exit if ``check``.

        ``local``: the command needs no API server (``kustomize``, ``config``). Otherwise
        an API server that cannot be reached raises ``ClusterUnreachable`` even with
        ``check=False``: no caller can take that for an answer (a "not found").
        """
        argv = self.argv(*args, namespaced=namespaced)
        if not local:
            self.ensure_reachable()
            if not any(a.startswith("--request-timeout") for a in args) and not _waits(args):
                argv.append(f"--request-timeout={reach.READ_TIMEOUT:.0f}s")
        proc = self._communicate(argv, input, timeout, None if local else self._describe(args))
        if proc.returncode != 0 and not local:
            reason = reach.kubectl_reason(proc.stderr)
            if reason is not None:
                raise self.unreachable(reason)
        if check and proc.returncode != 0:
            tail = self.mask(trim_tail(reach.kubectl_output(proc.stdout + proc.stderr)))
            error = CommandFailed(mask_argv(argv, self.secrets), proc.returncode, tail)
            if not local:
                error.hint = f"sent to {self.endpoint.describe()}"
            raise error
        return proc

    def _describe(self, args: tuple[str, ...]) -> str:
        """```kubectl get configmaps```: the verb and its object, for a notice."""
        words = list(itertools.takewhile(lambda a: not a.startswith("-"), args))[:2]
        return "`" + " ".join(mask_argv(["kubectl", *words], self.secrets)) + "`"

    def _communicate(
        self, argv: list[str], input: str | None, timeout: float, what: str | None
    ) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` to its end; past NOTICE_AFTER say what it waits for, past
        FIRST_PROBE (then every PROBE_EVERY) check that the API server still answers:
        kubectl's own retries against a server that stopped answering take close to a
        minute."""
        started = time.monotonic()
        proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        pending: str | None = input or ""
        told, next_probe = False, started + FIRST_PROBE
        try:
            while True:
                elapsed = time.monotonic() - started
                wake = (started + NOTICE_AFTER if not told else next_probe) - time.monotonic()
                step = max(0.05, min(wake, timeout - elapsed))
                try:
                    out, err = proc.communicate(pending, timeout=step)
                    return subprocess.CompletedProcess(argv, proc.returncode, out, err)
                except subprocess.TimeoutExpired:
                    pending = None
                now = time.monotonic()
                if now - started >= timeout:
                    if what is None:
                        raise EngineError(f"`kubectl {argv[3] if len(argv) > 3 else ''}` "
                                          f"did not finish within {timeout:.0f} s")  # fmt: skip
                    raise self.unreachable(f"did not finish {what} within {timeout:.0f} s")
                if what is None:
                    continue
                if not told:
                    told = True
                    self.notice(f"waiting for {self.endpoint.describe()} to answer {what}")
                if now >= next_probe:
                    next_probe = now + PROBE_EVERY
                    self.ensure_reachable(again=True)
        finally:
            if proc.poll() is None:
                proc.kill()
                with contextlib.suppress(Exception):
                    proc.communicate(timeout=5)

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
        out = self.run("kustomize", directory, namespaced=False, local=True).stdout
        return [d for d in yaml.safe_load_all(out) if d]

    def render_all(self, directories: list[str]) -> list[list[Obj]]:
        """Each directory's objects, from one ``kubectl kustomize`` when the directories
        render together (``periph_env.deploy.render``), else one process each."""
        from periph_env.deploy.render import render_all

        def run(directory: str) -> str:
            return self.run("kustomize", directory, namespaced=False, local=True).stdout

        return render_all(directories, run)

    # -- the API through the client (kube_rest): no process per call --------------------

    @property
    def rest(self) -> Any:
        """This context's ``kube_rest.Rest`` (discovery kept for the Kube's life)."""
        with self._lock:
            if self._rest is None:
                from periph_env.deploy.kube_rest import Rest

                self._rest = Rest(self)
            return self._rest

    def apply(self, objs: list[Obj], *, dry_run: bool = False) -> list[Obj]:
        """Server-side apply as field manager ``periph``, in dependency order (``kube_rest``:
        a conflict with another manager's field is an ``ApplyConflict`` naming both)."""
        return self.rest.apply(objs, dry_run=dry_run) if objs else []

    def get(self, kind: str, name: str, *, api_version: str = "") -> Obj | None:
        """One object of the namespace (``Namespace`` and other cluster kinds too), or None."""
        return self.rest.get(kind, name, api_version=api_version)

    def list(self, kind: str, selector: str = "", *, api_version: str = "") -> list[Obj]:
        """The namespace's objects of ``kind`` matching the label ``selector``."""
        return self.rest.list(kind, selector, api_version=api_version)

    def delete(self, kind: str, name: str, *, api_version: str = "") -> bool:
        """Delete one object (background propagation); False when it was not there."""
        return self.rest.delete(kind, name, api_version=api_version)

    def version(self) -> Obj:
        """The API server's ``/version`` (its answer proves the context works)."""
        return self.rest.request("GET", "/version")

    def client(self) -> Any:
        """A kubernetes ``ApiClient`` for this context (imported lazily: 0.6 s) whose every
        request has connect and read timeouts and whose every failure is a PeriphError."""
        with self._lock:
            client = self._load_client()
        self.ensure_reachable()
        return client

    def _load_client(self) -> Any:
        if self._client is None:
            from kubernetes import client, config

            configuration = type.__call__(client.Configuration)
            try:
                # The client reads $KUBECONFIG once, when first imported: pass it each time.
                config.load_kube_config(
                    config_file=os.environ.get("KUBECONFIG") or None,
                    context=self.context,
                    client_configuration=configuration,
                )
            except Exception as exc:
                raise EngineError(
                    f"cannot load kube context {self.context!r}: {self.mask(str(exc))}"
                ) from None
            from periph_env.deploy import kube_client

            configuration.retries = _retries()
            self._client = kube_client.BoundedApiClient(configuration, self)
        return self._client

    def contexts(self) -> tuple[list[str], str]:
        """The kubeconfig's context names and its current context (unused, shown in errors)."""
        return reach.contexts()


def _waits(args: tuple[str, ...]) -> bool:
    """kubectl commands that hold a watch open on purpose (a per-request limit would cut it)."""
    return bool(args) and (
        args[0] == "wait" or "--wait=true" in args or args[:2] == ("rollout", "status")
    )


def _retries() -> Any:
    """One retry of a refused connection, none of a read: a stalled API server must fail
    within READ_TIMEOUT, not four times that (urllib3's default is three retries)."""
    import urllib3

    return urllib3.Retry(total=1, read=0, redirect=0)


def _stderr_notice(text: str) -> None:
    print(f"periph: {text}", file=sys.stderr, flush=True)
