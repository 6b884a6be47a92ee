/**
 * Which packages Ubuntu's noble cloud image ships, from published lists, and what the VM
 * lab's Debian bookworm image does with each: the same Debian package, a named Debian
 * replacement, or left out for a stated reason. lab/vm/image.ts builds its package list
 * from this (imagePackages), lab/vm/README.md carries the table (`npx tsx
 * lab/vm/ubuntuPackageSet.ts --write`), and lab/vm/ubuntuPackageSet.test.ts fails when a
 * listed package has no disposition or the image list breaks the lab's premise.
 *
 * How the cloud image is made (livecd-rootfs, branch ubuntu/noble, version 24.04.86,
 * commit a3363733ff8b60010861a0c41d73eacf18757534, mirrored at
 * github:lubuntu-team/livecd-rootfs): live-build/auto/config, project `ubuntu-cpc`, not
 * minimized: `add_task install minimal standard cloud-image`, `add_package install
 * ubuntu-minimal`, `KERNEL_FLAVOURS=virtual`; the `server` task only on armhf, arm64,
 * ppc64el and powerpc, not amd64. Recommends are installed (only the minimized image passes
 * --no-install-recommends). The ubuntu-cpc hooks add no package but the bootloader
 * (hooks.d/base/disk-image-uefi.binary, amd64: grub-pc shim-signed) and remove none by
 * name (only `apt-get autoremove --purge` after the bootloader).
 *
 * A task installs the packages of its seed; the seeds' germinate output is published in
 * the ubuntu-meta source package (files `<seed>-<arch>`). Ubuntu's own noble ubuntu-meta
 * and the `cloud-image` seed were not found in any reachable source: the lists below are
 * jammy's (Ubuntu's own) and a noble flavour's (derived), see PUBLISHED_LISTS.
 */

import * as fs from "fs";
import * as path from "path";
import { markdownTable, withGeneratedTable, type TableMarkers } from "../readmeTable";

/** One published package list and where it comes from (repository, commit, path). */
export interface PublishedList {
  id: string;
  /** What the list is, in a few words, for the README. */
  title: string;
  source: string;
  packages: readonly string[];
}

const JAMMY_META = "github:tobetter/ubuntu-meta@195a7c78cde243eff15bc40013ff114dcc1d1884";
const NOBLE_SWAY_META = "github:Ubuntu-Sway/ubuntu-sway-meta@2dee20159344fd3a06804dcd4cd64b57d028e09e";
const LIVECD_ROOTFS = "github:lubuntu-team/livecd-rootfs@a3363733ff8b60010861a0c41d73eacf18757534";

// ubuntu-meta 1.481 (jammy): the files minimal-amd64, minimal-recommends-amd64, standard-amd64,
// standard-recommends-amd64, as published.
const JAMMY_MINIMAL: readonly string[] = [
  "adduser",
  "apt",
  "apt-utils",
  "console-setup",
  "debconf",
  "debconf-i18n",
  "e2fsprogs",
  "eject",
  "init",
  "iproute2",
  "iputils-ping",
  "isc-dhcp-client",
  "kbd",
  "kmod",
  "less",
  "locales",
  "lsb-release",
  "mawk",
  "mount",
  "netbase",
  "netcat-openbsd",
  "netplan.io",
  "passwd",
  "procps",
  "python3",
  "sensible-utils",
  "sudo",
  "tzdata",
  "ubuntu-advantage-tools",
  "ubuntu-keyring",
  "udev",
  "vim-tiny",
  "whiptail",
];

const JAMMY_MINIMAL_RECOMMENDS: readonly string[] = ["rsyslog", "usrmerge"];

