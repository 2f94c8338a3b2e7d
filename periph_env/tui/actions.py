"""The action registry: every user action once, with its id, default key and area.

Bindings, the footer, the command palette, the key help screen and the user keymap all
read this one table, so an action added here is reachable everywhere. No Textual import:
the table is plain data, and ``bindings()`` builds Textual ``Binding`` objects on demand.

Each area's view binds its own actions (so the same key can mean different things in
different areas, and a keymap remap of one id never disturbs another area); the palette
and the help screen reach any action through the app's ``run_registered(action_id)``.
"""

from __future__ import annotations

from dataclasses import dataclass

APP = "app"


@dataclass(frozen=True, slots=True)
class Action:
    """One user action. ``id`` is ``<area>.<name>``; the keymap file remaps it by id."""

    id: str
    key: str
    label: str
    tooltip: str
    show: bool = True  # shown in the footer (all actions are in help and the palette)

    @property
    def area(self) -> str:
        """The area (tab id) the action belongs to, or ``app`` for global ones."""
        return self.id.split(".", 1)[0]

    @property
    def name(self) -> str:
        """The method suffix: ``stack.up_all`` runs ``action_up_all`` on the stack view."""
        return self.id.split(".", 1)[1]


ACTIONS: tuple[Action, ...] = (
    # Global
    Action("app.stack", "1", "Stack", "Show the services of the dev stack", show=False),
    Action("app.logs", "2", "Logs", "Show the merged, filterable logs", show=False),
    Action("app.env", "3", "Env", "Show the .env check", show=False),
    Action("app.build", "4", "Build", "Show image builds, pushes and pins", show=False),
    Action("app.deploy", "5", "Deploy", "Show deploys: guards, rollout, history", show=False),
    Action("app.help", "question_mark", "Keys", "Show every key and action"),
    Action("app.theme", "ctrl+t", "Theme", "Switch between the dark and light theme", show=False),
    Action("app.quit", "ctrl+q", "Quit", "Stop watchers and log readers, then quit"),
    # Stack
    Action("stack.up", "u", "Up", "Start the selected service and what it depends on"),
    Action("stack.up_all", "U", "Up all", "Start the whole stack (compose up --wait)", False),
    Action("stack.down", "D", "Down", "Stop and remove the whole stack", show=False),
    Action("stack.start", "s", "Start", "Start the selected service's container", show=False),
    Action("stack.start_all", "S", "Start all", "Start every service's container", show=False),
    Action("stack.stop", "x", "Stop", "Stop the selected service"),
    Action("stack.stop_all", "X", "Stop all", "Stop every service", show=False),
    Action("stack.restart", "r", "Restart", "Restart the selected service"),
    Action("stack.restart_all", "R", "Restart all", "Restart every service", show=False),
    Action("stack.rebuild", "b", "Rebuild", "Rebuild the selected service's image and recreate it"),
    Action("stack.rebuild_all", "B", "Rebuild all", "Rebuild every image", show=False),
    Action("stack.reload", "w", "Hot reload", "Turn hot reload on or off for the selected service"),
    Action("stack.reload_all", "W", "Reload all", "Turn hot reload on or off for all", False),
    Action("stack.logs", "l", "Logs", "Open the selected service's logs"),
    Action(
        "stack.shell", "e", "Shell", "A shell in the selected service: psql, redis-cli, sh", False
    ),
    Action("stack.sort", "o", "Sort", "Order services by compose order, CPU or memory", False),
    Action(
        "stack.switch_db", "m", "Switch db", "Keep the dev db as its branch's; this one's", False
    ),
    Action("stack.engine", "E", "Start engine", "Start a Docker engine (periph testenv up)", False),
    # Logs
    Action("logs.follow", "f", "Follow", "Follow new lines, or pause the view"),
    Action("logs.timestamps", "t", "Times", "Show or hide timestamps"),
    Action("logs.health", "h", "Health", "Show or hide health-check request lines", show=False),
    Action("logs.service", "v", "Service", "Cycle the view: merged, then each service"),
    Action("logs.merged", "a", "Merged", "Show all services merged", show=False),
    Action("logs.filter", "slash", "Filter", "Edit the regex filter"),
    Action("logs.search", "ctrl+f", "Search", "Search the visible lines", show=False),
    Action("logs.next", "n", "Next", "Jump to the next search match", show=False),
    Action("logs.previous", "N", "Previous", "Jump to the previous search match", show=False),
    Action("logs.clear", "c", "Clear", "Forget the lines read so far", show=False),
    Action("logs.engine", "E", "Start engine", "Start a Docker engine (periph testenv up)", False),
    # Env
    Action("env.fix", "a", "Add missing", "Append the keys the example has and .env lacks"),
    Action("env.recheck", "r", "Recheck", "Check .env against the example again"),
    Action("env.target", "g", "Target", "Cycle the target: local, demo, prod"),
    # Build
    Action("build.build", "b", "Build", "Build the selected service's image"),
    Action("build.build_all", "B", "Build all", "Build every service (unchanged ones skip)"),
    Action("build.push", "p", "Push", "Push the last builds and show their digests"),
    Action("build.pin_demo", "d", "Pin demo", "Build, push and pin the digests for demo", False),
    Action("build.pin_prod", "P", "Pin prod", "Build, push and pin the digests for prod", False),
    Action("build.copy", "c", "Copy digest", "Copy the selected service's digest"),
    Action("build.refresh", "r", "Refresh", "List local and registry images again", False),
    # Deploy
    Action("deploy.env", "e", "Env", "Switch the environment: demo, prod"),
    Action("deploy.check", "c", "Check", "Run the guards and summarise the change (dry-run)"),
    Action("deploy.run", "D", "Deploy", "Deploy the pinned images (after confirmation)"),
    Action("deploy.auto_rollback", "a", "Auto-rollback", "Roll back if the rollout fails", False),
    Action(
        "deploy.canary", "k", "Canary", "Judge one new backend pod first (deploy --canary)", False
    ),
    Action("deploy.rollback", "z", "Rollback", "Return every Deployment to its previous revision"),
    Action("deploy.rollback_to", "Z", "Roll back to", "Go back to the picked deploy", False),
    Action("deploy.status", "s", "Status", "Watch the rollout status of the Deployments", False),
    Action("deploy.plan", "g", "Plan", "Show the guards and the change summary", False),
    Action("deploy.rollout", "o", "Rollout", "Show Deployments, pods, problems and events", False),
    Action("deploy.logs", "l", "Pod logs", "Follow every replica's log, across replacements"),
    Action("deploy.history", "h", "History", "Show the shared deploy history", False),
    Action("deploy.previews", "v", "Previews", "List the preview environments on demo", False),
    Action(
        "deploy.preview_up", "u", "Preview up", "Bring up the checked-out branch's preview", False
    ),
    Action(
        "deploy.preview_down", "x", "Preview down", "Delete the selected preview (type it)", False
    ),
    Action("deploy.refresh", "r", "Refresh", "Read the history and the cluster again", False),
)

BY_ID: dict[str, Action] = {action.id: action for action in ACTIONS}


def for_area(area: str) -> list[Action]:
    """The actions of one area, in registry order."""
    return [action for action in ACTIONS if action.area == area]


def key_display(keys: str) -> str:
    """``question_mark`` → ``?``, ``slash`` → ``/``, ``ctrl+t`` → ``^t`` (first key only)."""
    first = keys.split(",")[0].strip()
    names = {"question_mark": "?", "slash": "/", "enter": "⏎", "escape": "esc"}
    if first in names:
        return names[first]
    if first.startswith("ctrl+"):
        return "^" + first[5:]
    return first


def bindings(area: str) -> list:
    """Textual ``Binding`` objects for one area's actions (id and tooltip from the registry)."""
    from textual.binding import Binding

    return [
        Binding(
            action.key,
            action.name,
            action.label,
            show=action.show,
            id=action.id,
            tooltip=action.tooltip,
            priority=action.id == "app.quit",
        )
        for action in for_area(area)
    ]
