#!/usr/bin/env bash
# Builds the VM lab's Debian bookworm disk image. Called by lab/vm/image.ts, which
# hashes this file's text together with the package lists to name the cache entry.
#
#   build-image.sh OUT_DIR MIRROR "BASE_PACKAGES" "REPO_PACKAGES"
#
# OUT_DIR receives: rootfs.qcow2 (ext4, no partition table, root=/dev/vda),
# vmlinuz, initrd.img, repo-packages.txt (every .deb in the in-image apt repo).
# Needs root, debootstrap, mke2fs (-d), qemu-img, dpkg-scanpackages, and the mirror.
set -euo pipefail

out_dir=$1
mirror=$2
base_packages=$3 # comma separated, for debootstrap --include
repo_packages=$4 # space separated, served by the in-image repo

suite=bookworm
repo_dir=/opt/wg-s2s-repo
disk_size=4G

root=$(mktemp -d "$out_dir/rootfs.XXXXXX")
cleanup() {
  # The chroot has proc, sys and dev mounted; never leave them behind.
  for m in proc sys dev/pts dev; do
    if mountpoint -q "$root/$m" 2>/dev/null; then umount -l "$root/$m" || true; fi
  done
  rm -rf --one-file-system "$root"
}
trap cleanup EXIT

log() { printf '[image] %s\n' "$*" >&2; }

log "debootstrap $suite (minbase) from $mirror"
debootstrap --variant=minbase "$suite" "$root" "$mirror" >&2

in_root() { chroot "$root" env DEBIAN_FRONTEND=noninteractive LC_ALL=C "$@"; }

mount -t proc proc "$root/proc"
mount -t sysfs sys "$root/sys"
mount --bind /dev "$root/dev"
mount --bind /dev/pts "$root/dev/pts"
# No daemon starts inside the build chroot.
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod 0755 "$root/usr/sbin/policy-rc.d"

# Before the kernel's initramfs is made, so it includes fsck for the root filesystem.
echo "/dev/vda / ext4 defaults,errors=remount-ro 0 1" >"$root/etc/fstab"

# apt, not debootstrap, resolves the base packages: it handles virtual and alternative
# dependencies (python3-cryptography's, for one) that debootstrap --include does not.
log "installing base packages: $base_packages"
in_root apt-get update -q >&2
# shellcheck disable=SC2046 # word splitting of the package list is intended
in_root apt-get install -y -q --no-install-recommends $(echo "$base_packages" | tr ',' ' ') >&2

# The apt repository cloud-init installs from. --download-only in the image itself
# resolves exactly what a guest's `apt-get install` would fetch (Depends and
# Recommends that are not installed yet), so the guest's transaction is real.
log "downloading repo packages: $repo_packages"
mkdir -p "$root$repo_dir/partial"
# shellcheck disable=SC2086 # word splitting of the package list is intended
in_root apt-get install -y -q --download-only \
  -o Dir::Cache::archives="$repo_dir/" $repo_packages >&2
rm -rf "$root$repo_dir/partial" "$root$repo_dir/lock"
(cd "$root$repo_dir" && dpkg-scanpackages --multiversion . /dev/null >Packages 2>/dev/null)
find "$root$repo_dir" -maxdepth 1 -name '*.deb' -printf '%f\n' | sort >"$out_dir/repo-packages.txt"
[ -s "$out_dir/repo-packages.txt" ] || { log "repo is empty"; exit 1; }

# The in-image repo is the only apt source: a guest never reaches a mirror.
rm -f "$root/etc/apt/sources.list" "$root"/etc/apt/sources.list.d/*
echo "deb [trusted=yes] file:$repo_dir ./" >"$root/etc/apt/sources.list"
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb

rm -f "$root/usr/sbin/policy-rc.d"
umount "$root/dev/pts" "$root/dev" "$root/proc" "$root/sys"

log "configuring the guest"
echo "debian" >"$root/etc/hostname"
# Unique per VM: systemd makes a machine-id at first boot (networkd's DHCP DUID uses it).
: >"$root/etc/machine-id"
rm -f "$root/var/lib/dbus/machine-id"
# Host keys are made per instance by cloud-init's ssh module.
rm -f "$root"/etc/ssh/ssh_host_*
mkdir -p "$root/etc/cloud/cloud.cfg.d"
cat >"$root/etc/cloud/cloud.cfg.d/90-wg-s2s-lab.cfg" <<'EOF'
# VM lab: the seed is a NoCloud volume; networkd renders network-config, as on
# Ubuntu (netplan -> networkd) and applies DHCP option 121 natively.
datasource_list: [NoCloud, None]
# Scaleway's images let root log in with the instance's SSH keys; so does this one.
disable_root: false
system_info:
  network:
    renderers: [networkd]
EOF
in_root systemctl enable systemd-networkd.service >&2
# Ubuntu images ship en_US.UTF-8 generated; cloud-init's locale module expects it.
echo "en_US.UTF-8 UTF-8" >"$root/etc/locale.gen"
in_root locale-gen >&2
in_root update-locale LANG=en_US.UTF-8 >&2
# A monthly filesystem check that costs half a minute of emulated boot and tests nothing here.
in_root systemctl mask e2scrub_reap.service >&2
# No console password prompt matters; the lab talks over SSH and the serial log.
in_root passwd -l root >&2

log "extracting kernel and initrd"
kernel=$(find "$root/boot" -name 'vmlinuz-*' | sort -V | tail -1)
initrd=$(find "$root/boot" -name 'initrd.img-*' | sort -V | tail -1)
cp "$kernel" "$out_dir/vmlinuz"
cp "$initrd" "$out_dir/initrd.img"

log "making the ext4 root ($disk_size, sparse)"
mkfs.ext4 -q -F -L root -d "$root" "$out_dir/disk.raw" "$disk_size"
qemu-img convert -f raw -O qcow2 "$out_dir/disk.raw" "$out_dir/rootfs.qcow2"
rm -f "$out_dir/disk.raw"
log "done"