const JAMMY_STANDARD: readonly string[] = [
  "bind9-dnsutils",
  "busybox-static",
  "cpio",
  "cron",
  "dmidecode",
  "dosfstools",
  "ed",
  "file",
  "ftp",
  "hdparm",
  "info",
  "libpam-systemd",
  "logrotate",
  "lshw",
  "lsof",
  "man-db",
  "media-types",
  "nftables",
  "parted",
  "pciutils",
  "psmisc",
  "rsync",
  "strace",
  "time",
  "usbutils",
  "wget",
  "xz-utils",
];

const JAMMY_STANDARD_RECOMMENDS: readonly string[] = [
  "apparmor",
  "bash-completion",
  "command-not-found",
  "friendly-recovery",
  "iptables",
  "iputils-tracepath",
  "irqbalance",
  "manpages",
  "mtr-tiny",
  "nano",
  "ntfs-3g",
  "openssh-client",
  "plymouth",
  "plymouth-theme-ubuntu-text",
  "tcpdump",
  "telnet",
  "ufw",
  "update-manager-core",
  "uuid-runtime",
];

const without = (xs: readonly string[], ...drop: string[]) => xs.filter((x) => !drop.includes(x));

/** One file `<seed>-amd64` of an ubuntu-meta source package, as a published list. */
function metaList(
  release: "jammy" | "noble-sway",
  meta: string,
  seed: string,
  packages: readonly string[],
): PublishedList {
  const label = release === "jammy" ? "jammy" : "noble (Sway Remix)";
  return { id: `${release}/${seed}`, title: `${label} ${seed}`, source: `${meta}:${seed}-amd64`, packages };
}

export const PUBLISHED_LISTS: readonly PublishedList[] = [
  // ubuntu-meta 1.481 (jammy 22.04), the git-ubuntu import "1.481 (patches unapplied)" in the
  // fork tobetter/ubuntu-meta, before the fork's own ODROID commits. Its changelog 1.479:
  // "Added nftables to standard", "Moved iptables to standard-recommends".
  metaList("jammy", JAMMY_META, "minimal", JAMMY_MINIMAL),
  metaList("jammy", JAMMY_META, "minimal-recommends", JAMMY_MINIMAL_RECOMMENDS),
  metaList("jammy", JAMMY_META, "standard", JAMMY_STANDARD),
  metaList("jammy", JAMMY_META, "standard-recommends", JAMMY_STANDARD_RECOMMENDS),
  // The Ubuntu Sway Remix's metapackages for noble (branch noble, "Automatic update via Ubuntu
  // Sway Remix seeds", 2024-03-26), germinated from that flavour's own seeds (update.cfg:
  // seed_base github.com/Ubuntu-Sway, seeds.noble; not reachable here), so a noble flavour's
  // view of minimal and standard, not Ubuntu's own lists. Against jammy: isc-dhcp-client
  // dropped (2023-09-27), usrmerge dropped (2024-02-05), ubuntu-advantage-tools dropped
  // (2024-03-26), and the metapackages ubuntu-minimal and ubuntu-standard listed.
  // standard-recommends is the same as jammy's. Written as those differences from jammy (checked
  // with diff against the files at that commit).
  metaList(
    "noble-sway",
    NOBLE_SWAY_META,
    "minimal",
    [...without(JAMMY_MINIMAL, "isc-dhcp-client", "ubuntu-advantage-tools"), "ubuntu-minimal"].sort(),
  ),
  metaList("noble-sway", NOBLE_SWAY_META, "minimal-recommends", without(JAMMY_MINIMAL_RECOMMENDS, "usrmerge")),
  metaList("noble-sway", NOBLE_SWAY_META, "standard", [...JAMMY_STANDARD, "ubuntu-standard"].sort()),
  metaList("noble-sway", NOBLE_SWAY_META, "standard-recommends", JAMMY_STANDARD_RECOMMENDS),
  // What livecd-rootfs itself puts into the ubuntu-cpc image beyond the tasks, or shows is
  // there: auto/config `add_package install ubuntu-minimal` and `KERNEL_FLAVOURS=virtual`
  // (live-build's Ubuntu kernel metapackage linux-<flavour>); hooks.d/base/disk-image-uefi.binary
  // installs grub-pc and shim-signed on amd64; hooks.d/chroot/999-cpc-fixes.chroot runs
  // `dpkg-reconfigure cloud-init`. The cloud-image seed's full contents were not found.
  {
    id: "noble/ubuntu-cpc",
    title: "noble ubuntu-cpc build (livecd-rootfs)",
    source: `${LIVECD_ROOTFS}:live-build/auto/config, live-build/ubuntu-cpc/hooks.d`,
    packages: ["ubuntu-minimal", "linux-virtual", "grub-pc", "shim-signed", "cloud-init"],
  },
  // noble's systemd Recommends systemd-resolved and networkd-dispatcher, and the cloud image
  // installs Recommends: systemd 255-1ubuntu1 changelog, "Add Recommends: networkd-dispatcher
  // systemd-resolved to systemd package", "Give systemd-resolved Priority: important"
  // (https://answers.launchpad.net/ubuntu/+source/systemd/255-1ubuntu1).
  {
    id: "noble/systemd-recommends",
    title: "noble systemd Recommends",
    source: "systemd 255-1ubuntu1 (noble) changelog, launchpad.net/ubuntu/+source/systemd/255-1ubuntu1",
    packages: ["systemd-resolved", "networkd-dispatcher"],
  },
];

