#!/bin/sh
# Like the official redis image's entrypoint: flags or a .conf file as first argument run
# redis-server; redis-server runs as the redis user in /data. The official image patches
# redis' default to protected-mode no; Debian's binary keeps yes, so we pass it unless the
# config file given sets protected-mode itself.
set -e
if [ "${1#-}" != "$1" ] || [ "${1%.conf}" != "$1" ]; then
  set -- redis-server "$@"
fi
if [ "$1" = redis-server ]; then
  shift
  case "${1:-}" in
    # informational modes take no config options after them
    -v|--version|-h|--help|--test-memory|--check-system) exec redis-server "$@" ;;
  esac
  if [ -n "${1:-}" ] && [ "${1#-}" = "$1" ]; then
    conf=$1
    shift
    if grep -qE '^[[:space:]]*protected-mode' "$conf" 2>/dev/null; then
      set -- redis-server "$conf" "$@"
    else
      set -- redis-server "$conf" --protected-mode no "$@"
    fi
  else
    set -- redis-server --protected-mode no "$@"
  fi
  if [ "$(id -u)" = 0 ]; then
    find . \! -user redis -exec chown redis '{}' +
    exec gosu redis "$@"
  fi
fi
exec "$@"
