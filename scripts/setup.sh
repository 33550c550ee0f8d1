#!/usr/bin/env bash
# make setup: the controller's toolchain in .venv (pinned in
# requirements/controller.txt) and the frontend's node_modules (npm ci from the
# committed lock). Idempotent: each step runs again only when its lock changed.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=.venv
lock=requirements/controller.txt
want=$(sha256sum "$lock" | cut -d' ' -f1)

if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv" || {
    echo "setup: could not create $venv; install Python's venv module (Debian: apt-get install python3-venv)." >&2
    exit 1
  }
fi
if [ "$(cat "$venv/.onebox-lock" 2>/dev/null)" != "$want" ]; then
  echo "setup: installing the controller toolchain into $venv..." >&2
  # (some machines name package folders that do not exist; pip warns once per package)
  "$venv/bin/python" -m pip install -q --upgrade pip 2>&1 | grep -v '^WARNING: Location' >&2 || true
  "$venv/bin/python" -m pip install -q -r "$lock" 2>&1 | grep -v '^WARNING: Location' >&2 || true
  "$venv/bin/python" -m pip check >/dev/null || { "$venv/bin/python" -m pip check >&2; exit 1; }
  echo "$want" >"$venv/.onebox-lock"
fi

if [ -f frontend/package-lock.json ]; then
  if ! command -v npm >/dev/null 2>&1; then
    echo "setup: npm not found; install Node.js 20.19+ (Debian: apt-get install nodejs npm)." >&2
    exit 1
  fi
  want=$(sha256sum frontend/package-lock.json | cut -d' ' -f1)
  if [ "$(cat frontend/node_modules/.onebox-lock 2>/dev/null)" != "$want" ]; then
    echo "setup: npm ci in frontend/..." >&2
    (cd frontend && npm ci --no-audit --no-fund --loglevel=error)
    echo "$want" >frontend/node_modules/.onebox-lock
  fi
fi
