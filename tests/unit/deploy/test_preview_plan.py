"""Preview names, TTLs and the demo render made a preview: what a preview is, on paper."""

from __future__ import annotations

import re
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from periph_env.deploy import preview_plan as pp
from periph_env.deploy.manifests import MANAGED_BY
from periph_env.errors import UsageError

ROOT = Path(__file__).resolve().parents[3]
NOW = datetime(2026, 12, 2, 21, 0, tzinfo=UTC)
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def namespace_obj(name: str, labels: dict | None = None, expires: str | None = None) -> dict:
    annotations = {pp.EXPIRES_ANNOTATION: expires} if expires is not None else {}
    return {
        "kind": "Namespace",
        "metadata": {"name": name, "labels": labels or {}, "annotations": annotations},
    }


def preview_ns(slug: str, expires: str | None) -> dict:
    return namespace_obj(pp.namespace(slug), pp.labels_for(slug), expires)


# -- names ----------------------------------------------------------------------------


def test_a_plain_branch_name_is_its_own_slug():
    assert pp.slug("feature-login") == "feature-login"
    assert pp.namespace("feature-login") == "peripheral-pr-feature-login"


@pytest.mark.parametrize(
    "branch",
    ["feat/Login_Page", "UPPER", "a..b", "-lead-", "émoji-✨", "x" * 200, "feat/" + "y" * 80],
)
def test_every_branch_name_gives_a_dns_label_namespace_within_63_characters(branch):
    slug = pp.slug(branch)
    assert DNS_LABEL.match(slug), slug
    assert len(pp.namespace(slug)) <= 63
    assert DNS_LABEL.match(pp.namespace(slug))


def test_branches_that_differ_only_in_characters_a_slug_drops_get_different_previews():
    assert pp.slug("feat/a") != pp.slug("feat-a")
    assert pp.slug("Feat-A") != pp.slug("feat-a")


def test_two_long_branches_sharing_their_first_50_characters_get_different_previews():
    common = "feature-" + "x" * 60
    assert pp.slug(common + "-one") != pp.slug(common + "-two")


def test_the_slug_of_a_branch_is_stable():
    assert pp.slug("feat/Login") == pp.slug("feat/Login")


def test_an_empty_branch_name_is_a_usage_error():
    with pytest.raises(UsageError, match="branch name"):
        pp.slug("  ")


# -- TTL ------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "seconds"), [("90", 90), ("30m", 1800), ("24h", 86400),
                                               ("2d", 172800), ("1.5h", 5400)])  # fmt: skip
def test_a_ttl_reads_seconds_minutes_hours_and_days(text, seconds):
    assert pp.parse_ttl(text) == seconds


@pytest.mark.parametrize("text", ["soon", "-1h", "0", "31d", "5w"])
def test_a_ttl_that_is_not_a_positive_duration_up_to_30_days_is_a_usage_error(text):
    with pytest.raises(UsageError, match="--ttl"):
        pp.parse_ttl(text)


def test_the_expiry_is_rfc3339_utc():
    assert pp.expires_at(NOW, 3600) == "2026-12-02T22:00:00Z"
    assert pp.parse_time("2026-12-02T22:00:00Z") == NOW + timedelta(hours=1)


# -- which namespaces are previews ----------------------------------------------------


def test_a_labelled_namespace_named_by_its_slug_is_a_preview():
    assert pp.is_preview(preview_ns("feat", "2026-12-03T00:00:00Z"))


@pytest.mark.parametrize(
    "decoy",
    [
        namespace_obj("peripheral-demo", {MANAGED_BY: "periph"}),
        namespace_obj("peripheral-prod", {MANAGED_BY: "periph", pp.PREVIEW_LABEL: "prod"}),
        namespace_obj("peripheral-pr-hand-made"),  # the name, no labels
        namespace_obj("peripheral-pr-x", {pp.PREVIEW_LABEL: "x"}),  # not managed by periph
        namespace_obj("peripheral-pr-x", {MANAGED_BY: "helm", pp.PREVIEW_LABEL: "x"}),
        namespace_obj("team-x", {MANAGED_BY: "periph", pp.PREVIEW_LABEL: "x"}),  # other name
        namespace_obj("peripheral-demo", {MANAGED_BY: "periph", pp.PREVIEW_LABEL: "demo"}),
    ],
)
def test_demo_prod_and_namespaces_without_both_labels_and_the_matching_name_are_not_previews(
    decoy,
):
    assert not pp.is_preview(decoy)
    assert pp.expired([decoy], NOW + timedelta(days=365)) == []


