#!/bin/sh
# Start redis through the official entrypoint (which drops to the redis user). When
# REDIS_PASSWORD is set it is appended to the config via stdin ("-" as the last
# argument), so it never shows in `ps`, `docker inspect` or the image.
set -eu
# The cluster sets REDIS_REQUIRE_PASSWORD=true: an empty password there is a deploy
# mistake, and starting an open Redis would hide it.
if [ "${REDIS_REQUIRE_PASSWORD:-false}" = "true" ] && [ -z "${REDIS_PASSWORD:-}" ]; then
    echo "cache: REDIS_PASSWORD is empty but REDIS_REQUIRE_PASSWORD=true; refusing to start" >&2
    exit 2
fi
if [ "${1:-}" = "redis-server" ] && [ -n "${REDIS_PASSWORD:-}" ]; then
    escaped=$(printf '%s' "$REDIS_PASSWORD" | sed 's/\\/\\\\/g; s/"/\\"/g')
    exec docker-entrypoint.sh "$@" - <<CONF
requirepass "$escaped"
CONF
fi
exec docker-entrypoint.sh "$@"
