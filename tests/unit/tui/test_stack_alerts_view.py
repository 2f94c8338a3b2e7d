"""The Stack area's alerts, resource columns, sort key and wait reasons (issue 24), over
the fake-but-typed engine. The real-engine side is tests/integration/test_stack_alerts.py."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from periph_env.stack.stats import Sample
from periph_env.tui.widgets.service_table import ServiceTable
from tests.unit.tui.conftest import make_app, settle, wait_text, wait_until
from tests.unit.tui.fakes import NOW, FakeStack

pytestmark = [pytest.mark.anyio, pytest.mark.tui]

HINTS = """\
services:
  backend:
    image: x
    x-periph:
      hints:
        - match: 'listening on :(?P<port>\\d+)'
          hint: "port {port} again"
"""


class FakeStats:
    """A StatsModel's reading side with fixed samples."""

    def __init__(self, cpu: dict[str, float], mem: dict[str, int]) -> None:
        self.samples = {s: Sample(cpu[s], mem[s], None, NOW) for s in cpu}

    def latest(self):
        return dict(self.samples)

    def history(self, service):
        return [self.samples[service]] if service in self.samples else []

    def update(self, _statuses):
        pass

    def stop(self):
        pass


def rows(app) -> list[str]:
    return [key.value for key in app.query_one(ServiceTable).rows]


async def test_a_crashed_service_raises_one_toast_with_its_hint_and_rings_the_terminal(
    project,
):
    (project / "compose.yaml").write_text(HINTS)
    stack = FakeStack()
    stack.compose_path = project / "compose.yaml"
    app = make_app(project, stack=stack)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        backend = next(s for s in stack.statuses if s.service == "backend")
        for _ in range(2):  # the same exit seen twice is still one incident
            backend.state, backend.exit_code = "exited", 2
            for listener in stack.listeners:
                listener(list(stack.statuses))
        view = app.query_one("#stack-view")
        await wait_until(pilot, lambda: view.alerts, "the alert")
        await pilot.pause()
        toasts = [n.message for n in app._notifications]
        assert any(
            "backend exited unexpectedly with exit code 2\n→ port 5058 again" in t for t in toasts
        )
        assert len(view.alerts) == 1
        assert view.emitted[0].startswith("\a\x1b]")  # the bell, then one OSC notification


async def test_the_sort_key_orders_by_cpu_then_memory_then_compose_order(project):
    app = make_app(project)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        view = app.query_one("#stack-view")
        compose_order = rows(app)
        cpu = {s: 1.0 for s in compose_order} | {"worker": 80.0, "cache": 30.0}
        mem = {s: 10 for s in compose_order} | {"db": 900 * 2**20, "backend": 50 * 2**20}
        view.stats = FakeStats(cpu, mem)
        view.redraw()
        await pilot.pause()
        assert "cpu" in [str(c.label) for c in app.query_one(ServiceTable).columns.values()]
        await pilot.press("o")
        await wait_until(pilot, lambda: rows(app)[:2] == ["worker", "cache"], "cpu order")
        await pilot.press("o")
        await wait_until(pilot, lambda: rows(app)[:2] == ["db", "backend"], "memory order")
        await pilot.press("o")
        await wait_until(pilot, lambda: rows(app) == compose_order, "compose order")


async def test_a_service_waiting_on_a_dependency_says_what_for(project):
    stack = FakeStack()
    stack.model = SimpleNamespace(
        services={"backend": SimpleNamespace(depends_on={"db": "service_healthy"})}
    )
    db = next(s for s in stack.statuses if s.service == "db")
    db.health = "starting"
    backend = next(s for s in stack.statuses if s.service == "backend")
    backend.state = "created"
    app = make_app(project, stack=stack)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await wait_text(app, pilot, "waiting for db: healthy (0 s)")


async def test_the_selection_stays_on_its_service_when_the_stats_columns_appear(project):
    app = make_app(project)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        table = app.query_one(ServiceTable)
        table.move_cursor(row=rows(app).index("worker"))
        await pilot.pause()
        view = app.query_one("#stack-view")
        view.stats = FakeStats({s: 1.0 for s in rows(app)}, {s: 10 for s in rows(app)})
        view.redraw()
        await pilot.pause()
        assert "cpu" in [str(c.label) for c in table.columns.values()]
        assert table.selected == "worker"
