"""k8s/monitoring/tests: the alert rules' unit tests, run by Prometheus's own rules engine.

The test files are in ``promtool test rules`` format (an operator can run them with
promtool). Here a small program evaluates them with the same packages promtool's
``unittest.go`` uses (``rules.Manager`` over ``promqltest``'s loader), built once from the
Go module proxy into ``cache_dir()/tools/bin`` (promtool itself pulls in every
service-discovery plugin: many minutes of compiling on two cores).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from periph_env.common.paths import cache_dir
from tests.integration.test_verify_monitoring import PROMETHEUS, PROMETHEUS_VERSION

pytestmark = pytest.mark.tools

ROOT = Path(__file__).resolve().parents[2]
MONITORING = ROOT / "k8s" / "monitoring"
RULE_TESTS = MONITORING / "tests" / "alert-rules.test.yaml"
RULETEST_GO = """\
// ruletest FILE...: Prometheus alert-rule unit tests, in `promtool test rules` files,
// evaluated by Prometheus's own rules engine (rules.Manager over promqltest's loader,
// exactly as promtool's unittest.go drives it). Only `alert_rule_test` is supported
// (what our rules need); promtool itself pulls in every service-discovery plugin, many
// minutes of compiling on two cores. Prints JSON {"file": ["failure", ...]}; exit 1 when
// any test fails, 2 when a file cannot be read or its rules not loaded.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/promql/promqltest"
	"github.com/prometheus/prometheus/rules"
	"go.yaml.in/yaml/v3"
)

type expAlert struct {
	ExpLabels      map[string]string `yaml:"exp_labels"`
	ExpAnnotations map[string]string `yaml:"exp_annotations"`
}

type alertTest struct {
	EvalTime  model.Duration `yaml:"eval_time"`
	Alertname string         `yaml:"alertname"`
	ExpAlerts []expAlert     `yaml:"exp_alerts"`
}

type series struct {
	Series string `yaml:"series"`
	Values string `yaml:"values"`
}

type testGroup struct {
	Name           string         `yaml:"name"`
	Interval       model.Duration `yaml:"interval"`
	InputSeries    []series       `yaml:"input_series"`
	AlertRuleTests []alertTest    `yaml:"alert_rule_test"`
}

type testFile struct {
	RuleFiles          []string       `yaml:"rule_files"`
	EvaluationInterval model.Duration `yaml:"evaluation_interval"`
	Tests              []testGroup    `yaml:"tests"`
}

func main() {
	out := map[string][]string{}
	code := 0
	for _, file := range os.Args[1:] {
		failures, err := runFile(file)
		if err != nil {
			out[file] = []string{"error: " + err.Error()}
			code = 2
			continue
		}
		out[file] = failures
		if len(failures) > 0 && code == 0 {
			code = 1
		}
	}
	json.NewEncoder(os.Stdout).Encode(out)
	os.Exit(code)
}

func runFile(file string) ([]string, error) {
	raw, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var tf testFile
	if err := yaml.Unmarshal(raw, &tf); err != nil {
		return nil, err
	}
	if tf.EvaluationInterval == 0 {
		tf.EvaluationInterval = model.Duration(time.Minute)
	}
	var ruleFiles []string
	for _, rf := range tf.RuleFiles {
		if !filepath.IsAbs(rf) {
			rf = filepath.Join(filepath.Dir(file), rf)
		}
		ruleFiles = append(ruleFiles, rf)
	}
	failures := []string{}
	for i, tg := range tf.Tests {
		if tg.Name == "" {
			tg.Name = fmt.Sprintf("test %d", i)
		}
		fs, err := runGroup(tg, time.Duration(tf.EvaluationInterval), ruleFiles)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", tg.Name, err)
		}
		failures = append(failures, fs...)
	}
	return failures, nil
}

func loadString(tg testGroup) string {
	var b strings.Builder
	iv := tg.Interval
	if iv == 0 {
		iv = model.Duration(time.Minute)
	}
	fmt.Fprintf(&b, "load %s\\n", iv)
	for _, s := range tg.InputSeries {
		fmt.Fprintf(&b, "  %s %s\\n", s.Series, s.Values)
	}
	return b.String()
}

