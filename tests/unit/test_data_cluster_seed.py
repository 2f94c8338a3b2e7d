"""`periph db seed --env ENV`: refused for production before any cluster is touched; the
Job it runs takes the db's image, placement and Secret, and never a credential's value
(the Job itself runs on the real node in tests/integration/test_node_demo_deploy.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from periph_env.data.cluster_seed import NAME, seed_objects

REPO = Path(__file__).resolve().parents[2]


def periph(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "periph_env", *args],
        cwd=cwd, capture_output=True, text=True, timeout=60,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), "KUBECONFIG": "/nonexistent"},
    )  # fmt: skip


def project(tmp_path: Path, name: str, production: bool) -> Path:
    (tmp_path / "periph.toml").write_text(
        f'[environments.{name}]\nbranch = "{name}"\nnamespace = "ns"\ncontext = "ctx"\n'
        f'overlay = "k8s/overlays/{name}"\ntag = "{name}"\n'
        f"allow_branch_override = {'false' if production else 'true'}\n"
    )
    (tmp_path / "compose").mkdir()
    (tmp_path / "compose" / "compose.yaml").write_text("services: {}\n")
    (tmp_path / ".env.example").write_text("A=1\n")
    seed = tmp_path / "services" / "db" / "seed"
    seed.mkdir(parents=True)
    (seed / "0001_strategies.sql").write_text("INSERT INTO strategies VALUES (1);\n")
    return tmp_path


def test_seeding_prod_is_refused_with_exit_2_and_says_why(tmp_path):
    proc = periph(tmp_path, "db", "seed", "--env", "prod")  # not even a project needed
    assert proc.returncode == 2, proc.stderr
    assert "`periph db seed --env prod` is refused, always" in proc.stderr
    assert "production environment holding real data" in proc.stderr


def test_any_environment_configured_as_production_is_refused_too(tmp_path):
    proc = periph(project(tmp_path, "live", production=True), "db", "seed", "--env", "live")
    assert proc.returncode == 2, proc.stderr
    assert "`periph db seed --env live` is refused, always" in proc.stderr


def test_seeding_an_unknown_environment_is_a_usage_error_naming_it(tmp_path):
    proc = periph(project(tmp_path, "demo", production=False), "db", "seed", "--env", "stage")
    assert proc.returncode == 2
    assert "no environment 'stage'" in proc.stderr


def db_statefulset() -> dict:
    return {
        "spec": {"template": {"spec": {
            "nodeSelector": {"periph.dev/node": "real"},
            "tolerations": [{"key": "periph.dev/real", "operator": "Exists"}],
            "imagePullSecrets": [{"name": "registry"}],
            "securityContext": {"runAsUser": 999, "runAsNonRoot": True},
            "containers": [{
                "name": "db", "image": "reg/peripheral-db@sha256:abc",
                "env": [{"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {
                    "name": "app-env", "key": "DB_PASSWORD"}}}],
            }],
        }}}
    }  # fmt: skip


def test_the_seed_job_runs_the_db_image_where_the_db_can_run():
    configmap, job = seed_objects(db_statefulset(), {"0001_a.sql": "select 1;"})
    pod = job["spec"]["template"]
    assert pod["metadata"]["labels"]["app.kubernetes.io/name"] == NAME  # what the policy admits
    spec = pod["spec"]
    assert spec["containers"][0]["image"] == "reg/peripheral-db@sha256:abc"
    assert spec["nodeSelector"] == {"periph.dev/node": "real"}
    assert spec["imagePullSecrets"] == [{"name": "registry"}]
    assert spec["securityContext"]["runAsUser"] == 999
    assert configmap["data"] == {"0001_a.sql": "select 1;"}
    assert job["spec"]["backoffLimit"] == 0


def test_the_seed_job_takes_credentials_from_the_db_secret_by_reference_only():
    _, job = seed_objects(db_statefulset(), {"0001_a.sql": "select 1;"})
    env = {e["name"]: e for e in job["spec"]["template"]["spec"]["containers"][0]["env"]}
    for name, key in (("PGUSER", "DB_USER"), ("PGPASSWORD", "DB_PASSWORD")):
        assert env[name]["valueFrom"]["secretKeyRef"] == {"name": "app-env", "key": key}
        assert "value" not in env[name]
    assert "sha256" not in json.dumps(env)  # nothing of the pod spec leaked into env
