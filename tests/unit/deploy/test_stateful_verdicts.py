"""What the deploy's verdict says about StatefulSets, Jobs, claims and HPA floors.

Pure functions and the rollout watch fed API objects directly (no cluster, no threads); the
same on the kwok cluster in tests/integration/test_deploy_verdict.py.
"""

from __future__ import annotations

from kubernetes.client import ApiClient

from periph_env.deploy import stateful as st
from periph_env.deploy import watch as w
from periph_env.deploy.events import Note, RolloutVerdict
from periph_env.testenv import kube_provisioner as prov


def statefulset(replicas=1, ready=1, updated=1, strategy=None, generation=2, observed=2, **status):
    # As a list or a watch gives it: no "kind".
    return {
        "metadata": {"name": "db", "generation": generation},
        "spec": {
            "replicas": replicas,
            "updateStrategy": strategy
            or {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
            "selector": {"matchLabels": {"app": "db"}},
            "template": {"spec": {"containers": [{"name": "postgres", "image": "db:2"}]}},
            "volumeClaimTemplates": [{"metadata": {"name": "data"}}],
        },
        "status": {
            "observedGeneration": observed,
            "readyReplicas": ready,
            "updatedReplicas": updated,
            "replicas": replicas,
            **status,
        },
    }


def claim(name="data-db-0", phase="Pending", storage_class="periph-kwok"):
    spec = {"storageClassName": storage_class} if storage_class else {}
    return {"metadata": {"name": name}, "spec": spec, "status": {"phase": phase}}


def claim_event(reason, message, kind="Warning", name="data-db-0"):
    return {
        "type": kind,
        "reason": reason,
        "message": message,
        "involvedObject": {"kind": "PersistentVolumeClaim", "name": name},
    }


CLASSES = [
    {
        "metadata": {
            "name": "periph-kwok",
            "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
        }
    }
]


# --- StatefulSets: kubectl's rules ---------------------------------------------------------


def test_a_statefulset_whose_pod_is_not_ready_is_waited_for():
    result = st.statefulset_verdict(statefulset(ready=0))
    assert (result.done, result.failed) == (False, False)
    assert result.message == 'Waiting for statefulset "db": 1 pods to be ready...'


def test_a_statefulset_the_controller_has_not_observed_is_waited_for():
    result = st.statefulset_verdict(statefulset(generation=3, observed=2))
    assert result.message == "Waiting for statefulset spec update to be observed..."


def test_a_rolling_update_is_done_when_every_pod_is_ready_and_updated():
    result = st.statefulset_verdict(statefulset(replicas=2, ready=2, updated=2))
    assert result.done
    assert (
        result.message
        == 'statefulset "db" partitioned roll out complete: 2 new pods have been updated'
    )


def test_a_partitioned_update_waits_only_for_the_pods_at_or_above_the_partition():
    partitioned = {"type": "RollingUpdate", "rollingUpdate": {"partition": 2}}
    waiting = st.statefulset_verdict(
        statefulset(replicas=3, ready=3, updated=0, strategy=partitioned)
    )
    assert not waiting.done
    assert waiting.message == (
        'Waiting for statefulset "db" partitioned roll out to finish: '
        "0 out of 1 new pods have been updated..."
    )
    done = st.statefulset_verdict(statefulset(replicas=3, ready=3, updated=1, strategy=partitioned))
    assert done.done


def test_without_a_rolling_update_block_the_revisions_decide():
    bare = {"type": "RollingUpdate"}
    moving = statefulset(strategy=bare, updateRevision="db-2", currentRevision="db-1")
    assert not st.statefulset_verdict(moving).done
    still = statefulset(
        strategy=bare, updateRevision="db-2", currentRevision="db-2", currentReplicas=1
    )
    assert st.statefulset_verdict(still).message == (
        'statefulset "db" rolling update complete 1 pods at revision db-2'
    )


def test_an_on_delete_statefulset_is_done_when_ready_and_says_its_old_pods_stay():
    result = st.statefulset_verdict(statefulset(updated=0, strategy={"type": "OnDelete"}))
    assert result.done
    assert result.message == (
        'statefulset "db" (OnDelete): 1 pods ready; 1 keep the old template until deleted'
    )


# --- Jobs ----------------------------------------------------------------------------------


def test_a_failed_job_is_named_with_the_controllers_reason():
    job = {
        "metadata": {"name": "seed"},
        "status": {
            "conditions": [
                {
                    "type": "Failed",
                    "status": "True",
                    "reason": "BackoffLimitExceeded",
                    "message": "Job has reached the specified backoff limit",
                }
            ]
        },
    }
    result = st.job_verdict(job)
    assert result.failed
    assert result.message == (
        'job "seed" failed: BackoffLimitExceeded: Job has reached the specified backoff limit'
    )


def test_a_complete_job_is_done():
    job = {
        "metadata": {"name": "seed"},
        "status": {"conditions": [{"type": "Complete", "status": "True"}]},
    }
    assert st.job_verdict(job).done


# --- claims --------------------------------------------------------------------------------


def test_a_statefulset_needs_a_claim_per_template_and_ordinal_a_deployment_its_claim_volumes():
    assert st.claims_needed({**statefulset(replicas=2), "kind": "StatefulSet"}) == [
        "data-db-0",
        "data-db-1",
    ]
    assert st.claims_needed(statefulset(replicas=2), "StatefulSet") == ["data-db-0", "data-db-1"]
    deployment = {
        "kind": "Deployment",
        "spec": {
            "template": {
                "spec": {
                    "volumes": [{"name": "x", "persistentVolumeClaim": {"claimName": "uploads"}}]
                }
            }
        },
    }
    assert st.claims_needed(deployment) == ["uploads"]


def test_a_bound_claim_has_no_problem():
    assert st.claim_problem(claim(phase="Bound"), CLASSES) is None


def test_a_claim_naming_a_class_that_does_not_exist_is_hopeless():
    problem = st.claim_problem(claim(storage_class="fast-ssd"), CLASSES)
    assert problem.hopeless
    assert (
        problem.describe() == 'claim data-db-0 is unbound: StorageClass "fast-ssd" does not exist'
    )


def test_a_claim_without_class_or_default_that_no_volume_matches_is_hopeless():
    event = claim_event(
        "FailedBinding",
        "no persistent volumes available for this claim and no storage class is set",
        "Normal",
    )
    problem = st.claim_problem(claim(storage_class=None), [], [event])
    assert problem.hopeless
    assert problem.reason == (
        "no StorageClass (none named, no default): "
        "no persistent volumes available for this claim and no storage class is set"
    )


def test_a_provisioning_failure_is_hopeless_and_quoted():
    event = claim_event("ProvisioningFailed", "quota exceeded for class periph-kwok")
    problem = st.claim_problem(claim(), CLASSES, [event])
    assert (
        problem.hopeless
        and problem.reason == "ProvisioningFailed: quota exceeded for class periph-kwok"
    )


def test_a_claim_waiting_for_its_provisioner_is_a_wait_named_by_the_event():
    event = claim_event("ExternalProvisioning", "Waiting for a volume to be created", "Normal")
    problem = st.claim_problem(claim(), CLASSES, [event])
    assert not problem.hopeless
    assert problem.reason == "ExternalProvisioning: Waiting for a volume to be created"


# --- the rollout watch ---------------------------------------------------------------------


def run(feed, names=("worker",), timeout=3.0, read=None, **options):
    """Every event the watch yields for ``feed`` [(kind, change, object)]."""
    watch = w.RolloutWatch(ApiClient(), "ns", list(names), timeout, **options)
    watch.watches = []
    watch.queue.put(("Cluster", "READ", read or {"classes": CLASSES, "hpas": []}))
    for item in feed:
        watch.queue.put(item)
    return watch, list(watch.events())


def verdicts(events):
    return [e for e in events if isinstance(e, RolloutVerdict)]


def test_the_watch_fails_a_statefulset_whose_claim_names_a_missing_class():
    _, events = run(
        [
            ("StatefulSet", "ADDED", statefulset(ready=0)),
            ("PersistentVolumeClaim", "ADDED", claim(storage_class="nope")),
        ],
        names=(),
        statefulsets=["db"],
    )
    [verdict] = verdicts(events)
    assert verdict.name == "statefulset/db" and not verdict.ok
    assert verdict.message == (
        'statefulset "db" will not roll out: '
        'claim data-db-0 is unbound: StorageClass "nope" does not exist'
    )


def test_the_watch_names_the_provisioners_failure_event_of_a_claim():
    _, events = run(
        [
            ("StatefulSet", "ADDED", statefulset(ready=0)),
            ("PersistentVolumeClaim", "ADDED", claim()),
            ("Event", "ADDED", claim_event("ProvisioningFailed", "disk full")),
        ],
        names=(),
        statefulsets=["db"],
    )
    [verdict] = verdicts(events)
    assert verdict.message.endswith("claim data-db-0 is unbound: ProvisioningFailed: disk full")


def test_the_watch_passes_a_ready_statefulset_once_its_claim_is_bound():
    _, events = run(
        [
            ("PersistentVolumeClaim", "ADDED", claim(phase="Bound")),
            ("StatefulSet", "ADDED", statefulset()),
        ],
        names=(),
        statefulsets=["db"],
    )
    assert [v.ok for v in verdicts(events)] == [True]


def test_a_statefulset_that_never_gets_ready_times_out_naming_its_unbound_claim():
    _, events = run(
        [
            ("StatefulSet", "ADDED", statefulset(ready=0)),
            ("PersistentVolumeClaim", "ADDED", claim()),
        ],
        names=(),
        timeout=0.5,
        statefulsets=["db"],
    )
    [verdict] = verdicts(events)
    assert not verdict.ok
    assert verdict.message == (
        'timed out: Waiting for statefulset "db": 1 pods to be ready... '
        "(claim data-db-0 is unbound: Pending (class periph-kwok))"
    )


def test_a_failed_job_the_deploy_started_fails_the_rollout_by_name():
    failed = {
        "metadata": {"name": "seed"},
        "spec": {},
        "status": {
            "conditions": [{"type": "Failed", "status": "True", "reason": "DeadlineExceeded"}]
        },
    }
    watch, events = run([("Job", "ADDED", failed)], names=(), jobs=["seed"])
    [verdict] = verdicts(events)
    assert (verdict.name, verdict.message) == ("job/seed", 'job "seed" failed: DeadlineExceeded')
    assert watch.failed() == ["job/seed"]


def backend(replicas, ready):
    return {
        "metadata": {"name": "backend", "generation": replicas},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "backend"}}},
        "status": {
            "observedGeneration": replicas,
            "replicas": ready,
            "updatedReplicas": ready,
            "availableReplicas": ready,
        },
    }


