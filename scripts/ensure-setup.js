#!/usr/bin/env node
/**
 * Set-up that `npm test`, `npm run lab` and `npm run bench` do for themselves on a fresh
 * clone: install npm packages from the lockfile when node_modules is missing or stale, and
 * (as root, on Debian/Ubuntu) the Debian packages the tests and the lab run for real.
 * Plain Node with no dependencies, since it runs before `npm ci`.
 *
 *   node scripts/ensure-setup.js    npm packages + the Debian packages of the tests, the
 *                                   namespace lab and the VM lab (one list: `npm run lab --
 *                                   --vm` and `npm test` need them all)
 */
"use strict";
const { execFileSync, spawnSync } = require("child_process");
const fs = require("fs");
const path = require("path");

const root = path.resolve(__dirname, "..");

/** What the tests and the namespace lab run: real WireGuard, DHCP, cloud-init, nftables. */
const LAB_PACKAGES = [
  "wireguard-tools", // wg, wg-quick
  "wireguard-go", // userspace WireGuard where the kernel has no module
  "dnsmasq", // the dhcp sites' DHCP server (its unit file too) and the stand-in for Scaleway's DHCP
  "isc-dhcp-client", // dhclient with the rfc3442 option-121 hook
  "cloud-init", // `cloud-init schema` and the modules that run the user-data
  "nftables",
  "iproute2",
  "iputils-ping",
  "iperf3",
  "openssh-client", // ssh-keygen for the mock runtime's SSH keys
  "shellcheck",
  "procps",
  "util-linux", // unshare, nsenter
  "mount",
  "dpkg",
];
/** The VM lab's tool chain (issue 6). */
const VM_PACKAGES = ["qemu-system-x86", "qemu-utils", "debootstrap", "dpkg-dev", "genisoimage", "e2fsprogs"];

function log(msg) {
  process.stderr.write(`[setup] ${msg}\n`);
}

/** `npm ci` in dir when its node_modules is missing or older than its lockfile. */
function ensureNodeModules(dir) {
  const marker = path.join(dir, "node_modules", ".package-lock.json");
  const lock = path.join(dir, "package-lock.json");
  const stale = !fs.existsSync(marker) || fs.statSync(marker).mtimeMs < fs.statSync(lock).mtimeMs;
  if (!stale) return;
  log(`installing npm packages from ${path.relative(root, lock) || "package-lock.json"} (npm ci)`);
  const r = spawnSync("npm", ["ci", "--no-audit", "--no-fund"], { cwd: dir, stdio: "inherit" });
  if (r.status !== 0) {
    log("npm ci failed; see above");
    process.exit(r.status ?? 1);
  }
}

function missingDebianPackages(wanted) {
  return wanted.filter((pkg) => {
    const r = spawnSync("dpkg-query", ["-W", "-f=${Status}", pkg], { encoding: "utf8" });
    return r.status !== 0 || !r.stdout.includes("install ok installed");
  });
}

function ensureDebianPackages(wanted) {
  if (process.platform !== "linux" || !fs.existsSync("/usr/bin/dpkg-query")) {
    log("not a Debian/Ubuntu machine: install these yourself: " + wanted.join(" "));
    return;
  }
  const missing = missingDebianPackages(wanted);
  if (missing.length === 0) return;
  if (typeof process.getuid === "function" && process.getuid() !== 0) {
    log(`not root, cannot install: ${missing.join(" ")} (the lab tests will say they cannot run)`);
    return;
  }
  log(`installing Debian packages: ${missing.join(" ")}`);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  // The lab runs dnsmasq, iperf3 and friends inside its own namespaces only: keep their
  // packages from starting system-wide daemons on this machine (policy-rc.d "101" = deny).
  const policy = "/usr/sbin/policy-rc.d";
  const ownPolicy = !fs.existsSync(policy);
  if (ownPolicy) fs.writeFileSync(policy, "#!/bin/sh\nexit 101\n", { mode: 0o755 });
  try {
    execFileSync("apt-get", ["update", "-qq"], { stdio: "inherit", env });
    execFileSync("apt-get", ["install", "-y", "-qq", "--no-install-recommends", ...missing], { stdio: "inherit", env });
  } finally {
    if (ownPolicy) fs.rmSync(policy, { force: true });
  }
}

module.exports = { LAB_PACKAGES, VM_PACKAGES };

if (require.main === module) {
  ensureNodeModules(root);
  // The policy pack is its own npm project, as `pulumi preview --policy-pack policy` expects.
  ensureNodeModules(path.join(root, "policy"));
  ensureDebianPackages([...LAB_PACKAGES, ...VM_PACKAGES]);
}
