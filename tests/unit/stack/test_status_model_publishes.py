"""``StatusModel`` tells the UI every change it makes, in the order it made them (no
engine: ``refresh`` reads a fake stack's ``ps``)."""

from __future__ import annotations

import threading

from periph_env.stack.models import ServiceStatus
from periph_env.stack.status import StatusModel


class FreshStatuses:
    """A stack whose ``ps`` returns new objects each time, as the engine's does."""

    def ps(self) -> list[ServiceStatus]:
        return [ServiceStatus("app", "running"), ServiceStatus("db", "running")]


def _model() -> tuple[StatusModel, list[dict[str, bool]]]:
    seen: list[dict[str, bool]] = []  # what each notification said, when it was sent
    model = StatusModel(
        FreshStatuses(),  # type: ignore[arg-type]
        on_change=lambda statuses: seen.append({s.service: s.hot_reload for s in statuses}),
    )
    return model, seen


def test_hot_reload_turned_off_after_an_engine_event_refresh_is_sent():
    # The sync signal's kill is an engine event: the status thread re-read the containers
    # between "on" and "off", and "off" was never sent (the screen said on).
    model, seen = _model()
    model.refresh()
    model.set_watched({"app"})
    model.refresh()
    model.set_watched(set())
    assert seen[-1] == {"app": False, "db": False}
    assert seen == [
        {"app": False, "db": False},
        {"app": True, "db": False},
        {"app": False, "db": False},
    ]


def test_a_published_status_is_never_changed_afterwards():
    model, _seen = _model()
    model.set_watched({"app"})
    model.refresh()
    published = model.snapshot()
    model.set_watched(set())
    assert [s.hot_reload for s in published] == [True, False]


def test_concurrent_toggles_end_on_the_last_state_set():
    model, seen = _model()
    model.refresh()
    threads = [
        threading.Thread(target=model.set_watched, args=({"app"} if i % 2 else set(),))
        for i in range(40)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    model.set_watched({"db"})
    assert seen[-1] == {"app": False, "db": True}
