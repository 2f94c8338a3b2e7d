"""Objects of any kind over the API server's REST paths: get, list, delete, server-side apply.

The one transport for what kubectl used to do in a process per call (~0.3 s each): every
request goes through the ``Kube``'s bounded client (``kube_client.BoundedApiClient``:
timeouts, transport failures as ``ClusterUnreachable``), and an error status becomes a
``KubeApiError`` naming the API server (``kube_reach.api_error``). Paths come from API
discovery (``/api/v1``, ``/apis/<group>/<version>``), read once per group version and kept
on the ``Kube``, so any kind the manifests render (a CRD's too) is reached the same way.

Server-side apply is kubectl's: ``PATCH`` with ``application/apply-patch+yaml`` as field
manager ``periph``. kubectl forces only when told to (``--force-conflicts``); periph
forces only over the managers its own work leaves behind (``OWN_MANAGERS``: the
controller that scales for an HPA, a rollback's ``periph-rollback``, an earlier
client-side ``kubectl apply``). A field another manager set (someone's ``kubectl edit``,
another tool) is a conflict: ``ApplyConflict`` names the object, the field and the manager,
and nothing of that object is changed.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from periph_env.deploy import kube_reach as reach
from periph_env.errors import EngineError

if TYPE_CHECKING:
    from periph_env.deploy.kube import Kube

Obj = dict[str, Any]
FIELD_MANAGER = "periph"
APPLY_PATCH = "application/apply-patch+yaml"
# Managers whose fields periph takes over: what its own deploys and rollbacks leave behind.
OWN_MANAGERS = frozenset(
    {
        FIELD_MANAGER,
        "periph-rollback",  # periph rollback and --auto-rollback (rollback.undo)
        "kubectl-rollout",  # a `kubectl rollout undo` by hand (older kubectl)
        "kubectl-client-side-apply",  # an environment first applied by hand
        "kube-controller-manager",  # the HPA's replica count
        "before-first-apply",
    }
)
# The version each kind is asked at when a caller names only the kind.
KINDS = {
    "Namespace": "v1",
    "ConfigMap": "v1",
    "Secret": "v1",
    "Pod": "v1",
    "Service": "v1",
    "ServiceAccount": "v1",
    "PersistentVolumeClaim": "v1",
    "Deployment": "apps/v1",
    "ReplicaSet": "apps/v1",
    "StatefulSet": "apps/v1",
    "Job": "batch/v1",
    "CronJob": "batch/v1",
    "Ingress": "networking.k8s.io/v1",
    "NetworkPolicy": "networking.k8s.io/v1",
    "HorizontalPodAutoscaler": "autoscaling/v2",
    "PodDisruptionBudget": "policy/v1",
    "CustomResourceDefinition": "apiextensions.k8s.io/v1",
}
# Apply order (as kubectl's and helm's): what others need first; unknown kinds in between.
ORDER = (
    "Namespace",
    "CustomResourceDefinition",
    "ServiceAccount",
    "Role",
    "ClusterRole",
    "RoleBinding",
    "ClusterRoleBinding",
    "Secret",
    "ConfigMap",
    "PersistentVolumeClaim",
    "Service",
)
LAST = ("StatefulSet", "Deployment", "Job", "CronJob", "HorizontalPodAutoscaler")
_CONFLICT = re.compile(r'conflict with "([^"]+)"')


class ApplyConflict(EngineError):
    """A server-side apply refused: another field manager owns a field periph sets."""


def _named(obj: Obj) -> bool:
    meta = obj.get("metadata")
    return isinstance(meta, dict) and isinstance(meta.get("name"), str)


def _rank(obj: Obj) -> int:
    kind = obj.get("kind", "")
    if kind in ORDER:
        return ORDER.index(kind)
    return len(ORDER) + 1 + LAST.index(kind) if kind in LAST else len(ORDER)


def ordered(objs: Iterable[Obj]) -> list[Obj]:
    """``objs`` in dependency order (stable: equal kinds keep their order)."""
    return sorted(objs, key=_rank)


class Rest:
    """REST access for one ``Kube`` (its client, namespace and error translation)."""

    def __init__(self, kube: Kube) -> None:
        self.kube = kube
        self._resources: dict[str, dict[str, tuple[str, bool]]] = {}
        self._lock = threading.Lock()

    # -- transport -----------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        query: dict[str, str] | None = None,
        body: Any = None,
        content_type: str = "application/json",
        accept: str = "application/json",
        timeout: tuple[float, float] | None = None,
    ) -> Any:
        """One request; the decoded JSON answer. An error status raises ``KubeApiError``.
        ``accept`` may ask for metadata only (``as=PartialObjectMetadataList``);
        ``timeout``: (connect, read) seconds, else the client's defaults."""
        data = self._send(method, path, query, body, content_type, accept, timeout)
        try:
            return json.loads(data) if data else {}
        except ValueError:
            raise self.kube.unreachable(reach.NOT_KUBERNETES) from None

    def text(self, path: str, query: dict[str, str] | None = None) -> str:
        """A GET whose answer is text (a pod's log); errors as in ``request``."""
        data = self._send("GET", path, query, None, "", "text/plain, */*")
        return data.decode(errors="replace")

    def stream(self, path: str, query: dict[str, str], read_timeout: float) -> LineStream:
        """An open streaming GET (a followed pod log): its lines as they come. A read
        silent for ``read_timeout`` seconds raises urllib3's ``ReadTimeoutError`` from the
        iteration (the caller decides whether silence is an end); an error status before
        the stream starts raises as in ``request``."""
        from kubernetes.client.exceptions import ApiException

        api = self.kube.client()
        url = api.configuration.host + path + "?" + urlencode(query)
        response = api.call_api(
            "GET", url, header_params={"Accept": "text/plain, */*"},
            _request_timeout=(reach.CONNECT_TIMEOUT, read_timeout),
        )  # fmt: skip
        if response.status >= 400:
            response.read()
            raise reach.api_error(
                ApiException(http_resp=response), self.kube.endpoint, self.kube.mask
            )
        return LineStream(response.response)

    def _send(
        self,
        method: str,
        path: str,
        query: dict[str, str] | None,
        body: Any,
        content_type: str,
        accept: str,
        timeout: tuple[float, float] | None = None,
    ) -> bytes:
        from kubernetes.client.exceptions import ApiException

        api = self.kube.client()
        url = api.configuration.host + path + ("?" + urlencode(query) if query else "")
        headers = {"Accept": accept}
        payload = None
        if body is not None:
            headers["Content-Type"] = content_type
            # The REST layer serializes a JSON body itself; any other type goes as text
            # (JSON is YAML: the apply patch is sent as JSON).
            payload = body if content_type.endswith("json") else json.dumps(body)
        response = api.call_api(
            method, url, header_params=headers, body=payload, _request_timeout=timeout
        )
        data = response.read()
        if response.status >= 400:
            raise reach.api_error(
                ApiException(http_resp=response), self.kube.endpoint, self.kube.mask
            )
        return data

    # -- paths -------------------------------------------------------------------------

    def resource(self, api_version: str, kind: str) -> tuple[str, bool]:
        """(plural, namespaced) of ``kind`` in ``api_version``, from discovery."""
        with self._lock:
            known = self._resources.get(api_version)
        if known is None:
            base = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
            listing = self.request("GET", base)
            known = {
                r["kind"]: (r["name"], bool(r.get("namespaced")))
                for r in listing.get("resources", [])
                if "/" not in r.get("name", "")
            }
            with self._lock:
                self._resources[api_version] = known
        if kind not in known:
            raise EngineError(
                f"{self.kube.endpoint.describe()} serves no {kind} in {api_version}",
                hint="is the CRD installed, or the apiVersion right?",
            )
        return known[kind]

    def path(
        self, api_version: str, kind: str, name: str = "", namespace: str | None = None
    ) -> str:
        """The REST path of ``kind`` (and ``name``) in ``namespace`` (default: the Kube's)."""
        plural, namespaced = self.resource(api_version, kind)
        base = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
        if namespaced:
            base += f"/namespaces/{quote(namespace or self.kube.namespace)}"
        return f"{base}/{plural}" + (f"/{quote(name)}" if name else "")

    def obj_path(self, obj: Obj) -> str:
        meta = obj.get("metadata") or {}
        return self.path(obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace"))

    # -- verbs -------------------------------------------------------------------------

    def get(self, kind: str, name: str, *, api_version: str = "") -> Obj | None:
        """The object, or None when it does not exist."""
        try:
            return self.request("GET", self.path(api_version or KINDS[kind], kind, name))
        except EngineError as exc:
            if getattr(exc, "status", None) == 404:
                return None
            raise

    def list(self, kind: str, selector: str = "", *, api_version: str = "") -> list[Obj]:
        """The objects of ``kind`` in the namespace (``selector``: a label selector);
        [] when the namespace does not exist."""
        query = {"labelSelector": selector} if selector else None
        try:
            answer = self.request("GET", self.path(api_version or KINDS[kind], kind), query)
        except EngineError as exc:
            if getattr(exc, "status", None) == 404:
                return []
            raise
        items = answer.get("items", False) if isinstance(answer, dict) else False
        items = [] if items is None else items  # an empty list may come as null
        if not isinstance(items, list):  # JSON, but no list: not the Kubernetes API
            raise self.kube.unreachable(reach.NOT_KUBERNETES)
        version = answer.get("apiVersion") or api_version or KINDS[kind]
        # Only objects with a name: no caller should trip over a malformed item.
        items = [i for i in items if isinstance(i, dict) and _named(i)]
        for item in items:  # a list's items carry no kind: callers want whole objects
            item.setdefault("kind", kind)
            item.setdefault("apiVersion", version)
        return items

    def delete(self, kind: str, name: str, *, api_version: str = "") -> bool:
        """Delete (in the background, as kubectl); False when it did not exist."""
        body = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"}
        try:
            self.request("DELETE", self.path(api_version or KINDS[kind], kind, name), body=body)
        except EngineError as exc:
            if getattr(exc, "status", None) == 404:
                return False
            raise
        return True

    def apply(self, objs: Iterable[Obj], *, dry_run: bool = False) -> list[Obj]:
        """Server-side apply of each object, in dependency order, as manager ``periph``;
        the objects as the server has them (would have them: ``dry_run``)."""
        return [self.apply_one(obj, dry_run=dry_run) for obj in ordered(objs)]

    def apply_one(self, obj: Obj, *, dry_run: bool = False) -> Obj:
        """One object; a conflict with a manager outside ``OWN_MANAGERS`` raises
        ``ApplyConflict`` naming the field and the manager."""
        query = {"fieldManager": FIELD_MANAGER}
        if dry_run:
            query["dryRun"] = "All"
        path = self.obj_path(obj)
        try:
            return self.request("PATCH", path, query, obj, APPLY_PATCH)
        except EngineError as exc:
            if getattr(exc, "status", None) != 409:
                raise
            conflicts = conflicts_of(getattr(exc, "body", None))
            foreign = [(f, m) for f, m in conflicts if m not in OWN_MANAGERS]
            if not conflicts or foreign:
                raise conflict_error(obj, foreign or conflicts, exc) from None
        return self.request("PATCH", path, {**query, "force": "true"}, obj, APPLY_PATCH)


def open_get(
    api_client: Any,
    path: str,
    query: dict[str, str] | None = None,
    timeout: Any = None,
    accept: str = "application/json",
) -> Any:
    """A GET of ``path`` through any ``ApiClient`` (the watch's, a probe's copy): the
    urllib3 response, unread (``.data`` reads it, iterating streams it). An error status
    raises the client's ``ApiException`` (``status``, ``body``), as the generated API
    classes did: no caller needs them (nor their models: ~1 s of imports) for plain JSON."""
    url = api_client.configuration.host + path + ("?" + urlencode(query) if query else "")
    response = api_client.call_api(
        "GET", url, header_params={"Accept": accept}, _request_timeout=timeout
    )
    if response.status >= 400:
        from kubernetes.client.exceptions import ApiException

        response.read()
        raise ApiException(http_resp=response)
    return response.response


def namespaced(api_version: str, plural: str, namespace: str, name: str = "") -> str:
    """The REST path of a built-in resource (no discovery: its plural is fixed)."""
    base = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
    return f"{base}/namespaces/{quote(namespace)}/{plural}" + (f"/{quote(name)}" if name else "")


class LineStream:
    """The lines of an open HTTP response (bytes, newline kept), closable from another
    thread: ``close`` unblocks a reader waiting for the next line (urllib3's
    ``shutdown``), so a follower can end its streams at once."""

    def __init__(self, response: Any) -> None:
        self.response = response

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.response)

    def close(self) -> None:
        """End the stream (idempotent; any thread)."""
        shutdown = getattr(self.response, "shutdown", None)
        if shutdown is not None:
            with contextlib.suppress(Exception):
                shutdown()
        with contextlib.suppress(Exception):
            self.response.close()


