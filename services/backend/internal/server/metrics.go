package server

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics are the backend's Prometheus series, on their own registry so tests can
// build as many servers as they like.
type Metrics struct {
	Registry     *prometheus.Registry
	Requests     *prometheus.CounterVec
	Latency      *prometheus.HistogramVec
	JobsEnqueued prometheus.Counter
	WSClients    prometheus.Gauge
}

// NewMetrics registers every series plus the Go and process collectors.
func NewMetrics() *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		Registry: reg,
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "backend_http_requests_total",
			Help: "HTTP requests by route pattern, method and status code.",
		}, []string{"route", "method", "status"}),
		Latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "backend_http_request_duration_seconds",
			Help:    "HTTP request latency by route pattern and method.",
			Buckets: prometheus.DefBuckets,
		}, []string{"route", "method"}),
		JobsEnqueued: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "backend_jobs_enqueued_total",
			Help: "Backtest jobs handed to the worker queue.",
		}),
		WSClients: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "backend_ws_clients",
			Help: "WebSocket clients currently connected to /ws.",
		}),
	}
	reg.MustRegister(m.Requests, m.Latency, m.JobsEnqueued, m.WSClients,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}
