"""The Stack area's per-branch database (issue 24): it says when the checkout moved to a
branch with other migrations, and `m` switches, never anything by itself. The real
switch (git, Postgres, compose) is tests/integration/test_db_branches.py."""

from __future__ import annotations

import pytest

from periph_env.errors import PeriphError
from tests.unit.tui.conftest import make_app, settle, wait_text, wait_until

pytestmark = [pytest.mark.anyio, pytest.mark.tui]

NOTE = [
    "the dev database holds branch main's data; feature has other migrations (+0005_notes)",
    "`periph db switch` (Stack area: m) keeps it as snapshot main and gives feature its own",
]


class FakeBranchDb:
    """BranchDb's three methods, counting what the view asked for."""

    def __init__(self, note=NOTE, fail: str | None = None) -> None:
        self.note, self.fail = note, fail
        self.checks = self.switches = 0
        self.head_moved = True

    def moved(self) -> bool:
        moved, self.head_moved = self.head_moved, False
        return moved

    def check(self) -> list[str]:
        self.checks += 1
        return self.note

    def switch(self) -> list[str]:
        self.switches += 1
        if self.fail:
            raise PeriphError(self.fail)
        return ["main's database kept as snapshot main", "feature: a fresh database"]


async def started(app, pilot, fake):
    await settle(app, pilot)
    view = app.query_one("#stack-view")
    view.branch_db = fake
    view._tick()  # the one-second tick: git's HEAD moved
    await settle(app, pilot)
    return view


async def test_the_stack_area_says_the_database_is_another_branchs_and_does_nothing(project):
    app, fake = make_app(project), FakeBranchDb()
    async with app.run_test(size=(140, 30)) as pilot:
        view = await started(app, pilot, fake)
        await wait_text(app, pilot, "db: the dev database holds branch main's data")
        assert "(m switches)" in str(view.query_one("#stack-progress").render())
        assert fake.checks == 1 and fake.switches == 0
        view._tick()  # HEAD did not move again: no new check
        await settle(app, pilot)
        assert fake.checks == 1


async def test_m_switches_the_database_once_and_says_what_it_did(project):
    app, fake = make_app(project), FakeBranchDb()
    async with app.run_test(size=(140, 30)) as pilot:
        await started(app, pilot, fake)
        await pilot.press("m")
        await settle(app, pilot)
        await wait_until(pilot, lambda: fake.switches == 1, "the switch")
        await wait_text(app, pilot, "db switch: main's database kept as snapshot main")
        assert fake.switches == 1


async def test_a_switch_that_fails_says_why_in_red(project):
    app, fake = make_app(project), FakeBranchDb(fail="the db service is not running")
    async with app.run_test(size=(140, 30)) as pilot:
        await started(app, pilot, fake)
        await pilot.press("m")
        await settle(app, pilot)
        await wait_text(app, pilot, "db switch failed: the db service is not running")


async def test_no_note_while_the_database_is_this_branchs(project):
    app, fake = make_app(project), FakeBranchDb(note=[])
    async with app.run_test(size=(140, 30)) as pilot:
        view = await started(app, pilot, fake)
        assert fake.checks == 1
        assert "db:" not in str(view.query_one("#stack-progress").render())
