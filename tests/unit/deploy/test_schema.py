"""Migration kinds (``-- periph: expand|contract`` headers), the labels ``periph build``
puts on an image, and the decision a rollback or deploy takes from a database's applied
migrations."""

from __future__ import annotations

from pathlib import Path

import pytest

from periph_env.cli import build_parser
from periph_env.common import migration_kinds as mk
from periph_env.deploy import schema, schema_read
from periph_env.deploy.events import Note, Step

ROOT = Path(__file__).resolve().parents[3]


# -- headers -------------------------------------------------------------------------


def test_a_header_declares_expand_or_contract():
    assert mk.declared_kind("-- periph: expand\nCREATE TABLE t ();\n") == "expand"
    assert mk.declared_kind("-- what it does\n--periph:contract\nDROP TABLE t;\n") == "contract"


def test_a_migration_without_a_header_declares_nothing_and_counts_as_contract():
    kind = mk.declared_kind("-- adds a table\nCREATE TABLE t ();\n")
    assert kind is None
    assert mk.Migration("0001", "0001_t.sql", kind).effective_kind == "contract"


def test_a_declaration_after_the_sql_began_is_not_a_header():
    assert mk.declared_kind("CREATE TABLE t ();\n-- periph: expand\n") is None


def test_an_unknown_kind_is_an_error_naming_the_file_and_line():
    with pytest.raises(mk.HeaderError, match=r"0007_x\.sql:2: .*must say expand or contract"):
        mk.declared_kind("-- drops a column\n-- periph: additive\n", "0007_x.sql")


def test_two_declarations_are_an_error_naming_the_second_line():
    with pytest.raises(mk.HeaderError, match=r"0007_x\.sql:2: a second"):
        mk.declared_kind("-- periph: expand\n-- periph: contract\n", "0007_x.sql")


def test_every_migration_of_this_project_declares_its_kind():
    folder = mk.migrations_folder(ROOT)
    assert mk.read_folder(folder), "no migrations found"
    assert mk.undeclared(folder) == []


def test_undeclared_names_the_migrations_without_a_header(tmp_path):
    (tmp_path / "0001_a.sql").write_text("-- periph: expand\nSELECT 1;\n")
    (tmp_path / "0002_b.sql").write_text("-- drops b\nSELECT 2;\n")
    (tmp_path / "notes.txt").write_text("not a migration")
    assert mk.undeclared(tmp_path) == ["0002_b.sql"]


# -- image labels --------------------------------------------------------------------


def test_an_image_carrying_migrations_is_labelled_with_their_versions_and_contract_ones(
    tmp_path,
):
    folder = tmp_path / "db" / "migrations"
    folder.mkdir(parents=True)
    (folder / "0001_a.sql").write_text("-- periph: expand\nSELECT 1;\n")
    (folder / "0002_b.sql").write_text("-- periph: contract\nSELECT 2;\n")
    (folder / "0003_c.sql").write_text("SELECT 3;\n")  # undeclared: contract
    paths = [
        "backend/main.go",
        "db/migrations",
        *(f"db/migrations/{p.name}" for p in folder.iterdir()),
    ]
    assert mk.image_labels(tmp_path, paths) == {
        mk.MIGRATIONS_LABEL: "0001,0002,0003",
        mk.CONTRACT_LABEL: "0002,0003",
    }


def test_an_image_without_migrations_gets_no_migration_label(tmp_path):
    (tmp_path / "main.py").write_text("")
    assert mk.image_labels(tmp_path, ["main.py"]) == {}


def test_the_backend_build_context_labels_every_migration_of_this_project():
    folder = mk.migrations_folder(ROOT)
    paths = [f"db/migrations/{p.name}" for p in folder.iterdir()]
    labels = mk.image_labels(ROOT / "services", paths)
    assert labels[mk.MIGRATIONS_LABEL].split(",") == [m.version for m in mk.read_folder(folder)]


def test_labels_read_back_as_what_the_image_carries():
    got = schema.carried({mk.MIGRATIONS_LABEL: "0001,0002", mk.CONTRACT_LABEL: "0002"})
    assert got == schema.Carried(frozenset({"0001", "0002"}), frozenset({"0002"}))
    assert schema.carried({"org.periph.service": "backend"}) is None


# -- the decision --------------------------------------------------------------------

APPLIED = ["0001_a.sql", "0002_b.sql", "0003_c.sql"]
OLD = schema.Carried(frozenset({"0001"}), frozenset())