func runGroup(tg testGroup, evalInterval time.Duration, ruleFiles []string) ([]string, error) {
	p := parser.NewParser(parser.Options{})
	suite, err := promqltest.NewLazyLoader(loadString(tg), promqltest.LazyLoaderOpts{
		EnableAtModifier: true, EnableNegativeOffset: true, Parser: p,
	})
	if err != nil {
		return nil, err
	}
	defer suite.Close()
	suite.SubqueryInterval = evalInterval
	m := rules.NewManager(&rules.ManagerOptions{
		QueryFunc:    rules.EngineQueryFunc(suite.QueryEngine(), suite.Storage()),
		AppendableV2: suite.Storage(),
		Context:      context.Background(),
		NotifyFunc:   func(context.Context, string, ...*rules.Alert) {},
		Logger:       slog.New(slog.DiscardHandler),
		Parser:       p,
	})
	groupsMap, errs := m.LoadGroups(evalInterval, labels.EmptyLabels(), "", nil, false,
		ruleFiles...)
	if errs != nil {
		return nil, fmt.Errorf("loading rules: %v", errs)
	}
	names := make([]string, 0, len(groupsMap))
	for n := range groupsMap {
		names = append(names, n)
	}
	sort.Strings(names)
	var groups []*rules.Group
	for _, n := range names {
		g := groupsMap[n]
		for _, r := range g.Rules() {
			if ar, ok := r.(*rules.AlertingRule); ok {
				ar.SetRestored(true)
			}
		}
		groups = append(groups, g)
	}
	byTime := map[model.Duration][]alertTest{}
	var times []model.Duration
	var maxEval model.Duration
	for _, at := range tg.AlertRuleTests {
		if _, seen := byTime[at.EvalTime]; !seen {
			times = append(times, at.EvalTime)
		}
		byTime[at.EvalTime] = append(byTime[at.EvalTime], at)
		if at.EvalTime > maxEval {
			maxEval = at.EvalTime
		}
	}
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	mint := time.Unix(0, 0).UTC()
	maxt := mint.Add(time.Duration(maxEval))
	var failures []string
	var evalErr error
	curr := 0
	for ts := mint; !ts.After(maxt); ts = ts.Add(evalInterval) {
		suite.WithSamplesTill(ts, func(err error) {
			if err != nil {
				evalErr = err
				return
			}
			for _, g := range groups {
				g.Eval(suite.Context(), ts)
				for _, r := range g.Rules() {
					if r.LastError() != nil {
						evalErr = fmt.Errorf("rule %s at %s: %w",
							r.Name(), ts.Sub(mint), r.LastError())
					}
				}
			}
		})
		if evalErr != nil {
			return nil, evalErr
		}
		for curr < len(times) && ts.Sub(mint) <= time.Duration(times[curr]) &&
			time.Duration(times[curr]) < ts.Add(evalInterval).Sub(mint) {
			for _, at := range byTime[times[curr]] {
				failures = append(failures, compare(tg.Name, at, groups)...)
			}
			curr++
		}
	}
	return failures, nil
}