/** What the lab's image does with a listed package. */
export type Disposition =
  /** The same package name exists in bookworm and the image installs it. */
  | { kind: "same"; why?: string }
  /** The image installs the named Debian package(s) instead. */
  | { kind: "replaced"; by: readonly string[]; why: string }
  /**
   * Not in the image: Ubuntu's own (no Debian package of that name, or Ubuntu-specific),
   * not applicable to how the lab boots, or only a cost in boot time under TCG emulation
   * with nothing in the program depending on it.
   */
  | { kind: "left-out"; reason: "ubuntu-only" | "not-applicable" | "boot-cost"; why: string };

const same = (why?: string): Disposition => ({ kind: "same", why });
const leftOut = (reason: "ubuntu-only" | "not-applicable" | "boot-cost", why: string): Disposition => ({
  kind: "left-out",
  reason,
  why,
});

/**
 * One disposition per package named in any list. Debian names checked with `apt-cache
 * policy NAME` against bookworm main (2026-11-30): every "same" and "replaced" package has a
 * candidate there; ubuntu-advantage-tools, ubuntu-pro-client, ubuntu-minimal,
 * ubuntu-standard, plymouth-theme-ubuntu-text, update-manager-core and linux-virtual have
 * none, ubuntu-keyring has no installable candidate.
 */
