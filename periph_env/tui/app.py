"""``PeriphApp``: the shell (tabs, palette, keys, themes) around the area views.

Start-up budget: this module imports Textual and periph's own small TUI modules only.
The stack and env engines load in workers after the first frame (``session.connect``,
the Env view's check); tests hand real or fake engines to the constructor instead.
"""

from __future__ import annotations

import contextlib
import gc
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from textual import work
from textual.app import App, ComposeResult
from textual.css.query import NoMatches
from textual.widgets import Input, TabbedContent, TabPane

from periph_env.common.waiting import REPEAT_EVERY, set_reporter
from periph_env.tui import actions, formatting, keymap
from periph_env.tui.commands import ActionsProvider
from periph_env.tui.runs import RunRegistry
from periph_env.tui.session import StackSession
from periph_env.tui.stack_ops import StackOperations
from periph_env.tui.views import AREAS
from periph_env.tui.widgets.area_tabs import AreaTabs
from periph_env.tui.widgets.footer import KeyFooter

DARK, LIGHT = "textual-dark", "textual-light"
# Start-up work that freezes the event loop for a frame or more (mounting a hidden area,
# the start-up collection) waits while log lines stream onto the screen, for at most this
# long: a service that never stops talking must not keep the areas unmounted.
DEFER_WHILE_DRAWING = 10.0  # seconds


@dataclass
class Settings:
    """Knobs tests turn for determinism (no blink, no file polling, a fixed clock)."""

    theme: str = DARK
    max_lines: int = 10_000
    cursor_blink: bool = True
    watch_files: bool = True
    connect: bool = True  # connect to the stack engine after mount
    retry: float = 3.0  # seconds between engine reconnect attempts
    clock: Callable[[], float] = time.time
    keymap_path: Path | None = None
    # True: every area mounts right after the first frame (the visible one first), so a
    # first switch to one is as quick as the next. False (the unit tests' harness): the
    # first area mounts with the app, another when it is first shown, so a test pays for
    # the areas it uses, not for all of them.
    mount_hidden: bool = True


