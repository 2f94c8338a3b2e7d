"""Snapshot names, migration drift and its hint, and ``periph exec``'s argv: no engine."""

from __future__ import annotations

import pytest

from periph_env.data import migrations, names, shell
from periph_env.errors import EXIT_USAGE, UsageError


@pytest.mark.parametrize("name", ["main", "feature-auth", "before_refactor", "0042", "a" * 40])
def test_a_valid_snapshot_name_is_accepted(name):
    assert names.validate(name) == name
    assert names.database(name) == "periph_snap_" + name


@pytest.mark.parametrize(
    "name", ["", "Main", "-x", "a b", "x;drop", 'q"uote', "feature/auth", "a" * 41, "ünï"]
)
def test_a_bad_snapshot_name_is_a_usage_error_saying_what_is_allowed(name):
    with pytest.raises(UsageError) as err:
        names.validate(name)
    assert err.value.exit_code == EXIT_USAGE
    assert "a-z, 0-9, '-' and '_'" in str(err.value)


@pytest.mark.parametrize(
    ("branch", "name"),
    [("main", "main"), ("feature/Auth", "feature-auth"), ("--x--", "x"), ("///", "detached")],
)
def test_a_branch_becomes_a_valid_snapshot_name(branch, name):
    assert names.from_branch(branch) == name
    names.validate(names.from_branch(branch))


def test_only_databases_with_the_prefix_are_snapshots():
    assert names.from_database("periph_snap_main") == "main"
    assert names.from_database("peripheral") is None
    assert names.from_database("periph_snap_Bad Name") is None


def test_identifiers_and_literals_are_quoted_for_sql():
    assert names.ident('we"ird') == '"we""ird"'
    assert names.literal("it's") == "'it''s'"


def test_drift_names_migrations_the_checkout_lacks_and_those_not_applied_yet():
    d = migrations.drift(["0001_a.sql", "0005_b.sql"], ["0001_a.sql", "0002_c.sql"])
    assert d.unknown == ["0005_b.sql"]
    assert d.pending == ["0002_c.sql"]
    assert not d.clean


def test_the_hint_names_the_unknown_migration_and_the_way_out():
    d = migrations.drift(["0001_a.sql", "0005_b.sql"], ["0001_a.sql"])
    text = "\n".join(migrations.hint(d, "main", None))
    assert "the database has 0005_b which this checkout does not have" in text
    assert "`periph db snapshot <old-branch>`" in text and "`periph db reset`" in text


def test_the_hint_offers_the_snapshot_taken_on_this_branch():
    d = migrations.drift(["0005_b.sql"], [])
    assert "`periph db restore main`" in "\n".join(migrations.hint(d, "main", "main"))


def test_no_hint_when_the_database_matches_the_checkout():
    assert migrations.hint(migrations.drift(["0001_a.sql"], ["0001_a.sql"]), "main", None) == []


def test_checkout_migrations_are_the_backend_named_files_in_order(tmp_path):
    folder = tmp_path / "services" / "db" / "migrations"
    folder.mkdir(parents=True)
    for f in ("0002_b.sql", "0001_a.sql", "README.md", "0003_Bad.sql"):
        (folder / f).write_text("")
    assert migrations.checkout(tmp_path) == ["0001_a.sql", "0002_b.sql"]


def test_exec_db_without_a_command_opens_psql_as_the_stack_user():
    argv = shell.argv_for("db", "c1", [], tty=True)
    assert argv[:4] == ["docker", "exec", "-it", "c1"]
    assert argv[-1] == "psql"
    assert 'PGUSER="$POSTGRES_USER"' in argv[6]  # read inside the container, not passed


def test_exec_passes_the_command_words_unchanged():
    argv = shell.argv_for("backend", "c1", ["sh", "-c", "echo 'a b'; exit 3"], tty=False)
    assert argv[2] == "-i"
    assert argv[-3:] == ["sh", "-c", "echo 'a b'; exit 3"]


@pytest.mark.parametrize(("service", "program"), [("cache", "redis-cli"), ("worker", "sh")])
def test_exec_defaults_to_the_service_shell(service, program):
    assert shell.argv_for(service, "c1", [], tty=True)[-1] == program