export const DISPOSITIONS: Readonly<Record<string, Disposition>> = {
  adduser: same(),
  apt: same("its only source is a mirror no VM can reach"),
  "apt-utils": same(),
  "console-setup": leftOut(
    "boot-cost",
    "keyboard-setup.service and console-setup.service set the keymap and font of a console the VMs do not have (serial only), in early boot beside cloud-init-local on the one emulated CPU: measured 2026-11-30 under TCG, the test hosts finished cloud-init at 115-124 s of guest uptime with it, 83-86 s without (one run each); the program never uses the console. kbd stays (no unit of its own)",
  ),
  debconf: same(),
  "debconf-i18n": same(),
  e2fsprogs: same(),
  eject: same(),
  init: same("pulls systemd-sysv, as on Ubuntu"),
  iproute2: same("the deploy verification and the lab's checks use ip"),
  "iputils-ping": same("the ping checks run inside the test hosts"),
  "isc-dhcp-client": {
    kind: "replaced",
    by: ["dhcpcd-base"],
    why: "noble dropped it for dhcpcd-base: cloud-init 24.1 made dhcpcd its default client (canonical/cloud-init#4912) and pulls in dhcpcd-base (canonical/core-base#186); the noble list has no isc-dhcp-client. Debian's cloud-init 22.4 still depends on isc-dhcp-client, so it is in the image as that dependency",
  },
  kbd: same(),
  kmod: same("loads the WireGuard module"),
  less: same(),
  locales: same("cloud-init's locale module runs locale-gen/update-locale"),
  "lsb-release": same(),
  mawk: same(),
  mount: same(),
  netbase: same(),
  "netcat-openbsd": same(),
  "netplan.io": same("cloud-init renders netplan, netplan renders for systemd-networkd (0.106 here, 1.0 on noble)"),
  passwd: same(),
  procps: same(),
  python3: same("cloud-init and the deploy verification's netlink handshake reader"),
  "sensible-utils": same(),
  sudo: same(),
  tzdata: same(),
  "ubuntu-advantage-tools": leftOut(
    "ubuntu-only",
    "Ubuntu Pro client, not in Debian; renamed ubuntu-pro-client in noble (canonical/ubuntu-pro-client#2887, merged 2024-02-07)",
  ),
  "ubuntu-keyring": leftOut("ubuntu-only", "Ubuntu's archive keys; the image has Debian's (debian-archive-keyring)"),
  "ubuntu-minimal": leftOut("ubuntu-only", "Ubuntu's metapackage of the minimal seed; its members are listed here"),
  "ubuntu-standard": leftOut("ubuntu-only", "Ubuntu's metapackage of the standard seed; its members are listed here"),
  udev: same("runs Scaleway's private-NIC rule (72-scw-vpc-iface.rules, reconstructed)"),
  "vim-tiny": same(),
  whiptail: same(),
  rsyslog: same(),
  usrmerge: leftOut(
    "not-applicable",
    "bookworm's debootstrap already makes a merged /usr; the noble list dropped it (2024-02-05)",
  ),
  "bind9-dnsutils": same(),
  "busybox-static": same(),
  cpio: same(),
  cron: same(),
  dmidecode: same(),
  dosfstools: same(),
  ed: same(),
  file: same(),
  ftp: same(),
  hdparm: same(),
  info: same(),
  "libpam-systemd": same(),
  logrotate: same(),
  lshw: same(),
  lsof: same(),
  "man-db": same(),
  "media-types": same(),
  nftables: same("nft loads the gateway's forward policy and MSS clamp"),
  parted: same(),
  pciutils: same(),
  psmisc: same(),
  rsync: same(),
  strace: same(),
  time: same(),
  usbutils: same(),
  wget: same(),
  "xz-utils": same(),
  apparmor: leftOut(
    "boot-cost",
    "apparmor.service compiles every shipped profile at a VM's first boot (no compiled cache for the guest kernel): measured 2026-11-30, profile loads from 40 s to 94 s of guest uptime under TCG, with cloud-init-local waiting for it; the kernel's AppArmor stays on, unconfined. The profiles then shipped (dhclient, man, tcpdump, lsb_release, nvidia_modprobe) confine nothing the program runs",
  ),
  "bash-completion": same(),
  "command-not-found": same(),
  "friendly-recovery": leftOut(
    "not-applicable",
    "adds GRUB recovery-menu entries; the lab boots the kernel directly, without GRUB",
  ),
  iptables: same("nft backend on both; ufw uses it"),
  "iputils-tracepath": same(),
  irqbalance: leftOut(
    "boot-cost",
    "a daemon started at boot that has nothing to balance on the lab's 1-vCPU VMs; the program never touches IRQ affinity",
  ),
  manpages: same(),
  "mtr-tiny": same(),
  nano: same(),
  "ntfs-3g": same(),
  "openssh-client": same(),
  plymouth: leftOut(
    "boot-cost",
    "boot splash: adds itself to the initramfs and runs from there to the end of boot on the one emulated CPU, for a screen nobody sees; the lab reads the serial console and the program never uses it",
  ),
  "plymouth-theme-ubuntu-text": leftOut("ubuntu-only", "Ubuntu's splash theme; plymouth is left out"),
  tcpdump: same(),
  telnet: same(),
  ufw: same("installed but not enabled, as on Ubuntu; the gateway's policy is its own nft table"),
  "update-manager-core": leftOut("ubuntu-only", "Ubuntu's release upgrader, not in Debian"),
  "uuid-runtime": same(),
  "linux-virtual": {
    kind: "replaced",
    by: ["linux-image-cloud-amd64"],
    why: "Debian's kernel flavour for virtual machines (6.1 here, 6.8 on noble), with the WireGuard module",
  },
  "grub-pc": leftOut("not-applicable", "bootloader; the lab boots the kernel and initrd directly (qemu -kernel)"),
  "shim-signed": leftOut("not-applicable", "Secure Boot loader; the lab boots the kernel directly"),
  "cloud-init": same("runs the program's user-data (22.4 here, 24.x on noble)"),
  "systemd-resolved": same("the stub listener on 127.0.0.53:53 behind /etc/resolv.conf"),
  "networkd-dispatcher": leftOut(
    "boot-cost",
    "a Python daemon started at boot, competing with cloud-init for the one emulated CPU, that runs hook scripts on link changes; the program installs no hook and relies on none",
  ),
};

