#!/bin/sh
# Runs once, on an empty data directory, after 10-peripheral.sh. When the entrypoint split
# the superuser from the app (PERIPHERAL_APP_USER set), create the app's role: LOGIN,
# no superuser, no CREATEDB / CREATEROLE / REPLICATION, owner of POSTGRES_DB and of its
# public schema, so migrations can create tables and the backup can dump them, and
# nothing else. The password goes in through a psql variable, never a command line
# (which `ps` would show).
set -eu
if [ -z "${PERIPHERAL_APP_USER:-}" ]; then
    exit 0
fi
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    --set=app_user="$PERIPHERAL_APP_USER" --set=app_password="$PERIPHERAL_APP_PASSWORD" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION PASSWORD %L',
              :'app_user', :'app_password')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'app_user') \gexec
SELECT format('ALTER DATABASE %I OWNER TO %I', current_database(), :'app_user') \gexec
SELECT format('ALTER SCHEMA public OWNER TO %I', :'app_user') \gexec
SQL
