-- periph: expand
-- Fail loudly where TimescaleDB is expected but job_results is a plain table.
-- 0003 keeps a plain table when the server has no timescaledb extension (the offline
-- dev image). That must not happen silently in production: an environment that expects
-- TimescaleDB starts Postgres with `-c peripheral.require_timescaledb=on` (the prod
-- overlay does), and there this migration stops the migration Job (and with it the
-- deploy, before any Deployment changes) when the extension is missing or job_results
-- is not a hypertable: a db image built on plain Postgres, or a database whose 0003 ran
-- before the base image switched (0003 never re-runs). Elsewhere it does nothing.
DO $$
DECLARE
    is_hypertable boolean;
BEGIN
    IF coalesce(current_setting('peripheral.require_timescaledb', true), 'off') <> 'on' THEN
        RETURN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') THEN
        RAISE EXCEPTION 'TimescaleDB is required here (peripheral.require_timescaledb=on) but the database has no timescaledb extension'
            USING HINT = 'build the db image on a TimescaleDB base (DB_BASE_IMAGE, docs/k8s.md "TimescaleDB"); available here: '
                || CASE WHEN EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb')
                        THEN 'yes, run CREATE EXTENSION timescaledb as the superuser' ELSE 'no' END;
    END IF;
    EXECUTE 'SELECT EXISTS (SELECT 1 FROM timescaledb_information.hypertables
                             WHERE hypertable_schema = ''public'' AND hypertable_name = ''job_results'')'
       INTO is_hypertable;
    IF NOT is_hypertable THEN
        RAISE EXCEPTION 'TimescaleDB is required here but job_results is a plain table (0003 ran without the extension)'
            USING HINT = 'as the superuser: SELECT create_hypertable(''job_results'', ''computed_at'', migrate_data => true); then migrate again';
    END IF;
END
$$;