/**
 * What the lab needs that the lists do not name, each with its reason. wireguard-tools and
 * dnsmasq are never here: the user-data installs them after the tunnel is up, and no VM can
 * reach a repository.
 */
export const LAB_EXTRAS: Readonly<Record<string, string>> = {
  systemd: "PID 1 and systemd-networkd; named so apt never picks another init",
  "systemd-sysv": "named so `init` resolves to systemd",
  dbus: "networkd, resolved and logind talk over D-Bus",
  "initramfs-tools": "builds the initrd the lab boots directly (Ubuntu's cloud image is built with --initramfs=none)",
  "openssh-server":
    "the lab's checks run over SSH; the cloud image has sshd (livecd-rootfs hook 052-ssh_authentication configures it), but the cloud-image seed itself was not found",
  "ca-certificates": "TLS roots; Ubuntu gets them through Recommends (wget's), which this build does not install",
  iperf3: "not in Ubuntu's image: only for the lab's optional throughput check (--throughput)",
};

/** Packages the image must never ship: the user-data installs them once the tunnel is up. */
export const INSTALLED_BY_USER_DATA: readonly string[] = ["wireguard-tools", "dnsmasq"];

/** Packages the gateway's critical path needs from the image. */
export const REQUIRED_IN_IMAGE: readonly string[] = [
  "nftables",
  "netplan.io",
  "systemd-resolved",
  "cloud-init",
  "linux-image-cloud-amd64",
];

export interface PackageSet {
  lists: readonly PublishedList[];
  dispositions: Readonly<Record<string, Disposition>>;
  extras: Readonly<Record<string, string>>;
}

export const UBUNTU_PACKAGE_SET: PackageSet = {
  lists: PUBLISHED_LISTS,
  dispositions: DISPOSITIONS,
  extras: LAB_EXTRAS,
};

/** Every package named in a list, in first-listed order. */
export function listedPackages(set: PackageSet): string[] {
  return [...new Set(set.lists.flatMap((l) => l.packages))];
}

/** The Debian packages a disposition puts into the image. */
function installs(name: string, d: Disposition): readonly string[] {
  if (d.kind === "same") return [name];
  if (d.kind === "replaced") return d.by;
  return [];
}

/** The image's package list: every mirrored or replacing package, then the lab's extras; sorted, unique. */
export function imagePackages(set: PackageSet): string[] {
  const fromLists = Object.entries(set.dispositions).flatMap(([name, d]) => installs(name, d));
  return [...new Set([...fromLists, ...Object.keys(set.extras)])].sort();
}

