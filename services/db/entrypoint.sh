#!/bin/sh
# Map the app's env names onto the official image's, then hand over to its entrypoint
# (which initialises the cluster once, runs /docker-entrypoint-initdb.d and drops to
# the postgres user).
set -eu
: "${POSTGRES_USER:=${DB_USER:-postgres}}"
: "${POSTGRES_PASSWORD:=${DB_PASSWORD:-}}"
export POSTGRES_USER POSTGRES_PASSWORD
exec docker-entrypoint.sh "$@"
