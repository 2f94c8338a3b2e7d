"""The key footer: one widget drawing one line, redrawn only when its keys change.

Textual's ``Footer`` rebuilds itself on every bindings signal (focus moving, a tab
switching, a widget mounting; several per area switch), as one styled widget per key,
and restyling those widgets was a third of an area switch's time. This footer draws the
same line (each shown key with its description, the command palette's key on the right)
as one ``Text``, in the same theme colours, and keeps clicks on a key working.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual import events
from textual.screen import Screen
from textual.widget import Widget


class KeyFooter(Widget):
    """The shown bindings of the focused chain, one line, docked at the bottom."""

    ALLOW_SELECT = False
    COMPONENT_CLASSES: ClassVar[set[str]] = {"footer-key--key", "footer-key--description"}
    DEFAULT_CSS = """
    KeyFooter {
        dock: bottom;
        height: 1;
        width: 1fr;
        color: $footer-foreground;
        background: $footer-background;
        text-wrap: nowrap;
        text-overflow: clip;
        & > .footer-key--key {
            color: $footer-key-foreground;
            background: $footer-key-background;
            text-style: bold;
        }
        & > .footer-key--description {
            color: $footer-description-foreground;
            background: $footer-description-background;
        }
    }
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._keys: tuple[tuple[str, str, str, bool], ...] = ()
        self._palette: tuple[str, str, str, bool] | None = None
        self._spans: list[tuple[int, int, str]] = []  # (start, end, key) for clicks
        self._pending = False

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self.bindings_changed)
        self.bindings_changed(self.screen)  # the keys already bound when it mounts

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def bindings_changed(self, screen: Screen) -> None:
        """Textual's signal: check once after the refresh (signals come in bursts)."""
        if self.is_attached and screen is self.screen and not self._pending:
            self._pending = True
            self.call_after_refresh(self._update_keys)

    def _update_keys(self) -> None:
        self._pending = False
        if not self.is_attached:
            return
        app = self.app
        seen: set[str] = set()
        keys: list[tuple[str, str, str, bool]] = []
        palette = None
        for _node, binding, enabled, _tooltip in self.screen.active_bindings.values():
            entry = (binding.key, app.get_key_display(binding), binding.description, enabled)
            if binding.key == app.COMMAND_PALETTE_BINDING and app.ENABLE_COMMAND_PALETTE:
                palette = entry
            elif binding.show and binding.action not in seen:
                seen.add(binding.action)  # one key per action, as Textual's footer shows
                keys.append(entry)
        if (tuple(keys), palette) != (self._keys, self._palette):
            self._keys, self._palette = tuple(keys), palette
            self.refresh()

    def render(self) -> Text:
        key_style = self.get_component_rich_style("footer-key--key")
        description_style = self.get_component_rich_style("footer-key--description")
        line = Text(no_wrap=True, overflow="crop")
        self._spans = []

        def add(entry: tuple[str, str, str, bool], into: Text, offset: int, lead: str) -> None:
            key, display, description, enabled = entry
            start = offset + len(into)
            part = Text.assemble(
                (f"{lead}{display} ", key_style), (f"{description} ", description_style)
            )
            if not enabled:
                part.stylize("dim")
            into.append_text(part)
            self._spans.append((start, offset + len(into), key))

        for entry in self._keys:
            add(entry, line, 0, " ")
        if self._palette is not None:
            right = Text(no_wrap=True)
            offset = max(len(line) + 1, self.size.width - self._palette_width())
            line.append(" " * (offset - len(line) - 1))
            line.append("▏", "dim")  # as Textual's footer sets the palette's key apart
            add(self._palette, right, offset, "")
            line.append_text(right)
        return line

    def _palette_width(self) -> int:
        assert self._palette is not None
        _key, display, description, _enabled = self._palette
        return len(f"{display} {description} ")

    def on_click(self, event: events.Click) -> None:
        """A click on a key presses it, as on Textual's footer."""
        for start, end, key in self._spans:
            if start <= event.x < end:
                self.app.simulate_key(key)
                return
