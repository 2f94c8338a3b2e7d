package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/peripheral/periph/services/backend/internal/store"
)

// memStore keeps strategies in memory; it stands in for our own SQL layer, not for
// an engine (the real Postgres path is covered by tests/integration).
type memStore struct {
	strategies []store.Strategy
	failed     []int64
}

func (m *memStore) ListStrategies(context.Context) ([]store.Strategy, error) {
	return m.strategies, nil
}
func (m *memStore) CreateStrategy(_ context.Context, st store.Strategy) (store.Strategy, store.Job, error) {
	st.ID = int64(len(m.strategies) + 1)
	m.strategies = append(m.strategies, st)
	return st, store.Job{ID: 100 + st.ID, StrategyID: st.ID, Status: "queued"}, nil
}
func (m *memStore) MarkFailed(_ context.Context, id int64, _ string) error {
	m.failed = append(m.failed, id)
	return nil
}
func (m *memStore) ListJobs(context.Context, int64) ([]store.Job, error) { return nil, nil }
func (m *memStore) StrategyExists(_ context.Context, id int64) (bool, error) {
	return id <= int64(len(m.strategies)), nil
}

func newAPI(enqueueErr error) (*API, *memStore, *bytes.Buffer) {
	logs := &bytes.Buffer{}
	st := &memStore{}
	m := NewMetrics()
	log := slog.New(slog.NewJSONHandler(logs, nil))
	return &API{
		Store:   st,
		Enqueue: func(context.Context, int64, int64) error { return enqueueErr },
		Checks: map[string]Check{
			"postgres": func(context.Context) error { return nil },
			"redis":    func(context.Context) error { return nil },
		},
		Hub: NewHub(log, m), Metrics: m, Log: log,
		Redact:   func(s string) string { return strings.ReplaceAll(s, "hunter2", "***") },
		Features: AllFeatures,
	}, st, logs
}

func do(t *testing.T, h http.Handler, method, path, body string) (*http.Response, map[string]any) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, strings.NewReader(body)))
	res := rec.Result()
	var out map[string]any
	raw, _ := io.ReadAll(res.Body)
	_ = json.Unmarshal(raw, &out)
	return res, out
}

func TestHealthIsOKWhenEveryDependencyAnswers(t *testing.T) {
	api, _, _ := newAPI(nil)
	res, body := do(t, api.Handler(), "GET", "/api/health", "")
	if res.StatusCode != 200 || body["status"] != "ok" {
		t.Fatalf("got %d %v", res.StatusCode, body)
	}
	checks := body["checks"].(map[string]any)
	if checks["postgres"] != "ok" || checks["redis"] != "ok" {
		t.Fatalf("checks: %v", checks)
	}
}

func TestPublicHealthIs503NamingTheFailedDependencyWithoutItsErrorText(t *testing.T) {
	api, _, _ := newAPI(nil)
	api.Checks["redis"] = func(context.Context) error { return errors.New("dial cache:6379 as hunter2: refused") }
	res, body := do(t, api.Handler(), "GET", "/api/health", "")
	checks := body["checks"].(map[string]any)
	if res.StatusCode != 503 || body["status"] != "degraded" || checks["postgres"] != "ok" {
		t.Fatalf("got %d %v", res.StatusCode, body)
	}
	if checks["redis"] != "error" {
		t.Fatalf("public redis check = %q, want the bare word error", checks["redis"])
	}
}

func TestInternalHealthShowsTheScrubbedErrorText(t *testing.T) {
	api, _, _ := newAPI(nil)
	api.Checks["redis"] = func(context.Context) error { return errors.New("dial cache:6379 as hunter2: refused") }
	res, body := do(t, api.InternalHandler(), "GET", "/internal/health", "")
	r := body["checks"].(map[string]any)["redis"].(string)
	if res.StatusCode != 503 || r != "error: dial cache:6379 as ***: refused" {
		t.Fatalf("got %d, redis check = %q", res.StatusCode, r)
	}
}

func TestInternalPortIsNotReachableThroughThePublicHandler(t *testing.T) {
	api, _, _ := newAPI(nil)
	for _, path := range []string{"/internal/health", "/livez"} {
		if res, _ := do(t, api.Handler(), "GET", path, ""); res.StatusCode != 404 {
			t.Errorf("public %s answered %d", path, res.StatusCode)
		}
	}
}

func TestLivezAndMetricsAnswerOnTheInternalPortWithoutDependencies(t *testing.T) {
	api, _, _ := newAPI(nil)
	api.Checks["postgres"] = func(context.Context) error { return errors.New("down") }
	if res, _ := do(t, api.InternalHandler(), "GET", "/livez", ""); res.StatusCode != 200 {
		t.Fatalf("livez answered %d", res.StatusCode)
	}
	if code, out := scrape(t, api.InternalHandler()); code != 200 || !strings.Contains(out, "backend_jobs_enqueued_total") {
		t.Fatalf("internal /metrics answered %d", code)
	}
}

func TestStrategyCreationSwitchedOffIs403AndStoresNothing(t *testing.T) {
	api, st, _ := newAPI(nil)
	api.Features.StrategyCreate = false
	res, body := do(t, api.Handler(), "POST", "/api/strategies", `{"name":"x"}`)
	if res.StatusCode != 403 || !strings.Contains(body["error"].(string), "FEATURE_STRATEGY_CREATE") || len(st.strategies) != 0 {
		t.Fatalf("got %d %v", res.StatusCode, body)
	}
	if res, _ := do(t, api.Handler(), "GET", "/api/strategies", ""); res.StatusCode != 200 {
		t.Fatalf("listing must stay available, got %d", res.StatusCode)
	}
}

