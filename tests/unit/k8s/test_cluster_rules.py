"""What a real, busy cluster needs from the rendered overlays: capacity, data safety,
least privilege, and every configured switch wired to code (issue 14)."""

from __future__ import annotations

import re

import yaml

from periph_env.data.cluster_seed import NAME as SEED_JOB
from periph_env.env.parser import parse_bytes
from periph_env.env.schema import build
from tests.unit.k8s.manifests import (
    K8S,
    ROOT,
    Doc,
    by_kind,
    config_map_data,
    containers,
    one,
    pod_spec,
    secret_keys_by_workload,
    workloads,
)

SERVICES = ROOT / "services"
BACKEND_CONFIG = SERVICES / "backend" / "internal" / "config" / "config.go"
WORKER_CONFIG = SERVICES / "worker" / "peripheral_worker" / "config.py"
WORKER_MAIN = SERVICES / "worker" / "peripheral_worker" / "main.py"
HPA_MANAGED = ("backend", "worker")
# Postgres keeps superuser_reserved_connections (default 3) out of max_connections.
SUPERUSER_RESERVED = 3

# What each workload's code reads from the Secret, and nothing more.
SECRET_KEYS = {
    "backend": {"DB_USER", "DB_PASSWORD", "POSTGRES_DB", "JWT_SECRET", "REDIS_PASSWORD"},
    "worker": {"DB_USER", "DB_PASSWORD", "POSTGRES_DB", "REDIS_PASSWORD"},
    "frontend": set(),
    "db": {"DB_USER", "DB_PASSWORD", "POSTGRES_DB", "DB_ADMIN_PASSWORD"},
    "cache": {"REDIS_PASSWORD"},
    "db-backup": {
        "DB_USER",
        "DB_PASSWORD",
        "POSTGRES_DB",
        "TELEGRAM_BOT_TOKEN",
        "TELEGRAM_CHAT_ID",
    },
    # The drill restores into its own scratch server: only the report's optional keys.
    "db-restore-drill": {"TELEGRAM_BOT_TOKEN", "TELEGRAM_CHAT_ID"},
}


# --- capacity -----------------------------------------------------------------------


def test_hpa_managed_deployments_set_no_replicas(overlays: dict[str, list[Doc]], env: str) -> None:
    deployments = by_kind(overlays[env], "Deployment")
    hpas = by_kind(overlays[env], "HorizontalPodAutoscaler")
    targets = {h["spec"]["scaleTargetRef"]["name"] for h in hpas.values()}
    assert targets == set(HPA_MANAGED)
    assert [name for name in targets if "replicas" in deployments[name]["spec"]] == []


def _backend_pool_default() -> int:
    match = re.search(r"DefaultPoolMaxConns = (\d+)", BACKEND_CONFIG.read_text())
    assert match, "config.go no longer defines DefaultPoolMaxConns"
    return int(match.group(1))


def _worker_connections() -> int:
    match = re.search(r"^DB_CONNECTIONS = (\d+)", WORKER_CONFIG.read_text(), re.MULTILINE)
    assert match, "the worker's config.py no longer states DB_CONNECTIONS"
    # The constant describes the code: one psycopg.connect call, one connection held.
    assert WORKER_MAIN.read_text().count("psycopg.connect(") == 1
    return int(match.group(1))


def _max_surge(deployment: Doc) -> int:
    return int(deployment["spec"]["strategy"]["rollingUpdate"]["maxSurge"])


def connection_budget(docs: list[Doc], migrations: list[Doc]) -> tuple[int, int, dict[str, int]]:
    """(connections needed at the HPA maxima during a rollout, max_connections, terms)."""
    config = config_map_data(docs)
    pool = int(config.get("DB_POOL_MAX_CONNS", _backend_pool_default()))
    per_pod = {"backend": pool, "worker": _worker_connections()}
    deployments = by_kind(docs, "Deployment")
    terms = {}
    for name, hpa in by_kind(docs, "HorizontalPodAutoscaler").items():
        pods = hpa["spec"]["maxReplicas"] + _max_surge(deployments[name])
        terms[name] = pods * per_pod[name]
    # One connection each: `backend migrate` (pgx.Connect) and the backup's pg_dump. The
    # restore drill connects to a scratch server of its own, not to the db Service.
    terms["migrate"] = len(by_kind(migrations, "Job"))
    terms["backup"] = sum(_connects_to_db(c) for c in by_kind(docs, "CronJob").values())
    terms["reserved"] = SUPERUSER_RESERVED
    allowed = int(config_map_data(docs, "db-config")["POSTGRES_MAX_CONNECTIONS"])
    return sum(terms.values()), allowed, terms