def test_gc_selects_only_expired_previews():
    namespaces = [
        preview_ns("old", "2026-12-02T20:59:59Z"),
        preview_ns("due-now", "2026-12-02T21:00:00Z"),
        preview_ns("fresh", "2026-12-02T21:00:01Z"),
        namespace_obj("peripheral-demo", {MANAGED_BY: "periph"}, "2000-01-01T00:00:00Z"),
    ]
    assert [p.slug for p in pp.expired(namespaces, NOW)] == ["old", "due-now"]


def test_a_preview_whose_expiry_is_missing_or_unreadable_counts_as_expired():
    namespaces = [preview_ns("undated", None), preview_ns("garbled", "next tuesday")]
    assert {p.slug for p in pp.expired(namespaces, NOW)} == {"undated", "garbled"}


def test_a_preview_already_being_deleted_is_not_collected_again():
    terminating = preview_ns("going", "2000-01-01T00:00:00Z")
    terminating["status"] = {"phase": "Terminating"}
    assert pp.expired([terminating], NOW) == []


def test_previews_are_listed_soonest_to_expire_first():
    namespaces = [preview_ns("b", "2026-12-04T00:00:00Z"), preview_ns("a", "2026-12-03T00:00:00Z")]
    assert [p.slug for p in pp.previews(namespaces)] == ["a", "b"]


# -- the demo render made a preview ---------------------------------------------------


@pytest.fixture(scope="module")
def demo_render() -> list[dict]:
    out = subprocess.run(
        ["kubectl", "kustomize", str(ROOT / "k8s/overlays/demo")],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return [d for d in yaml.safe_load_all(out) if d]


def test_every_preview_object_lives_in_the_preview_namespace_with_its_labels(demo_render):
    objs = pp.preview_objects(demo_render, "feat", "demo.peripheral.internal", "feat.x.y")
    assert objs
    for obj in objs:
        assert obj["metadata"]["namespace"] == "peripheral-pr-feat", obj["metadata"]["name"]
        assert obj["metadata"]["labels"][pp.PREVIEW_LABEL] == "feat"
        assert obj["metadata"]["labels"][MANAGED_BY] == "periph"


def test_a_preview_serves_its_own_host_and_never_demos(demo_render):
    objs = pp.preview_objects(
        demo_render, "feat", "demo.peripheral.internal", "feat.peripheral.internal"
    )
    assert pp.ingress_hosts(objs) == ["feat.peripheral.internal"]
    text = yaml.safe_dump_all(objs)
    assert "demo.peripheral.internal" not in text
    secrets = {t["secretName"] for o in objs if o["kind"] == "Ingress" for t in o["spec"]["tls"]}
    assert secrets == {"pr-feat-tls"}


def test_a_preview_leaves_out_backups_autoscaling_and_disruption_budgets(demo_render):
    kinds = {o["kind"] for o in pp.preview_objects(demo_render, "f", "", "f.x.y")}
    assert "Deployment" in kinds and "StatefulSet" in kinds
    assert not kinds & {"CronJob", "HorizontalPodAutoscaler", "PodDisruptionBudget"}


def test_the_demo_ingress_domain_is_the_demo_host_without_its_first_label(demo_render):
    assert pp.domain_of(pp.ingress_hosts(demo_render)[0]) == "peripheral.internal"


def test_a_demo_host_without_a_domain_is_a_usage_error_naming_the_setting():
    with pytest.raises(UsageError) as caught:
        pp.domain_of("localhost")
    assert caught.value.hint == "set [preview] domain in periph.toml"


def test_the_preview_namespace_keeps_pod_security_and_carries_branch_and_expiry():
    template = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": "peripheral-demo",
            "labels": {"pod-security.kubernetes.io/enforce": "restricted"},
            "annotations": {"periph.dev/prune": "never"},
        },
    }
    ns = pp.namespace_object(template, "feat", "feat/Login", "2026-12-03T21:00:00Z")
    meta = ns["metadata"]
    assert meta["name"] == "peripheral-pr-feat"
    assert meta["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    assert meta["annotations"] == {
        pp.BRANCH_ANNOTATION: "feat/Login",
        pp.EXPIRES_ANNOTATION: "2026-12-03T21:00:00Z",
    }
    assert pp.is_preview(ns)
    assert template["metadata"]["name"] == "peripheral-demo"  # the input is left as it was


