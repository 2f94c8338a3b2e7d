#!/bin/sh
# Runs once, on an empty data directory, after the user and database exist.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" <<'SQL'
DO $$
BEGIN
    -- Timestamps are stored and compared in UTC whatever the host says.
    EXECUTE format('ALTER DATABASE %I SET timezone TO %L', current_database(), 'UTC');
    -- A runaway query must not hold locks forever (migrations set their own).
    EXECUTE format('ALTER DATABASE %I SET idle_in_transaction_session_timeout TO %L',
                   current_database(), '5min');
    IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb') THEN
        CREATE EXTENSION IF NOT EXISTS timescaledb;
    ELSE
        RAISE NOTICE 'timescaledb is not available in this image; using plain Postgres';
    END IF;
END
$$;
SQL
