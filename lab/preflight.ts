/**
 * Can the lab run here? Names exactly what is missing, so `npm run lab` can refuse with
 * a message a newcomer can act on (exit code 2). What it looks for, and which Debian
 * package provides it, is in lab/debian-packages.json (scripts/ensure-setup.js installs them).
 */
import * as fs from "fs";
import { execFileSync } from "child_process";
import { LAB_FILES, LAB_TOOLS } from "./debianPackages";

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
