#!/usr/bin/env bash
# Run molecule scenarios on every distro in MOLECULE_DISTROS and print how long each took.
#
#   scripts/molecule.sh [scenario ...]      (default: every scenario, in dependency order)
#
# MOLECULE_DISTROS  distros to test (default "debian12 debian13")
# MOLECULE_IMAGE    use this image instead of onebox/<distro> (for one distro at a time)
# MOLECULE_JOBS     distros run side by side (default 2)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"

order=(common postgresql postgresql-tcp backup django frontend nginx certbot stack)
distros=(${MOLECULE_DISTROS:-debian12 debian13})
jobs=${MOLECULE_JOBS:-2}

scenarios=()
if [ $# -gt 0 ]; then
  scenarios=("$@")
else
  for s in "${order[@]}"; do [ -f "molecule/$s/molecule.yml" ] && scenarios+=("$s"); done
  for f in molecule/*/molecule.yml; do
    s=$(basename "$(dirname "$f")")
    [[ " ${scenarios[*]} " == *" $s "* ]] || scenarios+=("$s")
  done
fi

logs=.cache/molecule-logs
mkdir -p "$logs"
results=$(mktemp)
trap 'rm -f "$results"' EXIT

run_one() { # scenario distro
  local s=$1 d=$2 log="$logs/$1-$2.log" start rc=0
  start=$(date +%s)
  MOLECULE_DISTRO=$d \
    MOLECULE_IMAGE=${MOLECULE_IMAGE:-onebox/$d:latest} \
    MOLECULE_EPHEMERAL_DIRECTORY="$PWD/.cache/molecule/$s-$d" \
    ANSIBLE_FORCE_COLOR=0 PY_COLORS=0 NO_COLOR=1 \
    molecule test -s "$s" >"$log" 2>&1 || rc=$?
  echo "$s $d $rc $(( $(date +%s) - start ))" >>"$results"
  if [ "$rc" = 0 ]; then
    echo "  ok    $s on $d ($(( $(date +%s) - start )) s)"
  else
    echo "  FAIL  $s on $d ($(( $(date +%s) - start )) s); last lines of $log:"
    tail -n 120 "$log" | sed 's/^/        /'
  fi
}

total_start=$(date +%s)
for s in "${scenarios[@]}"; do
  running=0
  for d in "${distros[@]}"; do
    run_one "$s" "$d" &
    running=$((running + 1))
    if [ "$running" -ge "$jobs" ]; then wait -n || true; running=$((running - 1)); fi
  done
  wait
done

echo
echo "molecule: scenario times (s)"
sort -k1,1 -k2,2 "$results" | awk '{printf "  %-12s %-9s %5s  %s\n", $1, $2, $4, ($3 == 0 ? "ok" : "FAILED")}'
echo "  total wall time: $(( $(date +%s) - total_start )) s"
! awk '$3 != 0 {bad=1} END {exit !bad}' "$results"
