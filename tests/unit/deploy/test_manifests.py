"""Which Secrets and keys a deploy creates is derived from the rendered manifests."""

from __future__ import annotations

import base64

from periph_env.deploy.manifests import (
    images,
    is_periph_object,
    label,
    secret_data,
    secret_needs,
    secret_object,
)


def workload(kind="Deployment", name="backend", containers=()):
    return {
        "kind": kind,
        "metadata": {"name": name},
        "spec": {"template": {"spec": {"containers": list(containers)}}},
    }


def key_ref(var, secret, key, optional=False):
    ref = {"name": secret, "key": key}
    if optional:
        ref["optional"] = True
    return {"name": var, "valueFrom": {"secretKeyRef": ref}}


SOURCE = {"DB_USER": "u", "DB_PASSWORD": "pw-123456", "JWT_SECRET": "jwt-abcdef", "OTHER": "o"}


def test_key_references_give_exactly_those_keys():
    db = workload("StatefulSet", "db", [{"name": "pg", "env": [
        key_ref("POSTGRES_USER", "db-env", "DB_USER"),
        key_ref("POSTGRES_PASSWORD", "db-env", "DB_PASSWORD"),
    ]}])  # fmt: skip
    needs = secret_needs([db])
    data, missing = secret_data(needs["db-env"], SOURCE)
    assert data == {"DB_USER": "u", "DB_PASSWORD": "pw-123456"}
    assert missing == []
    assert needs["db-env"].readers == {"StatefulSet/db"}


def test_env_from_gets_the_whole_source():
    backend = workload(containers=[{"name": "api", "envFrom": [{"secretRef": {"name": "all"}}]}])
    data, _ = secret_data(secret_needs([backend])["all"], SOURCE)
    assert data == SOURCE


def test_missing_required_key_is_reported_optional_is_not():
    worker = workload(name="worker", containers=[{"name": "w", "env": [
        key_ref("A", "worker-env", "POLYGON_API_KEY"),
        key_ref("B", "worker-env", "SENDGRID_API_KEY", optional=True),
    ]}])  # fmt: skip
    data, missing = secret_data(secret_needs([worker])["worker-env"], SOURCE)
    assert missing == ["POLYGON_API_KEY"]
    assert data == {}


def test_cron_job_and_init_container_references_count():
    cron = {
        "kind": "CronJob",
        "metadata": {"name": "db-backup"},
        "spec": {"jobTemplate": {"spec": {"template": {"spec": {
            "initContainers": [{"name": "i", "env": [key_ref("P", "backup-env", "DB_PASSWORD")]}],
            "containers": [{"name": "c", "envFrom": [{"secretRef": {"name": "other"}}]}],
        }}}}},
    }  # fmt: skip
    assert set(secret_needs([cron])) == {"backup-env", "other"}


def test_config_map_refs_are_not_secrets():
    backend = workload(containers=[{"name": "a", "envFrom": [{"configMapRef": {"name": "cfg"}}]}])
    assert secret_needs([backend]) == {}


def test_secret_object_holds_base64_data_and_no_prune_label():
    obj = secret_object("db-env", "ns", {"DB_PASSWORD": "pw-123456"}, "demo")
    assert base64.b64decode(obj["data"]["DB_PASSWORD"]).decode() == "pw-123456"
    assert not is_periph_object(obj, "demo")


def test_labels_mark_metadata_only():
    [obj] = label([workload()], "demo")
    assert is_periph_object(obj, "demo") and not is_periph_object(obj, "prod")
    assert "labels" not in obj["spec"]["template"].get("metadata", {})


def test_images_by_workload_and_container():
    backend = workload(containers=[{"name": "api", "image": "r/peripheral-backend@sha256:1"}])
    assert images([backend]) == {("Deployment/backend", "api"): "r/peripheral-backend@sha256:1"}
