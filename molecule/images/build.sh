#!/usr/bin/env bash
# Build the systemd test-host image onebox/<distro> from Debian with debootstrap.
#
#   molecule/images/build.sh debian12|debian13
#
# The image is tagged with a hash of its recipe (this file, the package list and
# the build machine's extra CA certificates), so it is rebuilt only when one of
# those changes; onebox/<distro>:latest points at the newest build.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
distro=${1:?usage: build.sh debian12|debian13}
case "$distro" in
  debian12) suite=bookworm ;;
  debian13) suite=trixie ;;
  *) echo "build.sh: unknown distro '$distro' (debian12 or debian13)" >&2; exit 2 ;;
esac

repo=onebox/$distro
packages=$(grep -v '^#' "$here/packages.txt" | xargs | tr ' ' ',')
tag=$(
  {
    cat "$here/build.sh" "$here/packages.txt"
    echo "$suite"
    cat /usr/local/share/ca-certificates/*.crt 2>/dev/null || true
  } | sha256sum | cut -c1-12
)

if docker image inspect "$repo:$tag" >/dev/null 2>&1; then
  docker tag "$repo:$tag" "$repo:latest"
  exit 0
fi

if [ "$(id -u)" != 0 ]; then
  echo "build.sh: debootstrap needs root to build $repo (or set MOLECULE_IMAGE to an image you have)." >&2
  exit 1
fi
if ! command -v debootstrap >/dev/null 2>&1; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
fi

echo "Building $repo:$tag from Debian $suite (debootstrap; a few minutes)..." >&2
start=$(date +%s)
root=$(mktemp -d /var/tmp/onebox-rootfs.XXXXXX)
cleanup() {
  for m in proc sys dev; do umount -l "$root/$m" 2>/dev/null || true; done
  rm -rf "$root"
}
trap cleanup EXIT

debootstrap --variant=minbase --include="$packages" "$suite" "$root" >"$root.log" 2>&1 || {
  tail -n 30 "$root.log" >&2
  exit 1
}
rm -f "$root.log"

# Trust the build machine's extra CAs (a TLS-inspecting proxy, for one).
if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
  cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/"
fi
chroot "$root" update-ca-certificates >/dev/null 2>&1

# A container has no consoles, udev or kernel to tune; these units only fail there.
for unit in getty@tty1.service console-getty.service systemd-udevd.service \
  systemd-udev-trigger.service systemd-modules-load.service sys-kernel-config.mount \
  systemd-remount-fs.service systemd-firstboot.service; do
  ln -sf /dev/null "$root/etc/systemd/system/$unit"
done
# Generated at first boot, so every container gets its own identity.
: >"$root/etc/machine-id"
rm -f "$root/var/lib/dbus/machine-id" "$root"/etc/ssh/ssh_host_*
# sshd regenerates its host keys on first start when they are missing.
mkdir -p "$root/etc/systemd/system/ssh.service.d"
cat >"$root/etc/systemd/system/ssh.service.d/host-keys.conf" <<'UNIT'
[Service]
ExecStartPre=
ExecStartPre=/usr/bin/ssh-keygen -A
ExecStartPre=/usr/sbin/sshd -t
UNIT
echo "$distro" >"$root/etc/hostname"
chroot "$root" apt-get clean
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/tmp/* "$root"/var/log/*.log
# No package lists ship in the image; an old mtime makes `apt update_cache` with
# cache_valid_time fetch them on first use, as on a VPS whose lists went stale.
touch -d @0 "$root/var/lib/apt/lists"

tar -C "$root" -c . | docker import - "$repo:rootfs-$tag" >/dev/null
# docker import cannot set STOPSIGNAL; a one-line build on top of the local
# rootfs image can (no registry involved). systemd halts cleanly on SIGRTMIN+3.
printf '%s\n' "FROM $repo:rootfs-$tag" 'ENV container=docker' 'STOPSIGNAL SIGRTMIN+3' \
  'CMD ["/lib/systemd/systemd"]' | DOCKER_BUILDKIT=0 docker build -q -t "$repo:$tag" - >/dev/null 2>"$root.build.log" || { cat "$root.build.log" >&2; exit 1; }
rm -f "$root.build.log"
docker rmi "$repo:rootfs-$tag" >/dev/null
docker tag "$repo:$tag" "$repo:latest"
echo "Built $repo:$tag in $(( $(date +%s) - start )) s." >&2
