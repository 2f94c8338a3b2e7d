-- periph: expand
-- One backtest job per request; the worker moves it queued -> done | failed.
CREATE TABLE IF NOT EXISTS jobs (
    id          bigserial   PRIMARY KEY,
    strategy_id bigint      NOT NULL REFERENCES strategies (id) ON DELETE CASCADE,
    status      text        NOT NULL DEFAULT 'queued'
                            CHECK (status IN ('queued', 'done', 'failed')),
    error       text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz
);
CREATE INDEX IF NOT EXISTS jobs_strategy_id_idx ON jobs (strategy_id, id DESC);
