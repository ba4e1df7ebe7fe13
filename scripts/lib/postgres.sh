# Helpers for scripts/: a PostgreSQL 15 cluster and a throwaway role + database
# for one test run. Sourced, not executed; needs scripts/lib/deps.sh first.
#
#   pg_ensure_running          # installs PostgreSQL 15 if missing, starts 15/main
#   pg_create_test_database    # creates a unique role + database, exports
#                              # UTRUST_TEST_DATABASE_URL
#   pg_drop_test_database      # drops them again (safe to call twice)
#
# The cluster may be shared with other processes on the machine: every name is
# unique (pid, time, random) and only what this shell created is dropped.

PG_VERSION=${PG_VERSION:-15}
PG_CLUSTER=${PG_CLUSTER:-main}
_pg_role=""
_pg_db=""

# Runs psql as the postgres superuser on the local socket.
_pg_psql() {
  local port
  port=$(_pg_port)
  if [ "$(id -u)" -eq 0 ]; then
    su postgres -c "psql -X -q -v ON_ERROR_STOP=1 -p $port -d postgres $(printf '%q ' "$@")"
  else
    _sudo -u postgres psql -X -q -v ON_ERROR_STOP=1 -p "$port" -d postgres "$@"
  fi
}

_pg_port() {
  pg_lsclusters -h 2>/dev/null | awk -v v="$PG_VERSION" -v c="$PG_CLUSTER" '$1 == v && $2 == c { print $3 }'
}

_pg_status() {
  pg_lsclusters -h 2>/dev/null | awk -v v="$PG_VERSION" -v c="$PG_CLUSTER" '$1 == v && $2 == c { print $4 }'
}

# pg_ensure_running: PostgreSQL $PG_VERSION installed and its cluster online.
# Returns non-zero (with a message) when that is impossible.
pg_ensure_running() {
  if ! command -v pg_lsclusters >/dev/null || [ -z "$(_pg_port)" ]; then
    ensure_debian_packages "postgresql-$PG_VERSION" postgresql-client-common || return 1
  fi
  if [ -z "$(_pg_port)" ]; then
    echo "PostgreSQL cluster $PG_VERSION/$PG_CLUSTER does not exist" >&2
    return 1
  fi
  case "$(_pg_status)" in
    online*) ;;
    *)
      echo "== starting PostgreSQL $PG_VERSION/$PG_CLUSTER"
      # Another process may be starting it at the same moment: accept "already running".
      _sudo pg_ctlcluster "$PG_VERSION" "$PG_CLUSTER" start 2>/dev/null || true
      ;;
  esac
  local i
  for i in $(seq 1 50); do
    if pg_isready -q -h localhost -p "$(_pg_port)" 2>/dev/null; then
      return 0
    fi
    sleep 0.2
  done
  echo "PostgreSQL $PG_VERSION/$PG_CLUSTER did not come up (see /var/log/postgresql/)" >&2
  return 1
}

# pg_create_test_database: a fresh role (with a random password, allowed to
# create schemas in its own database) and database; exports
# UTRUST_TEST_DATABASE_URL.
pg_create_test_database() {
  local suffix password port
  suffix="$(date +%s)_$$_$(od -An -N4 -tx4 /dev/urandom | tr -d ' \n')"
  _pg_role="utrust_test_$suffix"
  _pg_db="utrust_test_$suffix"
  password="$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
  port=$(_pg_port)
  _pg_psql -c "CREATE ROLE $_pg_role LOGIN PASSWORD '$password'" || return 1
  _pg_psql -c "CREATE DATABASE $_pg_db OWNER $_pg_role" || return 1
  export UTRUST_TEST_DATABASE_URL="postgres://$_pg_role:$password@localhost:$port/$_pg_db"
  echo "== test database $_pg_db (role $_pg_role) on port $port"
}

# pg_drop_test_database: drops what pg_create_test_database created.
pg_drop_test_database() {
  if [ -n "$_pg_db" ]; then
    _pg_psql -c "DROP DATABASE IF EXISTS $_pg_db WITH (FORCE)" || true
    _pg_db=""
  fi
  if [ -n "$_pg_role" ]; then
    _pg_psql -c "DROP ROLE IF EXISTS $_pg_role" || true
    _pg_role=""
  fi
  unset UTRUST_TEST_DATABASE_URL
}
