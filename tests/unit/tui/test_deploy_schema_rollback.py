"""A rollback from the Deploy area asks the schema check first: its confirmation says
which migrations stay applied; a contract migration refuses it with the message and hint,
and only a second, typed confirmation goes on with ``--force-schema``.

The engine is the typed fake of part2_fakes with a ``rollback_schema`` answering what
``periph_env.tui.views.deploy_schema`` answers over a cluster (the real check needs a
database: tests/integration/test_node_schema_rollback.py covers it on the real node)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from periph_env.deploy import events as ev
from periph_env.deploy import schema
from periph_env.tui.views.deploy_schema import SchemaPreview, _drive, moving_to
from tests.unit.tui.conftest import settle, wait_text
from tests.unit.tui.part2_fakes import FakeDeploy
from tests.unit.tui.screen import screen_text
from tests.unit.tui.test_build_view import part2_app

pytestmark = [pytest.mark.anyio, pytest.mark.tui]

EXPAND = SchemaPreview(
    True,
    [
        "database has applied 0001, 0007, 0008",
        "rolling back to deploy #1 leaves 0007_orders_index (expand), 0008_audit (expand) applied",
    ],
)


@dataclass
class SchemaDeploy(FakeDeploy):
    """``rollback_schema`` answers ``answer`` and counts the checks."""

    answer: SchemaPreview = EXPAND
    checks: list[int | None] = field(default_factory=list)

    def rollback_schema(self, root, env, to_revision):
        self.checks.append(to_revision)
        return self.answer


async def history_then(app, pilot, *keys: str) -> None:
    await pilot.press("5")
    await settle(app, pilot)
    await pilot.press("h")
    await settle(app, pilot)
    await pilot.press(*keys)


async def test_the_rollback_confirmation_says_which_migrations_stay_applied(project):
    deploy = SchemaDeploy()
    app = part2_app(project, deploy=deploy)
    async with app.run_test(size=(130, 34)) as pilot:
        await history_then(app, pilot, "down", "Z")
        text = await wait_text(app, pilot, "0008_audit (expand)")
        assert "Roll back to DEMO" in text
        assert "schema: database has applied 0001, 0007, 0008" in text
        assert "schema: rolling back to deploy #1 leaves" in text
        await pilot.press("enter")
        await wait_text(app, pilot, "rollback succeeded (#4)")
    assert (deploy.checks, deploy.rollbacks, deploy.forced) == ([1], [1], [False])


async def test_z_checks_the_rollback_to_the_previous_revisions(project):
    carries = "rolling back to the previous revisions carries every applied migration"
    deploy = SchemaDeploy(answer=SchemaPreview(True, [carries]))
    app = part2_app(project, deploy=deploy)
    async with app.run_test(size=(130, 34)) as pilot:
        await history_then(app, pilot, "z")
        await wait_text(app, pilot, "carries every applied")
        await pilot.press("n")
        await settle(app, pilot)
        assert "Roll back to DEMO" not in screen_text(app)
    assert (deploy.checks, deploy.rollbacks) == ([None], [])


def contract() -> SchemaPreview:
    """The schema module's own words for a rollback to #1 across a contract migration."""
    diff = schema.Difference(
        applied=["0001_init.sql", "0009_drop_legacy.sql"],
        left=[("0009_drop_legacy.sql", "contract")],
    )
    message, hint = schema.refusal(diff, moving_to(1))
    return SchemaPreview(False, schema.describe(diff, moving_to(1)), message, hint, True)


async def test_a_contract_migration_refuses_the_rollback_with_the_message_and_hint(project):
    deploy = SchemaDeploy(answer=contract())
    app = part2_app(project, deploy=deploy)
    async with app.run_test(size=(130, 40)) as pilot:
        await history_then(app, pilot, "down", "Z")
        text = await wait_text(app, pilot, "Rollback of DEMO refused by the schema check")
        assert "would run code that does not know contract migration(s)" in text
        assert "0009_drop_legacy.sql (contract) applied" in text
        assert "→ restore the schema first" in text
        assert "Press y to force it with --force-schema" in text
        await pilot.press("escape")
        text = await wait_text(app, pilot, "demo: rollback refused — rolling back to deploy #1")
    assert deploy.rollbacks == []


async def test_forcing_past_a_contract_migration_takes_a_second_typed_confirmation(project):
    deploy = SchemaDeploy(answer=contract())
    app = part2_app(project, deploy=deploy)
    async with app.run_test(size=(130, 40)) as pilot:
        await history_then(app, pilot, "down", "Z")
        await wait_text(app, pilot, "refused by the schema check")
        await pilot.press("y")
        text = await wait_text(app, pilot, "Roll back with --force-schema to DEMO")
        assert "Type the environment's name (demo)" in text
        await pilot.press(*"dmeo", "enter")  # a wrong name: nothing runs
        await settle(app, pilot)
        assert "--force-schema to DEMO" not in screen_text(app)
        assert deploy.rollbacks == []
        await pilot.press("Z")
        await wait_text(app, pilot, "refused by the schema check")
        await pilot.press("y")
        await wait_text(app, pilot, "Roll back with --force-schema to DEMO")
        await pilot.press(*"demo", "enter")
        await wait_text(app, pilot, "rollback succeeded (#4)")
    assert (deploy.rollbacks, deploy.forced) == ([1], [True])


async def test_a_refusal_that_force_cannot_change_offers_no_force(project):
    missing = "no deploy #1 in the history of demo (recorded: 2)"
    deploy = SchemaDeploy(answer=SchemaPreview(False, message=missing, hint="periph history demo"))
    app = part2_app(project, deploy=deploy)
    async with app.run_test(size=(130, 34)) as pilot:
        await history_then(app, pilot, "down", "Z")
        text = await wait_text(app, pilot, "demo: rollback refused — no deploy #1 in the history")
        assert "(periph history demo)" in text
        assert "--force-schema" not in screen_text(app)
    assert deploy.rollbacks == []


def test_the_check_keeps_the_notes_and_returns_the_verdict():
    def work():
        yield ev.Step("schema")
        yield ev.Note("database has applied 0001")
        yield ev.Note("rolling back to deploy #3 carries every applied migration")
        return "verdict"

    lines: list[str] = []
    assert _drive(work(), lines) == "verdict"
    assert lines == [
        "database has applied 0001",
        "rolling back to deploy #3 carries every applied migration",
    ]


def test_quitting_ends_the_wait_for_the_read_job():
    import threading

    from periph_env.errors import PeriphError
    from periph_env.tui.views.deploy_schema import stoppable_sleep

    stop = threading.Event()
    stop.set()
    with pytest.raises(PeriphError, match="the schema check was stopped"):
        stoppable_sleep(stop)(60.0)
