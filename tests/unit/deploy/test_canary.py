"""`periph deploy --canary`: the canary's object, what a canary deploy may change, and its
verdict (pure: no cluster, no clock)."""

from __future__ import annotations

import json

import pytest

from periph_env.cli import deploy_cmd, main
from periph_env.deploy import events as ev
from periph_env.deploy.canary_judge import (
    Decision,
    as_record,
    canary_deployment,
    canary_selector,
    decide,
    is_canary,
    scope_problems,
)
from periph_env.deploy.verify_rate import Totals

RENDERED = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {
        "name": "backend",
        "namespace": "peripheral-demo",
        "labels": {"app.kubernetes.io/name": "backend", "app.kubernetes.io/managed-by": "periph"},
    },
    "spec": {
        "selector": {"matchLabels": {"app.kubernetes.io/name": "backend"}},
        "template": {
            "metadata": {"labels": {"app.kubernetes.io/name": "backend"}},
            "spec": {"containers": [{"name": "backend", "image": "r/b@sha256:new"}]},
        },
    },
}
SERVICE_SELECTOR = {"app.kubernetes.io/name": "backend"}
RULES = {"max_ratio": 0.05, "min_requests": 20, "max_restarts": 0}


def judged(canary: Totals, baseline: Totals, restarts: int = 0, final: bool = False) -> Decision:
    return decide(canary, baseline, restarts, final=final, **RULES)


# -- the canary Deployment ------------------------------------------------------------------


def test_the_canary_is_one_pod_named_after_its_deployment():
    canary = canary_deployment(RENDERED)
    assert canary["metadata"]["name"] == "backend-canary"
    assert canary["spec"]["replicas"] == 1
    assert canary["metadata"]["annotations"]["periph.dev/canary-of"] == "backend"


def test_the_canary_pods_match_the_service_selector_so_they_take_traffic():
    labels = canary_deployment(RENDERED)["spec"]["template"]["metadata"]["labels"]
    assert SERVICE_SELECTOR.items() <= labels.items()
    assert labels["periph.dev/track"] == "canary"


def test_the_canary_selects_only_its_own_track_never_an_old_pod():
    selector = canary_deployment(RENDERED)["spec"]["selector"]["matchLabels"]
    assert selector == {"app.kubernetes.io/name": "backend", "periph.dev/track": "canary"}
    assert canary_selector(RENDERED) == "app.kubernetes.io/name=backend,periph.dev/track=canary"


def test_the_canary_runs_the_new_pod_template_and_leaves_the_rendered_one_alone():
    before = json.dumps(RENDERED, sort_keys=True)
    canary = canary_deployment(RENDERED)
    assert canary["spec"]["template"]["spec"] == RENDERED["spec"]["template"]["spec"]
    assert json.dumps(RENDERED, sort_keys=True) == before


# -- what a canary deploy may change --------------------------------------------------------


def summary(*changes: tuple[str, str, str]) -> ev.Summary:
    return ev.Summary((), tuple(ev.ObjectChange(k, n, a) for k, n, a in changes))


def test_a_release_changing_only_deployments_can_be_a_canary():
    changes = summary(
        ("Deployment", "backend", "changed"),
        ("Deployment", "frontend", "changed"),
        ("Secret", "backend-secrets", "unchanged"),
        ("ConfigMap", "old-one", "removed"),
    )
    assert scope_problems(changes, "backend") == []


def test_a_release_changing_a_secret_or_configmap_is_refused_naming_them():
    changes = summary(
        ("Deployment", "backend", "changed"),
        ("Secret", "backend-secrets", "changed"),
        ("ConfigMap", "backend-config", "added"),
    )
    assert scope_problems(changes, "backend") == [
        "Secret/backend-secrets changed",
        "ConfigMap/backend-config added",
    ]


def test_a_first_deploy_has_no_old_pods_to_compare_with():
    problems = scope_problems(summary(("Deployment", "backend", "added")), "backend")
    assert problems == [
        "Deployment/backend is not deployed yet: a canary needs old pods to compare with"
    ]


# -- the verdict ----------------------------------------------------------------------------


