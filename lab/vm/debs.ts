/**
 * Debian's own package files for a VM that must have a package its image does not ship
 * (an operator's host has wireguard-tools; the gateways' image must not, so that the
 * tunnel is proven to need no package). No VM reaches a mirror: the exact files are
 * fetched once on this machine, which reaches Debian's packages, from the same suite the
 * image was built from (this machine's apt sources: both are Debian 12), and cached beside
 * the image. Their SHA-256 go into a saved state's key, so a new package version makes a
 * new state.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { runOk } from "../proc";
import { releaseCacheLock, takeCacheLock } from "./cacheLock";

export interface DebFile {
  /** Package name as apt knows it. */
  package: string;
  file: string;
  sha256: string;
}

const sha256Of = (file: string) => createHash("sha256").update(fs.readFileSync(file)).digest("hex");

/** A package at an exact version (as apt's own resolution chose it). */
export interface PinnedPackage {
  package: string;
  version: string;
}

/**
 * The .deb of each package, downloaded once into `<cacheRoot>/debs/` (`apt-get download`:
 * no dependency resolution, so list every package the VM lacks): at the version given, or
 * at this machine's candidate for a bare name. Bounded; throws with apt's own words when a
 * package cannot be had.
 */
export async function fetchDebs(cacheRoot: string, packages: readonly (string | PinnedPackage)[]): Promise<DebFile[]> {
  const dir = path.join(cacheRoot, "debs");
  fs.mkdirSync(dir, { recursive: true });
  const debs: DebFile[] = [];
  for (const wanted of packages) {
    const pkg = typeof wanted === "string" ? wanted : wanted.package;
    const candidate = typeof wanted === "string" ? await candidateVersion(pkg) : wanted.version;
    // apt-get download names the file <package>_<version with : as %3a>_<arch>.deb.
    const prefix = `${pkg}_${candidate.replace(/:/g, "%3a")}_`;
    const find = () => fs.readdirSync(dir).find((f) => f.startsWith(prefix) && f.endsWith(".deb"));
    if (!find()) {
      const lockDir = path.join(dir, pkg);
      if (await takeCacheLock(lockDir, () => find() !== undefined, 5 * 60_000, `package ${pkg}`)) {
        try {
          await runOk(["sh", "-c", 'cd "$1" && apt-get download -q "$2"', "sh", dir, `${pkg}=${candidate}`], {
            timeoutMs: 5 * 60_000,
          });
        } finally {
          releaseCacheLock(lockDir);
        }
      }
    }
    const file = find();
    if (!file) throw new Error(`apt-get download ${pkg}=${candidate} left no file in ${dir}`);
    debs.push({ package: pkg, file: path.join(dir, file), sha256: sha256Of(path.join(dir, file)) });
  }
  return debs;
}

async function candidateVersion(pkg: string): Promise<string> {
  const policy = (await runOk(["apt-cache", "policy", pkg], { timeoutMs: 30_000 })).stdout;
  const candidate = /Candidate:\s*(\S+)/.exec(policy)?.[1];
  if (!candidate || candidate === "(none)")
    throw new Error(`no Debian package ${pkg} on this machine's apt sources (apt-get update first)`);
  return candidate;
}

/**
 * A shell prelude that installs `debs` on a VM that reaches no mirror: each file inline as
 * base64 (the script goes over SSH on stdin), checked against its SHA-256, then `dpkg -i`.
 */
export function debInstallScript(debs: readonly DebFile[]): string {
  const dir = "/root/lab-debs";
  const name = (d: DebFile) => `${dir}/${path.basename(d.file)}`;
  return [
    "set -eu",
    `mkdir -p ${dir}`,
    ...debs.map(
      (d) => `base64 -d >${name(d)} <<'WG_S2S_LAB_EOF'\n${fs.readFileSync(d.file).toString("base64")}\nWG_S2S_LAB_EOF`,
    ),
    ...debs.map((d) => `echo '${d.sha256}  ${name(d)}' | sha256sum -c --quiet`),
    ...(debs.length ? [`dpkg -i ${debs.map(name).join(" ")} >/dev/null`] : []),
    `rm -rf ${dir}`,
  ].join("\n");
}
