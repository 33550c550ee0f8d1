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
stage lint make --no-print-directory lint
stage test-app scripts/test-app.sh -q
stage test-frontend bash -c 'cd frontend && npm test --silent && npm run --silent build'
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
