#!/usr/bin/env bash
# The local VPS: a long-lived systemd container that behaves like a freshly bought
# Debian VPS. sshd on 127.0.0.1:$ONEBOX_SSH_PORT, a `deploy` user with a generated
# key and passwordless sudo, HTTP/HTTPS published on 127.0.0.1.
#
#   scripts/local-host.sh up      start it (idempotent)
#   scripts/local-host.sh down    remove it and its key
set -euo pipefail
cd "$(dirname "$0")/.."

name=${ONEBOX_HOST_NAME:-onebox-local-vps}
distro=${ONEBOX_HOST_DISTRO:-debian12}
ssh_port=${ONEBOX_SSH_PORT:-2222}
http_port=${ONEBOX_HTTP_PORT:-8080}
https_port=${ONEBOX_HTTPS_PORT:-8443}
keydir=${ONEBOX_KEY_DIR:-.local/ssh}
key=$keydir/id_ed25519

ssh_deploy() {
  ssh -i "$key" -p "$ssh_port" -o BatchMode=yes -o ConnectTimeout=5 \
    -o UserKnownHostsFile="$keydir/known_hosts" -o StrictHostKeyChecking=accept-new \
    deploy@127.0.0.1 "$@"
}

up() {
  scripts/docker-engine.sh
  molecule/images/build.sh "$distro"
  mkdir -p "$keydir"
  chmod 0700 "$keydir" "$(dirname "$keydir")"
  [ -f "$key" ] || ssh-keygen -q -t ed25519 -N '' -C "onebox-local-deploy" -f "$key"

  if ! docker container inspect "$name" >/dev/null 2>&1; then
    docker run -d --name "$name" --hostname "$name" \
      --cap-add SYS_ADMIN --cap-add NET_ADMIN --cgroupns host \
      --security-opt seccomp=unconfined \
      -v /sys/fs/cgroup:/sys/fs/cgroup:rw --tmpfs /run --tmpfs /run/lock \
      -p "127.0.0.1:$ssh_port:22" -p "127.0.0.1:$http_port:80" -p "127.0.0.1:$https_port:443" \
      --label onebox.role=local-vps \
      "onebox/$distro:latest" /lib/systemd/systemd >/dev/null
  elif [ "$(docker container inspect -f '{{.State.Running}}' "$name")" != true ]; then
    docker start "$name" >/dev/null
  fi

  # What a VPS provider's first-boot agent does: the admin user and its key.
  for _ in $(seq 1 30); do
    docker exec "$name" systemctl is-system-running --wait >/dev/null 2>&1 && break
    state=$(docker exec "$name" systemctl is-system-running 2>/dev/null || true)
    [ "$state" = degraded ] && break
    sleep 1
  done
  docker exec -i "$name" bash -euo pipefail -s <<SETUP
id deploy >/dev/null 2>&1 || useradd --create-home --shell /bin/bash deploy
install -d -m 0700 -o deploy -g deploy /home/deploy/.ssh
printf '%s\n' "$(cat "$key.pub")" > /home/deploy/.ssh/authorized_keys
chown deploy:deploy /home/deploy/.ssh/authorized_keys
chmod 0600 /home/deploy/.ssh/authorized_keys
echo 'deploy ALL=(ALL) NOPASSWD:ALL' > /etc/sudoers.d/90-deploy
chmod 0440 /etc/sudoers.d/90-deploy
visudo -cq
SETUP

  for _ in $(seq 1 30); do
    ssh_deploy true 2>/dev/null && break
    sleep 1
  done
  ssh_deploy sudo -n true || {
    echo "local-host: the VPS started but ssh deploy@127.0.0.1:$ssh_port does not answer." >&2
    exit 1
  }
  echo "Local VPS $name (Debian, $distro) is up: ssh -i $key -p $ssh_port deploy@127.0.0.1;"
  echo "HTTP on 127.0.0.1:$http_port, HTTPS on 127.0.0.1:$https_port."
}

down() {
  if docker info >/dev/null 2>&1 && docker container inspect "$name" >/dev/null 2>&1; then
    docker rm -f "$name" >/dev/null
    echo "Removed the local VPS $name."
  fi
  rm -rf "$keydir"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
