"""Rollout verdicts match `kubectl rollout status` (rollout_status.go), case by case."""

from __future__ import annotations

from periph_env.deploy.verdict import (
    counts,
    crash_loop,
    deadline_stamp,
    deployment_verdict,
    event_problem,
    pod_problems,
    revision,
    template_images,
)


def deployment(generation=2, observed=2, desired=2, conditions=(), **status):
    return {
        "metadata": {"name": "backend", "generation": generation},
        "spec": {"replicas": desired},
        "status": {"observedGeneration": observed, "conditions": list(conditions), **status},
    }


def test_unobserved_generation_is_waiting_for_the_spec_update():
    verdict = deployment_verdict(deployment(generation=3, observed=2))
    assert not verdict.done and not verdict.failed
    assert verdict.message == "Waiting for deployment spec update to be observed..."


def test_progress_deadline_exceeded_is_a_failure():
    cond = {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}
    verdict = deployment_verdict(deployment(conditions=[cond], updatedReplicas=1, replicas=3))
    assert verdict.failed
    assert verdict.message == 'deployment "backend" exceeded its progress deadline'


def test_progress_deadline_counts_only_once_the_generation_is_observed():
    cond = {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}
    assert not deployment_verdict(deployment(generation=3, observed=2, conditions=[cond])).failed


def test_fewer_updated_than_desired_waits_for_updates():
    verdict = deployment_verdict(deployment(updatedReplicas=1, replicas=2))
    assert verdict.message.endswith("1 out of 2 new replicas have been updated...")


def test_old_replicas_pending_termination_wait():
    verdict = deployment_verdict(deployment(updatedReplicas=2, replicas=3))
    assert verdict.message.endswith("1 old replicas are pending termination...")
    assert not verdict.done


def test_updated_but_unavailable_replicas_wait():
    verdict = deployment_verdict(deployment(updatedReplicas=2, replicas=2, availableReplicas=1))
    assert verdict.message.endswith("1 of 2 updated replicas are available...")


def test_all_updated_and_available_is_success():
    verdict = deployment_verdict(deployment(updatedReplicas=2, replicas=2, availableReplicas=2))
    assert verdict.done and not verdict.failed
    assert verdict.message == 'deployment "backend" successfully rolled out'


def test_other_progressing_reasons_are_not_failures():
    cond = {"type": "Progressing", "status": "True", "reason": "ReplicaSetUpdated"}
    verdict = deployment_verdict(deployment(conditions=[cond], updatedReplicas=1))
    assert not verdict.failed and not verdict.done


def test_counts_report_old_replicas_scaling_down():
    c = counts(deployment(updatedReplicas=2, replicas=3, readyReplicas=3, availableReplicas=2))
    assert c == {"desired": 2, "updated": 2, "ready": 3, "available": 2, "old_replicas": 1}


def test_revision_reads_the_deployment_annotation():
    obj = {"metadata": {"annotations": {"deployment.kubernetes.io/revision": "7"}}}
    assert revision(obj) == 7
    assert revision({"metadata": {}}) == 0


def test_image_pull_backoff_and_crash_loop_are_pod_problems():
    pod = {
        "status": {
            "containerStatuses": [
                {"name": "a", "state": {"waiting": {"reason": "ImagePullBackOff", "message": "x"}}},
                {"name": "b", "state": {"waiting": {"reason": "CrashLoopBackOff"}}},
                {"name": "c", "state": {"waiting": {"reason": "ContainerCreating"}}},
            ]
        }
    }
    assert [r for r, _ in pod_problems(pod)] == ["ImagePullBackOff", "CrashLoopBackOff"]


def test_unschedulable_pod_is_a_problem():
    pod = {
        "status": {
            "conditions": [
                {"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                 "message": "0/2 nodes are available"}
            ]
        }
    }  # fmt: skip
    assert pod_problems(pod) == [("Unschedulable", "0/2 nodes are available")]


def test_probe_failure_event_is_a_problem_and_normal_events_are_not():
    warning = {
        "type": "Warning",
        "reason": "Unhealthy",
        "message": "Readiness probe failed: HTTP 503",
        "involvedObject": {"kind": "Pod", "name": "backend-1"},
    }
    assert event_problem(warning) == ("backend-1", "Unhealthy", "Readiness probe failed: HTTP 503")
    assert event_problem({**warning, "type": "Normal"}) is None
    assert event_problem({**warning, "reason": "Pulled"}) is None


TIMED_OUT = {
    "type": "Progressing",
    "status": "False",
    "reason": "ProgressDeadlineExceeded",
    "lastUpdateTime": "2026-11-27T09:20:00Z",
}


def test_a_deadline_left_from_the_earlier_rollout_is_not_this_rollouts_failure():
    dep = deployment(conditions=[TIMED_OUT], updatedReplicas=2, replicas=4, availableReplicas=2)
    verdict = deployment_verdict(dep, stale_deadline=deadline_stamp(dep))
    assert not verdict.failed and not verdict.done
    assert "old replicas are pending termination" in verdict.message


def test_a_deadline_exceeded_again_after_the_change_is_a_failure():
    dep = deployment(conditions=[{**TIMED_OUT, "lastUpdateTime": "2026-11-27T09:30:00Z"}])
    assert deployment_verdict(dep, stale_deadline="2026-11-27T09:20:00Z").failed


def crashing_pod(image="reg/worker@sha256:new", restarts=2, reason="CrashLoopBackOff"):
    return {
        "metadata": {"name": "worker-abc"},
        "spec": {"containers": [{"name": "worker", "image": image}]},
        "status": {
            "containerStatuses": [
                {
                    "name": "worker",
                    "restartCount": restarts,
                    "state": {"waiting": {"reason": reason}},
                    "lastState": {"terminated": {"exitCode": 1, "reason": "Error"}},
                }
            ]
        },
    }


WORKER_TEMPLATE = {
    "spec": {
        "template": {"spec": {"containers": [{"name": "worker", "image": "reg/worker@sha256:new"}]}}
    }
}


def test_a_new_pod_backing_off_after_repeated_crashes_is_a_crash_loop():
    crash = crash_loop(crashing_pod(), template_images(WORKER_TEMPLATE))
    assert crash is not None
    assert crash.describe() == (
        "pod worker-abc: container worker is crash-looping (2 restarts; last exit code 1, Error)"
    )


def test_a_single_restart_is_forgiven():
    assert crash_loop(crashing_pod(restarts=1), template_images(WORKER_TEMPLATE)) is None


def test_an_old_template_pod_crashing_is_not_the_new_rollouts_crash_loop():
    old = crashing_pod(image="reg/worker@sha256:old", restarts=9)
    assert crash_loop(old, template_images(WORKER_TEMPLATE)) is None


def test_a_container_restarting_but_running_again_is_not_a_crash_loop():
    pod = crashing_pod(restarts=5)
    pod["status"]["containerStatuses"][0]["state"] = {"running": {}}
    assert crash_loop(pod, template_images(WORKER_TEMPLATE)) is None
