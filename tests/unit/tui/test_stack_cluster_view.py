"""The Stack area on the cluster backend (``periph --cluster``): the same rows, logs,
reload lines and actions as on compose, and a header that says which stack is shown.

Over a fake ``StackBackend`` built from the cluster's real rows (``status_of``); the
real backend on the node: tests/integration/test_cluster_backend.py.
"""

from __future__ import annotations

import threading

import pytest

from periph_env.cluster.backend import ACTIONS, status_of
from periph_env.cluster.engine import ServiceState
from periph_env.errors import EngineError
from periph_env.stack.backend import refuse
from periph_env.stack.models import LogLine, ReloadEvent
from periph_env.tui.app import PeriphApp
from periph_env.tui.widgets.service_table import ServiceTable
from tests.unit.tui.conftest import settings, settle, wait_text
from tests.unit.tui.fakes import NOW
from tests.unit.tui.screen import screen_text

pytestmark = [pytest.mark.anyio, pytest.mark.tui]

STATES = [
    ServiceState("db", "Deployment", True, "Ready", "db-5c7d-x1", 0, "postgres:15", NOW - 3725),
    ServiceState("migrate", "Job", True, "Completed", "migrate-q2", 0, "backend:dev", None),
    ServiceState("worker", "Deployment", True, "Ready", "worker-7d9f-abc12", 2, "worker:dev",
                 NOW - 42),
    ServiceState("frontend", "Deployment", False, "Waiting: CrashLoopBackOff", "frontend-9", 5,
                 "frontend:dev", None),
]  # fmt: skip


class Feed:
    def __init__(self, start) -> None:
        self._start = start

    def start(self):
        self._start()
        return self

    def stop(self) -> None:
        pass


class Watcher(Feed):
    def __init__(self, on_event, services) -> None:
        super().__init__(lambda: None)
        self.on_event, self.services = on_event, services


class FakeClusterBackend:
    """Ann's cluster stack: the real rows, recorded actions, one pod log line each."""

    kind = "cluster"
    actions = ACTIONS
    label = "cluster peripheral-dev-ann (dev)"
    empty_text = "No dev stack in namespace peripheral-dev-ann: `periph up --cluster` starts it."

    def __init__(self, states=STATES, failing: str | None = None) -> None:
        self.states, self.failing = list(states), failing
        self.calls: list[tuple] = []
        self.watchers: list[Watcher] = []

    def statuses(self):
        if self.failing:
            raise EngineError(self.failing, hint="is the VPN up?")
        return [status_of(s) for s in self.states]

    def status_feed(self, on_change):
        return Feed(lambda: on_change(self.statuses()))

    def log_feed(self, on_lines):
        lines = [LogLine(s.service, NOW - 10, f"{s.service} pod says hi") for s in self.states]
        return Feed(lambda: threading.Thread(target=on_lines, args=(lines,)).start())

    def read_logs(self, services, tail):
        return []

    def watcher(self, on_event, services=None, status=None):
        self.watchers.append(Watcher(on_event, services or ["worker"]))
        return self.watchers[-1]

    def act(self, verb, services, progress):
        refuse(self, verb)
        self.calls.append((verb, services))
        progress("rolled")

    def remedy(self, error):
        return [f"→ {error.hint}"] if error.hint else []

    def details(self, service):
        return [f"deployment {service}: Ready, pod {service}-7d9f-abc12",
                f"forward 127.0.0.1:15058 -> 5058: forwarding to {service}-7d9f-abc12"]  # fmt: skip

    def shell(self, service):
        return f"kubectl --context dev -n peripheral-dev-ann exec -it {service}-1 -- sh"


def cluster_app(root, backend) -> PeriphApp:
    return PeriphApp(root, stack_backend=backend, settings=settings())


async def _select(app, pilot, service: str) -> None:
    table = app.query_one(ServiceTable)
    table.move_cursor(row=[k.value for k in table.rows].index(service))
    await settle(app, pilot)


async def test_the_header_says_the_cluster_namespace_is_on_screen(project):
    app = cluster_app(project, FakeClusterBackend())
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        assert "stack: cluster peripheral-dev-ann (dev)" in screen_text(app)


