#!/usr/bin/env bash
# Builds the VM lab's disk image: Debian bookworm made to boot and network like Scaleway's
# Ubuntu noble image (netplan -> systemd-networkd, systemd-resolved's stub on
# 127.0.0.53:53, private NICs configured by a udev rule that writes a DHCP netplan file,
# cloud-init at boot). Called by lab/vm/image.ts, which hashes this file's text together
# with the package list to name the cache entry.
#
#   build-image.sh OUT_DIR MIRROR "BASE_PACKAGES"
#
# OUT_DIR receives: rootfs.qcow2 (ext4, no partition table, root=/dev/vda), vmlinuz,
# initrd.img, packages.txt (package and version of everything in the image). The image's
# only apt source is MIRROR, which no VM can reach (the lab has no route out): every guest
# runs with its package repository unreachable, the case the gateway's user-data must
# survive. Needs root, debootstrap, mke2fs (-d), qemu-img, and the mirror.
set -euo pipefail

out_dir=$1
mirror=$2
base_packages=$3 # comma separated

suite=bookworm
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

dpkg-query -W -f '${Package}\t${Version}\n' --admindir="$root/var/lib/dpkg" | sort >"$out_dir/packages.txt"

# apt keeps the mirror as its source, as an image does; from inside the lab it is unreachable.
rm -f "$root"/etc/apt/sources.list.d/*
echo "deb $mirror $suite main" >"$root/etc/apt/sources.list"
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
# VM lab: the seed is a NoCloud volume. As on Ubuntu, cloud-init writes netplan
# (/etc/netplan/50-cloud-init.yaml) and netplan renders it for systemd-networkd.
datasource_list: [NoCloud, None]
# Scaleway's images let root log in with the instance's SSH keys; so does this one.
disable_root: false
system_info:
  network:
    renderers: [netplan]
EOF
in_root systemctl enable systemd-networkd.service systemd-resolved.service >&2
# Ubuntu's resolv.conf: the stub resolver at 127.0.0.53 (systemd-resolved's stub listener).
ln -sf ../run/systemd/resolve/stub-resolv.conf "$root/etc/resolv.conf"

# Scaleway's private-NIC autoconfiguration, as its docs describe it (scaleway-ecosystem:
# the udev rule /lib/udev/rules.d/72-scw-vpc-iface.rules starts scw-vpc-iface@<nic>,
# which writes /etc/netplan/60-<nic>-vpc.yaml with DHCP and applies it; the unit runs
# after cloud-init.service). Private NICs are the ones with a 02:00:00 MAC. The package's
# own scripts are not public: this is a reconstruction, not a copy.
cat >"$root/lib/udev/rules.d/72-scw-vpc-iface.rules" <<'EOF'
SUBSYSTEM=="net", ACTION=="add", ATTR{address}=="02:00:00:*", TAG+="systemd", ENV{SYSTEMD_WANTS}+="scw-vpc-iface@%k.service"
EOF
cat >"$root/lib/systemd/system/scw-vpc-iface@.service" <<'EOF'
[Unit]
Description=Scaleway Private Network interface %i (VM lab reconstruction)
After=cloud-init.service sys-subsystem-net-devices-%i.device
BindsTo=sys-subsystem-net-devices-%i.device

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/local/sbin/scw-vpc-iface %i
EOF
cat >"$root/usr/local/sbin/scw-vpc-iface" <<'EOF'
#!/bin/sh
# Writes a DHCP netplan file for private NIC $1 and applies it (VM lab reconstruction
# of Scaleway's scw-vpc-iface).
set -eu
nic=$1
mac=$(cat "/sys/class/net/$nic/address")
cat >"/etc/netplan/60-$nic-vpc.yaml" <<NETPLAN
network:
  version: 2
  ethernets:
    $nic:
      match:
        macaddress: "$mac"
      dhcp4: true
NETPLAN
chmod 0600 "/etc/netplan/60-$nic-vpc.yaml"
netplan apply
EOF
chmod 0755 "$root/usr/local/sbin/scw-vpc-iface"
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