def test_the_quota_and_limit_range_come_from_the_preview_table():
    sizing = pp.Sizing.from_config({"cpu": "2", "pods": 10, "ttl": "24h"})
    quota, limits = pp.guard_objects("peripheral-pr-f", pp.labels_for("f"), sizing)
    assert quota["kind"] == "ResourceQuota" and limits["kind"] == "LimitRange"
    assert quota["spec"]["hard"]["requests.cpu"] == "2"
    assert quota["spec"]["hard"]["pods"] == "10"
    assert limits["spec"]["limits"][0]["type"] == "Container"


def test_an_unknown_key_in_the_preview_table_is_a_usage_error_naming_it():
    with pytest.raises(UsageError, match="cpus"):
        pp.Sizing.from_config({"cpus": "2"})


def test_the_default_quota_fits_the_demo_stack(demo_render):
    """The demo stack's requests and limits (every pod at its rendered replicas) fit."""

    def quantity(value: str) -> float:
        units = {"m": 1e-3, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30}
        for suffix, factor in units.items():
            if value.endswith(suffix):
                return float(value[: -len(suffix)]) * factor
        return float(value)

    totals = {"requests.cpu": 0.0, "requests.memory": 0.0, "limits.cpu": 0.0,
              "limits.memory": 0.0, "pods": 0.0}  # fmt: skip
    for obj in pp.preview_objects(demo_render, "f", "", "f.x.y"):
        if obj["kind"] not in ("Deployment", "StatefulSet"):
            continue
        replicas = obj["spec"].get("replicas", 1)
        # A rolling update runs one surge pod beside the old ones.
        pods = replicas + 1
        totals["pods"] += pods
        spec = obj["spec"]["template"]["spec"]
        for c in spec.get("containers", []) + spec.get("initContainers", []):
            res = c.get("resources", {})
            for kind in ("requests", "limits"):
                for what in ("cpu", "memory"):
                    value = res.get(kind, {}).get(what)
                    if value:
                        totals[f"{kind}.{what}"] += quantity(str(value)) * pods
    hard = pp.guard_objects("ns", {}, pp.Sizing())[0]["spec"]["hard"]
    for key, used in totals.items():
        assert used <= quantity(hard[key]), f"{key}: the stack needs {used}, quota {hard[key]}"


def preview_named(slug: str, phase: str = "Active") -> pp.Preview:
    return pp.Preview(slug, pp.namespace(slug), slug, "2099-01-01T00:00:00Z", "", phase)


def test_a_new_preview_beyond_the_maximum_is_refused_naming_the_running_ones():
    found = [preview_named("a"), preview_named("b")]
    assert pp.room_for(found, "c", 2) == "2 previews already run on the demo cluster (max 2): a, b"


def test_updating_an_existing_preview_fits_even_at_the_maximum():
    assert pp.room_for([preview_named("a"), preview_named("b")], "a", 2) is None


def test_previews_being_deleted_leave_room():
    assert pp.room_for([preview_named("a"), preview_named("b", "Terminating")], "c", 2) is None


@pytest.mark.parametrize("value", [0, -1, "5", 2.5, True])
def test_a_maximum_that_is_not_a_whole_number_of_at_least_one_is_a_usage_error(value):
    with pytest.raises(UsageError, match=r"\[preview\] max"):
        pp.max_previews({"max": value})


def test_the_maximum_defaults_to_five():
    assert pp.max_previews({}) == 5
