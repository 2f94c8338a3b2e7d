"""Server-side apply's pure parts: the order objects are applied in, and a conflict read
from the API server's Status into the field and the manager that owns it."""

from __future__ import annotations

import json

from periph_env.deploy.kube_rest import ApplyConflict, conflict_error, conflicts_of, ordered
from periph_env.errors import EngineError

STATUS = {
    "kind": "Status",
    "status": "Failure",
    "reason": "Conflict",
    "code": 409,
    "details": {
        "causes": [
            {
                "reason": "FieldManagerConflict",
                "message": 'conflict with "other" using v1',
                "field": '.spec.ports[port=5058,protocol="TCP"].targetPort',
            }
        ]
    },
}


def _obj(kind: str, name: str = "x") -> dict:
    return {"apiVersion": "v1", "kind": kind, "metadata": {"name": name}}


def test_namespaces_secrets_and_claims_go_before_the_workloads_that_need_them():
    objs = [_obj("Deployment"), _obj("Service"), _obj("Secret"), _obj("Namespace"),
            _obj("PersistentVolumeClaim"), _obj("StatefulSet"), _obj("NetworkPolicy")]  # fmt: skip
    assert [o["kind"] for o in ordered(objs)] == [
        "Namespace", "Secret", "PersistentVolumeClaim", "Service", "NetworkPolicy",
        "StatefulSet", "Deployment",
    ]  # fmt: skip


def test_objects_of_one_kind_keep_the_order_they_were_rendered_in():
    objs = [_obj("Service", "b"), _obj("Service", "a")]
    assert [o["metadata"]["name"] for o in ordered(objs)] == ["b", "a"]


def test_a_conflict_names_the_field_and_the_manager():
    assert conflicts_of(json.dumps(STATUS)) == [
        ('.spec.ports[port=5058,protocol="TCP"].targetPort', "other")
    ]


def test_the_error_for_a_conflict_names_the_object_field_and_manager_and_how_to_settle_it():
    error = conflict_error(
        _obj("Service", "backend"), conflicts_of(json.dumps(STATUS)), EngineError("409")
    )
    assert isinstance(error, ApplyConflict) and error.exit_code == 1
    assert error.message == (
        "Service/backend: not applied: "
        ".spec.ports[port=5058,protocol=\"TCP\"].targetPort is managed by 'other'"
    )
    assert "--force-conflicts" in (error.hint or "")


def test_a_body_that_is_no_status_gives_no_conflicts():
    assert conflicts_of("<html>") == [] and conflicts_of(None) == []
