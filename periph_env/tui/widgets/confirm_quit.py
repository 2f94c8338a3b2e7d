"""The question before quitting while a deploy (or rollback) still runs.

"a deploy of demo is running (step: rollout). Stop it and quit? y/n": ``y`` (or enter)
dismisses with True (the app stops the run, joins it and quits; the deploy's history
says ``interrupted`` with its step); ``n`` or escape with False, and the run goes on.
"""

from __future__ import annotations

from periph_env.tui.widgets.confirm import Confirm


class ConfirmQuit(Confirm):
    """Ask ``question`` (from the app's run registry); y / n."""

    def __init__(self, question: str) -> None:
        super().__init__(
            "Quit?",
            f"{question} y/n",
            "y stops it and quits; n or escape keeps it running.",
            loud=True,
        )
