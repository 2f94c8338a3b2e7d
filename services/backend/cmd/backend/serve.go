package main

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/peripheral/periph/services/backend/internal/config"
	"github.com/peripheral/periph/services/backend/internal/queue"
	"github.com/peripheral/periph/services/backend/internal/server"
	"github.com/peripheral/periph/services/backend/internal/store"
)

// connectWithRetry waits for Postgres during start-up (containers start together).
func connectWithRetry[T any](ctx context.Context, log *slog.Logger, dial func(context.Context) (T, error), secrets ...string) (T, error) {
	var zero T
	deadline := time.Now().Add(60 * time.Second)
	for {
		c, err := dial(ctx)
		if err == nil {
			return c, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return zero, errors.New("connecting to postgres: " + config.Redact(err.Error(), secrets...))
		}
		log.Warn("postgres not ready, retrying", "error", config.Redact(err.Error(), secrets...))
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

func serve(ctx context.Context, log *slog.Logger) error {
	cfg, err := config.Load(config.FromOS)
	if err != nil {
		return err
	}
	redact := func(s string) string { return config.Redact(s, cfg.Secrets()...) }

	poolCfg, err := pgxpool.ParseConfig(cfg.DB.DSN())
	if err != nil {
		return errors.New("invalid database settings")
	}
	// DB_POOL_MAX_CONNS: sized with Postgres's max_connections in one ConfigMap.
	poolCfg.MaxConns = cfg.PoolMaxConns
	// The pool connects lazily, so the server starts (and reports 503) while the
	// database is still down instead of crash-looping.
	pool, err := pgxpool.NewWithConfig(ctx, poolCfg)
	if err != nil {
		return errors.New("database pool: " + redact(err.Error()))
	}
	defer pool.Close()
	rdb := redis.NewClient(&redis.Options{Addr: cfg.Redis.Addr(), Password: cfg.Redis.Password})
	defer rdb.Close()

	metrics := server.NewMetrics()
	hub := server.NewHub(log, metrics)
	st := store.Store{Pool: pool}
	api := &server.API{
		Store: st,
		Enqueue: func(ctx context.Context, jobID, strategyID int64) error {
			_, err := queue.Enqueue(ctx, rdb, jobID, strategyID)
			return err
		},
		Checks: map[string]server.Check{
			"postgres": func(ctx context.Context) error { return pool.Ping(ctx) },
			"redis":    func(ctx context.Context) error { return rdb.Ping(ctx).Err() },
		},
		Hub: hub, Metrics: metrics, Log: log, Redact: redact,
		WSOrigins: cfg.WSOrigins,
		Features:  server.Features(cfg.Features),
		Life:      &server.Lifecycle{},
		// Without Postgres this pod serves nothing (and a pod with bad credentials must
		// not get traffic); Redis only carries the queue and live results.
		ReadyChecks: []string{"postgres"},
	}
	log.Info("configuration", "pool_max_conns", cfg.PoolMaxConns,
		"feature_strategy_create", cfg.Features.StrategyCreate,
		"feature_live_jobs", cfg.Features.LiveJobs, "ws_origins", cfg.WSOrigins)

	relayCtx, stopRelay := context.WithCancel(context.Background())
	defer stopRelay()
	if cfg.Features.LiveJobs {
		go hub.Relay(relayCtx, rdb, queue.ResultChannel)
	}

	srv := &http.Server{
		Addr:              cfg.ListenAddr,
		Handler:           api.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
	}
	srv.RegisterOnShutdown(hub.CloseAll)
	errc := make(chan error, 2)
	go func() { errc <- srv.ListenAndServe() }()
	log.Info("backend listening", "addr", cfg.ListenAddr)
	stoppers := []server.Stopper{srv}
	if cfg.InternalAddr != "" {
		internal := &http.Server{
			Addr:              cfg.InternalAddr,
			Handler:           api.InternalHandler(),
			ReadHeaderTimeout: 5 * time.Second,
		}
		go func() { errc <- internal.ListenAndServe() }()
		defer internal.Close()
		// Shut down after the public server: probes and scrapes keep answering (readiness
		// with 503) for the whole drain.
		stoppers = append(stoppers, internal)
		log.Info("internal endpoints listening", "addr", cfg.InternalAddr)
	}

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	err = server.GracefulStop(log, api.Life, cfg.Drain, config.ShutdownTimeout, time.Sleep, stoppers...)
	stopRelay()
	if err != nil {
		return err
	}
	log.Info("stopped")
	return nil
}
