// Package store holds the backend's SQL.
package store

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Strategy is one row of strategies.
type Strategy struct {
	ID         int64     `json:"id"`
	Name       string    `json:"name"`
	Symbol     string    `json:"symbol"`
	FastWindow int       `json:"fast_window"`
	SlowWindow int       `json:"slow_window"`
	CreatedAt  time.Time `json:"created_at"`
}

// Result is a finished backtest.
type Result struct {
	TotalReturn float64   `json:"total_return"`
	MaxDrawdown float64   `json:"max_drawdown"`
	Trades      int       `json:"trades"`
	FinalEquity float64   `json:"final_equity"`
	DurationMS  float64   `json:"duration_ms"`
	ComputedAt  time.Time `json:"computed_at"`
}

// Job is one backtest request with its result once done.
type Job struct {
	ID         int64      `json:"id"`
	StrategyID int64      `json:"strategy_id"`
	Status     string     `json:"status"`
	Error      *string    `json:"error,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
	Result     *Result    `json:"result,omitempty"`
}

// ErrNotFound is returned when a strategy does not exist.
var ErrNotFound = errors.New("not found")

// Store wraps the connection pool.
type Store struct{ Pool *pgxpool.Pool }

// ListStrategies returns every strategy, newest first.
func (s Store) ListStrategies(ctx context.Context) ([]Strategy, error) {
	rows, err := s.Pool.Query(ctx, `SELECT id, name, symbol, fast_window, slow_window, created_at
		FROM strategies ORDER BY id DESC LIMIT 500`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Strategy, error) {
		var st Strategy
		err := r.Scan(&st.ID, &st.Name, &st.Symbol, &st.FastWindow, &st.SlowWindow, &st.CreatedAt)
		return st, err
	})
}

// CreateStrategy inserts a strategy and its first queued job in one transaction.
func (s Store) CreateStrategy(ctx context.Context, st Strategy) (Strategy, Job, error) {
	var job Job
	err := pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `INSERT INTO strategies (name, symbol, fast_window, slow_window)
			VALUES ($1, $2, $3, $4) RETURNING id, created_at`,
			st.Name, st.Symbol, st.FastWindow, st.SlowWindow).Scan(&st.ID, &st.CreatedAt); err != nil {
			return err
		}
		job.StrategyID = st.ID
		return tx.QueryRow(ctx, `INSERT INTO jobs (strategy_id) VALUES ($1)
			RETURNING id, status, created_at`, st.ID).Scan(&job.ID, &job.Status, &job.CreatedAt)
	})
	return st, job, err
}

// MarkFailed records that a job could not be handed to the worker.
func (s Store) MarkFailed(ctx context.Context, jobID int64, reason string) error {
	_, err := s.Pool.Exec(ctx, `UPDATE jobs SET status = 'failed', error = $2, finished_at = now()
		WHERE id = $1`, jobID, reason)
	return err
}

// ListJobs returns the latest jobs with their results; strategyID 0 means all.
func (s Store) ListJobs(ctx context.Context, strategyID int64) ([]Job, error) {
	rows, err := s.Pool.Query(ctx, `SELECT j.id, j.strategy_id, j.status, j.error, j.created_at, j.finished_at,
			r.total_return, r.max_drawdown, r.trades, r.final_equity, r.duration_ms, r.computed_at
		FROM jobs j
		LEFT JOIN LATERAL (SELECT * FROM job_results WHERE job_id = j.id
			ORDER BY computed_at DESC LIMIT 1) r ON true
		WHERE $1 = 0 OR j.strategy_id = $1
		ORDER BY j.id DESC LIMIT 200`, strategyID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Job, error) {
		var j Job
		var ret, dd, eq, dur *float64
		var trades *int
		var at *time.Time
		if err := r.Scan(&j.ID, &j.StrategyID, &j.Status, &j.Error, &j.CreatedAt, &j.FinishedAt,
			&ret, &dd, &trades, &eq, &dur, &at); err != nil {
			return j, err
		}
		if ret != nil {
			j.Result = &Result{TotalReturn: *ret, MaxDrawdown: *dd, Trades: *trades,
				FinalEquity: *eq, DurationMS: *dur, ComputedAt: *at}
		}
		return j, nil
	})
}

// StrategyExists reports whether id names a strategy.
func (s Store) StrategyExists(ctx context.Context, id int64) (bool, error) {
	var ok bool
	err := s.Pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM strategies WHERE id = $1)`, id).Scan(&ok)
	return ok, err
}
