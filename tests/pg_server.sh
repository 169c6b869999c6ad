#!/usr/bin/env bash
# A throwaway PostgreSQL server for the history tests, on 127.0.0.1 and a free port, in a temporary folder.
#
#   eval "$(bash tests/pg_server.sh start)"   # exports PLAYLISTPRO_TEST_POSTGRES_URL and _DIR
#   python -m pytest -q tests/test_history_backends.py
#   bash tests/pg_server.sh stop "$PLAYLISTPRO_TEST_POSTGRES_DIR"
#
# Uses Debian's PostgreSQL binaries (/usr/lib/postgresql/N/bin, the newest N), else initdb/pg_ctl on PATH.
# PostgreSQL refuses to run as root: as root the cluster belongs to the `postgres` system user (runuser).
# Trust authentication, listening on 127.0.0.1 only; fsync off (the data is thrown away).
set -euo pipefail

bin_dir() {
  local dir
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  if [[ -n "$dir" && -x "$dir/initdb" ]]; then echo "$dir"; return; fi
  dir=$(dirname "$(command -v initdb 2>/dev/null || echo /nonexistent/initdb)")
  if [[ -x "$dir/initdb" ]]; then echo "$dir"; return; fi
  echo "pg_server.sh: no PostgreSQL binaries (apt-get install postgresql)" >&2
  return 1
}

as_owner() {  # run a command as the cluster's owner
  if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "${1:-}" in
  start)
    bin=$(bin_dir)
    dir=$(mktemp -d "${TMPDIR:-/tmp}/playlistpro-pg.XXXXXX")
    chmod 755 "$dir"
    if [[ $(id -u) -eq 0 ]]; then chown postgres: "$dir"; fi
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    as_owner "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --no-locale >"$dir/initdb.log" 2>&1 \
      || { cat "$dir/initdb.log" >&2; rm -rf "$dir"; exit 1; }
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c max_connections=200" start >/dev/null \
      || { cat "$dir/server.log" >&2; as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1; rm -rf "$dir"; exit 1; }
    echo "export PLAYLISTPRO_TEST_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:$port/postgres"
    echo "export PLAYLISTPRO_TEST_POSTGRES_DIR=$dir"
    ;;
  stop)
    dir=${2:?usage: pg_server.sh stop DIR}
    if [[ -f "$dir/data/postmaster.pid" ]]; then
      as_owner "$(bin_dir)/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null || true
    fi
    rm -rf "$dir"
    ;;
  *)
    echo "usage: pg_server.sh start | stop DIR" >&2
    exit 2
    ;;
esac
