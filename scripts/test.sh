#!/usr/bin/env bash
# make test / make test-quick: each stage in turn, timed, then one table of where the time went
# (the molecule stage adds its own table, per scenario and distro). Stops at the first failing
# stage, and still prints the table.
#
#   scripts/test.sh full     setup, test-deps, lint, unit tests, frontend, project tests, images, every scenario
#   scripts/test.sh quick    setup, test-deps, lint, unit tests, frontend, project tests, one role scenario
#                            (QUICK_SCENARIO, default common, on QUICK_DISTRO, default debian12)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"

mode=${1:-full}
times=.cache/test-times
mkdir -p "$times"
: >"$times/stages.txt"
rm -f "$times/molecule.txt"
overall=$(date +%s)

stage() { # name command...
  local name=$1 start rc=0
  shift
  echo "== $name" >&2
  start=$(date +%s)
  "$@" || rc=$?
  printf '%-16s %6s  %s\n' "$name" "$(( $(date +%s) - start ))" "$([ "$rc" = 0 ] && echo ok || echo FAILED)" >>"$times/stages.txt"
  if [ "$rc" != 0 ]; then
    summary
    exit "$rc"
  fi
}

# Stages that need different things (lint: one core; the app's tests: their own throwaway
# PostgreSQL and Redis on sockets of their own; the frontend: node) run side by side, each into a
# log of its own printed when it ends, and each timed as if alone. Stops after them if one failed.
together() { # name 'command' name 'command' ...
  local -a names=() pids=()
  local name dir=$times/logs rc=0 failed=0 start seconds
  mkdir -p "$dir"
  start=$(date +%s)
  while [ $# -gt 0 ]; do
    name=$1
    echo "== $name (side by side)" >&2
    (
      begin=$(date +%s)
      status=0
      bash -c "$2" >"$dir/$1.log" 2>&1 || status=$?
      echo "$status $(( $(date +%s) - begin ))" >"$dir/$1.status"
      exit "$status"
    ) &
    names+=("$name")
    pids+=($!)
    shift 2
  done
  for i in "${!pids[@]}"; do
    wait "${pids[$i]}" || true
    name=${names[$i]}
    read -r rc seconds <"$dir/$name.status"
    echo "== $name: output" >&2
    cat "$dir/$name.log" >&2
    printf '%-16s %6s  %s\n' "$name" "$seconds" "$([ "$rc" = 0 ] && echo "ok (side by side)" || echo FAILED)" >>"$times/stages.txt"
    [ "$rc" = 0 ] || failed=$rc
  done
  printf '%-16s %6s  %s\n' "  together" "$(( $(date +%s) - start ))" "wall time of the ${#names[@]} above" >>"$times/stages.txt"
  if [ "$failed" != 0 ]; then
    summary
    exit "$failed"
  fi
}

summary() {
  echo
  echo "make test${mode/full/}: time per stage (s)"
  sed 's/^/  /' "$times/stages.txt"
  echo "  total            $(( $(date +%s) - overall ))"
  if [ -f "$times/molecule.txt" ]; then
    echo
    cat "$times/molecule.txt"
  fi
}

stage setup scripts/setup.sh
stage test-deps scripts/test-deps.sh
together lint 'make --no-print-directory lint' \
  test-app 'scripts/test-app.sh -q' \
  test-frontend 'cd frontend && npm test --silent && npm run --silent build'
stage test-project .venv/bin/pytest -q -n 2 --dist loadfile tests
stage engine scripts/docker-engine.sh
if [ "$mode" = full ]; then
  stage images bash -c 'for d in ${MOLECULE_DISTROS:-debian12 debian13}; do molecule/images/build.sh "$d"; done'
  stage molecule .venv/bin/python scripts/molecule.py
else
  distro=${QUICK_DISTRO:-debian12}
  stage images molecule/images/build.sh "$distro"
  stage molecule .venv/bin/python scripts/molecule.py "${QUICK_SCENARIO:-common}:$distro"
fi
summary