HPA = {
    "metadata": {"name": "backend"},
    "spec": {"minReplicas": 2, "scaleTargetRef": {"kind": "Deployment", "name": "backend"}},
}


def test_a_deployment_below_its_hpa_floor_waits_for_the_hpa_to_raise_it_and_says_so():
    _, events = run(
        [
            ("Deployment", "ADDED", backend(replicas=1, ready=1)),
            ("Deployment", "MODIFIED", backend(replicas=2, ready=1)),
            ("Deployment", "MODIFIED", backend(replicas=2, ready=2)),
        ],
        names=("backend",),
        read={"classes": None, "hpas": [HPA]},
    )
    notes = [e.text for e in events if isinstance(e, Note)]
    assert notes == ["waiting for the HPA backend to raise replicas to 2"]
    [verdict] = verdicts(events)
    assert verdict.ok and verdict.message == 'deployment "backend" successfully rolled out'
    assert events.index(verdict) > max(i for i, e in enumerate(events) if isinstance(e, Note))


def test_a_deployment_is_not_judged_done_before_the_hpas_are_read():
    watch = w.RolloutWatch(ApiClient(), "ns", ["backend"], 0.5)
    watch.watches = []
    watch.queue.put(("Deployment", "ADDED", backend(replicas=1, ready=1)))
    [verdict] = verdicts(list(watch.events()))
    assert not verdict.ok and verdict.message == "timed out: reading the HPAs' floors..."