def test_a_canary_failing_above_the_threshold_and_the_old_pods_is_aborted_at_once():
    decision = judged(Totals(20, 10), Totals(60, 0))
    assert decision.promote is False
    assert decision.reason == (
        "canary 10 of 20 requests 5xx (50.0%) vs baseline 0 of 60 requests 5xx (0.0%): above "
        "the threshold 5.0% and the old pods' ratio"
    )


def test_a_canary_failing_before_min_requests_is_not_judged_yet():
    assert judged(Totals(19, 19), Totals(60, 0)).promote is None


def test_a_canary_as_bad_as_the_failing_old_pods_is_not_blamed():
    assert judged(Totals(40, 8), Totals(80, 16)).promote is None  # both 20 %


def test_a_canary_worse_than_failing_old_pods_is_aborted():
    assert judged(Totals(40, 20), Totals(80, 16)).promote is False  # 50 % vs 20 %


def test_a_canary_with_no_old_pod_traffic_is_judged_on_the_threshold():
    assert judged(Totals(20, 2), Totals()).promote is False  # 10 % vs none


def test_a_canary_under_the_threshold_keeps_being_watched_until_the_window_ends():
    assert judged(Totals(40, 1), Totals(80, 0)).promote is None  # 2.5 %


def test_a_healthy_canary_is_promoted_at_the_end_of_the_window():
    decision = judged(Totals(40, 1), Totals(80, 0), final=True)
    assert decision.promote is True
    assert decision.reason.startswith("canary 1 of 40 requests 5xx (2.5%) vs baseline 0 of 80")


def test_a_canary_that_saw_too_few_requests_is_not_promoted():
    decision = judged(Totals(3, 0), Totals(9, 0), final=True)
    assert decision.promote is False
    assert decision.reason.startswith("too few requests to judge: the canary handled 3 (at least")


def test_a_restarting_canary_is_aborted_whatever_its_ratio():
    decision = judged(Totals(), Totals(), restarts=1)
    assert (decision.promote, decision.reason) == (
        False,
        "1 canary container restart(s) (allowed 0)",
    )


def test_the_history_figures_hold_both_ratios_and_the_outcome():
    canary, baseline = Totals(20, 10), Totals(60, 0)
    record = as_record("aborted", judged(canary, baseline), canary, baseline, 0, 60.0, 0.05)
    assert record["outcome"] == "aborted" and record["threshold"] == 0.05
    assert record["canary"] == {"requests": 20, "errors": 10, "ratio": 0.5}
    assert record["baseline"] == {"requests": 60, "errors": 0, "ratio": 0.0}


# -- the command line -----------------------------------------------------------------------


def test_a_canary_round_reads_as_both_ratios_side_by_side():
    sample = ev.CanarySample(6.0, 60.0, 20, 10, 0.5, 60, 0, 0.0, 0.05, 0, True, "aborting")
    assert deploy_cmd._text(sample) == (
        "   FAIL canary 50.0% of 20 vs baseline 0.0% of 60 at 6/60s: aborting"
    )
    assert sample.as_dict()["event"] == "canary"


def test_a_zero_canary_window_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["deploy", "demo", "--canary-window", "0"])
    assert exc.value.code == 2
    assert "a canary needs a window above zero" in capsys.readouterr().err


def test_canary_window_implies_canary(monkeypatch):
    seen = {}

    def fake_deploy(root, environment, options):
        seen["options"] = options
        yield ev.Finished("dry-run", 0, 0.1)

    monkeypatch.setattr("periph_env.deploy.deploy", fake_deploy)
    monkeypatch.setattr(deploy_cmd, "_root", lambda: ".")
    assert main(["deploy", "demo", "--dry-run", "--canary-window", "2m"]) == 0
    assert (seen["options"].canary, seen["options"].canary_window) == (True, 120.0)


def test_a_release_leaving_the_backend_unchanged_has_nothing_to_judge():
    problems = scope_problems(summary(("Deployment", "backend", "unchanged")), "backend")
    assert problems == ["Deployment/backend does not change: nothing to judge"]


def test_only_a_canary_made_by_periph_counts_as_a_canary():
    assert is_canary(canary_deployment(RENDERED))
    assert not is_canary(RENDERED)


def test_a_render_without_the_watched_deployment_has_no_canary_to_make():
    problems = scope_problems(summary(("Deployment", "frontend", "changed")), "backend")
    assert problems == ["the render has no Deployment/backend ([verify] deployment)"]
