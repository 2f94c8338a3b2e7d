"""The hint rules shipped in compose/compose.yaml, each against real output of its failure
(tests/unit/stack/data/hints/README.md says how each sample was produced), and the rule
format's errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from periph_env.stack.errors import ComposeFileError
from periph_env.stack.hints import find_hint, load_rules, rules_from_text

REPO = Path(__file__).resolve().parents[3]
DATA = Path(__file__).parent / "data" / "hints"
RULES = load_rules(REPO / "compose" / "compose.yaml")


def sample(name: str) -> list[str]:
    return (DATA / name).read_text().splitlines()


def test_a_port_held_by_another_process_names_the_port_for_the_backend():
    hint = find_hint(RULES, "backend", sample("go_listen.txt"))
    assert hint is not None and hint.startswith("port 5058 is taken")


def test_a_port_the_engine_cannot_publish_names_the_port_for_any_service():
    hint = find_hint(RULES, "db", sample("port_docker_publish.txt"))
    assert hint is not None and hint.startswith("port 47123 is taken")


def test_a_go_compile_error_names_the_file_and_line():
    hint = find_hint(RULES, "backend", sample("go_compile.txt"))
    assert hint == (
        "Go does not compile: services/backend/main.go:3: undefined: undefinedThing "
        "(devreload rebuilds on save; the running server keeps the old code until then)"
    )


def test_a_go_compile_error_inside_devreloads_json_log_names_the_file_and_line():
    hint = find_hint(RULES, "backend", sample("go_devreload.txt"))
    assert hint is not None
    assert "services/backend/main.go:3: undefined: undefinedThing" in hint


def test_a_failed_migration_names_the_migration_file_and_sqlstate():
    hint = find_hint(RULES, "migrate", sample("migrate_failed.txt"))
    assert hint is not None
    assert hint.startswith("migration 0001_broken.sql failed (SQLSTATE 42601)")


def test_an_npm_lockfile_out_of_date_says_to_run_npm_install():
    hint = find_hint(RULES, "frontend", sample("npm_ci.txt"))
    assert hint is not None and "run `npm install` in services/frontend" in hint


@pytest.mark.parametrize(
    ("service", "name"), [("migrate", "pg_auth_migrate.txt"), ("db", "pg_server.txt")]
)
def test_a_postgres_password_changed_after_init_explains_the_volume(service, name):
    hint = find_hint(RULES, service, sample(name))
    assert hint is not None
    assert hint.startswith("Postgres rejects peripheral's password")
    assert "periph down --volumes" in hint


def test_output_no_rule_knows_gives_no_hint():
    assert find_hint(RULES, "backend", ["panic: something new", "exit status 2"]) is None


def test_a_service_rule_wins_over_a_shared_rule():
    rules = rules_from_text(
        "x-periph:\n  hints:\n    - {match: boom, hint: shared}\n"
        "services:\n  app:\n    x-periph:\n      hints:\n        - {match: boom, hint: own}\n",
        Path("c.yaml"),
    )
    assert find_hint(rules, "app", ["boom"]) == "own"
    assert find_hint(rules, "other", ["boom"]) == "shared"


def test_a_rule_with_a_broken_regex_is_an_error_naming_file_line_and_service():
    text = (
        "services:\n  app:\n    image: x\n    x-periph:\n      hints:\n"
        "        - {match: '(', hint: h}\n"
    )
    with pytest.raises(ComposeFileError) as caught:
        rules_from_text(text, Path("c.yaml"))
    assert "c.yaml:5: service 'app': x-periph.hints entry 1" in caught.value.message
    assert "not a valid regex" in caught.value.message


def test_a_rule_without_a_hint_is_an_error():
    with pytest.raises(ComposeFileError, match="needs a string `match`"):
        rules_from_text("x-periph:\n  hints:\n    - {match: x}\n", Path("c.yaml"))


def test_a_hint_naming_a_group_the_regex_lacks_is_shown_as_written():
    rules = rules_from_text(
        "x-periph:\n  hints:\n    - {match: boom, hint: 'see {nothing}'}\n", Path("c.yaml")
    )
    assert find_hint(rules, "app", ["boom"]) == "see {nothing}"
