// Package server is the backend's HTTP API: health, strategies, jobs, /ws and /metrics.
package server

import (
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

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
}

// Handler returns the routed, instrumented handler.
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
