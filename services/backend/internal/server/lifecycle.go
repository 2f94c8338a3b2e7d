package server

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"
)

// Lifecycle is the process's own serving state, which readiness reports: ready to serve
// until a shutdown begins, then draining.
type Lifecycle struct {
	draining atomic.Bool
}

// StartDraining makes readiness fail from now on; requests are still served.
func (l *Lifecycle) StartDraining() { l.draining.Store(true) }

// Draining reports whether a shutdown has begun.
func (l *Lifecycle) Draining() bool { return l != nil && l.draining.Load() }

// Stopper is what GracefulStop needs from an http.Server (and what tests record).
type Stopper interface {
	SetKeepAlivesEnabled(bool)
	Shutdown(context.Context) error
}

// GracefulStop is the order that drops no request when a pod leaves a Service:
//
//  1. readiness turns 503 and keep-alive ends, so load balancers (and clients holding a
//     connection to this pod) move to other pods, while every request that still
//     arrives is served;
//  2. wait `drain`: endpoint removal takes a few seconds to reach kube-proxy and the
//     ingress controller;
//  3. Shutdown: stop accepting, let in-flight requests finish within `timeout`.
//
// wait is time.Sleep-like but cancellable (tests pass one that records the call).
func GracefulStop(log *slog.Logger, life *Lifecycle, drain, timeout time.Duration,
	wait func(time.Duration), servers ...Stopper) error {
	life.StartDraining()
	for _, s := range servers {
		s.SetKeepAlivesEnabled(false)
	}
	log.Info("draining: readiness fails, still serving", "drain_seconds", drain.Seconds())
	if drain > 0 {
		wait(drain)
	}
	log.Info("shutting down", "timeout_seconds", timeout.Seconds())
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var errs []error
	for _, s := range servers {
		if err := s.Shutdown(ctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