// compare checks the firing alerts named at.Alertname against the expected ones: labels
// exactly; annotations only those the test names.
func compare(name string, at alertTest, groups []*rules.Group) []string {
	var got []string
	var gotAnn []map[string]string
	for _, g := range groups {
		for _, r := range g.Rules() {
			ar, ok := r.(*rules.AlertingRule)
			if !ok || ar.Name() != at.Alertname {
				continue
			}
			for _, a := range ar.ActiveAlerts() {
				if a.State == rules.StateFiring {
					got = append(got, a.Labels.String())
					gotAnn = append(gotAnn, a.Annotations.Map())
				}
			}
		}
	}
	var want []string
	for _, e := range at.ExpAlerts {
		l := map[string]string{"alertname": at.Alertname}
		for k, v := range e.ExpLabels {
			l[k] = v
		}
		want = append(want, labels.FromMap(l).String())
		for k, v := range e.ExpAnnotations {
			found := false
			for _, ann := range gotAnn {
				if ann[k] == v {
					found = true
				}
			}
			if !found {
				return []string{fmt.Sprintf("%s: %s at %s: no firing alert has annotation %s=%q",
					name, at.Alertname, at.EvalTime, k, v)}
			}
		}
	}
	sort.Strings(got)
	sort.Strings(want)
	if strings.Join(got, "\\n") != strings.Join(want, "\\n") {
		return []string{fmt.Sprintf("%s: %s at %s:\\n  want %v\\n  got  %v",
			name, at.Alertname, at.EvalTime, want, got)}
	}
	return nil
}
"""


@pytest.fixture(scope="module")
def ruletest() -> Path:
    """The rule-test runner, built once per machine (cached by version and source)."""
    tag = hashlib.sha256(RULETEST_GO.encode()).hexdigest()[:12]
    binary = cache_dir() / "tools" / "bin" / f"ruletest-{PROMETHEUS_VERSION}-{tag}"
    if binary.exists():
        return binary
    go = shutil.which("go") or "/usr/local/go/bin/go"
    src = cache_dir() / "tools" / "src" / f"ruletest-{PROMETHEUS_VERSION}"
    src.mkdir(parents=True, exist_ok=True)
    (src / "go.mod").write_text("module periph.local/ruletest\n\ngo 1.24\n")
    (src / "main.go").write_text(RULETEST_GO)
    env = {**os.environ, "CGO_ENABLED": "0"}
    for argv in (
        [go, "get", f"{PROMETHEUS}@{PROMETHEUS_VERSION}"],
        [go, "mod", "tidy"],
        [go, "build", "-trimpath", "-o", str(binary), "."],
    ):
        proc = subprocess.run(argv, cwd=src, env=env, capture_output=True, text=True, timeout=1800)
        assert proc.returncode == 0, f"{' '.join(argv)} failed:\n{proc.stderr[-3000:]}"
    return binary


def run(ruletest: Path, *files: Path) -> tuple[int, dict[str, list[str]]]:
    proc = subprocess.run(
        [str(ruletest), *map(str, files)], capture_output=True, text=True, timeout=120
    )
    return proc.returncode, json.loads(proc.stdout or "{}")


def _names(path: Path) -> list[str]:
    return [t["name"] for t in yaml.safe_load(path.read_text())["tests"]]


def test_the_rule_tests_cover_prod_down_while_demo_is_up_and_a_retried_backup() -> None:
    names = _names(RULE_TESTS)
    assert "prod down while demo is up fires for prod only" in names
    assert "a failed backup pod whose retry succeeded pages nobody" in names


def test_every_alert_rule_test_passes(ruletest: Path) -> None:
    code, out = run(ruletest, RULE_TESTS)
    assert (code, out) == (0, {str(RULE_TESTS): []})


def _with_old_rule(tmp_path: Path, alert: str, expr: str) -> Path:
    """A copy of the rules and their tests where ``alert`` has the given expression."""
    rules = yaml.safe_load((MONITORING / "alert-rules.yaml").read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            if rule.get("alert") == alert:
                rule["expr"] = expr
    (tmp_path / "alert-rules.yaml").write_text(yaml.safe_dump(rules))
    tests = tmp_path / "tests"
    tests.mkdir()
    shutil.copy(RULE_TESTS, tests / RULE_TESTS.name)
    return tests / RULE_TESTS.name


def test_the_old_backend_down_summed_across_namespaces_fails_the_prod_down_case(
    ruletest: Path, tmp_path: Path
) -> None:
    up = 'up{app_kubernetes_io_name="backend"}'
    old = f"sum({up}) == 0 or absent({up})"
    code, out = run(ruletest, _with_old_rule(tmp_path, "BackendDown", old))
    failures = "\n".join(next(iter(out.values())))
    assert code == 1
    assert "prod down while demo is up fires for prod only: BackendDown" in failures


def test_the_old_backup_rule_counting_failed_pods_fails_the_retried_backup_case(
    ruletest: Path, tmp_path: Path
) -> None:
    old = 'kube_job_status_failed{namespace=~"peripheral-.*", job_name=~"db-backup-.*"} > 0'
    code, out = run(ruletest, _with_old_rule(tmp_path, "BackupJobFailed", old))
    failures = "\n".join(next(iter(out.values())))
    assert code == 1
    assert "a failed backup pod whose retry succeeded pages nobody: BackupJobFailed" in failures