def _connects_to_db(cron_job: Doc) -> bool:
    """Whether a CronJob's pods connect to the db Service (PGHOST=db)."""
    spec = cron_job["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    containers = spec.get("initContainers", []) + spec["containers"]
    return any(
        e.get("name") == "PGHOST" and e.get("value") == "db"
        for c in containers
        for e in c.get("env", [])
    )


def test_postgres_connection_budget_covers_the_hpa_maxima(
    overlays: dict[str, list[Doc]], migrations: dict[str, list[Doc]], env: str
) -> None:
    needed, allowed, terms = connection_budget(overlays[env], migrations[env])
    assert needed <= allowed, f"{terms} = {needed} > max_connections {allowed}"


def test_postgres_takes_max_connections_from_its_own_config_map(
    overlays: dict[str, list[Doc]], env: str
) -> None:
    postgres = pod_spec(one(overlays[env], "StatefulSet", "db"))["containers"][0]
    assert "max_connections=$(POSTGRES_MAX_CONNECTIONS)" in postgres["args"]
    (var,) = [v for v in postgres["env"] if v["name"] == "POSTGRES_MAX_CONNECTIONS"]
    assert var["valueFrom"]["configMapKeyRef"]["name"].startswith("db-config-")


def test_the_documented_budget_arithmetic_matches_the_manifests(
    overlays: dict[str, list[Doc]], migrations: dict[str, list[Doc]], env: str
) -> None:
    needed, allowed, _ = connection_budget(overlays[env], migrations[env])
    doc = (ROOT / "docs" / "k8s.md").read_text()
    assert f"= {needed} ≤ {allowed}" in doc


# --- data safety --------------------------------------------------------------------


def test_the_app_overlay_holds_no_namespace_and_no_claim(
    overlays: dict[str, list[Doc]], env: str
) -> None:
    kinds = {d["kind"] for d in overlays[env]}
    assert "Namespace" not in kinds
    assert "PersistentVolumeClaim" not in kinds


def test_namespace_and_backup_claims_live_apart_and_are_marked_never_prune(
    persistents: dict[str, list[Doc]], env: str
) -> None:
    kinds = sorted((d["kind"], d["metadata"]["name"]) for d in persistents[env])
    assert [k for k, _ in kinds] == ["Namespace", "PersistentVolumeClaim", "PersistentVolumeClaim"]
    for doc in persistents[env]:
        assert doc["metadata"]["annotations"]["periph.dev/prune"] == "never"


def test_postgres_and_redis_claims_are_retained_when_their_statefulsets_go(
    overlays: dict[str, list[Doc]], env: str
) -> None:
    for name in ("db", "cache"):
        sts = one(overlays[env], "StatefulSet", name)
        assert sts["spec"]["persistentVolumeClaimRetentionPolicy"] == {
            "whenDeleted": "Retain",
            "whenScaled": "Retain",
        }
        assert sts["spec"]["replicas"] == 1


def test_redis_keeps_its_append_only_file_on_a_claim(
    overlays: dict[str, list[Doc]], env: str
) -> None:
    cache = one(overlays[env], "StatefulSet", "cache")
    claims = {t["metadata"]["name"] for t in cache["spec"]["volumeClaimTemplates"]}
    spec = pod_spec(cache)
    mounts = {m["name"]: m["mountPath"] for m in spec["containers"][0]["volumeMounts"]}
    conf = (SERVICES / "cache" / "redis.conf").read_text()
    assert claims == {"data"}
    assert mounts == {"data": "/data"}
    assert [v for v in spec.get("volumes", []) if "emptyDir" in v] == []
    assert re.search(r"^appendonly yes$", conf, re.MULTILINE)
    assert re.search(r"^dir /data$", conf, re.MULTILINE)


def test_backups_are_copied_to_a_second_volume_with_a_retention_count(
    overlays: dict[str, list[Doc]], persistents: dict[str, list[Doc]], env: str
) -> None:
    spec = pod_spec(one(overlays[env], "CronJob", "db-backup"))
    (dump,) = spec["initContainers"]
    volumes = {v["name"]: v for v in spec["volumes"]}
    script = dump["command"][-1]
    assert volumes["offsite"]["persistentVolumeClaim"]["claimName"] == "db-backups-offsite"
    assert "db-backups-offsite" in by_kind(persistents[env], "PersistentVolumeClaim")
    assert {m["mountPath"] for m in dump["volumeMounts"]} >= {"/backups", "/offsite"}
    assert '"/offsite/$name"' in script
    assert "BACKUP_OFFSITE_KEEP" in script
    assert int(config_map_data(overlays[env])["BACKUP_OFFSITE_KEEP"]) >= 1


def test_a_failed_backup_alerts_telegram_and_fails_the_job(
    overlays: dict[str, list[Doc]], env: str
) -> None:
    spec = pod_spec(one(overlays[env], "CronJob", "db-backup"))
    (report,) = spec["containers"]
    refs = {
        v["name"]: v["valueFrom"]["secretKeyRef"]
        for v in report["env"]
        if "secretKeyRef" in v.get("valueFrom", {})
    }
    assert report["image"].startswith("peripheral-worker:")
    assert report["command"][:3] == ["python", "-m", "peripheral_worker.backup_report"]
    assert (SERVICES / "worker" / "peripheral_worker" / "backup_report.py").is_file()
    assert set(refs) == {"TELEGRAM_BOT_TOKEN", "TELEGRAM_CHAT_ID"}
    assert all(ref["optional"] is True for ref in refs.values())


# --- least privilege ----------------------------------------------------------------


def test_each_workload_gets_exactly_the_secret_keys_its_code_reads(
    overlays: dict[str, list[Doc]], env: str
) -> None:
    assert secret_keys_by_workload(overlays[env]) == SECRET_KEYS


def test_the_migration_job_gets_only_the_database_keys(
    migrations: dict[str, list[Doc]], env: str
) -> None:
    assert secret_keys_by_workload(migrations[env]) == {
        "backend-migrate": {"DB_USER", "DB_PASSWORD", "POSTGRES_DB"}
    }


def test_the_secret_keys_given_to_backend_and_worker_are_ones_their_code_names(
    overlays: dict[str, list[Doc]], env: str
) -> None:
    keys = secret_keys_by_workload(overlays[env])
    backend, worker = BACKEND_CONFIG.read_text(), WORKER_CONFIG.read_text()
    assert [k for k in keys["backend"] if f'"{k}"' not in backend] == []
    assert [k for k in keys["worker"] if f'"{k}"' not in worker] == []
    assert "JWT_SECRET" not in keys["worker"]
    assert not any(k.startswith("STRIPE_") for k in keys["worker"] | keys["backend"])


def _from_pods(rule: Doc) -> set[str]:
    return {
        peer["podSelector"]["matchLabels"]["app.kubernetes.io/name"]
        for peer in rule.get("from", [])
        if "podSelector" in peer
    }


def _from_namespaces(rule: Doc) -> set[str]:
    return {
        peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
        for peer in rule.get("from", [])
        if "namespaceSelector" in peer
    }


def _ports(rule: Doc) -> set[int]:
    return {p["port"] for p in rule["ports"]}


def _policy(docs: list[Doc], name: str) -> Doc:
    return one(docs, "NetworkPolicy", name)["spec"]


def test_every_pod_is_covered_by_a_default_deny_ingress_policy(
    overlays: dict[str, list[Doc]], env: str
) -> None:
    deny = _policy(overlays[env], "default-deny-ingress")
    assert deny == {"podSelector": {}, "policyTypes": ["Ingress"]}


def test_only_backend_and_worker_and_the_database_jobs_reach_db(
    overlays: dict[str, list[Doc]], env: str
) -> None:
    (rule,) = _policy(overlays[env], "db")["ingress"]
    seed = {SEED_JOB} if env == "demo" else set()  # `periph db seed --env demo`'s Job
    assert _from_pods(rule) == {"backend", "worker", "backend-migrate", "db-backup", *seed}
    assert _from_namespaces(rule) == set()
    assert _ports(rule) == {5432}


def test_only_backend_and_worker_reach_cache(overlays: dict[str, list[Doc]], env: str) -> None:
    (rule,) = _policy(overlays[env], "cache")["ingress"]
    assert _from_pods(rule) == {"backend", "worker"}
    assert _from_namespaces(rule) == set()
    assert _ports(rule) == {6379}


def test_only_the_ingress_controller_reaches_frontend_and_it_and_the_frontend_the_api(
    overlays: dict[str, list[Doc]], env: str
) -> None:
    (frontend,) = _policy(overlays[env], "frontend")["ingress"]
    assert (_from_pods(frontend), _from_namespaces(frontend), _ports(frontend)) == (
        set(),
        {"ingress-nginx"},
        {3000},
    )
    backend = _policy(overlays[env], "backend")["ingress"]
    by_port = {
        port: (_from_namespaces(rule), _from_pods(rule))
        for rule in backend
        for port in _ports(rule)
    }
    assert by_port == {5058: ({"ingress-nginx"}, {"frontend"}), 9091: ({"monitoring"}, set())}


def test_the_api_server_proxy_reaches_what_verify_checks_from_ip_blocks_only(
    overlays: dict[str, list[Doc]], env: str
) -> None:
    """periph verify goes through the API server's proxy: its source is an address."""
    policy = _policy(overlays[env], "apiserver-proxy")
    (selector,) = policy["podSelector"]["matchExpressions"]
    assert (selector["key"], set(selector["values"])) == (
        "app.kubernetes.io/name",
        {"backend", "frontend"},
    )
    (rule,) = policy["ingress"]
    assert _ports(rule) == {5058, 9091, 3000}
    assert rule["from"] and all(set(peer) == {"ipBlock"} for peer in rule["from"])


def test_every_network_policy_selects_pods_that_exist(
    overlays: dict[str, list[Doc]], migrations: dict[str, list[Doc]], env: str
) -> None:
    pod_names = {
        (
            d["spec"]["jobTemplate"]["spec"]["template"]
            if d["kind"] == "CronJob"
            else d["spec"]["template"]
        )["metadata"]["labels"]["app.kubernetes.io/name"]
        for d in workloads(overlays[env] + migrations[env])
    }
    pod_names.add(SEED_JOB)  # made by `periph db seed --env demo`, not by the manifests
    for policy in by_kind(overlays[env], "NetworkPolicy").values():
        spec = policy["spec"]
        selected = spec["podSelector"].get("matchLabels", {}).get("app.kubernetes.io/name")
        assert selected is None or selected in pod_names, policy["metadata"]["name"]
        for rule in spec.get("ingress", []):
            assert _from_pods(rule) <= pod_names, policy["metadata"]["name"]


def test_redis_refuses_to_run_without_a_password_in_the_cluster(
    overlays: dict[str, list[Doc]], env: str
) -> None:
    redis = pod_spec(one(overlays[env], "StatefulSet", "cache"))["containers"][0]
    env_vars = {v["name"]: v for v in redis["env"]}
    ref = env_vars["REDIS_PASSWORD"]["valueFrom"]["secretKeyRef"]
    assert ref.get("optional", False) is False
    assert env_vars["REDIS_REQUIRE_PASSWORD"]["value"] == "true"
    assert "REDIS_REQUIRE_PASSWORD" in (SERVICES / "cache" / "entrypoint.sh").read_text()


def test_the_env_contract_requires_a_strong_redis_password_on_demo_and_prod() -> None:
    example = ROOT / ".env.example"
    schema, _ = build(parse_bytes(example.read_bytes(), str(example)).entries, str(example))
    spec = schema.specs["REDIS_PASSWORD"]
    for target in ("demo", "prod"):
        rules = {rule for rule, _ in spec.rules_for(target)}
        assert {"required", "strong"} <= rules, target
    assert spec.rules_for("local") == []


def test_backend_detail_and_metrics_live_on_a_port_no_service_or_ingress_exposes(
    overlays: dict[str, list[Doc]], env: str
) -> None:
    backend = pod_spec(one(overlays[env], "Deployment", "backend"))["containers"][0]
    ports = {p["name"]: p["containerPort"] for p in backend["ports"]}
    service = one(overlays[env], "Service", "backend")
    assert ports == {"http": 5058, "internal": 9091}
    assert [p["targetPort"] for p in service["spec"]["ports"]] == ["http"]
    assert backend["livenessProbe"]["httpGet"] == {"path": "/livez", "port": "internal"}


def test_worker_liveness_follows_the_job_loop(overlays: dict[str, list[Doc]], env: str) -> None:
    worker = pod_spec(one(overlays[env], "Deployment", "worker"))["containers"][0]
    assert worker["livenessProbe"]["httpGet"] == {"path": "/livez", "port": "metrics"}


# --- every switch is wired ----------------------------------------------------------


def _service_sources() -> str:
    files = [
        *SERVICES.glob("backend/**/*.go"),
        *SERVICES.glob("worker/peripheral_worker/*.py"),
        *SERVICES.glob("frontend/src/**/*.ts"),
        *SERVICES.glob("*/entrypoint.sh"),
    ]
    return "\n".join(p.read_text() for p in files if not p.name.endswith("_test.go"))


def test_every_config_map_key_is_read_by_code_or_by_a_manifest(
    overlays: dict[str, list[Doc]], env: str
) -> None:
    code = _service_sources()
    wired_in_manifests = {
        var["valueFrom"]["configMapKeyRef"]["key"]
        for _, c in containers(overlays[env])
        for var in c.get("env", [])
        if "configMapKeyRef" in var.get("valueFrom", {})
    }
    unread = [
        key
        for key in config_map_data(overlays[env])
        if f'"{key}"' not in code and f"env.{key}" not in code and key not in wired_in_manifests
    ]
    assert unread == []


def test_ws_allowed_origins_is_the_environments_public_host(
    overlays: dict[str, list[Doc]], env: str
) -> None:
    ingress = one(overlays[env], "Ingress", "peripheral")
    assert (
        config_map_data(overlays[env])["WS_ALLOWED_ORIGINS"] == ingress["spec"]["rules"][0]["host"]
    )


def test_demo_certificates_come_from_an_issuer_the_repo_defines() -> None:
    issuers = [
        d
        for d in yaml.safe_load_all((K8S / "cluster" / "internal-ca-issuer.yaml").read_text())
        if d["kind"] == "ClusterIssuer"
    ]
    assert "peripheral-internal-ca" in {d["metadata"]["name"] for d in issuers}


def test_backend_url_is_optional_because_only_the_vite_dev_server_reads_it() -> None:
    example = ROOT / ".env.example"
    schema, _ = build(parse_bytes(example.read_bytes(), str(example)).entries, str(example))
    assert schema.specs["BACKEND_URL"].required is False
    readers = [
        p.relative_to(ROOT).as_posix()
        for p in SERVICES.rglob("*")
        if p.is_file()
        and "node_modules" not in p.parts
        and ".svelte-kit" not in p.parts
        and "build" not in p.parts
        and p.suffix in {".go", ".py", ".ts", ".js", ".svelte"}
        and "BACKEND_URL" in p.read_text(errors="ignore")
    ]
    assert readers == ["services/frontend/vite.config.ts"]


def test_db_image_base_is_a_build_argument_defaulting_to_plain_postgres() -> None:
    dockerfile = (SERVICES / "db" / "Dockerfile").read_text()
    assert re.search(r"^ARG DB_BASE_IMAGE=postgres:15-bookworm$", dockerfile, re.MULTILINE)
    assert re.search(r"^FROM \$\{DB_BASE_IMAGE\}$", dockerfile, re.MULTILINE)


def test_prod_worker_image_is_multi_stage_and_drops_dev_only_packages() -> None:
    dockerfile = (SERVICES / "worker" / "Dockerfile.prod").read_text()
    requirements = (SERVICES / "worker" / "requirements.txt").read_text()
    assert len(re.findall(r"^FROM ", dockerfile, re.MULTILINE)) == 2
    assert "grep -v '# dev-only'" in dockerfile
    assert re.search(r"^watchfiles==\S+\s+# dev-only$", requirements, re.MULTILINE)


def test_the_database_superuser_is_not_the_apps_role(
    overlays: dict[str, list[Doc]], env: str
) -> None:
    postgres = pod_spec(one(overlays[env], "StatefulSet", "db"))["containers"][0]
    env_vars = {v["name"]: v for v in postgres["env"]}
    assert env_vars["DB_ADMIN_USER"]["value"] == "postgres"
    assert env_vars["DB_USER"]["valueFrom"]["secretKeyRef"]["key"] == "DB_USER"
    assert env_vars["DB_ADMIN_PASSWORD"]["valueFrom"]["secretKeyRef"]["optional"] is True
    role_script = (SERVICES / "db" / "initdb" / "20-app-role.sh").read_text()
    assert "NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION" in role_script
    # No client gets the superuser's password.
    readers = {
        owner for owner, c in containers(overlays[env]) for v in c.get("env", [])
        if v.get("valueFrom", {}).get("secretKeyRef", {}).get("key") == "DB_ADMIN_PASSWORD"
    }  # fmt: skip
    assert readers == {"StatefulSet/db"}


def test_cert_manager_http01_solver_pods_are_reachable_from_the_ingress_controller(
    overlays: dict[str, list[Doc]], env: str
) -> None:
    spec = _policy(overlays[env], "acme-http01-solver")
    assert spec["podSelector"] == {"matchLabels": {"acme.cert-manager.io/http01-solver": "true"}}
    (rule,) = spec["ingress"]
    assert rule["ports"] == [{"protocol": "TCP", "port": 8089}]
    assert rule["from"] == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}}
    ]
