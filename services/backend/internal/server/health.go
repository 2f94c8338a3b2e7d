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

// HealthReport is the JSON body of GET /api/health.
type HealthReport struct {
	Status string            `json:"status"`
	Checks map[string]string `json:"checks"`
}

// RunChecks probes every dependency concurrently. redact scrubs secrets out of error
// text, which is returned to anonymous callers.
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

func (a *API) health(w http.ResponseWriter, r *http.Request) {
	rep := RunChecks(r.Context(), a.Checks, a.Redact)
	code := http.StatusOK
	if rep.Status != "ok" {
		code = http.StatusServiceUnavailable
	}
	writeJSON(w, code, rep)
}
