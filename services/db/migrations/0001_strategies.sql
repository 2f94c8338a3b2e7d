-- periph: expand
-- Trading strategies: a moving-average crossover on one symbol.
CREATE TABLE IF NOT EXISTS strategies (
    id          bigserial   PRIMARY KEY,
    name        text        NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    symbol      text        NOT NULL DEFAULT 'DEMO' CHECK (symbol ~ '^[A-Z]{1,10}$'),
    fast_window integer     NOT NULL DEFAULT 5  CHECK (fast_window >= 1),
    slow_window integer     NOT NULL DEFAULT 20 CHECK (slow_window > fast_window),
    created_at  timestamptz NOT NULL DEFAULT now()
);
