#!/usr/bin/env bash
# make up: the whole stack on a local VPS, end to end, the way a real VPS gets it:
# start the VPS (a systemd container reached over SSH), run Pebble on it as the ACME
# server (test scaffolding only the local inventory uses), then site.yml over SSH.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
export ANSIBLE_CONFIG="$PWD/ansible.cfg"
export ONEBOX_SECRETS_DIR=${ONEBOX_SECRETS_DIR:-$PWD/.local/secrets}
https_port=${ONEBOX_HTTPS_PORT:-8443}
inventory=inventory/local

scripts/local-host.sh up

echo "== Pebble (the local ACME server) on the VPS"
ansible-playbook -i "$inventory" molecule/shared/pebble.yml
echo "== The alert sink (where the local VPS's alerts go) on the VPS"
ansible-playbook -i "$inventory" molecule/shared/alert-sink.yml

echo "== site.yml"
start=$(date +%s)
ansible-playbook -i "$inventory" site.yml
elapsed=$(( $(date +%s) - start ))

# The root that signed the site's certificate: Pebble makes a new one each time it starts.
ansible -i "$inventory" onebox -b -m ansible.builtin.fetch \
  -a "src=/etc/pebble/issuer-root.pem dest=$PWD/.local/pebble-root.pem flat=true" >/dev/null

domain=$(ansible-inventory -i "$inventory" --host local-vps | python3 -c 'import json,sys; print(json.load(sys.stdin)["onebox_domain"])')
url="https://$domain:$https_port/"
curl -fsS -o /dev/null --cacert .local/pebble-root.pem --resolve "$domain:$https_port:127.0.0.1" "$url" || {
  echo "up: site.yml finished but $url does not answer over HTTPS." >&2
  exit 1
}

cat <<MSG

onebox is up (site.yml took ${elapsed} s): $url

  The certificate was issued by Pebble, Let's Encrypt's test server, so trust its root first:
    curl --cacert .local/pebble-root.pem --resolve $domain:$https_port:127.0.0.1 $url
  For a browser, add "127.0.0.1 $domain" to /etc/hosts and import .local/pebble-root.pem as an
  authority (or accept the warning).

  Admin: ${url}admin/ as user "admin"; the password is in $ONEBOX_SECRETS_DIR/admin_password.
  SSH:   ssh -i .local/ssh/id_ed25519 -p ${ONEBOX_SSH_PORT:-2222} deploy@127.0.0.1
  Stop:  make down
MSG
