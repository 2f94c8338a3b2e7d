"""History records round-trip through their ConfigMap and are ordered and capped."""

from __future__ import annotations

import json

from periph_env.deploy import history as h


def record(revision=1, status="succeeded", **kw):
    return h.Record(
        environment="demo", revision=revision, action="deploy", status=status,
        user="dev@example.com", started="2026-11-27T06:00:00+00:00", **kw,
    )  # fmt: skip


def test_record_round_trips_through_its_config_map():
    original = record(
        git_sha="abc123",
        images={"peripheral-backend": "r/peripheral-backend@sha256:" + "a" * 64},
        deployments={"backend": 4},
        templates={"backend": "5d8f"},
        duration=12.5,
    )
    cm = h.encode(original, "peripheral-demo")
    assert cm["metadata"]["name"] == "periph.deploy.demo.v1"
    assert cm["metadata"]["namespace"] == "peripheral-demo"
    assert h.decode(cm) == original


def test_labels_make_records_findable_by_environment_revision_and_status():
    labels = h.encode(record(7, "rolled-back"), "ns")["metadata"]["labels"]
    assert labels == {
        "owner": "periph",
        "periph.dev/environment": "demo",
        "periph.dev/revision": "7",
        "periph.dev/status": "rolled-back",
    }
    assert h.selector("demo") == "owner=periph,periph.dev/environment=demo"


def test_unknown_fields_from_a_newer_periph_are_ignored():
    cm = h.encode(record(), "ns")
    data = json.loads(cm["data"][h.DATA_KEY])
    data["added_later"] = True
    cm["data"][h.DATA_KEY] = json.dumps(data)
    assert h.decode(cm).revision == 1


def test_ordered_newest_first_and_skips_unreadable():
    cms = [h.encode(record(r), "ns") for r in (2, 10, 3)]
    cms.append({"data": {h.DATA_KEY: "not json"}})
    assert [r.revision for r in h.ordered(cms)] == [10, 3, 2]


def test_next_revision_and_expiry():
    records = [record(r) for r in range(1, 25)]
    assert h.next_revision(records) == 25
    assert h.next_revision([]) == 1
    assert [r.revision for r in h.expired(records, keep=20)] == [4, 3, 2, 1]
