#!/bin/sh
# Start redis through the official entrypoint (which drops to the redis user). When
# REDIS_PASSWORD is set it is appended to the config via stdin ("-" as the last
# argument), so it never shows in `ps`, `docker inspect` or the image.
set -eu
if [ "${1:-}" = "redis-server" ] && [ -n "${REDIS_PASSWORD:-}" ]; then
    escaped=$(printf '%s' "$REDIS_PASSWORD" | sed 's/\\/\\\\/g; s/"/\\"/g')
    exec docker-entrypoint.sh "$@" - <<CONF
requirepass "$escaped"
CONF
fi
exec docker-entrypoint.sh "$@"
