"""The dev database of a cluster stack (``periph db ... --cluster``, the Stack area's ``m``):
psql reaches the db pod through ``kubectl exec``, migrate is its Job run again, and every
hint names the command that reaches that database. The real round trip on the node:
tests/integration/test_cluster_dev_stack.py::test_db_switch_on_the_cluster_keeps_each_branchs_data.
"""

from __future__ import annotations

import shlex
from types import SimpleNamespace

import pytest

from periph_env.cli import build_parser, main
from periph_env.cluster.db import ClusterOneShots, PodPostgres, fresh_job
from periph_env.data import branches, migrations
from periph_env.data.migrations import Drift
from periph_env.data.pg import DbNotRunning, Postgres, db_command
from periph_env.deploy.kube import Kube
from periph_env.errors import EngineError
from periph_env.tui.branch_db import BranchDb

JOB = {
    "apiVersion": "batch/v1",
    "kind": "Job",
    "metadata": {
        "name": "migrate",
        "namespace": "peripheral-dev-ann",
        "uid": "1234",
        "resourceVersion": "77",
        "labels": {"app.kubernetes.io/managed-by": "periph", "periph.dev/service": "migrate",
                   "batch.kubernetes.io/controller-uid": "1234", "controller-uid": "1234"},
        "annotations": {"batch.kubernetes.io/job-tracking": "", "periph.dev/note": "kept"},
    },
    "spec": {
        "backoffLimit": 2,
        "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": "1234"}},
        "manualSelector": False,
        "template": {
            "metadata": {"labels": {
                "periph.dev/service": "migrate", "batch.kubernetes.io/controller-uid": "1234",
                "batch.kubernetes.io/job-name": "migrate", "controller-uid": "1234",
                "job-name": "migrate",
            }},
            "spec": {"restartPolicy": "Never",
                     "containers": [{"name": "migrate", "image": "reg/backend@sha256:ab"}]},
        },
    },
    "status": {"succeeded": 1},
}  # fmt: skip


def cluster(name: str | None = None, ready: str | None = "db-7d9f-x1"):
    settings = SimpleNamespace(name=name, namespace="peripheral-dev-ann")
    return SimpleNamespace(
        stack=SimpleNamespace(mask=lambda s: s, api=None),
        settings=settings,
        namespace="peripheral-dev-ann",
        kube=Kube("dev", "peripheral-dev-ann"),
        ready_pod=lambda service: ready,
    )


def test_a_job_made_again_keeps_its_spec_without_what_the_job_controller_added():
    again = fresh_job(JOB)
    assert again["metadata"] == {
        "name": "migrate",
        "namespace": "peripheral-dev-ann",
        "labels": {"app.kubernetes.io/managed-by": "periph", "periph.dev/service": "migrate"},
        "annotations": {"periph.dev/note": "kept"},
    }
    assert "selector" not in again["spec"] and "manualSelector" not in again["spec"]
    assert again["spec"]["template"]["metadata"]["labels"] == {"periph.dev/service": "migrate"}
    assert again["spec"]["template"]["spec"] == JOB["spec"]["template"]["spec"]
    assert "status" not in again and JOB["spec"]["selector"]  # the original is untouched


def test_psql_reaches_the_db_pod_through_kubectl_exec_in_the_stacks_namespace():
    pg = PodPostgres(cluster())
    argv = pg.exec_argv(stdin=True)
    assert argv[0].endswith("kubectl") and argv[1:] == [
        "--context", "dev", "-n", "peripheral-dev-ann",
        "exec", "-i", "db-7d9f-x1", "-c", "db", "--",
    ]  # fmt: skip
    assert pg.exec_argv()[6:8] == ["db-7d9f-x1", "-c"]  # no stdin: no -i


def test_a_stack_without_a_ready_db_pod_says_so_and_how_to_start_it():
    with pytest.raises(DbNotRunning) as raised:
        PodPostgres(cluster(ready=None)).container  # noqa: B018
    assert raised.value.message == "no Ready db pod in namespace peripheral-dev-ann"
    assert "`periph up --cluster`" in raised.value.hint


