"""A changed Secret rolls what reads it: periph's stamp on the rendered overlays."""

from __future__ import annotations

import copy

from periph_env.deploy import manifests, secret_hash
from tests.unit.k8s.manifests import ENVIRONMENTS, SECRET_NAME, Doc, workloads

ANNOTATION = secret_hash.annotation_name(SECRET_NAME)
KEY = secret_hash.new_key()  # the namespace's key: one for the whole test run
VALUES = {
    "DB_USER": "peripheral",
    "DB_PASSWORD": "db-password-1",
    "POSTGRES_DB": "peripheral_app",
    "JWT_SECRET": "jwt-secret-1",
    "REDIS_PASSWORD": "redis-password-1",
}


def _stamped(docs: list[Doc], env: str, values: dict[str, str]) -> dict[str, str | None]:
    """What periph's deploy writes: the Secrets from the render, then the hashes."""
    docs = copy.deepcopy(docs)
    namespace = ENVIRONMENTS[env]["namespace"]
    secrets = [
        manifests.secret_object(need.name, namespace, manifests.secret_data(need, values)[0], env)
        for need in manifests.secret_needs(docs).values()
    ]
    secret_hash.stamp(docs, secrets, KEY)
    out = {}
    for doc in workloads(docs):
        spec = doc["spec"]["jobTemplate"]["spec"] if doc["kind"] == "CronJob" else doc["spec"]
        annotations = spec["template"].get("metadata", {}).get("annotations", {})
        out[doc["metadata"]["name"]] = annotations.get(ANNOTATION)
    return out


def test_every_pod_template_reading_the_secret_carries_its_hash_except_the_database(
    overlays: dict[str, list[Doc]], migrations: dict[str, list[Doc]], env: str
) -> None:
    stamped = _stamped(overlays[env] + migrations[env], env, VALUES)
    assert stamped.pop("db") is None
    assert stamped.pop("frontend") is None  # reads no Secret
    assert sorted(k for k, v in stamped.items() if not v) == []
    assert set(stamped) == {
        "backend",
        "worker",
        "cache",
        "db-backup",
        "db-restore-drill",
        "backend-migrate",
    }


def test_rotating_jwt_secret_rolls_the_backend_and_nothing_else(
    overlays: dict[str, list[Doc]], env: str
) -> None:
    before = _stamped(overlays[env], env, VALUES)
    after = _stamped(overlays[env], env, {**VALUES, "JWT_SECRET": "jwt-secret-2"})
    assert sorted(k for k in before if before[k] != after[k]) == ["backend"]


def test_rotating_the_database_password_rolls_its_clients_but_not_postgres(
    overlays: dict[str, list[Doc]], env: str
) -> None:
    before = _stamped(overlays[env], env, VALUES)
    after = _stamped(overlays[env], env, {**VALUES, "DB_PASSWORD": "db-password-2"})
    assert sorted(k for k in before if before[k] != after[k]) == ["backend", "db-backup", "worker"]
