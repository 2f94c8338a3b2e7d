"""The areas' tabs: a ``TabbedContent`` that only the user's switch moves.

Textual's ``TabbedContent`` also switches to a pane when a widget inside it takes focus
(``TabPane.Focused``). A focus is applied a message later than it is asked for, so a view
that focused its table just before the user pressed ``5`` pulled the screen back to its
own area a moment after the switch (seen on a loaded machine: the Deploy key "did
nothing"). periph switches areas only through ``PeriphApp.show_area`` and its tab keys;
focus never picks the area.
"""

from __future__ import annotations

from textual.widgets import TabbedContent, TabPane


class AreaTabs(TabbedContent):
    """``TabbedContent`` whose active pane never follows focus."""

    def _on_tab_pane_focused(self, event: TabPane.Focused) -> None:
        event.stop()
        event.prevent_default()  # not TabbedContent's own handler: it would switch
