#!/bin/sh
# The official postgres image's contract on Debian's PostgreSQL 17: POSTGRES_USER(_FILE),
# POSTGRES_PASSWORD(_FILE), POSTGRES_DB, PGDATA. Runs as root only to read secrets and fix ownership,
# then becomes `postgres`; SIGTERM becomes PostgreSQL's fast shutdown (see the end).
set -eu

file_env() {
  var="$1"; file_var="${1}_FILE"
  eval "val=\${$var:-}"; eval "file=\${$file_var:-}"
  if [ -n "$file" ]; then
    [ -r "$file" ] || { echo "postgres: $file_var points at $file, which cannot be read" >&2; exit 78; }
    val="$(cat "$file")"
  fi
  export "$var"="$val"
  unset "$file_var"
}

file_env POSTGRES_USER
file_env POSTGRES_PASSWORD
: "${POSTGRES_USER:=postgres}"
: "${POSTGRES_DB:=$POSTGRES_USER}"
: "${PGDATA:=/var/lib/postgresql/data}"
[ -n "$POSTGRES_PASSWORD" ] || { echo "postgres: POSTGRES_PASSWORD_FILE (or POSTGRES_PASSWORD) is not set" >&2; exit 78; }

as_postgres() { setpriv --reuid=postgres --regid=postgres --init-groups "$@"; }

mkdir -p "$PGDATA" /run/postgresql
chown postgres:postgres "$PGDATA" /run/postgresql
chmod 700 "$PGDATA"

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  pwfile="$(mktemp)"
  printf '%s\n' "$POSTGRES_PASSWORD" > "$pwfile"
  chown postgres "$pwfile"
  as_postgres initdb --pgdata="$PGDATA" --username="$POSTGRES_USER" --pwfile="$pwfile" \
    --auth-local=scram-sha-256 --auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 >/dev/null
  rm -f "$pwfile"
  {
    echo "listen_addresses = '*'"
    echo "password_encryption = 'scram-sha-256'"
  } >> "$PGDATA/postgresql.conf"
  echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
  if [ "$POSTGRES_DB" != "postgres" ]; then
    as_postgres pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start >/dev/null
    PGPASSWORD="$POSTGRES_PASSWORD" as_postgres psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
      -c "CREATE DATABASE \"$POSTGRES_DB\"" >/dev/null
    as_postgres pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
  fi
  echo "postgres: initialised $PGDATA for database $POSTGRES_DB"
fi

unset POSTGRES_PASSWORD
if [ "$1" = "postgres" ]; then
  shift
  # SIGTERM alone is PostgreSQL's "smart" shutdown, which waits for the gateway's pooled connections to
  # close and so outlives docker stop's grace period. Turn it into a fast shutdown: sessions end, a
  # checkpoint is written, and the next start needs no crash recovery.
  setpriv --reuid=postgres --regid=postgres --init-groups postgres -D "$PGDATA" "$@" &
  pid=$!
  trap 'kill -INT "$pid" 2>/dev/null' TERM INT
  status=0
  wait "$pid" || status=$?
  if kill -0 "$pid" 2>/dev/null; then
    status=0
    wait "$pid" || status=$?
  fi
  exit "$status"
fi
exec "$@"
