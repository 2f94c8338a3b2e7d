"""The Env area: ``env check`` findings by severity, the key diff, and the fix.

Values never reach this view: findings carry codes, keys, lines and already-masked
messages; the diff carries key names. The files are re-checked when their mtime changes
(a one-second stat poll: two ``stat`` calls, far cheaper than a watcher thread).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Select, Static

from periph_env.errors import PeriphError
from periph_env.tui import actions, loader

if TYPE_CHECKING:
    from periph_env.tui.app import PeriphApp

TARGETS = ("local", "demo", "prod")
_SEVERITY_STYLE = {"error": "bold red", "warning": "yellow"}


def _count(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _mtime(path: Path) -> float | None:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None


class EnvView(Vertical):
    """Target selector, findings grouped by severity, and the diff against the example."""

    BINDINGS = actions.bindings("env")
    can_focus = True

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, classes="area-view")
        self.target = "local"
        self.report: Any = None
        self._stamps: tuple[float | None, float | None] = (None, None)

    @property
    def papp(self) -> PeriphApp:
        """The app, typed."""
        return self.app  # type: ignore[return-value]

    @property
    def env_path(self) -> Path:
        """The checked env file."""
        return self.papp.root / ".env"

    @property
    def example_path(self) -> Path:
        """The contract."""
        return self.papp.root / ".env.example"

    def compose(self) -> ComposeResult:
        with Horizontal(id="env-toolbar"):
            yield Select[str](
                [(t, t) for t in TARGETS], value="local", allow_blank=False, id="env-target"
            )
            yield Static("", id="env-files")
        with VerticalScroll(id="env-body"):
            yield Static("Checking…", id="env-findings")
            yield Static("", id="env-diff")

    def on_mount(self) -> None:
        self.query_one("#env-files", Static).update(
            f".env vs .env.example in {self.papp.root.name or '/'}/"
        )
        if self.papp.settings.watch_files:
            self.set_interval(1.0, self._poll)
        self.call_after_refresh(self.recheck)  # after the first frame
        self.papp.view_mounted("env")
        if self.papp.area == "env":
            self.focus_main()

    def focus_main(self) -> None:
        """Focus the findings (so the area's keys are live)."""
        self.query_one("#env-body").focus()

    # -- checking -----------------------------------------------------------------------

    def _poll(self) -> None:
        if (_mtime(self.env_path), _mtime(self.example_path)) != self._stamps:
            self.recheck()

    def recheck(self) -> None:
        """Check again (in a worker; the newest request wins)."""
        self._stamps = (_mtime(self.env_path), _mtime(self.example_path))
        self._check(self.target)

    def _env_api(self) -> Any:
        return self.papp.env_api or loader.load("periph_env.env")

    @work(thread=True, exclusive=True, group="env-check")
    def _check(self, target: str) -> None:
        env = self._env_api()
        env_path, example = str(self.env_path), str(self.example_path)
        try:
            report = env.check(env_path, example, target)
            key_diff = env.diff(env_path, example) if os.path.exists(env_path) else None
        except PeriphError as exc:
            self.app.call_from_thread(self._show_error, str(exc))
            return
        self.app.call_from_thread(self._show, report, key_diff)

    def _show_error(self, message: str) -> None:
        self.report = None
        self.query_one("#env-findings", Static).update(Text(message, style="bold red"))
        self.query_one("#env-diff", Static).update("")

    def _relative(self, path: str) -> str:
        try:
            return str(Path(path).resolve().relative_to(self.papp.root.resolve()))
        except ValueError:
            return path

    def _show(self, report: Any, key_diff: Any) -> None:
        self.report = report
        text = Text()
        text.append(
            f"target {report.target}: {_count(report.errors, 'error')}, "
            f"{_count(report.warnings, 'warning')}",
            style="bold",
        )
        for severity, title in (("error", "Errors"), ("warning", "Warnings")):
            found = [f for f in report.sorted() if f.severity == severity]
            if not found:
                continue
            text.append(f"\n\n{title} ({len(found)})", style=_SEVERITY_STYLE[severity])
            for f in found:
                text.append(f"\n  {f.code} ", style=_SEVERITY_STYLE[severity])
                text.append(f"{self._relative(f.path)}:{f.line}", style="underline")
                if f.key:
                    text.append(f"  {f.key}", style="bold")
                # Paths inside the project read better relative to it.
                text.append("  " + f.message.replace(f"{self.papp.root}/", ""))
        if not report.findings:
            text.append("\n\nNo findings: .env satisfies the contract.", style="green")
        for notice in report.notices:
            text.append(f"\n\nnote: {notice}", style="dim")
        self.query_one("#env-findings", Static).update(text)
        self.query_one("#env-diff", Static).update(self._diff_text(key_diff))

    def _diff_text(self, key_diff: Any) -> Text:
        text = Text("\nDiff against .env.example", style="bold")
        if key_diff is None:
            fix = actions.key_display(self.papp.key_for("env.fix"))
            text.append(f"\n  .env does not exist; press {fix} to create it from the example.")
            return text
        if key_diff.same:
            text.append("\n  same keys in both files", style="green")
            return text
        for key in key_diff.missing:
            text.append(f"\n  - {key}", style="red")
            text.append("  missing from .env", style="dim")
        for key in key_diff.extra:
            text.append(f"\n  + {key}", style="yellow")
            text.append("  not in .env.example", style="dim")
        if key_diff.missing:
            fix = actions.key_display(self.papp.key_for("env.fix"))
            count = len(key_diff.missing)
            text.append(f"\n  press {fix} to append the missing key{'s' if count > 1 else ''}")
        return text

    # -- actions ------------------------------------------------------------------------

    def on_select_changed(self, event: Select.Changed) -> None:
        event.stop()
        self.target = str(event.value)
        self.recheck()

    def action_target(self) -> None:
        select = self.query_one("#env-target", Select)
        select.value = TARGETS[(TARGETS.index(self.target) + 1) % len(TARGETS)]

    def action_recheck(self) -> None:
        self.recheck()

    def action_fix(self) -> None:
        self._fix()

    @work(thread=True, exclusive=True, group="env-fix")
    def _fix(self) -> None:
        env = self._env_api()
        try:
            result = env.init(str(self.env_path), str(self.example_path))
        except PeriphError as exc:
            self.app.call_from_thread(self.app.notify, str(exc), severity="error")
            return
        if result.created:
            note = f"created {self._relative(result.env_path)} from the example"
        elif result.added:
            count = len(result.added)
            note = f"appended {count} key{'s' if count > 1 else ''}: {', '.join(result.added)}"
        else:
            note = "nothing to add: .env has every key of the example"
        if result.backup:
            note += f" (backup {Path(result.backup).name})"
        self.app.call_from_thread(self.app.notify, note)
        self.app.call_from_thread(self.recheck)
