"""Owned runs: one ending per operation, whatever ends it (the real cluster cases are in
tests/integration/test_deploy_interrupted.py)."""

from __future__ import annotations

import subprocess
import sys
import threading

import pytest
from urllib3.exceptions import MaxRetryError, NewConnectionError

from periph_env.common.runs import Run
from periph_env.deploy import events as ev
from periph_env.deploy import history, runs
from periph_env.deploy.runs import Ending, OperationRun


class Scripted(OperationRun):
    """A run whose work is given: it yields steps and then does what the test says."""

    action = "deploy"

    def __init__(self, then, *, record: bool = False) -> None:
        super().__init__("/nowhere", "demo")
        self.then = then
        self.with_record = record

    def work(self):
        yield ev.Step("render")
        if self.with_record:
            self.record = history.Record("demo", 4, "deploy", history.RUNNING, "ana", "now")
            self.session = _FakeSession()
        yield ev.Step("migrations")
        return (yield from self.then(self))


class _FakeKube:
    def __init__(self) -> None:
        self.secrets = ["s3cr3t-value"]


class _FakeSession:
    def __init__(self) -> None:
        self.kube, self.source = _FakeKube(), None


@pytest.fixture
def written(monkeypatch) -> list[tuple[str, str]]:
    """Each history record ending written (status, message), instead of the cluster."""
    calls: list[tuple[str, str]] = []

    def finish_record(kube, record, status, started, message=""):
        calls.append((status, message))

    monkeypatch.setattr(runs, "finish_record", finish_record)
    return calls


def wait_until(condition, seconds: float = 30.0) -> bool:
    """Poll ``condition`` (a thread's progress), giving up after ``seconds``."""
    for _ in range(int(seconds * 100)):
        if condition():
            return True
        threading.Event().wait(0.01)
    return condition()


def _wait_forever(run):
    run.sleep(3600)
    yield ev.Note("never")
    return Ending("succeeded")


def test_a_stop_request_mid_step_ends_the_run_interrupted_with_that_step(written):
    run = Scripted(_wait_forever, record=True)
    seen: list[ev.Event] = []
    consumer = threading.Thread(target=lambda: seen.extend(run))
    consumer.start()
    assert wait_until(lambda: run.step == "migrations")
    run.stop()
    assert run.join(timeout=30)
    consumer.join(timeout=30)
    finished = [e for e in seen if isinstance(e, ev.Finished)]
    assert len(finished) == 1 and seen[-1] is finished[0]
    assert finished[0].result == "interrupted" and finished[0].exit_code == 130
    assert finished[0].message == "interrupted by the user during migrations"
    assert written == [("interrupted", "interrupted by the user during migrations")]


def test_an_api_server_gone_mid_migration_ends_failed_with_the_cause_on_one_line(written):
    def api_gone(run):
        reason = NewConnectionError(None, "Failed to establish a new connection: refused")
        raise MaxRetryError(None, "/apis/batch/v1/namespaces/demo/jobs/migrate", reason)
        yield

    seen = list(Scripted(api_gone, record=True))
    end = seen[-1]
    assert isinstance(end, ev.Finished) and end.result == "failed" and end.exit_code == 1
    assert end.message.startswith("during migrations: MaxRetryError: ")
    assert "/jobs/migrate" in end.message and "\n" not in end.message
    assert written == [("failed", end.message)]


def test_ctrl_c_in_the_work_ends_the_run_interrupted(written):
    def ctrl_c(run):
        raise KeyboardInterrupt
        yield

    end = list(Scripted(ctrl_c, record=True))[-1]
    assert (end.result, end.exit_code) == ("interrupted", 130)
    assert written == [("interrupted", "interrupted by the user during migrations")]


def test_a_consumer_that_lets_go_midway_still_ends_the_record_interrupted(written):
    run = Scripted(_wait_forever, record=True)
    stream = run.events()
    assert next(stream) == ev.Step("render")
    assert next(stream) == ev.Step("migrations")
    stream.close()
    assert written == [("interrupted", "interrupted by the user during migrations")]
    assert run.result is not None and run.result.result == "interrupted"


def test_the_work_s_own_ending_is_written_once_with_its_message(written):
    def fails(run):
        yield ev.MigrationResult(False, "job/migrate failed: BackoffLimitExceeded")
        return Ending("failed", "job/migrate failed: BackoffLimitExceeded")

    seen = list(Scripted(fails, record=True))
    assert [type(e).__name__ for e in seen[-2:]] == ["MigrationResult", "Finished"]
    assert written == [("failed", "job/migrate failed: BackoffLimitExceeded")]


def test_a_secret_in_a_failure_cause_is_masked(written):
    def leaks(run):
        raise RuntimeError("connect to postgres://app:s3cr3t-value@db failed")
        yield

    end = list(Scripted(leaks, record=True))[-1]
    assert "s3cr3t-value" not in end.message and "****" in end.message
    assert all("s3cr3t-value" not in message for _, message in written)


