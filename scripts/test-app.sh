#!/usr/bin/env bash
# The Django app's tests, twice: on SQLite (development settings), then on a real
# PostgreSQL reached the way production reaches it -- unix socket, peer
# authentication, no TCP -- in a throwaway cluster made with the binaries of
# Debian's postgresql package (scripts/test-deps.sh installs it).
# Arguments go to both pytest runs (e.g. -x, -k health).
set -euo pipefail

scripts=$(cd "$(dirname "$0")" && pwd)
python=$scripts/../.venv/bin/python
cd "$scripts/../app"

# Only what is set here reaches the app: not the caller's DJANGO_*/DB_* variables,
# not a developer's app/.env.
while IFS='=' read -r name _; do
  unset "$name"
done < <(env | grep -E '^(DJANGO|DB|PORTFOLIO)_[A-Z_]*=' || true)
export DJANGO_ENV=development DJANGO_ENV_FILE=/dev/null

echo "test-app: SQLite (development settings)"
"$python" -m pytest "$@"

bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [ ! -x "$bindir/initdb" ] || [ ! -x "$bindir/pg_ctl" ]; then
  echo "test-app: no PostgreSQL server under /usr/lib/postgresql; install Debian's postgresql package (scripts/test-deps.sh)." >&2
  exit 1
fi

# PostgreSQL refuses to run as root: then the cluster belongs to the postgres user.
as_owner=()
if [ "$(id -u)" = 0 ]; then
  as_owner=(runuser -u postgres --)
fi
cluster=$(mktemp -d "${TMPDIR:-/tmp}/onebox-pg.XXXXXX")
stop_cluster() {
  if [ -f "$cluster/data/postmaster.pid" ]; then
    (cd "$cluster" && "${as_owner[@]}" "$bindir/pg_ctl" -D "$cluster/data" -m immediate -w stop >/dev/null) || true
  fi
  rm -rf "$cluster"
}
trap stop_cluster EXIT
[ ${#as_owner[@]} -eq 0 ] || chown postgres: "$cluster"

# The database role is named after whoever runs pytest, so peer authentication
# lets it in with no user or password configured, as on a deployed host.
(cd "$cluster" && "${as_owner[@]}" "$bindir/initdb" -D "$cluster/data" -U "$(id -un)" \
  --auth-local=peer --auth-host=reject -E UTF8 --locale=C.UTF-8 -N >"$cluster/initdb.log") || {
  cat "$cluster/initdb.log" >&2
  exit 1
}
# Durability is pointless for a cluster that lives for one test run.
cat >>"$cluster/data/postgresql.conf" <<EOF
listen_addresses = ''
unix_socket_directories = '$cluster'
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
(cd "$cluster" && "${as_owner[@]}" "$bindir/pg_ctl" -D "$cluster/data" -l "$cluster/server.log" -w start >/dev/null) || {
  cat "$cluster/server.log" >&2
  exit 1
}

echo "test-app: $("$bindir/postgres" --version) (unix socket in $cluster, peer authentication)"
DB_NAME=onebox DB_HOST=$cluster "$python" -m pytest "$@"
