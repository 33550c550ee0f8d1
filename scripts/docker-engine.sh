#!/usr/bin/env bash
# Make sure a Docker engine answers. Uses the one running; else, on Debian as
# root, installs docker.io and starts dockerd in the background with a log
# file; else stops and says what to install. Quiet when all is well.
set -euo pipefail

LOG=${DOCKERD_LOG:-/var/log/onebox-dockerd.log}

if docker info >/dev/null 2>&1; then
  exit 0
fi

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "No Docker engine answers (docker info failed)." >&2
  echo "Install and start one (Debian/Ubuntu: apt-get install docker.io; elsewhere: https://docs.docker.com/engine/install/)," >&2
  echo "make sure your user may use it, then run this again." >&2
  exit 1
fi

if ! command -v dockerd >/dev/null 2>&1; then
  echo "Installing docker.io (Debian's Docker engine)..." >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # The machine may already have a docker client of its own: keep it, take only the engine.
  apt-get install -y -qq --no-install-recommends docker.io iptables >/dev/null
fi

if ! pgrep -x dockerd >/dev/null 2>&1; then
  echo "Starting dockerd (log: $LOG)..." >&2
  nohup dockerd >"$LOG" 2>&1 &
fi

for _ in $(seq 1 60); do
  if docker info >/dev/null 2>&1; then
    exit 0
  fi
  sleep 1
done

echo "dockerd did not answer within 60 s; the last lines of $LOG:" >&2
tail -n 20 "$LOG" >&2 || true
exit 1
