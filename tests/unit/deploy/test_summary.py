"""The change summary: added / changed / removed objects and image moves."""

from __future__ import annotations

from periph_env.deploy.manifests import label
from periph_env.deploy.summary import changed_fields, image_changes, object_changes


def dep(name="backend", image="r/peripheral-backend@sha256:aa", replicas=2, **meta):
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "ns", **meta},
        "spec": {
            "replicas": replicas,
            "template": {"spec": {"containers": [{"name": name, "image": image}]}},
        },
    }


def live(obj):
    """What the API server returns: the object plus server-maintained fields."""
    out = {**obj, "status": {"replicas": 2}}
    out["metadata"] = {
        **obj["metadata"],
        "resourceVersion": "12",
        "uid": "u",
        "generation": 4,
        "managedFields": [{"manager": "periph"}],
        "annotations": {"deployment.kubernetes.io/revision": "3"},
    }
    return out


def test_new_object_is_added():
    [change] = object_changes([dep()], [], [], "demo")
    assert (change.kind, change.name, change.action) == ("Deployment", "backend", "added")


def test_server_fields_alone_do_not_make_a_change():
    [change] = object_changes([dep()], [live(dep())], [live(dep())], "demo")
    assert change.action == "unchanged"


def test_spec_change_names_the_changed_paths():
    [change] = object_changes([dep(replicas=3)], [live(dep(replicas=3))], [live(dep())], "demo")
    assert change.action == "changed"
    assert change.fields == ("spec.replicas",)


def test_removed_only_for_periph_labelled_objects_of_this_environment():
    [old] = label([dep("old-api")], "demo")
    [other_env] = label([dep("elsewhere")], "prod")
    unlabelled = dep("by-hand")
    changes = object_changes([], [], [], "demo", removable=[old, other_env, unlabelled])
    assert [(c.name, c.action) for c in changes] == [("old-api", "removed")]


def test_namespaces_and_claims_are_never_removed():
    ns = label([{"kind": "Namespace", "metadata": {"name": "ns"}}], "demo")
    pvc = label(
        [{"kind": "PersistentVolumeClaim", "metadata": {"name": "d", "namespace": "ns"}}], "demo"
    )
    assert object_changes([], [], [], "demo", removable=ns + pvc) == []


def test_secret_changes_name_the_field_never_a_value():
    old = {"kind": "Secret", "metadata": {"name": "s"}, "data": {"K": "b2xk"}}
    new = {"kind": "Secret", "metadata": {"name": "s"}, "data": {"K": "bmV3"}}
    assert changed_fields(old, new) == ("data",)


def test_image_moves_old_to_new_and_new_workloads_show_no_old():
    changes = image_changes(
        [dep(image="r/b@sha256:bb"), dep("worker", image="r/w@sha256:cc")],
        [live(dep(image="r/b@sha256:aa"))],
    )
    assert [(c.workload, c.old, c.new) for c in changes] == [
        ("Deployment/backend", "r/b@sha256:aa", "r/b@sha256:bb"),
        ("Deployment/worker", None, "r/w@sha256:cc"),
    ]


def test_unchanged_image_is_not_listed():
    assert image_changes([dep()], [live(dep())]) == []
