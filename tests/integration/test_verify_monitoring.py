"""k8s/monitoring: the alert rules pass Prometheus' own rule validation and name only metrics
that exist; the dashboard queries parse and name only metrics that exist.

Prometheus' validation is the code `promtool check rules` runs (``rulefmt.ParseFile``: YAML
shape, PromQL of every expression, templates of every annotation), built once from the Go
module proxy into ``cache_dir()/tools/bin`` as a small program (promtool itself pulls in
every service-discovery plugin: many minutes of compiling on two cores). The same program
lists the metric names each expression selects, from the parsed syntax tree.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from periph_env.common.paths import cache_dir

pytestmark = pytest.mark.tools

ROOT = Path(__file__).resolve().parents[2]
MONITORING = ROOT / "k8s" / "monitoring"
PROMETHEUS = "github.com/prometheus/prometheus"
PROMETHEUS_VERSION = "v0.316.0"
RULECHECK_GO = """\
// rulecheck FILE...: Prometheus' own rule-file validation (what `promtool check rules`
// runs). A file ending in .promql holds one expression per line instead. Prints JSON:
// {"file": {"errors": [...], "metrics": [...]}}; exit 1 when any file has errors.
package main

import (
	"encoding/json"
	"log/slog"
	"os"
	"sort"
	"strings"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
)

type result struct {
	Errors  []string `json:"errors"`
	Metrics []string `json:"metrics"`
}

func main() {
	p := parser.NewParser(parser.Options{})
	out := map[string]*result{}
	failed := false
	for _, file := range os.Args[1:] {
		r := &result{Errors: []string{}, Metrics: []string{}}
		out[file] = r
		var exprs []string
		if strings.HasSuffix(file, ".promql") {
			data, err := os.ReadFile(file)
			if err != nil {
				r.Errors = append(r.Errors, err.Error())
			}
			for _, line := range strings.Split(string(data), "\\n") {
				if strings.TrimSpace(line) != "" {
					exprs = append(exprs, line)
				}
			}
		} else {
			groups, errs := rulefmt.ParseFile(file, false, model.UTF8Validation, p, slog.Default())
			for _, err := range errs {
				r.Errors = append(r.Errors, err.Error())
			}
			if groups != nil {
				for _, g := range groups.Groups {
					for _, rule := range g.Rules {
						exprs = append(exprs, rule.Expr)
					}
				}
			}
		}
		seen := map[string]bool{}
		for _, e := range exprs {
			expr, err := p.ParseExpr(e)
			if err != nil {
				r.Errors = append(r.Errors, err.Error())
				continue
			}
			parser.Inspect(expr, func(node parser.Node, _ []parser.Node) error {
				if vs, ok := node.(*parser.VectorSelector); ok && vs.Name != "" {
					seen[vs.Name] = true
				}
				return nil
			})
		}
		for name := range seen {
			r.Metrics = append(r.Metrics, name)
		}
		sort.Strings(r.Metrics)
		failed = failed || len(r.Errors) > 0
	}
	json.NewEncoder(os.Stdout).Encode(out)
	if failed {
		os.Exit(1)
	}
}
"""
# Metrics the cluster's standard exporters provide, not the services: the rules watch pods,
# limits and the backup CronJob through them (docs/cluster-monitoring.md lists them).
CLUSTER_METRICS = {
    "up": "Prometheus (scrape result)",
    "kube_pod_container_status_restarts_total": "kube-state-metrics",
    "kube_pod_container_resource_limits": "kube-state-metrics",
    "kube_job_failed": "kube-state-metrics",
    "kube_job_status_start_time": "kube-state-metrics",
    "kube_deployment_spec_replicas": "kube-state-metrics",
    "kube_cronjob_status_last_successful_time": "kube-state-metrics",
    "container_cpu_usage_seconds_total": "cAdvisor (kubelet)",
    "container_memory_working_set_bytes": "cAdvisor (kubelet)",
}
HISTOGRAM_SUFFIXES = ("_bucket", "_count", "_sum")


@pytest.fixture(scope="module")
def rulecheck() -> Path:
    """The rule checker, built once per machine (cached by Prometheus version)."""
    bin_dir = cache_dir() / "tools" / "bin"
    binary = bin_dir / f"rulecheck-{PROMETHEUS_VERSION}"
    if binary.exists():
        return binary
    go = shutil.which("go") or "/usr/local/go/bin/go"
    src = cache_dir() / "tools" / "src" / f"rulecheck-{PROMETHEUS_VERSION}"
    src.mkdir(parents=True, exist_ok=True)
    (src / "go.mod").write_text("module periph.local/rulecheck\n\ngo 1.24\n")
    (src / "main.go").write_text(RULECHECK_GO)
    env = {**os.environ, "CGO_ENABLED": "0"}
    for argv in (
        [go, "get", f"{PROMETHEUS}@{PROMETHEUS_VERSION}"],
        [go, "mod", "tidy"],
        [go, "build", "-trimpath", "-o", str(binary), "."],
    ):
        proc = subprocess.run(argv, cwd=src, env=env, capture_output=True, text=True, timeout=900)
        assert proc.returncode == 0, f"{' '.join(argv)} failed:\n{proc.stderr[-3000:]}"
    return binary


def check(rulecheck: Path, *files: Path) -> tuple[int, dict]:
    proc = subprocess.run(
        [str(rulecheck), *map(str, files)], capture_output=True, text=True, timeout=60
    )
    return proc.returncode, json.loads(proc.stdout or "{}")


def exported_metrics() -> set[str]:
    """Metric names the services register, read from their code (Go and Python)."""
    names: set[str] = set()
    for path in (ROOT / "services").rglob("*.go"):
        if "node_modules" not in path.parts and not path.name.endswith("_test.go"):
            names |= set(re.findall(r'Name:\s*"([a-z_:][a-z0-9_:]*)"', path.read_text()))
    for path in (ROOT / "services").rglob("*.py"):
        if "node_modules" not in path.parts and "tests" not in path.parts:
            names |= set(
                re.findall(
                    r'(?:Counter|Gauge|Histogram|Summary)\(\s*"([a-z_:][a-z0-9_:]*)"',
                    path.read_text(),
                )
            )
    # prometheus_client exposes a Counter "x_total" under that name; histograms as series.
    return names | {n + s for n in names for s in HISTOGRAM_SUFFIXES}


def dashboard_exprs() -> list[str]:
    """Every dashboard query with Grafana's variables filled in as Prometheus would see them."""
    board = json.loads((MONITORING / "grafana-dashboard.json").read_text())
    exprs = [t["expr"] for p in board["panels"] for t in p.get("targets", [])]
    return [
        e.replace("$__rate_interval", "5m").replace("$namespace", "peripheral-prod") for e in exprs
    ]


