package server

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/peripheral/periph/services/backend/internal/store"
)

// Store is the part of store.Store the handlers use.
type Store interface {
	ListStrategies(ctx context.Context) ([]store.Strategy, error)
	CreateStrategy(ctx context.Context, st store.Strategy) (store.Strategy, store.Job, error)
	MarkFailed(ctx context.Context, jobID int64, reason string) error
	ListJobs(ctx context.Context, strategyID int64) ([]store.Job, error)
	StrategyExists(ctx context.Context, id int64) (bool, error)
}

// Enqueue hands a job to the worker.
type Enqueue func(ctx context.Context, jobID, strategyID int64) error

// NewStrategy is the body of POST /api/strategies.
type NewStrategy struct {
	Name       string `json:"name"`
	Symbol     string `json:"symbol"`
	FastWindow int    `json:"fast_window"`
	SlowWindow int    `json:"slow_window"`
}

var symbolRe = regexp.MustCompile(`^[A-Z]{1,10}$`)

// Validate fills defaults and returns a user-facing message for the first problem.
func (n *NewStrategy) Validate() error {
	n.Name = strings.TrimSpace(n.Name)
	n.Symbol = strings.ToUpper(strings.TrimSpace(n.Symbol))
	if n.Symbol == "" {
		n.Symbol = "DEMO"
	}
	if n.FastWindow == 0 {
		n.FastWindow = 5
	}
	if n.SlowWindow == 0 {
		n.SlowWindow = 20
	}
	switch {
	case n.Name == "" || len(n.Name) > 100:
		return errors.New("name is required (1-100 characters)")
	case !symbolRe.MatchString(n.Symbol):
		return errors.New("symbol must be 1-10 letters")
	case n.FastWindow < 1 || n.FastWindow > 200:
		return errors.New("fast_window must be between 1 and 200")
	case n.SlowWindow <= n.FastWindow || n.SlowWindow > 500:
		return errors.New("slow_window must be greater than fast_window and at most 500")
	}
	return nil
}

func (a *API) listStrategies(w http.ResponseWriter, r *http.Request) {
	out, err := a.Store.ListStrategies(r.Context())
	if err != nil {
		a.serverError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"strategies": nonNil(out)})
}

func (a *API) createStrategy(w http.ResponseWriter, r *http.Request) {
	if !a.Features.StrategyCreate {
		writeError(w, http.StatusForbidden, "creating strategies is switched off (FEATURE_STRATEGY_CREATE=false)")
		return
	}
	var in NewStrategy
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		writeError(w, http.StatusBadRequest, "body must be a JSON object with name, symbol, fast_window, slow_window")
		return
	}
	if err := in.Validate(); err != nil {
		writeError(w, http.StatusUnprocessableEntity, err.Error())
		return
	}
	st, job, err := a.Store.CreateStrategy(r.Context(), store.Strategy{
		Name: in.Name, Symbol: in.Symbol, FastWindow: in.FastWindow, SlowWindow: in.SlowWindow,
	})
	if err != nil {
		a.serverError(w, r, err)
		return
	}
	// Enqueue after commit so the worker never sees a job id it cannot read yet.
	if err := a.Enqueue(r.Context(), job.ID, st.ID); err != nil {
		a.Log.Error("enqueue failed", "job_id", job.ID, "strategy_id", st.ID, "error", a.Redact(err.Error()))
		_ = a.Store.MarkFailed(context.WithoutCancel(r.Context()), job.ID, "could not enqueue")
		writeError(w, http.StatusServiceUnavailable, "job queue unavailable; strategy saved, job marked failed")
		return
	}
	a.Metrics.JobsEnqueued.Inc()
	a.Log.Info("job enqueued", "job_id", job.ID, "strategy_id", st.ID)
	writeJSON(w, http.StatusCreated, map[string]any{"strategy": st, "job": job})
}

func (a *API) listJobs(w http.ResponseWriter, r *http.Request) {
	var id int64
	raw := r.PathValue("id")
	if raw == "" {
		raw = r.URL.Query().Get("strategy_id")
	}
	if raw != "" {
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil || n < 1 {
			writeError(w, http.StatusBadRequest, "strategy id must be a positive integer")
			return
		}
		ok, err := a.Store.StrategyExists(r.Context(), n)
		if err != nil {
			a.serverError(w, r, err)
			return
		}
		if !ok {
			writeError(w, http.StatusNotFound, "no such strategy")
			return
		}
		id = n
	}
	jobs, err := a.Store.ListJobs(r.Context(), id)
	if err != nil {
		a.serverError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"jobs": nonNil(jobs)})
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
