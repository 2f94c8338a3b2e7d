"""Production details of the rendered overlays (issue 21, point 9): probes, memory,
disruption budgets, spreading, proxy timeouts and immutable claim templates."""

from __future__ import annotations

from tests.unit.k8s.manifests import Doc, by_kind, one, pod_spec, workloads

SPREAD = ("backend", "frontend", "worker")
TIMEOUT_ANNOTATIONS = (
    "nginx.ingress.kubernetes.io/proxy-read-timeout",
    "nginx.ingress.kubernetes.io/proxy-send-timeout",
)
# Labels the kustomizations add to everything (base `labels:`, the release Component).
COMMON_LABELS = ("app.kubernetes.io/part-of", "app.kubernetes.io/instance")


def _postgres(docs: list[Doc]) -> Doc:
    return pod_spec(one(docs, "StatefulSet", "db"))["containers"][0]


def test_postgres_has_a_startup_probe_allowing_long_crash_recovery(
    overlays: dict[str, list[Doc]], env: str
) -> None:
    postgres = _postgres(overlays[env])
    startup = postgres["startupProbe"]
    assert "pg_isready" in " ".join(startup["exec"]["command"])
    # Liveness only starts once this passes: at least half an hour of WAL replay.
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 1800
    assert "initialDelaySeconds" not in postgres["livenessProbe"]


def test_postgres_requests_all_the_memory_it_may_use(
    overlays: dict[str, list[Doc]], env: str
) -> None:
    resources = _postgres(overlays[env])["resources"]
    assert resources["requests"]["memory"] == resources["limits"]["memory"]


def test_postgres_gets_a_memory_backed_dev_shm_with_a_size_limit(
    overlays: dict[str, list[Doc]], env: str
) -> None:
    spec = pod_spec(one(overlays[env], "StatefulSet", "db"))
    mounts = {m["mountPath"]: m["name"] for m in spec["containers"][0]["volumeMounts"]}
    volume = {v["name"]: v for v in spec["volumes"]}[mounts["/dev/shm"]]
    assert volume["emptyDir"]["medium"] == "Memory"
    assert volume["emptyDir"]["sizeLimit"]


def test_backend_go_memory_limit_follows_its_container_limit(
    overlays: dict[str, list[Doc]], env: str
) -> None:
    backend = pod_spec(one(overlays[env], "Deployment", "backend"))["containers"][0]
    (var,) = [v for v in backend["env"] if v["name"] == "GOMEMLIMIT"]
    ref = var["valueFrom"]["resourceFieldRef"]
    assert (ref["containerName"], ref["resource"]) == ("backend", "limits.memory")


def test_backend_frontend_and_worker_spread_over_nodes_and_zones_softly(
    overlays: dict[str, list[Doc]], env: str
) -> None:
    for name in SPREAD:
        constraints = pod_spec(one(overlays[env], "Deployment", name))["topologySpreadConstraints"]
        keys = {c["topologyKey"] for c in constraints}
        assert keys == {"kubernetes.io/hostname", "topology.kubernetes.io/zone"}, name
        for c in constraints:
            assert c["labelSelector"]["matchLabels"] == {"app.kubernetes.io/name": name}
            # Soft: a one-node cluster (and the test node) still schedules every replica.
            assert c["whenUnsatisfiable"] == "ScheduleAnyway"


def test_disruption_budgets_bound_what_a_drain_takes_not_what_it_leaves(
    overlays: dict[str, list[Doc]], env: str
) -> None:
    budgets = by_kind(overlays[env], "PodDisruptionBudget")
    assert set(budgets) == {"backend", "frontend"}
    for budget in budgets.values():
        assert "minAvailable" not in budget["spec"]
    assert budgets["backend"]["spec"]["maxUnavailable"] == "25%"


def test_hour_long_proxy_timeouts_apply_to_the_websocket_path_only(
    overlays: dict[str, list[Doc]], env: str
) -> None:
    for name, ingress in by_kind(overlays[env], "Ingress").items():
        annotations = ingress["metadata"].get("annotations", {})
        paths = {p["path"] for p in ingress["spec"]["rules"][0]["http"]["paths"]}
        has_timeouts = any(a in annotations for a in TIMEOUT_ANNOTATIONS)
        assert has_timeouts == (paths == {"/ws"}), name


def test_no_common_label_lands_in_a_statefulsets_claim_templates(
    overlays: dict[str, list[Doc]], env: str
) -> None:
    # volumeClaimTemplates are immutable: a label added there would make every later
    # apply of the StatefulSet fail.
    for name, sts in by_kind(overlays[env], "StatefulSet").items():
        for claim in sts["spec"]["volumeClaimTemplates"]:
            labels = claim["metadata"].get("labels", {})
            assert [k for k in COMMON_LABELS if k in labels] == [], name


def test_common_labels_still_reach_every_object_and_pod_template(
    overlays: dict[str, list[Doc]], migrations: dict[str, list[Doc]], env: str
) -> None:
    docs = overlays[env] + migrations[env]
    unlabelled = [
        f"{d['kind']}/{d['metadata']['name']}"
        for d in docs
        if any(k not in d["metadata"].get("labels", {}) for k in COMMON_LABELS)
    ]
    for doc in workloads(docs):
        spec = doc["spec"]["jobTemplate"]["spec"] if doc["kind"] == "CronJob" else doc["spec"]
        labels = spec["template"]["metadata"].get("labels", {})
        if any(k not in labels for k in COMMON_LABELS):
            unlabelled.append(f"{doc['kind']}/{doc['metadata']['name']} pod template")
    assert unlabelled == []


def test_prod_requires_timescaledb_and_demo_does_not(overlays: dict[str, list[Doc]]) -> None:
    # Migration 0004 fails the migration Job where this is on and job_results is not a
    # hypertable (services/db/migrations/0004_require_timescaledb.sql).
    flag = "peripheral.require_timescaledb=on"
    assert flag in _postgres(overlays["prod"])["args"]
    assert flag not in _postgres(overlays["demo"])["args"]