def test_a_rollback_leaves_the_migrations_the_older_image_lacks_applied():
    diff = schema.difference(APPLIED, OLD, {"0002": "expand", "0003": "expand"})
    assert diff.left == [("0002_b.sql", "expand"), ("0003_c.sql", "expand")]
    assert diff.contract == []
    lines = schema.describe(diff, "rolling back to deploy #12")
    assert (
        "rolling back to deploy #12 leaves 0002_b.sql (expand), 0003_c.sql (expand) applied"
        in lines
    )


def test_a_left_contract_migration_is_named_in_the_refusal():
    diff = schema.difference(APPLIED, OLD, {"0002": "expand", "0003": "contract"})
    assert diff.contract == ["0003_c.sql"]
    message, hint = schema.refusal(diff, "rolling back to deploy #12")
    assert "0003_c.sql" in message and "0002_b.sql" not in message
    assert "--force-schema" in hint


def test_a_left_migration_no_source_declares_counts_as_contract():
    diff = schema.difference(APPLIED, OLD, {"0002": "expand"})
    assert diff.contract == ["0003_c.sql"]


def test_migrations_the_target_carries_but_the_database_lacks_are_pending():
    new = schema.Carried(frozenset({"0001", "0002", "0003", "0004"}), frozenset())
    diff = schema.difference(APPLIED, new)
    assert (diff.left, diff.pending) == ([], ["0004"])
    assert "this deploy carries every applied migration" in schema.describe(diff, "this deploy")


def test_the_running_images_labels_name_a_kind_before_the_checkout():
    running = schema.Carried(frozenset({"0002", "0003"}), frozenset({"0003"}))
    checkout = [mk.Migration("0003", "0003_c.sql", "expand")]
    assert schema.kinds_from([running, checkout]) == {"0002": "expand", "0003": "contract"}


def test_the_history_record_keeps_versions_and_names_only():
    diff = schema.difference(APPLIED, OLD, {"0002": "contract"})
    assert diff.as_record(forced=True) == {
        "applied": ["0001", "0002", "0003"],
        "left_applied": ["0002_b.sql", "0003_c.sql"],
        "contract": ["0002_b.sql", "0003_c.sql"],
        "pending": [],
        "forced": True,
    }


def test_a_release_carries_only_what_every_labelled_image_carries():
    a = schema.Carried(frozenset({"0001", "0002"}), frozenset({"0002"}))
    b = schema.Carried(frozenset({"0001"}), frozenset())
    assert schema_read.combined([a, b]) == schema.Carried(frozenset({"0001"}), frozenset({"0002"}))
    assert schema_read.combined([]) is None


# -- reading the database ------------------------------------------------------------

DB = {
    "metadata": {"name": "db"},
    "spec": {
        "serviceName": "db",
        "template": {
            "spec": {
                "nodeSelector": {"periph.dev/real": "true"},
                "imagePullSecrets": [{"name": "pull"}],
                "securityContext": {"runAsUser": 999, "runAsNonRoot": True},
                "containers": [
                    {
                        "name": "postgres",
                        "image": "reg/peripheral-db@sha256:" + "a" * 64,
                        "env": [
                            {"name": "DB_ADMIN_USER", "value": "postgres"},
                            *(
                                {
                                    "name": k,
                                    "valueFrom": {"secretKeyRef": {"name": "env", "key": k}},
                                }
                                for k in ("DB_USER", "DB_PASSWORD", "POSTGRES_DB")
                            ),
                        ],
                    }
                ],
            }
        },
    },
}


