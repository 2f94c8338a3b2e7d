"""The Previews pane's operations: bring up the checked-out branch's preview (``u``) and
delete the selected one (``x``, after typing its slug), as ``periph preview up|down`` do.

The engine is ``periph_env.deploy.preview`` (or the app's ``deploy_api.preview_up`` /
``preview_down`` when one was handed to the app). ``up``'s events fold into a
``DeployState`` of their own, so its progress reads as a deploy's steps (guards, steps,
each Deployment's counts, the ending), apart from the environment the area watches.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Input, Static

from periph_env.tui.formatting import safe
from periph_env.tui.views.deploy_state import RESULT_STYLES, DeployState
from periph_env.tui.widgets.confirm import Confirm


class ConfirmTyped(Confirm):
    """Go on only when ``answer`` is typed (a preview's slug before it is deleted)."""

    keys_answer = False  # every key goes to the Input

    def __init__(self, title: str, detail: str, answer: str) -> None:
        super().__init__(title, detail, "", loud=True)
        self.answer = answer

    def question(self) -> ComposeResult:
        yield Static(f"Type {self.answer} and press enter; escape cancels.", id="confirm-ask")
        yield Input(placeholder=self.answer, id="confirm-input")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(event.value.strip() == self.answer)


def up_run(app: Any) -> Any:
    """The run of ``periph preview up`` for the checked-out branch (``UsageError`` on a
    detached HEAD: the message says to name the branch)."""
    api = getattr(app, "deploy_api", None)
    maker = getattr(api, "preview_up", None) if api is not None else None
    if maker is None:
        from periph_env.deploy.preview import up

        return up(app.root)
    from periph_env.tui.runs import IteratorRun

    run = IteratorRun("preview up", lambda: iter(maker(app.root)))
    run.changes_cluster = True
    return run


def down(app: Any, branch: str) -> str:
    """Delete the preview of ``branch``: what happened, in words."""
    api = getattr(app, "deploy_api", None)
    remover = getattr(api, "preview_down", None) if api is not None else None
    if remover is None:
        from periph_env.deploy.preview import down as remover
    return remover(app.root, branch)


def progress_text(state: DeployState, title: str) -> Text:
    """``title`` and its ending (or ``running…``), failing guards, the steps, and each
    Deployment's counts: a preview's ``up`` read as a deploy's progress."""
    text = Text()
    if state.running:
        text.append(f"{title}: running…", style="bold cyan")
    elif state.finished is not None:
        end = state.finished
        line = f"{title}: {end.result}" + (f" — {end.message}" if end.message else "")
        if getattr(end, "hint", ""):
            line += f" ({end.hint})"
        text.append(safe(line), style=RESULT_STYLES.get(end.result, ""))
    for guard in state.failing_guards():
        text.append(f"\n  ✗ {guard.name} {safe(guard.message)}", style="bold red")
        if guard.hint:
            text.append(f"\n      → {safe(guard.hint)}", style="yellow")
    if state.steps:
        text.append("\n  steps: " + " · ".join(safe(s, one_line=True) for s in state.steps[-8:]))
    for p in sorted(state.deployments.values(), key=lambda p: p.name):
        word = "rolled out" if p.verdict == "ok" else (p.verdict or p.message)
        style = "bold red" if p.problem else ("green" if p.verdict == "ok" else "")
        counts = f"{p.ready}/{p.desired} ready, {p.updated} updated"
        text.append(f"\n  {p.name}: {counts}" + (f" — {safe(word)}" if word else ""), style=style)
    return text
