// Package server is the backend's HTTP API: health, strategies, jobs, /ws and /metrics.
package server

import (
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Features mirrors config.Features: switches read at start-up.
type Features struct {
	StrategyCreate bool
	LiveJobs       bool
}

// AllFeatures is every feature on (the default when nothing is configured).
var AllFeatures = Features{StrategyCreate: true, LiveJobs: true}

// API holds the handlers' dependencies.
type API struct {
	Store     Store
	Enqueue   Enqueue
	Checks    map[string]Check
	Hub       *Hub
	Metrics   *Metrics
	Log       *slog.Logger
	Redact    func(string) string
	WSOrigins []string
	Features  Features
	// Life is this process's serving state: readiness fails once it drains.
	Life *Lifecycle
	// ReadyChecks are the Checks readiness (GET /readyz) requires: what this pod needs
	// to serve at all. Shared dependencies whose loss degrades only some routes (Redis:
	// job queue, live results) stay out, or a short outage would take every pod out of
	// the Service at once.
	ReadyChecks []string
}

// Handler returns the public, routed, instrumented handler (the Ingress's target).
// /metrics stays here too for the dev stack; in the cluster Prometheus scrapes the
// internal port, which the NetworkPolicy opens to the monitoring namespace only.
func (a *API) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/health", a.health)
	mux.HandleFunc("GET /api/strategies", a.listStrategies)
	mux.HandleFunc("POST /api/strategies", a.createStrategy)
	mux.HandleFunc("GET /api/strategies/{id}/jobs", a.listJobs)
	mux.HandleFunc("GET /api/jobs", a.listJobs)
	mux.HandleFunc("GET /ws", a.websocket)
	mux.Handle("GET /metrics", promhttp.HandlerFor(a.Metrics.Registry, promhttp.HandlerOpts{}))
	return observe(mux, a.Log, a.Metrics)
}

// InternalHandler serves the internal port: /metrics, /livez (liveness: the process
// answers), /readyz (readiness: not draining, and ReadyChecks pass) and /internal/health
// (each dependency's scrubbed error text). Requests here are neither logged nor
// counted: probes and scrapes would drown the access log.
func (a *API) InternalHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(a.Metrics.Registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /livez", livez)
	mux.HandleFunc("GET /readyz", a.readyz)
	mux.HandleFunc("GET /internal/health", a.healthDetail)
	return mux
}
