"""The app shell: tabs, key help, palette, keymap, themes, quitting — over a fake stack."""

from __future__ import annotations

import pytest
from textual.widgets import TabbedContent

from tests.unit.tui.conftest import make_app, settle
from tests.unit.tui.screen import screen_text

pytestmark = [pytest.mark.anyio, pytest.mark.tui]


async def test_the_first_screen_offers_every_area_as_a_tab(project):
    app = make_app(project)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        first_line = screen_text(app).splitlines()[0]
        for title in ("Stack", "Logs", "Env", "Build", "Deploy"):
            assert title in first_line


async def test_number_keys_switch_areas_and_build_says_coming(project):
    app = make_app(project)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        await pilot.press("4")
        await pilot.pause()
        assert app.query_one(TabbedContent).active == "build"
        assert "digest" in screen_text(app)  # the Build table (part 2)
        await pilot.press("5")
        await pilot.pause()
        assert "Guards" in screen_text(app)  # the Deploy plan (part 2)
        await pilot.press("1")
        await pilot.pause()
        assert app.area == "stack"


async def test_clicking_a_tab_switches_area(project):
    app = make_app(project)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        await pilot.click("#--content-tab-env")
        await settle(app, pilot)
        assert app.area == "env"


async def test_question_mark_shows_every_key_and_escape_closes_it(project):
    app = make_app(project)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        await pilot.press("question_mark")
        await pilot.pause()
        text = screen_text(app)
        assert "periph keys" in text and "Restart the selected service" in text
        await pilot.press("escape")
        await pilot.pause()
        assert "periph keys" not in screen_text(app)


async def test_the_footer_shows_the_areas_keys(project):
    app = make_app(project)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        footer = screen_text(app).splitlines()[-1]
        assert "Restart" in footer and "^q Quit" in footer


async def test_the_footer_follows_the_area_switched_to(project):
    app = make_app(project)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        await pilot.press("2")
        await settle(app, pilot)
        footer = screen_text(app).splitlines()[-1]
        assert "f Follow" in footer and "Restart" not in footer
        assert footer.rstrip().endswith("^p palette")


async def test_clicking_a_key_in_the_footer_presses_it(project):
    app = make_app(project)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        footer = screen_text(app).splitlines()[-1]
        await pilot.click("KeyFooter", offset=(footer.index("? Keys") + 1, 0))
        await settle(app, pilot)
        assert "periph keys" in screen_text(app)


async def test_a_user_keymap_rebinds_an_action_by_id(project, tmp_path):
    keymap_file = tmp_path / "keymap.toml"
    keymap_file.write_text('"stack.restart" = "e"\n"stack.bogus" = "z"\n')
    app = make_app(project, keymap_path=keymap_file)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        assert "e Restart" in screen_text(app).splitlines()[-1]
        await pilot.press("e")
        await settle(app, pilot)
        assert app.session.stack.calls == [("restart", ["db"])]
        assert any("unknown action id 'stack.bogus'" in n.message for n in app._notifications)


async def test_the_palette_runs_any_action_by_name(project):
    app = make_app(project)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"Env: Add missing")
        await pilot.pause(0.5)
        assert "Env: Add missing" in screen_text(app)
        await pilot.press("enter")
        await settle(app, pilot)
        assert app.area == "env"


async def test_ctrl_t_switches_between_dark_and_light(project):
    app = make_app(project)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        assert app.theme == "textual-dark"
        await pilot.press("ctrl+t")
        assert app.theme == "textual-light"
        await pilot.press("ctrl+t")
        assert app.theme == "textual-dark"


async def test_ctrl_q_quits_and_stops_the_engine_threads(project):
    app = make_app(project)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("ctrl+q")
        await pilot.pause()
    assert app.return_value == 0
    assert app.session._stopping.is_set()