class PeriphApp(StackOperations, App[int]):
    """The ``periph`` terminal UI."""

    def notify(self, message: str, **kwargs: Any) -> None:  # type: ignore[override]
        """Every toast goes through the one masker (secrets, control characters)."""
        super().notify(formatting.safe(message), **kwargs)

    CSS_PATH: ClassVar[list[str]] = [
        "styles/app.tcss",
        "styles/views.tcss",
        "styles/build.tcss",
        "styles/deploy.tcss",
    ]
    TITLE = "periph"
    # Lines per log batch: the Logs area sets it to what it draws within a frame.
    log_batch_limit = 2_000
    BINDINGS = actions.bindings("app")
    COMMANDS = App.COMMANDS | {ActionsProvider}

    def __init__(
        self,
        root: Path | None = None,
        *,
        stack: Any = None,
        stack_api: Any = None,
        env_api: Any = None,
        images_api: Any = None,
        deploy_api: Any = None,
        settings: Settings | None = None,
        stack_backend: Any = None,
        cluster: str | None = None,
    ) -> None:
        """``cluster``: show the dev stack of that cluster (``""``: ``[dev.cluster]``)
        instead of the compose project; ``stack_backend``: any ``StackBackend`` (tests)."""
        super().__init__()
        self.settings = settings or Settings()
        self.root = Path(root) if root is not None else Path.cwd()
        self.env_api = env_api
        self.images_api, self.deploy_api = images_api, deploy_api  # Build, Deploy (part 2)
        self.deploy_session: Any = None  # created by the Deploy area; outlives its view
        # Everything that runs on its own (deploys, sessions, followers), in one place:
        # quitting stops and joins it all, so nothing of periph outlives the app.
        self.runs = RunRegistry()
        self.clock = self.settings.clock
        loaded = keymap.load(self.settings.keymap_path)
        self.keymap: dict[str, str] = loaded.keys
        self.keymap_path = loaded.path
        self._keymap_problems = loaded.problems
        self.session: StackSession | None = StackSession(
            self,
            self.root,
            stack=stack,
            api=stack_api,
            retry=self.settings.retry,
            max_lines=self.settings.max_lines,
            backend=stack_backend,
            cluster=cluster,
        )
        self.runs.add(self.session)
        self.services: list[str] = []
        self._pending: dict[str, list[Callable[[Any], Any]]] = {}
        self._mounted_areas: set[str] = set()  # areas whose view has mounted
        self._gc_frozen = False  # start-up objects moved out of the collector's reach
        self._mounting: set[str] = (  # areas whose view is (being) mounted
            set() if self.settings.mount_hidden else {AREAS[0].id}
        )
        # Mounts in flight, and whether the app is leaving (no area mounts any more): an
        # exit while a view mounts tore its children away under its on_mount (a traceback).
        self._in_flight: list[Any] = []
        self._leaving = False
        self._deferring_since: float | None = None  # start-up work waiting for the logs

    def compose(self) -> ComposeResult:
        with AreaTabs(id="areas"):
            for index, area in enumerate(AREAS):
                with TabPane(area.title, id=area.id):
                    # No view is made before the first frame (tabs and footer): making
                    # one imports its module and lays it out (the Stack area's ~50 ms,
                    # the Deploy area's ~40 ms of the start-up budget). They are made
                    # and mounted right after it, the visible one first
                    # (``_mount_hidden``); what the engine says meanwhile waits in
                    # ``_pending`` (see ``tell``). The unit tests' harness
                    # (``mount_hidden`` off) mounts the first area here and the others
                    # when first shown.
                    if index == 0 and not self.settings.mount_hidden:
                        yield area.make()
        yield KeyFooter()

    def on_mount(self) -> None:
        self.theme = self.settings.theme
        if self.keymap:
            self.set_keymap(self.keymap)
        for problem in self._keymap_problems:
            self.notify(problem, title="keymap", severity="warning", timeout=10)
        self.call_after_refresh(self._focus_area)
        if self.settings.mount_hidden:
            self.call_after_refresh(self._mount_hidden)
        if self.settings.connect:
            # After the first frame: the engine imports must not hold the GIL while the
            # app paints (the first-frame budget is 0.5 s).
            self.call_after_refresh(self._connect)
        # An engine call slower than 2 s says what it waits for, as it does in the CLI.
        self._previous_reporter = set_reporter(self.waiting_notice)

    def waiting_notice(self, text: str) -> None:
        """``waiting for the Docker engine at … (3 s)…`` as a short toast, from any thread.
        Plain text: an engine's or a file's words are never read as markup."""
        if threading.current_thread() is threading.main_thread():
            self.notify(text, severity="warning", timeout=REPEAT_EVERY, markup=False)
        else:
            with contextlib.suppress(RuntimeError):  # the app ended while the call waited
                self.call_from_thread(
                    self.notify, text, severity="warning", timeout=REPEAT_EVERY, markup=False
                )

    @work(thread=True, exclusive=True, group="engine", exit_on_error=False)
    def _connect(self) -> None:
        if self.session is not None:
            self.session.connect()

    # -- areas --------------------------------------------------------------------------

    @property
    def area(self) -> str:
        """The id of the visible area ("" while the app starts or closes: an engine
        message can arrive when the tabs are not, or no longer, there)."""
        try:
            return self.query_one(TabbedContent).active
        except NoMatches:
            return ""

    def view(self, area: str) -> Any:
        """The view widget of an area (NoMatches until it has mounted)."""
        return self.query_one(f"#{area}-view")

    def tell(self, area: str, call: Callable[[Any], Any]) -> None:
        """Run ``call(view)`` now, or once the (lazily mounted) view is there."""
        if area not in self._mounted_areas:
            self._pending.setdefault(area, []).append(call)
            return
        try:
            view = self.view(area)
        except NoMatches:  # mounted, and removed since: the app is closing
            return
        call(view)

    def view_mounted(self, area: str) -> None:
        """A view calls this from ``on_mount``: deliver what arrived before it."""

        def deliver() -> None:
            try:
                view = self.view(area)
            except NoMatches:  # the app closed before this refresh: nothing to show
                return
            self._mounted_areas.add(area)
            for call in self._pending.pop(area, []):
                call(view)
            if area == self.area and not isinstance(self.focused, Input):
                self._focus_area()  # mounted on screen: its keys are live at once

        if self.settings.mount_hidden:
            deliver()
        else:
            # Mounted because it is being shown: its own children (inner tabs) mount
            # with the next refresh; what waited for it (``shown``) waits for them.
            self.call_after_refresh(deliver)

    def show_area(self, area: str) -> None:
        """Switch tabs and put focus in the area."""
        self.query_one(TabbedContent).active = area
        self.call_after_refresh(self._focus_area)

    def _focus_area(self) -> None:
        if self.area not in self._mounted_areas:
            return  # not (fully) mounted yet: it focuses itself when it is
        try:
            view = self.view(self.area)
        except NoMatches:
            return  # not mounted yet: it focuses itself when it is
        if hasattr(view, "focus_main"):
            view.focus_main()
        else:
            view.focus()

    def _mount_area(self, area: str) -> None:
        """Make and mount an area's view, once (shown first, or hidden after the first
        frame, whichever comes first)."""
        if area in self._mounting or self._leaving:
            return
        made = next((a.make for a in AREAS if a.id == area), None)
        if made is None:
            return
        try:
            pane = self.query_one(f"TabPane#{area}", TabPane)
        except NoMatches:  # the app is closing
            return
        self._mounting.add(area)
        self._in_flight.append(pane.mount(made()))

    def _defer_for_logs(self, then: Callable[[], None]) -> bool:
        """Whether to put off a frame-long piece of start-up work (``then`` runs again in
        0.1 s): while the visible Logs area draws a stream of lines, a 30-50 ms mount or
        collection is a visible stutter in the scrolling, for at most
        ``DEFER_WHILE_DRAWING`` seconds."""
        now = time.monotonic()
        try:
            drawing = self.area == "logs" and self.view("logs").drawing()
        except NoMatches:
            drawing = False
        if not drawing:
            return False
        self._deferring_since = self._deferring_since or now
        if now - self._deferring_since >= DEFER_WHILE_DRAWING:
            return False
        self.set_timer(0.1, then)
        return True

    def _mount_hidden(self) -> None:
        """After the first frame: mount the next hidden area, one per refresh (each
        imports and lays out its view: one at a time keeps every frame short). While log
        lines stream onto the screen, they wait (``_defer_for_logs``); an area shown
        meanwhile mounts at once, as it is shown."""
        pending = [a.id for a in AREAS if a.id not in self._mounting and not self._leaving]
        if self.area in pending:  # the user may have switched already
            pending.insert(0, self.area)
        elif pending and self._defer_for_logs(self._mount_hidden):
            return
        if pending:
            self._mount_area(pending[0])
            self.call_after_refresh(self._mount_hidden)
        elif not self._gc_frozen:
            self.call_after_refresh(self._freeze_startup_objects)

    def _freeze_startup_objects(self) -> None:
        """Once every area has mounted: move what start-up made (modules, classes, the
        widgets of every area) out of the garbage collector's reach.

        A full collection walks every live object, and the app holds ~100,000 after
        start-up (Textual's and the areas' widgets, styles, caches): ~40 ms on the event
        loop, every few seconds while it draws, landing on a frame (the area switch's
        p95). Frozen, a full collection walks only what came later (~15 ms). Objects made
        later are collected as before (the collector's thresholds are CPython's: raised
        to 5,000 / 20 / 100 they made full collections rare, and the memory after a
        million log lines went from ~110 to 130-200 MB); ``on_unmount`` gives these
        back."""
        if self._gc_frozen or self._defer_for_logs(self._freeze_startup_objects):
            return
        gc.collect()
        gc.freeze()
        self._gc_frozen = True

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        self._mount_area(event.pane.id or "")
        self.tell(
            event.pane.id or "", lambda view: view.shown() if hasattr(view, "shown") else None
        )
        self.call_after_refresh(self._focus_area)

    @property
    def keymap_display(self) -> str:
        """The keymap file's path, with ``~`` for the home directory."""
        path = self.keymap_path or keymap.default_path()
        try:
            return "~/" + str(path.relative_to(Path.home()))
        except ValueError:
            return str(path)

    def key_for(self, action_id: str) -> str:
        """The key bound to an action (after the user's keymap)."""
        return keymap.effective_key(action_id, self.keymap)

    def run_registered(self, action_id: str) -> None:
        """Run any registered action (palette, help): switch to its area first."""
        action = actions.BY_ID[action_id]
        if action.area == actions.APP:
            self.call_later(self.run_action, action.name)
            return
        self.show_area(action.area)
        self.tell(action.area, lambda view: self.call_after_refresh(view.run_action, action.name))

    # -- app actions --------------------------------------------------------------------

    def action_stack(self) -> None:
        self.show_area("stack")

    def action_logs(self) -> None:
        self.show_area("logs")

    def action_env(self) -> None:
        self.show_area("env")

    def action_build(self) -> None:
        self.show_area("build")

    def action_deploy(self) -> None:
        self.show_area("deploy")

    def action_help(self) -> None:
        from periph_env.tui.views.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_theme(self) -> None:
        self.theme = LIGHT if self.theme == DARK else DARK

    async def action_quit(self) -> None:
        """Quit; while a deploy or rollback runs, ask first (it would be cut midway)."""
        if not self.runs.to_confirm():
            await self._stop_and_exit()
            return
        from periph_env.tui.widgets.confirm_quit import ConfirmQuit

        if isinstance(self.screen, ConfirmQuit):
            return

        async def answered(stop: bool | None) -> None:
            if stop:
                await self._stop_and_exit()
            else:
                self.notify("still running; ctrl+q asks again", severity="warning")

        self.push_screen(ConfirmQuit(self.runs.question()), answered)

    async def _stop_and_exit(self, return_code: int = 0) -> None:
        import asyncio

        if self.runs.running():
            self.notify("stopping what runs…", timeout=30)
        await self._settle_mounts()
        # Joined off the UI thread: a deploy's ending writes its history record first.
        await asyncio.to_thread(self.close_session)
        self.exit(return_code, return_code)

    async def _settle_mounts(self) -> None:
        """No area mounts from now on; those mounting finish first (bounded: an exit must
        not wait on a view that never ends its mount)."""
        import asyncio

        self._leaving = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.gather(*self._in_flight), timeout=5)

    def interrupt(self) -> None:
        """A SIGINT from outside (``periph_env.tui.run``): stop and exit with 130, without
        asking (the signal is the answer), once no view is half mounted."""
        self.run_worker(self._stop_and_exit(130), group="interrupt", exclusive=True)

    def on_unmount(self) -> None:
        # Engine threads must end before the event loop joins its executor threads.
        self.close_session()
        set_reporter(getattr(self, "_previous_reporter", None))
        # The process may go on (tests, the bench): it collects as before.
        if self._gc_frozen:
            gc.unfreeze()
            self._gc_frozen = False

    def close_session(self) -> None:
        """Stop every run and thread the app owns (deploys, watchers, followers) and join
        them."""
        self.runs.close()
