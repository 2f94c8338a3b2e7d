"""The verify stage's glue without a cluster: monitoring applied only with the CRDs."""

from __future__ import annotations

import subprocess
from pathlib import Path

from periph_env.deploy import verify_stage
from periph_env.deploy.events import Note

ROOT = Path(__file__).resolve().parents[3]


class FakeKube:
    """Answers whether the CRD exists as told; records what would be applied."""

    def __init__(self, has_crd: bool) -> None:
        self.has_crd, self.applied, self.rendered = has_crd, [], []

    def run(self, *args, **_kw):
        return subprocess.CompletedProcess(list(args), 0 if self.has_crd else 1, "", "")

    def get(self, kind: str, name: str, **_kw):
        """The CRD through the client, as ``Kube.get`` (None: not served)."""
        return {"kind": kind, "metadata": {"name": name}} if self.has_crd else None

    def render(self, directory: str):
        self.rendered.append(directory)
        return [
            {"kind": "PrometheusRule", "metadata": {"name": "peripheral-alerts"}},
            {"kind": "ConfigMap", "metadata": {"name": "peripheral-grafana-dashboard"}},
        ]

    def apply(self, objs):
        self.applied += objs
        return objs


def test_without_the_operator_crds_monitoring_is_skipped_with_a_notice():
    kube = FakeKube(has_crd=False)
    events = list(verify_stage.apply_monitoring(kube, ROOT))
    assert [type(e) for e in events] == [Note]
    assert "monitoring skipped" in events[0].text and "alert-rules.yaml" in events[0].text
    assert kube.applied == []


def test_with_the_crds_the_rule_and_dashboard_are_applied_and_named():
    kube = FakeKube(has_crd=True)
    events = list(verify_stage.apply_monitoring(kube, ROOT))
    assert kube.rendered == [str(ROOT / "k8s" / "monitoring")]
    assert [o["kind"] for o in kube.applied] == ["PrometheusRule", "ConfigMap"]
    assert "PrometheusRule/peripheral-alerts" in events[0].text


def test_a_project_without_monitoring_files_says_nothing(tmp_path):
    assert list(verify_stage.apply_monitoring(FakeKube(has_crd=True), tmp_path)) == []


def project(tmp_path, verify_table: str):
    (tmp_path / "periph.toml").write_text(
        '[environments.demo]\nbranch = "demo"\nnamespace = "ns"\ncontext = "c"\n'
        'overlay = "k8s/overlays/demo"\n\n' + verify_table
    )
    from periph_env.deploy.target import resolve

    return resolve(tmp_path, "demo")


def test_a_broken_verify_table_refuses_before_deploying(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    guard = verify_stage.config_guard(project(tmp_path, '[verify]\nwatch_window = "soon"\n'))
    assert not guard.ok and guard.name == "verify-config"
    assert "watch_window: 'soon' is not a duration" in guard.message


def test_a_valid_verify_table_is_summarised_in_the_guard(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    guard = verify_stage.config_guard(project(tmp_path, '[verify]\nwatch_window = "2m"\n'))
    assert guard.ok and guard.message == "3 smoke check(s), 120s watch"
