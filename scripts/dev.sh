#!/usr/bin/env bash
# make dev: Django's runserver on SQLite (migrated, demo portfolio seeded) and the
# Vite dev server, which proxies /api, /admin, /static, /media and /health to Django.
# Ctrl-C stops both; so does either one exiting.
#
# DEV_DJANGO_PORT (default 8000) and DEV_VITE_PORT (default 5173) move them.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
python=$root/.venv/bin/python
django_port=${DEV_DJANGO_PORT:-8000}
vite_port=${DEV_VITE_PORT:-5173}

if [ ! -f app/.env ]; then
  cp app/.env.example app/.env
  echo "dev: created app/.env from app/.env.example (development settings, SQLite)."
fi

(cd app && "$python" manage.py migrate --noinput -v 0 && "$python" manage.py seed_demo)

pids=()
stop() {
  trap - INT TERM EXIT
  for pid in "${pids[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap stop INT TERM EXIT

# Each in a session (and so a process group) of its own, so stopping one stops its children too
# (runserver's autoreloader, npm's vite). Not `set -m`: without a terminal (CI, an IDE's run
# button) bash has no job control, and the children would share our group and ignore SIGINT.
(cd app && exec setsid "$python" manage.py runserver "127.0.0.1:$django_port") &
pids+=($!)
(cd frontend && DJANGO_DEV_URL="http://127.0.0.1:$django_port" \
  exec setsid npm run --silent dev -- --host 127.0.0.1 --port "$vite_port" --strictPort) &
pids+=($!)

echo "dev: open http://127.0.0.1:$vite_port/ (Django on 127.0.0.1:$django_port); Ctrl-C stops both."
wait -n || true