# --- the test cluster's provisioner --------------------------------------------------------


def test_the_provisioner_binds_a_pending_claim_of_its_class_with_a_volume_of_its_size():
    pending = {
        "metadata": {"name": "data-db-0", "namespace": "demo", "uid": "u-1"},
        "spec": {
            "storageClassName": prov.STORAGE_CLASS,
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": "10Gi"}},
        },
        "status": {"phase": "Pending"},
    }
    volume = prov.volume_for(pending)
    assert volume["metadata"]["name"] == "pvc-u-1"
    assert volume["spec"]["capacity"] == {"storage": "10Gi"}
    assert volume["spec"]["claimRef"] == {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "namespace": "demo",
        "name": "data-db-0",
        "uid": "u-1",
    }


def test_the_provisioner_leaves_claims_of_other_classes_and_bound_claims_alone():
    other = {
        "metadata": {"uid": "u"},
        "spec": {"storageClassName": "nope"},
        "status": {"phase": "Pending"},
    }
    bound = {
        "metadata": {"uid": "u"},
        "spec": {"storageClassName": prov.STORAGE_CLASS, "volumeName": "pvc-u"},
        "status": {"phase": "Bound"},
    }
    assert prov.volume_for(other) is None and prov.volume_for(bound) is None


def test_the_provisioners_class_is_the_clusters_default():
    assert st.default_class([prov.storage_class()]) == prov.STORAGE_CLASS
