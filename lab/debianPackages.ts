/**
 * The Debian packages the tests and both labs run on this machine, read from
 * lab/debian-packages.json: the one list scripts/ensure-setup.js installs (it is plain
 * JavaScript and reads the same file) and the labs' prerequisite checks look up.
 */
import * as fs from "fs";
import * as path from "path";

export interface DebianPackage {
  name: string;
  /** What the tests or labs use it for. */
  why: string;
  /** Executables the namespace lab's preflight looks for. */
  labTools?: string[];
  /** Files the namespace lab's stand-ins rely on. */
  labFiles?: string[];
  /** Executables the VM lab's prerequisites check looks for. */
  vmLabTools?: string[];
  /** Units masked on this machine once the package is installed (scripts/ensure-setup.js). */
  maskUnits?: string[];
}

export const DEBIAN_PACKAGES_FILE = path.join(__dirname, "debian-packages.json");

export function readDebianPackages(file = DEBIAN_PACKAGES_FILE): DebianPackage[] {
  return (JSON.parse(fs.readFileSync(file, "utf8")) as { packages: DebianPackage[] }).packages;
}

/** key -> the package that provides it, for every key `field` lists. */
function providedBy(packages: readonly DebianPackage[], field: "labTools" | "labFiles" | "vmLabTools") {
  return Object.fromEntries(packages.flatMap((p) => (p[field] ?? []).map((key) => [key, p.name] as const)));
}

/**
 * Everything wrong with the list, one sentence each (empty when well formed): an entry
 * without a name or reason, a name listed twice, a file that is not an absolute path, a tool
 * given as a path, a unit name without a unit suffix.
 */
export function debianPackageProblems(packages: readonly DebianPackage[]): string[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const p of packages) {
    if (!p.name?.trim()) problems.push(`an entry has no name: ${JSON.stringify(p)}`);
    else if (seen.has(p.name)) problems.push(`${p.name} is listed twice`);
    seen.add(p.name);
    if (!p.why?.trim()) problems.push(`${p.name}: say why it is installed ("why")`);
    for (const f of p.labFiles ?? []) if (!f.startsWith("/")) problems.push(`${p.name}: labFiles ${f} is not absolute`);
    for (const t of [...(p.labTools ?? []), ...(p.vmLabTools ?? [])])
      if (t.includes("/"))
        problems.push(`${p.name}: tool ${t} is a path; name the executable (or list it in labFiles)`);
    for (const u of p.maskUnits ?? [])
      if (!/^[\w@.-]+\.(service|socket|timer|path)$/.test(u))
        problems.push(`${p.name}: maskUnits ${u} is not a unit name`);
  }
  return problems;
}

const PACKAGES = readDebianPackages();

/** Executable -> Debian package, for the namespace lab's preflight. */
export const LAB_TOOLS: Readonly<Record<string, string>> = providedBy(PACKAGES, "labTools");
/** File the namespace lab's stand-ins rely on -> Debian package. */
export const LAB_FILES: Readonly<Record<string, string>> = providedBy(PACKAGES, "labFiles");
/** Executable -> Debian package, for the VM lab's prerequisites. */
export const VM_LAB_TOOLS: Readonly<Record<string, string>> = providedBy(PACKAGES, "vmLabTools");
/** Every package scripts/ensure-setup.js installs. */
export const DEBIAN_PACKAGES: readonly string[] = PACKAGES.map((p) => p.name);
/** What the namespace lab needs, sorted (a subset of DEBIAN_PACKAGES). */
export const LAB_DEBIAN_PACKAGES: readonly string[] = [
  ...new Set([...Object.values(LAB_TOOLS), ...Object.values(LAB_FILES)]),
].sort();
