"""History records round-trip through their ConfigMap and are ordered and capped."""

from __future__ import annotations

import json

import pytest

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


def test_ordered_newest_first_with_an_unreadable_record_in_its_place():
    cms = [h.encode(record(r), "ns") for r in (2, 10, 3)]
    cms.append({"metadata": {"name": "periph.deploy.demo.v7"}, "data": {h.DATA_KEY: "not json"}})
    listed = h.ordered(cms)
    assert [(r.revision, r.status) for r in listed] == [
        (10, "succeeded"), (7, h.UNREADABLE), (3, "succeeded"), (2, "succeeded"),
    ]  # fmt: skip
    assert h.next_revision(listed) == 11


def odd(data: object, name: str = "periph.deploy.demo.v4") -> dict:
    """A ConfigMap with periph's name and labels holding ``data`` as its record."""
    text = data if isinstance(data, str) else json.dumps(data)
    return {
        "metadata": {"name": name, "labels": {h.ENV_LABEL: "demo"}},
        "data": {h.DATA_KEY: text},
    }


GOOD = record(4).as_dict()
SECRETISH = "Tr0ub4dor&3-in-the-record"


@pytest.mark.parametrize(
    ("configmap", "why"),
    [
        ({"metadata": {"name": "periph.deploy.demo.v4"}}, "no record.json in its data"),
        ({"metadata": {"name": "periph.deploy.demo.v4"}, "data": ["a"]}, "no record.json"),
        (odd("{" + SECRETISH), "record.json is not JSON (line 1, column 2)"),
        (odd([SECRETISH]), "record.json holds a list, expected an object"),
        (odd({"revision": 4, "note": SECRETISH}), "record.json lacks environment, action"),
        (odd({**GOOD, "revision": SECRETISH}), "revision is a string, of the wrong type"),
        (odd({**GOOD, "revision": True}), "revision is a boolean, of the wrong type"),
        (odd({**GOOD, "duration": SECRETISH}), "duration is a string, of the wrong type"),
        (odd({**GOOD, "images": [SECRETISH]}), "images is a list, of the wrong type"),
        (odd({**GOOD, "templates": {"backend": [SECRETISH]}}), "templates holds a list"),
        (odd({**GOOD, "message": "x" * (h.MAX_RECORD_BYTES + 1)}), "larger than any record"),
        (odd("[" * 100_000), "record.json is"),
        (odd({**GOOD, "revision": 9}), "its name says revision 4, its record 9"),
    ],
)
def test_an_odd_history_config_map_is_unreadable_with_its_name_and_why(configmap, why):
    (shown,) = h.ordered([configmap])
    assert shown.status == h.UNREADABLE
    assert shown.revision == 4
    assert shown.message.startswith("unreadable record periph.deploy.demo.v4: ")
    assert why in shown.message
    assert SECRETISH not in json.dumps(shown.as_dict())


def test_a_config_map_that_is_not_an_object_is_listed_as_unnamed():
    (shown,) = h.ordered(["just a string"])  # type: ignore[list-item]
    assert (shown.revision, shown.status) == (0, h.UNREADABLE)
    assert "(unnamed)" in shown.message


def test_next_revision_and_expiry():
    records = [record(r) for r in range(1, 25)]
    assert h.next_revision(records) == 25
    assert h.next_revision([]) == 1
    assert [r.revision for r in h.expired(records, keep=20)] == [4, 3, 2, 1]
