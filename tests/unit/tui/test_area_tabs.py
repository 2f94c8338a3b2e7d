"""Only the user's switch moves the areas' tabs: a focus a view asked for just before the
switch lands later and must not pull the screen back to that view's area."""

from __future__ import annotations

import pytest

from periph_env.tui.widgets.service_table import ServiceTable
from tests.unit.tui.conftest import settle
from tests.unit.tui.test_build_view import part2_app

pytestmark = [pytest.mark.anyio, pytest.mark.tui]


async def test_a_focus_in_the_stack_area_landing_after_the_switch_keeps_the_deploy_area(
    project,
):
    app = part2_app(project)
    async with app.run_test(size=(110, 34)) as pilot:
        await settle(app, pilot)
        table = app.query_one(ServiceTable)
        table.display = True
        await pilot.press("5")
        await settle(app, pilot)
        # What a Stack view's focus_main asked for just before the key: Textual applies a
        # focus a message later, here after the switch.
        app.screen.set_focus(table)
        await settle(app, pilot)
        assert app.area == "deploy"


async def test_the_tab_keys_still_switch_areas(project):
    app = part2_app(project)
    async with app.run_test(size=(110, 34)) as pilot:
        await pilot.press("5")
        await settle(app, pilot)
        assert app.area == "deploy"
        await pilot.press("1")
        await settle(app, pilot)
        assert app.area == "stack"
