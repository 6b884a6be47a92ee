/**
 * Can the lab run here? Names exactly what is missing, so `npm run lab` can refuse with
 * a message a newcomer can act on (exit code 2), and scripts/ensure-setup.js can
 * install the Debian packages listed in LAB_DEBIAN_PACKAGES.
 */
import * as fs from "fs";
import { execFileSync } from "child_process";

/** Executable -> Debian package that provides it. */
export const LAB_TOOLS: Record<string, string> = {
  ip: "iproute2",
  ss: "iproute2",
  nsenter: "util-linux",
  unshare: "util-linux",
  mount: "mount",
  sysctl: "procps",
  ping: "iputils-ping",
  wg: "wireguard-tools",
  "wg-quick": "wireguard-tools",
  "wireguard-go": "wireguard-go",
  dnsmasq: "dnsmasq",
  "cloud-init": "cloud-init",
  iperf3: "iperf3",
  dhclient: "isc-dhcp-client",
  nft: "nftables",
  "dpkg-query": "dpkg",
  netplan: "netplan.io",
  // The Docker host's ruleset (iptables-nft, as Debian 12's docker.io writes it).
  iptables: "iptables",
  "iptables-restore": "iptables",
  ufw: "ufw",
};

/** Files the stand-ins rely on, and the package that ships each. */
export const LAB_FILES: Record<string, string> = {
  "/etc/dhcp/dhclient-exit-hooks.d/rfc3442-classless-routes": "isc-dhcp-client",
  "/sbin/dhclient-script": "isc-dhcp-client",
  "/lib/systemd/system/wg-quick@.service": "wireguard-tools",
  "/lib/systemd/system/dnsmasq.service": "dnsmasq",
  "/usr/share/dnsmasq/systemd-helper": "dnsmasq",
};

/** What the lab needs; scripts/ensure-setup.js installs them (a test keeps the two lists in step) (apt-get install --no-install-recommends). */
export const LAB_DEBIAN_PACKAGES = [...new Set([...Object.values(LAB_TOOLS), ...Object.values(LAB_FILES)])].sort();

export interface PreflightResult {
  ok: boolean;
  problems: string[];
  missingPackages: string[];
}

function which(tool: string): boolean {
  const dirs = (process.env.PATH ?? "").split(":").concat(["/usr/sbin", "/sbin", "/usr/bin", "/bin"]);
  return dirs.some((d) => {
    try {
      fs.accessSync(`${d}/${tool}`, fs.constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

export function preflight(): PreflightResult {
  const problems: string[] = [];
  const missing = new Set<string>();
  if (process.platform !== "linux")
    problems.push(`not Linux (platform ${process.platform}): the lab needs Linux network namespaces`);
  if (typeof process.getuid === "function" && process.getuid() !== 0) {
    problems.push("not root: creating network namespaces needs root (run: sudo npm run lab)");
  }
  try {
    fs.closeSync(fs.openSync("/dev/net/tun", "r+"));
  } catch (e) {
    problems.push(
      `no usable /dev/net/tun (${(e as NodeJS.ErrnoException).code}): wireguard-go needs it (in a container: --device /dev/net/tun)`,
    );
  }
  if (process.platform === "linux") {
    try {
      if (!fs.readFileSync("/proc/filesystems", "utf8").includes("overlay")) {
        try {
          execFileSync("modprobe", ["overlay"], { stdio: "ignore" });
        } catch {
          problems.push("no overlayfs in the kernel: lab hosts keep their files in overlays");
        }
      }
    } catch {
      /* /proc unreadable: the tool checks below will say enough */
    }
  }
  for (const [tool, pkg] of Object.entries(LAB_TOOLS)) {
    if (!which(tool)) {
      problems.push(`missing tool ${tool} (Debian package ${pkg})`);
      missing.add(pkg);
    }
  }
  for (const [file, pkg] of Object.entries(LAB_FILES)) {
    if (!fs.existsSync(file)) {
      problems.push(`missing ${file} (Debian package ${pkg})`);
      missing.add(pkg);
    }
  }
  return { ok: problems.length === 0, problems, missingPackages: [...missing].sort() };
}
