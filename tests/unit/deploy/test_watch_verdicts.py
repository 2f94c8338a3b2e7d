"""What the rollout watch reports, fed API objects directly (no cluster, no threads).

The real thing runs on real pods in tests/integration/test_node_demo_deploy.py.
"""

from __future__ import annotations

from kubernetes.client import ApiClient

from periph_env.deploy import watch as w
from periph_env.deploy.events import PodProblem, RolloutVerdict

IMAGE = "reg/worker@sha256:new"


def deployment(generation=2, observed=2, **status):
    return {
        "metadata": {"name": "worker", "generation": generation},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "worker"}},
            "template": {"spec": {"containers": [{"name": "worker", "image": IMAGE}]}},
        },
        "status": {"observedGeneration": observed, **status},
    }


def pod(ready=False, waiting=None, restarts=0):
    state = {"waiting": {"reason": waiting}} if waiting else {"running": {}}
    return {
        "metadata": {"name": "worker-1", "labels": {"app": "worker"}},
        "spec": {"containers": [{"name": "worker", "image": IMAGE}]},
        "status": {
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
            "containerStatuses": [
                {
                    "name": "worker",
                    "restartCount": restarts,
                    "state": state,
                    "lastState": {"terminated": {"exitCode": 1, "reason": "Error"}},
                }
            ],
        },
    }


def probe_failure():
    return {
        "type": "Warning",
        "reason": "Unhealthy",
        "message": "Readiness probe failed: connection refused",
        "involvedObject": {"kind": "Pod", "name": "worker-1"},
    }


def run(feed, timeout=3.0, **options):
    """Every event the watch yields for ``feed`` [(kind, change, object)]."""
    watch = w.RolloutWatch(ApiClient(), "ns", ["worker"], timeout, **options)
    watch.watches = []
    # What the watch reads once at its start (StorageClasses, HPAs): none here.
    watch.queue.put(("Cluster", "READ", {"classes": [], "hpas": []}))
    for item in feed:
        watch.queue.put(item)
    return watch, list(watch.events())


def test_a_probe_failure_of_a_pod_that_turns_ready_is_not_shown():
    done = deployment(updatedReplicas=1, replicas=1, availableReplicas=1)
    _, events = run(
        [
            ("Deployment", "ADDED", deployment(updatedReplicas=1, replicas=1)),
            ("Pod", "ADDED", pod()),
            ("Event", "ADDED", probe_failure()),
            ("Pod", "MODIFIED", pod(ready=True)),
            ("Deployment", "MODIFIED", done),
        ]
    )
    assert not [e for e in events if isinstance(e, PodProblem)]
    assert [e.ok for e in events if isinstance(e, RolloutVerdict)] == [True]


def test_a_probe_failure_of_a_pod_still_unready_after_the_grace_is_shown(monkeypatch):
    monkeypatch.setattr(w, "PROBE_GRACE_SECONDS", 0.0)
    _, events = run(
        [
            ("Deployment", "ADDED", deployment(updatedReplicas=1, replicas=1)),
            ("Pod", "ADDED", pod()),
            ("Event", "ADDED", probe_failure()),
        ],
        timeout=1.5,
    )
    problems = [e for e in events if isinstance(e, PodProblem)]
    assert [(p.pod, p.reason) for p in problems] == [("worker-1", "Unhealthy")]


def test_held_probe_failures_come_out_before_a_failed_verdict():
    _, events = run(
        [
            ("Deployment", "ADDED", deployment(updatedReplicas=1, replicas=1)),
            ("Pod", "ADDED", pod()),
            ("Event", "ADDED", probe_failure()),
        ],
        timeout=0.5,
    )
    kinds = [type(e).__name__ for e in events if isinstance(e, PodProblem | RolloutVerdict)]
    assert kinds == ["PodProblem", "RolloutVerdict"]
    assert events[-1].message.startswith("timed out")


def test_a_crash_loop_fails_the_rollout_at_once_with_the_crashed_runs_log(monkeypatch):
    monkeypatch.setattr(
        w.RolloutWatch, "_crash_logs", lambda self, crash: "fatal: secret-value-123 missing"
    )
    watch, events = run(
        [
            ("Deployment", "ADDED", deployment(updatedReplicas=1, replicas=1)),
            ("Pod", "ADDED", pod(waiting="CrashLoopBackOff", restarts=2)),
        ],
        timeout=60,
    )
    verdict = events[-1]
    assert isinstance(verdict, RolloutVerdict) and not verdict.ok
    assert "container worker is crash-looping (2 restarts; last exit code 1, Error)" in (
        verdict.message
    )
    assert verdict.logs == "fatal: secret-value-123 missing"
    assert watch.failed() == ["worker"]


def test_the_crashed_runs_log_is_masked():
    watch = w.RolloutWatch(ApiClient(), "ns", ["worker"], 1, secrets=["secret-value-123"])

    watch.pod_log = lambda pod, container: "fatal: secret-value-123 missing\n"  # type: ignore[method-assign]
    crash = w.v.CrashLoop("worker-1", "worker", 2, 1, "Error")
    assert watch._crash_logs(crash) == "fatal: **** missing"


def leftover_deadline():
    cond = {"type": "Progressing", "reason": "ProgressDeadlineExceeded", "lastUpdateTime": "t1"}
    return deployment(updatedReplicas=1, replicas=2, availableReplicas=1, conditions=[cond])


def test_a_status_watch_reports_a_deadline_already_exceeded():
    watch, _ = run([("Deployment", "ADDED", leftover_deadline())], timeout=0.5)
    assert watch.results["worker"].message == 'deployment "worker" exceeded its progress deadline'


def test_a_watch_after_a_change_waits_past_the_earlier_rollouts_deadline():
    watch, _ = run([("Deployment", "ADDED", leftover_deadline())], timeout=0.5, after_change=True)
    assert watch.results["worker"].message.startswith("timed out: Waiting for deployment")


def test_troubles_of_pods_from_an_older_template_are_not_reported():
    old = pod(waiting="CrashLoopBackOff", restarts=7)
    old["spec"]["containers"][0]["image"] = "reg/worker@sha256:old"
    _, events = run(
        [
            ("Deployment", "ADDED", deployment(updatedReplicas=1, replicas=2)),
            ("Pod", "ADDED", old),
        ],
        timeout=0.5,
    )
    assert not [e for e in events if isinstance(e, PodProblem)]
    assert events[-1].message.startswith("timed out")
