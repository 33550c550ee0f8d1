#!/usr/bin/env bash
# The Django app's tests, twice: on SQLite (development settings, no broker: tasks
# run inline, the tests marked broker left out), then all of them on a real
# PostgreSQL reached the way production reaches it -- unix socket, peer
# authentication, no TCP -- in a throwaway cluster made with the binaries of
# Debian's postgresql package, with a throwaway Redis (Debian's redis-server) as
# the Celery broker and the cache, reached as the deployment reaches it: unix
# socket only, an ACL user with a password. scripts/test-deps.sh installs both.
# Arguments go to both pytest runs (e.g. -x, -k health).
set -euo pipefail

scripts=$(cd "$(dirname "$0")" && pwd)
python=$scripts/../.venv/bin/python
cd "$scripts/../app"

# Only what is set here reaches the app: not the caller's DJANGO_*/DB_*/CELERY_*
# variables, not a developer's app/.env.
while IFS='=' read -r name _; do
  unset "$name"
done < <(env | grep -E '^(DJANGO|DB|PORTFOLIO|CELERY)_[A-Z_]*=' || true)
export DJANGO_ENV=development DJANGO_ENV_FILE=/dev/null

echo "test-app: SQLite (development settings, no broker: tasks run inline)"
"$python" -m pytest -m "not broker" "$@"

bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [ ! -x "$bindir/initdb" ] || [ ! -x "$bindir/pg_ctl" ]; then
  echo "test-app: no PostgreSQL server under /usr/lib/postgresql; install Debian's postgresql package (scripts/test-deps.sh)." >&2
  exit 1
fi
if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
  echo "test-app: no redis-server; install Debian's redis-server package (scripts/test-deps.sh)." >&2
  exit 1
fi

# PostgreSQL refuses to run as root: then the cluster belongs to the postgres user.
as_owner=()
if [ "$(id -u)" = 0 ]; then
  as_owner=(runuser -u postgres --)
fi
cluster=$(mktemp -d "${TMPDIR:-/tmp}/onebox-pg.XXXXXX")
redis=$(mktemp -d "${TMPDIR:-/tmp}/onebox-redis.XXXXXX")
redis_pid=
stop_servers() {
  if [ -f "$cluster/data/postmaster.pid" ]; then
    (cd "$cluster" && "${as_owner[@]}" "$bindir/pg_ctl" -D "$cluster/data" -m immediate -w stop >/dev/null) || true
  fi
  rm -rf "$cluster"
  if [ -n "$redis_pid" ]; then
    kill "$redis_pid" 2>/dev/null || true
    wait "$redis_pid" 2>/dev/null || true
  fi
  rm -rf "$redis"
}
trap stop_servers EXIT
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

# Redis as deployed: no TCP, the default user off, an ACL user whose password holds
# characters that a URL must quote. Nothing kept on disk.
redis_user=onebox
redis_password="t/e:s@t%$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
cat >"$redis/redis.conf" <<EOF
port 0
unixsocket $redis/redis.sock
unixsocketperm 700
save ""
appendonly no
daemonize no
dir $redis
logfile $redis/redis.log
user default off
user $redis_user on >$redis_password ~* &* +@all
EOF
redis-server "$redis/redis.conf" &
redis_pid=$!
ready=
for _ in $(seq 100); do
  if redis-cli -s "$redis/redis.sock" --user "$redis_user" --pass "$redis_password" --no-auth-warning \
    ping 2>/dev/null | grep -q PONG; then
    ready=1
    break
  fi
  kill -0 "$redis_pid" 2>/dev/null || break
  sleep 0.1
done
if [ -z "$ready" ]; then
  echo "test-app: redis-server did not start:" >&2
  cat "$redis/redis.log" >&2
  exit 1
fi
quoted=$("$python" -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$redis_password")

echo "test-app: $("$bindir/postgres" --version) (unix socket in $cluster, peer authentication)"
echo "test-app: $(redis-server --version | cut -d' ' -f1-3) (unix socket in $redis, ACL user $redis_user)"
DB_NAME=onebox DB_HOST=$cluster \
  CELERY_BROKER_URL="redis+socket://$redis_user:$quoted@$redis/redis.sock?virtual_host=0" \
  DJANGO_CACHE_URL="unix://$redis_user:$quoted@$redis/redis.sock?db=1" \
  "$python" -m pytest "$@"
