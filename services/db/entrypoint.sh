#!/bin/sh
# Map the app's env names onto the official image's, then hand over to its entrypoint
# (which initialises the cluster once, runs /docker-entrypoint-initdb.d and drops to
# the postgres user).
#
# Two ways to start:
# - DB_ADMIN_USER unset, or equal to DB_USER (the dev stack): DB_USER is the superuser the
#   image creates, as before.
# - DB_ADMIN_USER set and different (Kubernetes): the image creates DB_ADMIN_USER as the
#   superuser, with DB_ADMIN_PASSWORD, or, without one, a random password nobody is told
#   (the admin then comes in over the pod's local socket: `kubectl exec ... psql -U
#   <admin>`). initdb/20-app-role.sh creates DB_USER / DB_PASSWORD as an ordinary role
#   owning POSTGRES_DB: the app, its migrations and the backup connect as that role, so
#   they cannot touch other databases, roles or server settings.
# Either way this only matters on an empty data directory; see docs/deploy-runbook.md
# ("Rotating the database password") for rotation and for moving an existing database.
set -eu
if [ -n "${DB_ADMIN_USER:-}" ] && [ "${DB_ADMIN_USER}" != "${DB_USER:-}" ]; then
    POSTGRES_USER="$DB_ADMIN_USER"
    if [ -n "${DB_ADMIN_PASSWORD:-}" ]; then
        POSTGRES_PASSWORD="$DB_ADMIN_PASSWORD"
    else
        POSTGRES_PASSWORD="$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')"
    fi
    PERIPHERAL_APP_USER="${DB_USER:?DB_USER (the app role) must be set}"
    PERIPHERAL_APP_PASSWORD="${DB_PASSWORD:?DB_PASSWORD (the app role) must be set}"
    export PERIPHERAL_APP_USER PERIPHERAL_APP_PASSWORD
else
    : "${POSTGRES_USER:=${DB_USER:-postgres}}"
    : "${POSTGRES_PASSWORD:=${DB_PASSWORD:-}}"
fi
export POSTGRES_USER POSTGRES_PASSWORD
exec docker-entrypoint.sh "$@"