def test_a_one_shot_without_its_job_says_up_cluster_makes_it():
    fake = cluster()
    fake.kube = SimpleNamespace(get=lambda kind, name: None)
    with pytest.raises(EngineError) as raised:
        ClusterOneShots(fake).run_one_shot("migrate")
    assert raised.value.message == "no Job migrate in namespace peripheral-dev-ann"


@pytest.mark.parametrize("name", [None, "gpu"])
def test_every_hint_about_a_db_pod_names_a_command_that_reaches_it(name):
    pg = PodPostgres(cluster(name))
    flag = " --cluster gpu" if name else " --cluster"
    assert db_command(pg, "`periph db switch`") == f"`periph db switch{flag}`"
    assert db_command(Postgres(SimpleNamespace()), "`periph db switch`") == "`periph db switch`"
    lines = migrations.hint(Drift(unknown=["0005_x.sql"]), "feature", None, pg.cli_flag)
    lines += migrations.hint(Drift(pending=["0005_x.sql"]), "feature", None, pg.cli_flag)
    commands = [part for line in lines for part in line.split("`")[1::2]]
    assert commands == [
        f"periph db snapshot <old-branch>{flag}", f"periph db reset{flag}", f"periph up{flag}"
    ]  # fmt: skip
    parser = build_parser()
    for command in commands:
        args = parser.parse_args(shlex.split(command.replace("<old-branch>", "main"))[1:])
        assert args.cluster == (name or "")


def test_the_branch_note_names_db_switch_with_cluster(monkeypatch):
    pg = PodPostgres(cluster())
    plan = branches.Plan("main", "feature", True, ["0005_x.sql"], [])
    monkeypatch.setattr(branches, "plan", lambda _pg, _root: plan)
    lines = branches.notice(pg, None)
    assert "`periph db switch --cluster` (Stack area: m) keeps it as snapshot main" in lines[1]


def test_m_on_a_cluster_works_on_the_db_pod_and_reruns_the_migrate_job(tmp_path):
    (tmp_path / "compose").mkdir()
    stack = SimpleNamespace(compose_path=tmp_path / "compose" / "compose.yaml", root=tmp_path)
    fake = cluster()
    fake.stack = stack
    db = BranchDb(stack, fake)
    runner, pg = db._database()
    assert isinstance(pg, PodPostgres) and pg.cluster is fake
    assert isinstance(runner, ClusterOneShots) and runner.root == tmp_path
    local_runner, local_pg = BranchDb(stack)._database()
    assert local_runner is stack and type(local_pg) is Postgres


def test_seed_of_a_deploy_environment_and_of_the_cluster_stack_at_once_is_a_usage_error(
    capsys,
):
    assert main(["db", "seed", "--env", "demo", "--cluster"]) == 2
    assert "--env seeds a deploy environment; --cluster your dev stack" in capsys.readouterr().err


class SettingsOnly(Postgres):
    """A Postgres whose container says ``POSTGRES_DB``; records what it runs where."""

    def __init__(self, configured: str) -> None:
        super().__init__(SimpleNamespace(mask=lambda s: s))
        self.configured, self.ran = configured, []

    def configured_db(self) -> str:
        return self.configured

    def run(self, sql, db=None, *, single_transaction=False) -> str:
        self.ran.append((sql, db))
        return ""


def test_statements_about_the_dev_database_run_in_postgres_when_it_is_another_one():
    pg = SettingsOnly("peripheral")
    assert pg.maintenance_db == "postgres" and pg.ran == []


def test_a_dev_database_named_postgres_is_maintained_from_periphs_own_database():
    pg = SettingsOnly("postgres")  # .env.example's POSTGRES_DB
    assert pg.maintenance_db == "periph_maintenance"
    [(sql, db)] = pg.ran
    assert db == "template1" and "CREATE DATABASE periph_maintenance TEMPLATE template0" in sql
    assert pg.maintenance_db == "periph_maintenance" and len(pg.ran) == 1  # made once