async def test_each_service_shows_ready_state_restarts_and_a_crash_loop(project):
    app = cluster_app(project, FakeClusterBackend())
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        rows = {ln.split()[0]: ln.split() for ln in screen_text(app).splitlines()[4:8]}
        assert rows["db"][1:3] == ["running", "healthy"]
        assert rows["migrate"][1] == "done"
        assert rows["worker"][1:3] + rows["worker"][4:6] == ["running", "healthy", "42s", "2"]
        assert rows["frontend"][1:3] + rows["frontend"][-2:] == [
            "restarting", "unhealthy", "5", "off"
        ]  # fmt: skip


async def test_the_detail_names_the_pod_and_the_forwards_state(project):
    app = cluster_app(project, FakeClusterBackend())
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        await _select(app, pilot, "worker")
        text = screen_text(app)
        assert "deployment worker: Ready, pod worker-7d9f-abc12" in text
        assert "forward 127.0.0.1:15058 -> 5058: forwarding to worker-7d9f-abc12" in text


async def test_r_restarts_the_selected_service_on_the_cluster(project):
    backend = FakeClusterBackend()
    app = cluster_app(project, backend)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        await _select(app, pilot, "worker")
        await pilot.press("r")
        await settle(app, pilot)
        assert backend.calls == [("restart", ["worker"])]
        assert "restart worker: done" in screen_text(app)


async def test_x_stops_and_s_starts_the_selected_service_on_the_cluster(project):
    backend = FakeClusterBackend()
    app = cluster_app(project, backend)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        await _select(app, pilot, "worker")
        await pilot.press("x")
        await settle(app, pilot)
        await pilot.press("s")
        await settle(app, pilot)
        assert backend.calls == [("stop", ["worker"]), ("start", ["worker"])]


async def test_w_watches_into_the_pods_and_the_reload_line_shows(project):
    backend = FakeClusterBackend()
    app = cluster_app(project, backend)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        await _select(app, pilot, "worker")
        await pilot.press("w")
        await settle(app, pilot)
        assert backend.watchers[0].services == ["worker"]
        event = ReloadEvent("worker", "sync", ["worker/app.py"], NOW - 5, NOW - 4.9, None,
                            NOW - 4.6, done=True)  # fmt: skip
        backend.watchers[0].on_event(event)
        await settle(app, pilot)
        text = screen_text(app)
        assert "seen → synced +0.10s → serving +0.40s" in text
        worker_row = next(ln for ln in text.splitlines() if ln.strip().startswith("worker"))
        assert worker_row.rstrip().endswith("on 0.40s")


async def test_the_logs_area_shows_the_pods_lines(project):
    app = cluster_app(project, FakeClusterBackend())
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        await pilot.press("2")
        await wait_text(app, pilot, "worker pod says hi")


async def test_an_empty_namespace_says_how_to_start_the_stack(project):
    app = cluster_app(project, FakeClusterBackend(states=[]))
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        assert "No dev stack in namespace peripheral-dev-ann" in screen_text(app)


async def test_a_cluster_that_does_not_answer_says_so_with_its_remedy(project):
    app = cluster_app(project, FakeClusterBackend(failing="cannot reach dev: timed out"))
    async with app.run_test(size=(100, 30)) as pilot:
        text = await wait_text(app, pilot, "cannot reach dev: timed out")
        assert "No answer from the cluster peripheral-dev-ann (dev)" in text
        assert "stack: cluster peripheral-dev-ann (dev)" in text  # the header, even now
        assert "is the VPN up?" in text
        assert "Start engine" not in text


async def test_e_names_kubectls_shell_for_a_pod(project):
    app = cluster_app(project, FakeClusterBackend())
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        await _select(app, pilot, "worker")
        await pilot.press("e")
        await settle(app, pilot)
        assert any(
            "`kubectl --context dev -n peripheral-dev-ann exec -it worker-1 -- sh`" in n.message
            for n in app._notifications
        )


async def test_a_cluster_that_stops_answering_shows_the_clusters_banner_not_dockers(project):
    backend = FakeClusterBackend()
    app = cluster_app(project, backend)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        model = app.session._status_model
        model.connected, model.error = False, "dial tcp 10.0.0.1:6443: i/o timeout"
        app.session._post_status([])
        text = await wait_text(app, pilot, "dial tcp 10.0.0.1:6443: i/o timeout")
        assert "No answer from the cluster peripheral-dev-ann (dev)" in text
        assert "Docker" not in text