/**
 * Everything wrong with a package set against an image list, one sentence each (empty when
 * consistent): a listed package with no disposition, a disposition for a package no list
 * names, a left-out package without a reason, a package installed by the user-data in the
 * image, a required package missing, or a disposition whose package the image list lacks.
 */
export function packageSetProblems(set: PackageSet, image: readonly string[]): string[] {
  const problems: string[] = [];
  const listed = new Set(listedPackages(set));
  const inImage = new Set(image);
  for (const name of listed) {
    if (!set.dispositions[name]) {
      const lists = set.lists.filter((l) => l.packages.includes(name)).map((l) => l.id);
      problems.push(
        `${name} (${lists.join(", ")}) has no disposition: add it to DISPOSITIONS in lab/vm/ubuntuPackageSet.ts`,
      );
    }
  }
  for (const [name, d] of Object.entries(set.dispositions)) {
    if (!listed.has(name)) problems.push(`${name} has a disposition but no published list names it`);
    if (d.kind !== "same" && !d.why.trim()) problems.push(`${name}: ${d.kind} needs a reason`);
    for (const p of installs(name, d)) {
      if (!inImage.has(p)) problems.push(`${name} is mirrored as ${p}, but the image list does not contain ${p}`);
    }
  }
  for (const p of INSTALLED_BY_USER_DATA) {
    if (inImage.has(p)) {
      problems.push(`${p} is in the image list: the user-data installs it after the tunnel is up; remove it`);
    }
  }
  for (const p of REQUIRED_IN_IMAGE) {
    if (!inImage.has(p)) problems.push(`${p} is missing from the image list: the gateway's critical path uses it`);
  }
  return problems;
}

/** The README's table of sources: one row per published list. */
export function listTableRows(set: PackageSet): string[][] {
  return set.lists.map((l) => [l.id, l.title, l.source, String(l.packages.length)]);
}

/** The README's table: one row per listed package, then the lab's extras. */
export function packageTableRows(set: PackageSet): string[][] {
  const where = (name: string) =>
    set.lists
      .filter((l) => l.packages.includes(name))
      .map((l) => l.id)
      .join(", ");
  const here = (name: string, d: Disposition | undefined): string => {
    if (!d) return "(none)";
    if (d.kind === "same") return "same";
    if (d.kind === "replaced") return `replaced by ${d.by.join(", ")}`;
    return `left out (${d.reason})`;
  };
  return [
    ...listedPackages(set).map((name) => {
      const d = set.dispositions[name];
      return [name, where(name), here(name, d), d?.why ?? ""];
    }),
    ...Object.entries(set.extras).map(([name, why]) => [name, "lab only", "added", why]),
  ];
}

export const README_FILE = path.join(__dirname, "README.md");

export const LIST_TABLE: TableMarkers = {
  begin: "<!-- package lists: generated from lab/vm/ubuntuPackageSet.ts -->",
  end: "<!-- /package lists -->",
};
export const PACKAGE_TABLE: TableMarkers = {
  begin: "<!-- package dispositions: generated from lab/vm/ubuntuPackageSet.ts -->",
  end: "<!-- /package dispositions -->",
};

/** The README with both generated tables rewritten from `set`. */
export function withPackageTables(readme: string, set: PackageSet): string {
  const lists = markdownTable(["list", "what", "source", "packages"], listTableRows(set));
  const packages = markdownTable(["package", "listed in", "here", "why"], packageTableRows(set));
  return withGeneratedTable(withGeneratedTable(readme, LIST_TABLE, lists), PACKAGE_TABLE, packages);
}

if (require.main === module && process.argv.includes("--write")) {
  fs.writeFileSync(README_FILE, withPackageTables(fs.readFileSync(README_FILE, "utf8"), UBUNTU_PACKAGE_SET));
  console.log(`wrote the package tables of ${path.relative(process.cwd(), README_FILE)}`);
}