def test_the_read_job_takes_credentials_from_the_secret_and_reads_only():
    job = schema_read.read_job(DB, "ns")
    container = job["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e for e in container["env"]}
    assert env["DB_PASSWORD"]["valueFrom"]["secretKeyRef"] == {"name": "env", "key": "DB_PASSWORD"}
    assert env["PGPASSWORD"]["value"] == "$(DB_PASSWORD)"  # expanded by the kubelet
    assert "DB_ADMIN_USER" not in env  # the app's role, never the superuser
    assert env["PGOPTIONS"]["value"] == "-c default_transaction_read_only=on"
    assert container["image"] == DB["spec"]["template"]["spec"]["containers"][0]["image"]


def test_the_read_job_runs_where_and_as_whom_the_database_does_and_netpol_admits_it():
    job = schema_read.read_job(DB, "ns")
    spec = job["spec"]["template"]["spec"]
    assert spec["nodeSelector"] == {"periph.dev/real": "true"}
    assert spec["imagePullSecrets"] == [{"name": "pull"}]
    assert spec["securityContext"]["runAsUser"] == 999
    labels = job["spec"]["template"]["metadata"]["labels"]
    assert labels["app.kubernetes.io/name"] == "backend-migrate"
    assert job["metadata"]["namespace"] == "ns"


def test_the_read_jobs_log_gives_the_applied_names_and_a_cut_log_gives_none():
    log = (
        "[pod/r-1/read] periph-schema 0001 0001_a.sql\n"
        "[pod/r-1/read] periph-schema 0002 0002_b.sql\n"
        "[pod/r-1/read] periph-schema-end\n"
    )
    assert schema_read.parse_rows(log) == ["0001_a.sql", "0002_b.sql"]
    assert schema_read.parse_rows("[pod/r-1/read] periph-schema-end\n") == []
    assert schema_read.parse_rows("[pod/r-1/read] periph-schema 0001 0001_a.sql\n") is None


@pytest.mark.parametrize(
    ("reference", "parts"),
    [
        (
            "127.0.0.1:5000/peripheral-backend@sha256:abc",
            ("127.0.0.1:5000/peripheral-backend", "sha256:abc"),
        ),
        ("127.0.0.1:5000/peripheral-backend:v2", ("127.0.0.1:5000/peripheral-backend", "v2")),
        ("127.0.0.1:5000/peripheral-backend", ("127.0.0.1:5000/peripheral-backend", "latest")),
    ],
)
def test_an_image_reference_splits_into_repository_and_reference(reference, parts):
    assert schema_read.split_reference(reference) == parts


# -- the check (registry and database stood in) --------------------------------------


class FakeKube:
    namespace = "ns"

    def __init__(self, db: dict | None = DB) -> None:
        self.db = db

    def list(self, kind, selector=""):
        return [self.db] if kind == "StatefulSet" and self.db else []

    def get(self, kind, name):
        return None


def stand_in(monkeypatch, labels: dict[str, dict], applied: list[str] | Exception):
    def image_labels(ref, clients):
        return labels[ref]

    def read_applied(kube, db, sleep):
        if isinstance(applied, Exception):
            raise applied
        yield Note("read")
        return applied

    monkeypatch.setattr(schema_read, "image_labels", image_labels)
    monkeypatch.setattr(schema_read, "read_applied", read_applied)


def run(gen):
    events = []
    while True:
        try:
            events.append(next(gen))
        except StopIteration as stop:
            return events, stop.value


OLD_LABELS = {mk.MIGRATIONS_LABEL: "0001", mk.CONTRACT_LABEL: ""}
NEW_LABELS = {mk.MIGRATIONS_LABEL: "0001,0002", mk.CONTRACT_LABEL: "0002"}


def test_a_rollback_across_a_contract_migration_is_refused(monkeypatch, tmp_path):
    stand_in(monkeypatch, {"old": OLD_LABELS, "new": NEW_LABELS}, ["0001_a.sql", "0002_b.sql"])
    events, check = run(schema_read.check(FakeKube(), tmp_path, "rolling back", ["old"], ["new"]))
    assert not check.ok
    assert "0002_b.sql" in check.message and "--force-schema" in check.hint
    assert Step("schema") in events


def test_force_schema_goes_ahead_across_a_contract_migration_and_says_so(monkeypatch, tmp_path):
    stand_in(monkeypatch, {"old": OLD_LABELS, "new": NEW_LABELS}, ["0001_a.sql", "0002_b.sql"])
    gen = schema_read.check(FakeKube(), tmp_path, "rolling back", ["old"], ["new"], force=True)
    events, check = run(gen)
    assert check.ok and check.record["forced"] is True
    assert any(isinstance(e, Note) and "--force-schema" in e.text for e in events)


def test_a_rollback_across_an_expand_migration_goes_ahead_saying_what_stays(monkeypatch, tmp_path):
    expand = {mk.MIGRATIONS_LABEL: "0001,0002", mk.CONTRACT_LABEL: ""}
    stand_in(monkeypatch, {"old": OLD_LABELS, "new": expand}, ["0001_a.sql", "0002_b.sql"])
    events, check = run(schema_read.check(FakeKube(), tmp_path, "rolling back", ["old"], ["new"]))
    assert check.ok and check.record["left_applied"] == ["0002_b.sql"]
    assert Note("rolling back leaves 0002_b.sql (expand) applied") in events


def test_images_without_the_label_are_not_checked_and_the_database_is_not_read(
    monkeypatch, tmp_path
):
    stand_in(monkeypatch, {"old": {}, "new": {}}, AssertionError("must not read"))
    events, check = run(schema_read.check(FakeKube(), tmp_path, "rolling back", ["old"], ["new"]))
    assert check.ok and check.record == {"checked": False}
    assert any("not checked" in getattr(e, "text", "") for e in events)


def test_an_unreadable_database_refuses_unless_forced(monkeypatch, tmp_path):
    from periph_env.errors import EngineError

    stand_in(monkeypatch, {"old": OLD_LABELS, "new": NEW_LABELS}, EngineError("job failed"))
    _, check = run(schema_read.check(FakeKube(), tmp_path, "rolling back", ["old"], ["new"]))
    assert not check.ok and "cannot read what the database has applied: job failed" in check.message
    gen = schema_read.check(FakeKube(), tmp_path, "rolling back", ["old"], ["new"], force=True)
    _, forced = run(gen)
    assert forced.ok


def test_no_database_yet_means_nothing_to_compare(monkeypatch, tmp_path):
    stand_in(monkeypatch, {"new": NEW_LABELS}, AssertionError("must not read"))
    events, check = run(schema_read.check(FakeKube(db=None), tmp_path, "this deploy", ["new"], []))
    assert check.ok
    assert any("no database StatefulSet" in getattr(e, "text", "") for e in events)


# -- the command line ----------------------------------------------------------------


@pytest.mark.parametrize("command", [["rollback", "demo"], ["deploy", "demo"]])
def test_rollback_and_deploy_take_force_schema(command):
    args = build_parser().parse_args([*command, "--force-schema"])
    assert args.force_schema is True
    assert build_parser().parse_args(command).force_schema is False


# -- periph doctor -------------------------------------------------------------------


def doctor_migrations(root: Path):
    from periph_env.stack.checks import check_migrations
    from periph_env.stack.control import Stack

    return check_migrations(Stack(root, compose_path=root / "compose.yaml"))


def test_doctor_names_a_migration_without_a_kind(tmp_path):
    folder = mk.migrations_folder(tmp_path)
    folder.mkdir(parents=True)
    (folder / "0001_a.sql").write_text("-- periph: expand\nSELECT 1;\n")
    (folder / "0002_b.sql").write_text("-- drops b\nSELECT 2;\n")
    check = doctor_migrations(tmp_path)
    assert check.status == "warn" and "0002_b.sql" in check.detail
    assert "0001_a.sql" not in check.detail and "-- periph: expand" in (check.remedy or "")


def test_doctor_fails_on_a_kind_it_does_not_know_naming_file_and_line(tmp_path):
    folder = mk.migrations_folder(tmp_path)
    folder.mkdir(parents=True)
    (folder / "0001_a.sql").write_text("-- periph: maybe\nSELECT 1;\n")
    check = doctor_migrations(tmp_path)
    assert check.status == "fail" and "0001_a.sql:1:" in check.detail


def test_doctor_passes_this_projects_migrations():
    assert doctor_migrations(ROOT).status == "ok"


def test_a_history_record_keeps_its_schema_difference_through_its_config_map():
    from periph_env.deploy import history as h

    diff = schema.difference(APPLIED, OLD, {"0002": "expand", "0003": "expand"})
    record = h.Record("demo", 3, "rollback", "succeeded", "me", "2026-01-01T00:00:00Z")
    record.schema = diff.as_record()
    back = h.decode(h.encode(record, "ns"))
    assert back.schema["left_applied"] == ["0002_b.sql", "0003_c.sql"]


def test_a_deploy_knows_which_contract_migrations_an_auto_rollback_would_cross():
    running = schema.Carried(frozenset({"0001"}), frozenset())
    new = schema.Carried(frozenset({"0001", "0002", "0003"}), frozenset({"0003"}))
    kinds = schema.kinds_from([new])
    assert schema.back_across(["0001_a.sql"], new, running, kinds) == ["0003"]
    assert schema.back_across(["0001_a.sql"], new, None, kinds) == []  # unlabelled: untold


def test_check_returns_what_an_auto_rollback_of_the_deploy_would_cross(monkeypatch, tmp_path):
    stand_in(monkeypatch, {"new": NEW_LABELS, "old": OLD_LABELS}, ["0001_a.sql"])
    events, check = run(schema_read.check(FakeKube(), tmp_path, "this deploy", ["new"], ["old"]))
    assert check.ok and check.back_contract == ["0002"]
    assert Note("not applied yet: 0002 (the migration Job applies them)") in events


def test_an_image_the_registry_cannot_describe_refuses_unless_forced(monkeypatch, tmp_path):
    from periph_env.errors import EngineError

    def image_labels(ref, clients):
        raise EngineError(f"{ref}: not in the registry")

    monkeypatch.setattr(schema_read, "image_labels", image_labels)
    gen = schema_read.check(FakeKube(), tmp_path, "rolling back", ["old"], ["new"])
    _, check = run(gen)
    assert not check.ok
    assert check.message == (
        "rolling back: cannot tell which migrations its images carry: old: not in the registry"
    )
    events, forced = run(
        schema_read.check(FakeKube(), tmp_path, "rolling back", ["old"], ["new"], force=True)
    )
    assert forced.ok and any("going ahead unchecked" in getattr(e, "text", "") for e in events)