def test_the_plain_rules_file_passes_prometheus_rule_validation(rulecheck: Path) -> None:
    code, out = check(rulecheck, MONITORING / "alert-rules.yaml")
    assert code == 0, out


def test_the_prometheusrule_spec_passes_prometheus_rule_validation(
    rulecheck: Path, tmp_path: Path
) -> None:
    rule = yaml.safe_load((MONITORING / "prometheusrule.yaml").read_text())
    assert (rule["apiVersion"], rule["kind"]) == ("monitoring.coreos.com/v1", "PrometheusRule")
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(rule["spec"]))
    code, out = check(rulecheck, spec)
    assert code == 0, out


def test_the_operator_rule_and_the_plain_file_hold_the_same_alerts() -> None:
    rule = yaml.safe_load((MONITORING / "prometheusrule.yaml").read_text())
    plain = yaml.safe_load((MONITORING / "alert-rules.yaml").read_text())
    assert rule["spec"] == plain


def test_the_rules_cover_what_the_guide_asks_for() -> None:
    plain = yaml.safe_load((MONITORING / "alert-rules.yaml").read_text())
    alerts = {r["alert"] for g in plain["groups"] for r in g["rules"]}
    assert {
        "BackendDown",
        "BackendHighErrorRate",
        "PodRestarting",
        "ContainerCpuNearLimit",
        "ContainerMemoryNearLimit",
        "BackupJobFailed",
        "BackupMissing",
    } <= alerts


def test_a_broken_rule_is_rejected_with_its_reason(rulecheck: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "groups:\n  - name: g\n    rules:\n      - alert: Broken\n"
        "        expr: sum(rate(backend_http_requests_total[5m])\n"
    )
    code, out = check(rulecheck, bad)
    assert code == 1
    assert any("unclosed left parenthesis" in e for e in out[str(bad)]["errors"]), out


def test_every_metric_the_rules_name_is_exported_or_a_cluster_metric(rulecheck: Path) -> None:
    _, out = check(rulecheck, MONITORING / "alert-rules.yaml")
    named = set(out[str(MONITORING / "alert-rules.yaml")]["metrics"])
    exported = exported_metrics()
    assert "backend_http_requests_total" in exported  # the scan reads the services' code
    assert "backend_http_requests_total" in named
    unknown = sorted(named - exported - set(CLUSTER_METRICS))
    assert not unknown, f"rules name metrics nothing exports: {unknown}"


def test_the_dashboard_queries_parse_and_name_exported_metrics(
    rulecheck: Path, tmp_path: Path
) -> None:
    queries = tmp_path / "dashboard.promql"
    queries.write_text("\n".join(dashboard_exprs()) + "\n")
    code, out = check(rulecheck, queries)
    assert code == 0, out
    named = set(out[str(queries)]["metrics"])
    unknown = sorted(named - exported_metrics() - set(CLUSTER_METRICS))
    assert not unknown, f"dashboard names metrics nothing exports: {unknown}"