async def test_the_tui_forwards_the_clusters_ports_until_it_quits(project):
    backend = FakeClusterBackend()
    forwarding: list[str] = []

    class Forwarder(Feed):
        def stop(self) -> None:
            forwarding.append("stopped")

    backend.forward_feed = lambda: Forwarder(lambda: forwarding.append("started"))
    app = cluster_app(project, backend)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        assert forwarding == ["started"]
    assert forwarding == ["started", "stopped"]


class ShellingClusterBackend(FakeClusterBackend):
    """A cluster backend that opens a session in the pod (kubectl exec -it)."""

    def shell_argv(self, service):
        return ["kubectl", "--context", "dev", "exec", "-it", f"{service}-1", "--", "sh"]


async def test_e_opens_a_shell_in_the_pod_or_names_kubectls_command_without_a_terminal(project):
    app = cluster_app(project, ShellingClusterBackend())
    async with app.run_test(size=(100, 30)) as pilot:  # headless: no terminal to give away
        await settle(app, pilot)
        await _select(app, pilot, "worker")
        await pilot.press("e")
        await settle(app, pilot)
        assert any(
            "a shell needs a terminal: run `kubectl --context dev -n peripheral-dev-ann exec"
            in n.message
            for n in app._notifications
        )


class AlertingClusterBackend(FakeClusterBackend):
    """A cluster backend whose stack model (hint rules, secrets) is the local compose one."""

    def __init__(self) -> None:
        super().__init__()
        stack = type("Model", (), {"compose_path": None, "services": lambda self: ["worker"],
                                   "secrets": lambda self: ["hunter2"]})()  # fmt: skip
        self.cluster = type("Cluster", (), {"stack": stack})()

    def read_logs(self, services, tail):
        return [LogLine("worker", NOW, "fatal: allocation failed, password hunter2")]


async def test_a_pod_killed_for_memory_on_the_cluster_raises_the_alert_masked(project):
    from dataclasses import replace

    from periph_env.tui.messages import StatusChanged

    backend = AlertingClusterBackend()
    app = cluster_app(project, backend)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        rows = [status_of(s) for s in STATES]
        app.post_message(StatusChanged(rows))
        await settle(app, pilot)
        killed = [replace(r, oom_killed=True) if r.service == "worker" else r for r in rows]
        app.post_message(StatusChanged(killed))
        view = app.query_one("StackView")
        for _ in range(100):
            if view.alerts:
                break
            await pilot.pause(0.05)
        alert = view.alerts[-1]
        assert alert.service == "worker" and "killed: out of memory" in alert.summary
        assert any("allocation failed" in line for line in alert.lines)
        assert all("hunter2" not in line for line in alert.lines)
        toasts = [n.message for n in app._notifications]
        assert any("out of memory" in t for t in toasts) and not any("hunter2" in t for t in toasts)


class MeasuredClusterBackend(FakeClusterBackend):
    """Ann's cluster stack whose pods' CPU/MEM come from a ``PodStatsModel`` (issue 26)
    over a reader standing in for the kubelet's Summary API."""

    def stats_model(self):
        from periph_env.cluster.stats import PodStatsModel
        from periph_env.stack.stats import Sample

        class Reader:
            def read(self, services):
                measured = {"db": Sample(0.3, 38 * 2**20, None, NOW),
                            "worker": Sample(112.0, 9_846_784, 256 * 2**20, NOW)}  # fmt: skip
                return {s: v for s, v in measured.items() if s in services}

            def say_once(self, key, line):
                raise AssertionError(line)

        self.model = PodStatsModel(Reader(), every=3600)
        return self.model


async def test_the_pods_cpu_and_memory_show_in_the_rows_as_on_compose(project):
    import itertools

    ticks = itertools.count(NOW, 5)  # each redraw a new stats window (not a frozen clock)
    backend = MeasuredClusterBackend()
    app = PeriphApp(project, stack_backend=backend, settings=settings(clock=lambda: next(ticks)))
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(app, pilot)
        shown = await wait_text(app, pilot, "112%")
        rows: dict[str, str] = {}
        for line in shown.splitlines():  # the table's row, not the detail under it
            if line.split():
                rows.setdefault(line.split()[0], line)
        assert "0.3%" in rows["db"] and "38M" in rows["db"]
        assert "112%" in rows["worker"] and "9M" in rows["worker"]
        assert "cpu" in [str(c.label) for c in app.query_one(ServiceTable).columns.values()]
    assert not any(t.name == "periph-pod-stats" and t.is_alive() for t in threading.enumerate())