def conflicts_of(body: Any) -> list[tuple[str, str]]:
    """``(field, manager)`` of each conflict in a 409 Status body from a server-side apply."""
    try:
        status = json.loads(body) if isinstance(body, str | bytes) else None
    except ValueError:
        return []
    causes = ((status or {}).get("details") or {}).get("causes") or []
    out = []
    for cause in causes:
        if cause.get("reason") != "FieldManagerConflict":
            continue
        found = _CONFLICT.search(str(cause.get("message", "")))
        out.append((str(cause.get("field", "")), found.group(1) if found else "another manager"))
    return out


def conflict_error(obj: Obj, conflicts: list[tuple[str, str]], exc: EngineError) -> EngineError:
    """The error for an apply that conflicts with other field managers."""
    name = f"{obj.get('kind')}/{(obj.get('metadata') or {}).get('name')}"
    if not conflicts:
        return exc
    said = "; ".join(f"{field} is managed by {manager!r}" for field, manager in conflicts[:5])
    more = f" (+{len(conflicts) - 5} more)" if len(conflicts) > 5 else ""
    managers = sorted({m for _, m in conflicts})
    return ApplyConflict(
        f"{name}: not applied: {said}{more}",
        hint=(
            f"another tool or person changed it ({', '.join(managers)}): undo that change, or "
            f"take the field over with `kubectl apply --server-side --field-manager=periph "
            f"--force-conflicts`, then deploy again"
        ),
    )