func TestLiveJobsSwitchedOffClosesTheWebSocketEndpoint(t *testing.T) {
	api, _, _ := newAPI(nil)
	api.Features.LiveJobs = false
	res, body := do(t, api.Handler(), "GET", "/ws", "")
	if res.StatusCode != 404 || !strings.Contains(body["error"].(string), "FEATURE_LIVE_JOBS") {
		t.Fatalf("got %d %v", res.StatusCode, body)
	}
}

func TestCreateStrategyEnqueuesAJobAndCountsIt(t *testing.T) {
	api, st, _ := newAPI(nil)
	h := api.Handler()
	res, body := do(t, h, "POST", "/api/strategies", `{"name":"cross","symbol":"aapl"}`)
	if res.StatusCode != 201 {
		t.Fatalf("got %d %v", res.StatusCode, body)
	}
	s := body["strategy"].(map[string]any)
	if s["symbol"] != "AAPL" || s["fast_window"] != 5.0 || s["slow_window"] != 20.0 {
		t.Fatalf("defaults not applied: %v", s)
	}
	if body["job"].(map[string]any)["status"] != "queued" || len(st.strategies) != 1 {
		t.Fatalf("job: %v", body["job"])
	}
	_, metrics := scrape(t, h)
	if !strings.Contains(metrics, "backend_jobs_enqueued_total 1") {
		t.Fatal("jobs_enqueued_total not incremented")
	}
}

func TestCreateStrategyRejectsInvalidWindows(t *testing.T) {
	api, st, _ := newAPI(nil)
	res, body := do(t, api.Handler(), "POST", "/api/strategies", `{"name":"x","fast_window":30,"slow_window":10}`)
	if res.StatusCode != 422 || !strings.Contains(body["error"].(string), "slow_window") || len(st.strategies) != 0 {
		t.Fatalf("got %d %v", res.StatusCode, body)
	}
}

func TestCreateStrategyRejectsUnknownFields(t *testing.T) {
	api, _, _ := newAPI(nil)
	res, _ := do(t, api.Handler(), "POST", "/api/strategies", `{"name":"x","bogus":1}`)
	if res.StatusCode != 400 {
		t.Fatalf("got %d", res.StatusCode)
	}
}

func TestCreateStrategyMarksJobFailedWhenQueueIsDown(t *testing.T) {
	api, st, _ := newAPI(errors.New("redis down"))
	res, _ := do(t, api.Handler(), "POST", "/api/strategies", `{"name":"x"}`)
	if res.StatusCode != 503 || len(st.failed) != 1 {
		t.Fatalf("got %d, failed=%v", res.StatusCode, st.failed)
	}
}

func TestJobsForUnknownStrategyIs404(t *testing.T) {
	api, _, _ := newAPI(nil)
	res, _ := do(t, api.Handler(), "GET", "/api/strategies/9/jobs", "")
	if res.StatusCode != 404 {
		t.Fatalf("got %d", res.StatusCode)
	}
}

func TestEveryRequestLogsOneJSONLineWithRoute(t *testing.T) {
	api, _, logs := newAPI(nil)
	do(t, api.Handler(), "GET", "/api/strategies", "")
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("want one line, got %d: %s", len(lines), logs)
	}
	var rec map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &rec); err != nil {
		t.Fatal(err)
	}
	if rec["route"] != "GET /api/strategies" || rec["status"] != 200.0 {
		t.Fatalf("log line: %v", rec)
	}
}

func TestMetricsLabelRequestsByRoutePatternAndStatus(t *testing.T) {
	api, _, _ := newAPI(nil)
	h := api.Handler()
	do(t, h, "GET", "/api/strategies/7/jobs", "")
	_, out := scrape(t, h)
	want := `backend_http_requests_total{method="GET",route="GET /api/strategies/{id}/jobs",status="404"} 1`
	if !strings.Contains(out, want) {
		t.Fatalf("missing %s in\n%s", want, out)
	}
}

func scrape(t *testing.T, h http.Handler) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	return rec.Code, rec.Body.String()
}

func TestHealthAndProbeRequestsAreNeitherLoggedNorCounted(t *testing.T) {
	api, _, logs := newAPI(nil)
	h := api.Handler()
	for _, path := range []string{"/api/health", "/healthz", "/livez", "/readyz", "/metrics"} {
		do(t, h, "GET", path, "")
	}
	if logs.Len() != 0 {
		t.Fatalf("health and probe requests were logged:\n%s", logs)
	}
	_, out := scrape(t, h)
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "backend_http_requests_total{") {
			t.Fatalf("health and probe requests were counted: %s", line)
		}
	}
	// The API itself still is.
	do(t, h, "GET", "/api/strategies", "")
	_, out = scrape(t, h)
	want := `backend_http_requests_total{method="GET",route="GET /api/strategies",status="200"} 1`
	if !strings.Contains(out, want) || !strings.Contains(logs.String(), `"route":"GET /api/strategies"`) {
		t.Fatalf("the API request was not observed:\n%s\n%s", logs, out)
	}
}
