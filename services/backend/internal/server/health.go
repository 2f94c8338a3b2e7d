package server

import (
	"context"
	"net/http"
	"sort"
	"sync"
	"time"
)

// Check probes one dependency; nil means it answered.
type Check func(ctx context.Context) error

// healthTimeout bounds each probe so a hung dependency cannot hang the probe itself.
const healthTimeout = 2 * time.Second

// HealthReport is the JSON body of GET /api/health (Public) and of the internal port's
// GET /internal/health (with each failed check's error text).
type HealthReport struct {
	Status string            `json:"status"`
	Checks map[string]string `json:"checks"`
}

// RunChecks probes every dependency concurrently. redact scrubs secrets out of error
// text; even so, the text goes only to the internal port (see Public).
func RunChecks(ctx context.Context, checks map[string]Check, redact func(string) string) HealthReport {
	rep := HealthReport{Status: "ok", Checks: map[string]string{}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	names := make([]string, 0, len(checks))
	for n := range checks {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		wg.Add(1)
		go func(name string, c Check) {
			defer wg.Done()
			cctx, cancel := context.WithTimeout(ctx, healthTimeout)
			defer cancel()
			res := "ok"
			if err := c(cctx); err != nil {
				res = "error: " + redact(err.Error())
			}
			mu.Lock()
			rep.Checks[name] = res
			if res != "ok" {
				rep.Status = "degraded"
			}
			mu.Unlock()
		}(name, checks[name])
	}
	wg.Wait()
	return rep
}

// Public is the report as anonymous callers through the Ingress see it: each check is
// "ok" or "error", never the dependency's error text (host names, driver messages).
func (h HealthReport) Public() HealthReport {
	out := HealthReport{Status: h.Status, Checks: make(map[string]string, len(h.Checks))}
	for name, res := range h.Checks {
		if res != "ok" {
			res = "error"
		}
		out.Checks[name] = res
	}
	return out
}

func (h HealthReport) code() int {
	if h.Status != "ok" {
		return http.StatusServiceUnavailable
	}
	return http.StatusOK
}

// health is GET /api/health: readiness and the public status, without detail.
func (a *API) health(w http.ResponseWriter, r *http.Request) {
	rep := RunChecks(r.Context(), a.Checks, a.Redact)
	writeJSON(w, rep.code(), rep.Public())
}

// healthDetail is the internal port's GET /internal/health: the same checks with each
// failure's (secret-scrubbed) error text, for operators and monitoring.
func (a *API) healthDetail(w http.ResponseWriter, r *http.Request) {
	rep := RunChecks(r.Context(), a.Checks, a.Redact)
	writeJSON(w, rep.code(), rep)
}

// livez answers while the process serves HTTP; it depends on nothing else.
func livez(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz is readiness: 503 while the process drains for shutdown (so load balancers
// stop sending before it stops accepting), else the ReadyChecks only.
func (a *API) readyz(w http.ResponseWriter, r *http.Request) {
	if a.Life.Draining() {
		writeJSON(w, http.StatusServiceUnavailable, HealthReport{Status: "draining", Checks: map[string]string{}})
		return
	}
	checks := make(map[string]Check, len(a.ReadyChecks))
	for _, name := range a.ReadyChecks {
		if c, ok := a.Checks[name]; ok {
			checks[name] = c
		}
	}
	rep := RunChecks(r.Context(), checks, a.Redact)
	writeJSON(w, rep.code(), rep.Public())
}
