"""The dev stack's Kubernetes objects, derived from compose/compose.yaml (pure translation).

The main fixture is the real compose file as Compose interpolates it with a .env whose
secrets are recognisable (``docker compose config``: no engine needed), so a change to
compose.yaml is seen here; small hand-made models cover the edge cases.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from periph_env.cluster import translate as t

ROOT = Path(__file__).resolve().parents[3]
SECRETS = {"DB_PASSWORD": "pw-Zq81$$x", "JWT_SECRET": "jwt-Kd93-secret"}
IMAGES = {
    f"peripheral-{s}:dev": f"reg.test:5000/peripheral-{s}:dev-alice-{i}"
    for i, s in enumerate(("db", "cache", "backend", "worker", "frontend"))
}


@pytest.fixture(scope="module")
def config(tmp_path_factory) -> dict:
    lines = (ROOT / ".env.example").read_text().splitlines()
    env = "\n".join(
        f"{k}='{SECRETS[k]}'" if (k := line.split("=", 1)[0]) in SECRETS else line for line in lines
    )
    env_file = tmp_path_factory.mktemp("env") / ".env"
    env_file.write_text(env + "\n")
    out = subprocess.run(
        ["docker", "compose", "-f", str(ROOT / "compose/compose.yaml"), "--env-file",
         str(env_file), "config", "--format", "json"],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    return json.loads(out.stdout)


def target(**extra) -> t.Target:
    return t.Target(user="alice", namespace="peripheral-dev-alice", images=IMAGES, **extra)


def by_kind(objs: list[dict], kind: str) -> dict[str, dict]:
    return {o["metadata"]["name"]: o for o in objs if o["kind"] == kind}


def containers(objs: list[dict]) -> dict[str, dict]:
    return {
        o["metadata"]["name"]: o["spec"]["template"]["spec"]["containers"][0]
        for o in objs
        if o["kind"] in ("Deployment", "Job")
    }


def test_every_compose_service_becomes_one_workload(config):
    objs = t.translate(config, target())
    assert set(by_kind(objs, "Deployment")) == {"db", "cache", "backend", "worker", "frontend"}
    assert set(by_kind(objs, "Job")) == {"migrate"}


def test_every_object_is_labelled_for_the_developer_and_lives_in_the_namespace(config):
    for obj in t.translate(config, target()):
        labels = obj["metadata"]["labels"]
        assert labels[t.MANAGED_BY] == "periph", obj["metadata"]["name"]
        assert labels[t.STACK_LABEL] == "alice"
        if obj["kind"] != "Namespace":
            assert obj["metadata"]["namespace"] == "peripheral-dev-alice"


def test_the_namespace_has_a_quota_and_default_requests(config):
    objs = t.translate(config, target())
    assert by_kind(objs, "Namespace")["peripheral-dev-alice"]
    assert by_kind(objs, "ResourceQuota")["periph-dev"]["spec"]["hard"]["pods"] == "20"
    limits = by_kind(objs, "LimitRange")["periph-dev"]["spec"]["limits"][0]
    assert limits["defaultRequest"] == t.DEFAULT_REQUESTS


def test_a_service_with_ports_is_reachable_by_its_compose_name(config):
    services = by_kind(t.translate(config, target()), "Service")
    assert {n: [p["port"] for p in s["spec"]["ports"]] for n, s in services.items()} == {
        "db": [5432], "cache": [6379], "backend": [5058], "worker": [9102], "frontend": [5173],
    }  # fmt: skip
    assert services["backend"]["spec"]["selector"][t.SERVICE_LABEL] == "backend"


def test_service_selectors_match_only_their_own_pods(config):
    objs = t.translate(config, target())
    pods = {
        n: d["spec"]["template"]["metadata"]["labels"]
        for n, d in by_kind(objs, "Deployment").items()
    }
    for name, service in by_kind(objs, "Service").items():
        chosen = [
            p for p, labels in pods.items() if service["spec"]["selector"].items() <= labels.items()
        ]
        assert chosen == [name]


def test_no_env_value_is_in_any_object_but_the_env_secret(config):
    objs = t.translate(config, target())
    outside = yaml.safe_dump_all([o for o in objs if o["metadata"]["name"] != t.ENV_SECRET])
    for value in ("pw-Zq81", "jwt-Kd93-secret", "devpassword"):
        assert value not in outside


def test_env_values_are_what_the_service_reads_dollars_included(config):
    secret = by_kind(t.translate(config, target()), "Secret")[t.ENV_SECRET]["stringData"]
    assert secret["backend.JWT_SECRET"] == "jwt-Kd93-secret"
    # single-quoted in .env: `$$` stays two dollars for the service, as Compose passes it
    assert secret["backend.DB_PASSWORD"] == "pw-Zq81$$x"
    assert secret["db.POSTGRES_PASSWORD"] == "pw-Zq81$$x"
    assert secret["backend.DB_HOST"] == "db"


def test_each_env_key_is_read_from_the_secret(config):
    backend = containers(t.translate(config, target()))["backend"]
    refs = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in backend["env"]}
    assert refs["JWT_SECRET"] == {"name": t.ENV_SECRET, "key": "backend.JWT_SECRET"}
    assert all("value" not in e for e in backend["env"])


def test_a_changed_env_value_changes_the_pod_template(config):
    changed = json.loads(json.dumps(config))
    changed["services"]["backend"]["environment"]["JWT_SECRET"] = "another"

    def template(cfg):
        dep = by_kind(t.translate(cfg, target()), "Deployment")["backend"]
        return dep["spec"]["template"]["metadata"]["annotations"][t.ENV_HASH_ANNOTATION]

    assert template(config) != template(changed)


def test_healthchecks_become_readiness_probes(config):
    found = containers(t.translate(config, target()))
    assert found["backend"]["readinessProbe"] == {
        "exec": {"command": ["backend", "healthcheck"]},
        "periodSeconds": 3, "timeoutSeconds": 3, "failureThreshold": 20,
    }  # fmt: skip
    db = found["db"]["readinessProbe"]["exec"]["command"]
    assert db[:2] == ["/bin/sh", "-c"] and '"${POSTGRES_USER}"' in db[2]  # $$ -> $ for the shell
    assert "livenessProbe" not in found["backend"]
    assert "readinessProbe" not in found["migrate"]


def test_the_one_shot_is_a_job_that_is_not_restarted_in_place(config):
    job = by_kind(t.translate(config, target()), "Job")["migrate"]
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    assert containers([job])["migrate"]["args"] == ["backend", "migrate"]


def test_dependencies_order_the_apply_in_waves(config):
    waves = [set(wave) for wave in t.waves(config)]
    assert waves == [{"db", "cache"}, {"migrate"}, {"backend", "worker"}, {"frontend"}]
    dep = by_kind(t.translate(config, target()), "Deployment")["backend"]
    assert dep["metadata"]["annotations"][t.DEPENDS_ANNOTATION] == "cache,db,migrate"


def test_images_are_the_pushed_references(config):
    found = containers(t.translate(config, target()))
    assert found["backend"]["image"] == IMAGES["peripheral-backend:dev"]
    assert found["migrate"]["image"] == IMAGES["peripheral-backend:dev"]  # the backend's image


def test_named_volumes_are_ephemeral_by_default_and_claims_when_asked(config):
    objs = t.translate(config, target())
    assert by_kind(objs, "PersistentVolumeClaim") == {}
    db = by_kind(objs, "Deployment")["db"]["spec"]["template"]["spec"]
    assert db["volumes"] == [{"name": "v0", "emptyDir": {}}]
    assert db["containers"][0]["volumeMounts"] == [
        {"name": "v0", "mountPath": "/var/lib/postgresql/data"}
    ]

    objs = t.translate(config, target(storage="claim", storage_class="local", volume_size="2Gi"))
    claims = by_kind(objs, "PersistentVolumeClaim")
    assert set(claims) == {"dev-db-data", "dev-cache-data"}
    assert claims["dev-db-data"]["spec"]["storageClassName"] == "local"
    assert claims["dev-db-data"]["spec"]["resources"]["requests"]["storage"] == "2Gi"


def test_pods_get_no_service_link_variables_and_the_configured_placement(config):
    toleration = {"key": "k", "operator": "Exists", "effect": "NoSchedule"}
    objs = t.translate(
        config, target(node_selector={"n": "1"}, tolerations=[toleration], pull_secret="pull")
    )
    for obj in objs:
        if obj["kind"] in ("Deployment", "Job"):
            pod = obj["spec"]["template"]["spec"]
            assert pod["enableServiceLinks"] is False
            assert pod["nodeSelector"] == {"n": "1"}
            assert pod["tolerations"] == [toleration]
            assert pod["imagePullSecrets"] == [{"name": "pull"}]


def test_published_ports_are_forwarded_to_the_same_local_port(config):
    forwards = {f.service: (f.local, f.remote) for f in t.forwards(config)}
    assert forwards["backend"] == (5058, 5058)
    assert forwards["frontend"] == (5173, 5173)


def small(**service) -> dict:
    return {"services": {"api": {"image": "peripheral-backend:dev", **service}}}


def test_a_bind_mount_is_refused_naming_the_service():
    model = small(volumes=[{"type": "bind", "source": "/home/a/src", "target": "/src"}])
    with pytest.raises(t.TranslationError, match="service 'api': a bind mount of '/home/a/src'"):
        t.translate(model, target())


def test_a_service_name_kubernetes_cannot_hold_is_refused_by_name():
    model = {"services": {"my_api": small()["services"]["api"]}}
    with pytest.raises(t.TranslationError, match="service 'my_api': not a valid Kubernetes name"):
        t.translate(model, target())


def test_an_image_that_was_not_pushed_is_refused_by_name():
    with pytest.raises(t.TranslationError, match="service 'api': image redis:7 was not pushed"):
        t.translate(small(image="redis:7"), target())


def test_kubernetes_variable_syntax_in_a_command_reaches_the_shell_as_written():
    container = containers(t.translate(small(command="echo $(date) $$HOME"), target()))["api"]
    assert container["args"] == ["/bin/sh", "-c", "echo $$(date) $HOME"]


def test_dependency_cycles_are_named():
    model = {"services": {"a": {"depends_on": {"b": {}}}, "b": {"depends_on": {"a": {}}}}}
    with pytest.raises(t.TranslationError, match="cycle among services: a, b"):
        t.waves(model)


@pytest.mark.parametrize(
    ("text", "expected"), [("2s", 2.0), ("1m0s", 60.0), ("500ms", 0.5), ("1h30m", 5400.0)]
)
def test_compose_durations_are_read_as_seconds(text, expected):
    assert t.seconds(text, 0) == expected


def test_the_namespace_name_is_a_valid_dns_label_whatever_the_user_name():
    assert t.namespace_for("Alice.Smith@Corp") == "peripheral-dev-alice-smith-corp"
    assert len(t.namespace_for("x" * 100)) == 63
    with pytest.raises(t.TranslationError, match="user name '@@'"):
        t.namespace_for("@@")
