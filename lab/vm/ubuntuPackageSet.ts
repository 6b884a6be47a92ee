/**
 * Which packages Ubuntu's noble cloud image ships, and what the VM lab's Debian bookworm
 * image does with each: the data, with its sources, is lab/vm/ubuntu-package-set.json.
 * lab/vm/image.ts builds its package list from it (imagePackages), lab/vm/README.md carries
 * it as tables (`npx tsx lab/vm/ubuntuPackageSet.ts --write`), and
 * lab/vm/ubuntuPackageSet.test.ts fails when a listed package has no disposition or the
 * image list breaks the lab's premise.
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

export interface PackageSet {
  lists: readonly PublishedList[];
  /** One disposition per package named in any list. */
  dispositions: Readonly<Record<string, Disposition>>;
  /** What the lab needs that the lists do not name, each with its reason. */
  extras: Readonly<Record<string, string>>;
}

/** A list as the data file writes it: its packages, or another list's with and without some. */
type ListEntry = Omit<PublishedList, "packages"> & {
  packages?: string[];
  sameAs?: string;
  with?: string[];
  without?: string[];
  note?: string;
};

interface PackageSetFile {
  lists: ListEntry[];
  dispositions: Record<string, Disposition>;
  extras: Record<string, string>;
  installedByUserData: string[];
  requiredInImage: string[];
}

export const PACKAGE_SET_FILE = path.join(__dirname, "ubuntu-package-set.json");

function resolveLists(entries: readonly ListEntry[]): PublishedList[] {
  const byId = new Map<string, PublishedList>();
  return entries.map(({ id, title, source, packages, sameAs, with: added = [], without = [] }) => {
    let resolved: readonly string[];
    if (packages) resolved = packages;
    else {
      const base = sameAs === undefined ? undefined : byId.get(sameAs);
      if (!base) throw new Error(`${PACKAGE_SET_FILE}: list ${id} has no packages and no earlier list sameAs`);
      resolved = [...base.packages.filter((p) => !without.includes(p)), ...added].sort();
    }
    const list = { id, title, source, packages: resolved };
    byId.set(id, list);
    return list;
  });
}

const FILE = JSON.parse(fs.readFileSync(PACKAGE_SET_FILE, "utf8")) as PackageSetFile;

export const PUBLISHED_LISTS: readonly PublishedList[] = resolveLists(FILE.lists);
export const DISPOSITIONS: Readonly<Record<string, Disposition>> = FILE.dispositions;
export const LAB_EXTRAS: Readonly<Record<string, string>> = FILE.extras;
/** Packages the image must never ship: the user-data installs them once the tunnel is up. */
export const INSTALLED_BY_USER_DATA: readonly string[] = FILE.installedByUserData;
/** Packages the gateway's critical path needs from the image. */
export const REQUIRED_IN_IMAGE: readonly string[] = FILE.requiredInImage;

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
        `${name} (${lists.join(", ")}) has no disposition: add it to dispositions in lab/vm/ubuntu-package-set.json`,
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
  begin: "<!-- package lists: generated from lab/vm/ubuntu-package-set.json -->",
  end: "<!-- /package lists -->",
};
export const PACKAGE_TABLE: TableMarkers = {
  begin: "<!-- package dispositions: generated from lab/vm/ubuntu-package-set.json -->",
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
