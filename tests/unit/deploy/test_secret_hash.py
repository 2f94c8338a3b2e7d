"""A changed Secret rolls exactly the pods that read what changed, and says nothing of it."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from periph_env.deploy import manifests, secret_hash

NS = "peripheral-demo"
VALUES = {"DB_PASSWORD": "db-pass-1", "JWT_SECRET": "jwt-secret-1", "DB_USER": "peripheral-role"}
KEY = secret_hash.new_key()


def _secret(values: dict[str, str], name: str = "peripheral-env") -> dict[str, Any]:
    return manifests.secret_object(name, NS, values, "demo")


def _deployment(name: str, pod: dict[str, Any], annotations: dict | None = None) -> dict:
    template: dict[str, Any] = {"spec": pod}
    if annotations:
        template["metadata"] = {"annotations": annotations}
    return {
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"template": template},
    }


def _reads(*keys: str, secret: str = "peripheral-env") -> dict[str, Any]:
    env = [{"name": k, "valueFrom": {"secretKeyRef": {"name": secret, "key": k}}} for k in keys]
    return {"containers": [{"name": "app", "env": env}]}


def _stamp(objs: list[dict], values: dict[str, str], key: str = KEY) -> dict[str, str]:
    secret_hash.stamp(objs, [_secret(values)], key)
    return {
        o["metadata"]["name"]: o["spec"]["template"]
        .get("metadata", {})
        .get("annotations", {})
        .get("periph.dev/secret-hash-peripheral-env")
        for o in objs
    }


def test_a_pod_reading_a_secret_key_gets_the_secrets_hash_annotation() -> None:
    stamped = _stamp([_deployment("backend", _reads("JWT_SECRET"))], VALUES)
    assert stamped["backend"]


def test_the_same_values_give_the_same_annotation_so_a_redeploy_restarts_nothing() -> None:
    first = _stamp([_deployment("backend", _reads("JWT_SECRET"))], VALUES)
    second = _stamp([_deployment("backend", _reads("JWT_SECRET"))], dict(VALUES))
    assert first == second


def test_rotating_a_key_changes_only_the_pods_that_read_that_key() -> None:
    def objs() -> list[dict]:
        return [
            _deployment("backend", _reads("DB_PASSWORD", "JWT_SECRET")),
            _deployment("worker", _reads("DB_PASSWORD")),
        ]

    before = _stamp(objs(), VALUES)
    after = _stamp(objs(), {**VALUES, "JWT_SECRET": "jwt-secret-2"})
    assert after["backend"] != before["backend"]
    assert after["worker"] == before["worker"]


def test_a_pod_loading_the_secret_whole_rolls_on_any_key_change() -> None:
    pod = {"containers": [{"name": "app", "envFrom": [{"secretRef": {"name": "peripheral-env"}}]}]}
    before = _stamp([_deployment("app", pod)], VALUES)
    after = _stamp([_deployment("app", json.loads(json.dumps(pod)))], {**VALUES, "DB_USER": "x"})
    assert after["app"] != before["app"]


def test_a_secret_mounted_as_a_volume_is_hashed_whole() -> None:
    pod = {
        "containers": [{"name": "app"}],
        "volumes": [{"name": "s", "secret": {"secretName": "peripheral-env"}}],
    }
    assert secret_hash.secret_reads(pod) == {"peripheral-env": None}
    assert _stamp([_deployment("app", pod)], VALUES)["app"]


def test_filling_in_an_optional_key_the_pod_reads_rolls_it() -> None:
    before = _stamp([_deployment("backup", _reads("TELEGRAM_BOT_TOKEN"))], VALUES)
    after = _stamp(
        [_deployment("backup", _reads("TELEGRAM_BOT_TOKEN"))],
        {**VALUES, "TELEGRAM_BOT_TOKEN": "123:abc"},
    )
    assert after["backup"] != before["backup"]


def test_the_annotation_reveals_no_value_nor_its_plain_digest() -> None:
    obj = _deployment("backend", _reads("DB_PASSWORD", "JWT_SECRET"))
    secret_hash.stamp([obj], [_secret(VALUES)], KEY)
    rendered = json.dumps(obj)
    for value in VALUES.values():
        assert value not in rendered
        assert hashlib.sha256(value.encode()).hexdigest() not in rendered


def test_the_same_values_in_another_namespace_hash_differently() -> None:
    data = {"DB_PASSWORD": "same"}
    keys = frozenset({"DB_PASSWORD"})
    demo = secret_hash.content_hash(KEY, "peripheral-demo", "peripheral-env", data, keys)
    prod = secret_hash.content_hash(KEY, "peripheral-prod", "peripheral-env", data, keys)
    assert demo != prod


def test_a_pod_template_marked_skip_is_not_stamped() -> None:
    obj = _deployment("db", _reads("DB_PASSWORD"), {"periph.dev/secret-hash": "skip"})
    assert secret_hash.stamp([obj], [_secret(VALUES)], KEY) == []
    assert obj["spec"]["template"]["metadata"]["annotations"] == {"periph.dev/secret-hash": "skip"}


def test_a_cronjobs_pod_template_is_stamped() -> None:
    cron = {
        "kind": "CronJob",
        "metadata": {"name": "db-backup", "namespace": NS},
        "spec": {"jobTemplate": {"spec": {"template": {"spec": _reads("DB_PASSWORD")}}}},
    }
    assert secret_hash.stamp([cron], [_secret(VALUES)], KEY) == ["CronJob/db-backup"]
    template = cron["spec"]["jobTemplate"]["spec"]["template"]
    assert "periph.dev/secret-hash-peripheral-env" in template["metadata"]["annotations"]


def test_a_secret_periph_does_not_create_is_left_alone() -> None:
    obj = _deployment("backend", _reads("tls.crt", secret="made-by-hand"))
    assert secret_hash.stamp([obj], [_secret(VALUES)], KEY) == []
    assert "metadata" not in obj["spec"]["template"]


def test_objects_that_run_no_pods_are_ignored() -> None:
    service = {"kind": "Service", "metadata": {"name": "backend", "namespace": NS}, "spec": {}}
    assert secret_hash.stamp([service], [_secret(VALUES)], KEY) == []
    assert service["spec"] == {}


def test_a_long_secret_name_still_gives_a_valid_annotation_name() -> None:
    name = secret_hash.annotation_name("x" * 200)
    prefix, part = name.split("/")
    assert prefix == "periph.dev"
    assert len(part) <= 63
    assert part[0].isalnum() and part[-1].isalnum()
    assert secret_hash.annotation_name("y" * 200) != name


def test_without_the_namespaces_key_the_same_values_hash_differently() -> None:
    # The key is what makes a guessed value uncheckable against the annotation.
    objs = [_deployment("backend", _reads("JWT_SECRET"))]
    ours = _stamp(objs, VALUES)
    guessed = _stamp([_deployment("backend", _reads("JWT_SECRET"))], VALUES, secret_hash.new_key())
    assert ours["backend"] != guessed["backend"]


def test_the_key_kept_in_its_secret_reads_back_as_the_same_key() -> None:
    kept = secret_hash.key_object(NS, KEY, "demo")
    assert kept["metadata"]["name"] == secret_hash.KEY_SECRET
    assert secret_hash.key_of(kept) == KEY


def test_a_missing_or_emptied_key_secret_gives_no_key() -> None:
    assert secret_hash.key_of(None) is None
    assert secret_hash.key_of({"data": {}}) is None
    assert secret_hash.key_of(secret_hash.key_object(NS, "short", "demo")) is None


def test_each_new_key_is_different() -> None:
    assert secret_hash.new_key() != secret_hash.new_key()
