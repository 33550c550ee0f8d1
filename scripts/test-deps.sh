#!/usr/bin/env bash
# The Debian packages the tests drive for real: PostgreSQL and Redis for the app's tests,
# Chromium + ChromeDriver for the browser tests, debootstrap for the test-host
# images, wrk for the load windows. Installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(postgresql redis-server chromium chromium-driver libnss3-tools debootstrap wrk)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "test-deps: the tests need these Debian packages: ${missing[*]}" >&2
  echo "           install them (sudo apt-get install ${missing[*]}) and run again." >&2
  exit 1
fi
echo "test-deps: installing ${missing[*]}..." >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