def test_a_record_the_cluster_refuses_is_said_in_a_note_not_raised(monkeypatch):
    def refused(*args, **kwargs):
        raise MaxRetryError(None, "/api/v1/namespaces/demo/configmaps", None)

    monkeypatch.setattr(runs, "finish_record", refused)
    monkeypatch.setattr(runs, "RECORD_RETRIES", ())

    def done(run):
        return Ending("succeeded", "rolled out")
        yield

    seen = list(Scripted(done, record=True))
    assert isinstance(seen[-2], ev.Note) and "could not record the result" in seen[-2].text
    assert seen[-1].result == "succeeded"


def test_a_record_is_written_once_the_api_server_answers_again(monkeypatch):
    answers = iter([ConnectionRefusedError("refused"), ConnectionRefusedError("refused"), None])
    written: list[str] = []

    def flaky(kube, record, status, started, message=""):
        problem = next(answers)
        if problem:
            raise problem
        written.append(status)

    monkeypatch.setattr(runs, "finish_record", flaky)
    monkeypatch.setattr(runs, "RECORD_RETRIES", (0.0, 0.0, 0.0))

    def fails(run):
        raise MaxRetryError(None, "/apis/batch/v1/namespaces/demo/jobs/migrate", None)
        yield

    seen = list(Scripted(fails, record=True))
    assert written == ["failed"]
    assert not any(isinstance(e, ev.Note) for e in seen)


def test_without_a_record_nothing_is_written(written):
    def refused(run):
        return Ending("refused", "refused by clean-tree")
        yield

    end = list(Scripted(refused))[-1]
    assert (end.result, end.exit_code, end.revision) == ("refused", 2, None)
    assert written == []


def test_a_usage_error_in_the_work_is_a_refusal_with_exit_2_and_its_hint(written):
    from periph_env.errors import UsageError

    def unknown_revision(run):
        raise UsageError("no deploy #9 in the history of demo", hint="periph history demo")
        yield

    end = list(Scripted(unknown_revision))[-1]
    assert (end.result, end.exit_code) == ("refused", 2)
    assert end.message == "no deploy #9 in the history of demo"
    assert end.hint == "periph history demo"  # its own `hint:` line, as a refused lock's


def test_the_cli_says_a_runs_hint_after_its_ending_on_stderr(capsys):
    from periph_env.cli.deploy_cmd import _drive

    end = ev.Finished("refused", 2, 0.5, message="demo is being deployed by x", hint="kubectl get")
    assert _drive(iter([end]), "text", "demo", "deploy") == 2
    out, err = capsys.readouterr()
    assert out == "REFUSED in 0.5s: demo is being deployed by x\n"
    assert err == "hint: kubectl get\n"


def test_a_run_runs_once():
    run = Scripted(lambda run: iter(()))
    list(run)
    with pytest.raises(RuntimeError, match="already run"):
        list(run)


def test_stopping_a_run_ends_its_processes_and_its_threads():
    run = Run("log follow")
    with run.working():
        proc = run.process([sys.executable, "-c", "import time; time.sleep(600)"])
        waiter = run.thread(run.stop_event.wait, name="periph-test-waiter")
        run.stop()
    assert run.join(timeout=30)
    assert proc.poll() is not None and not waiter.is_alive()
    assert run.done and not run.running


def test_a_process_started_after_the_stop_is_ended_at_once():
    run = Run("late")
    run.stop()
    proc = run.process([sys.executable, "-c", "import time; time.sleep(600)"])
    assert run.join(timeout=30)
    assert proc.returncode is not None and proc.returncode != 0


def test_a_run_names_its_step_for_the_question_before_quitting():
    run = Run("deploy of demo")
    run.step = "rollout"
    assert run.describe() == "deploy of demo (step: rollout)"


def test_sleep_returns_after_its_time_when_nobody_stops_the_run():
    Run("quiet").sleep(0)


def test_subprocess_is_reaped_even_when_it_ignores_terminate():
    run = Run("stubborn")
    code = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "print(1, flush=True); time.sleep(600)"
    )
    proc = run.process([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "1"
    run.stop()
    assert run.join(timeout=30)
    assert proc.returncode is not None


def test_a_lock_held_by_the_run_is_released_after_its_ending_is_written(written):
    order: list[str] = []
    run = Scripted(_wait_forever, record=True)
    run.on_end(lambda: order.append(f"released after {len(written)} record(s)"))
    run.on_stop(lambda: order.append("stop requested"))
    seen: list[ev.Event] = []
    consumer = threading.Thread(target=lambda: seen.extend(run))
    consumer.start()
    assert wait_until(lambda: run.step == "migrations")
    run.stop()
    assert run.join(timeout=30)
    consumer.join(timeout=30)
    assert order[0] == "stop requested"
    assert order[-1] == "released after 1 record(s)"


def test_the_cli_says_an_error_that_ended_a_run_as_periph_says_errors(capsys):
    from periph_env.cli.deploy_cmd import _drive

    events = [
        ev.Step("summary"),
        ev.Finished("failed", 1, 0.5, message="during summary: bad", error="bad", hint="fix it"),
    ]
    assert _drive(iter(events), "text", "demo", "deploy") == 1
    out, err = capsys.readouterr()
    assert out.splitlines()[-1] == "FAILED in 0.5s: during summary: bad"
    assert err == "periph: error in step summary: bad\nhint: fix it\n"
