-- periph: expand
-- Backtest results, a time series keyed by when they were computed. With TimescaleDB
-- (production) the table becomes a hypertable; plain Postgres (the offline dev image)
-- keeps an ordinary table with the same columns, so the code is identical on both.
CREATE TABLE IF NOT EXISTS job_results (
    job_id        bigint           NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    strategy_id   bigint           NOT NULL,
    computed_at   timestamptz      NOT NULL DEFAULT now(),
    total_return  double precision NOT NULL,
    max_drawdown  double precision NOT NULL,
    trades        integer          NOT NULL,
    final_equity  double precision NOT NULL,
    duration_ms   double precision NOT NULL,
    PRIMARY KEY (job_id, computed_at)
);
CREATE INDEX IF NOT EXISTS job_results_strategy_idx ON job_results (strategy_id, computed_at DESC);

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb') THEN
        CREATE EXTENSION IF NOT EXISTS timescaledb;
        PERFORM create_hypertable('job_results', 'computed_at', if_not_exists => TRUE);
    ELSE
        RAISE NOTICE 'timescaledb not available; job_results stays a plain table';
    END IF;
END
$$;
