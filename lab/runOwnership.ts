/**
 * Which lab run owns what, for both labs (namespaces and VMs). A run records itself in its
 * own run directory (<runDir>/owner.json: its pid, and the pids it started) before it
 * creates anything, and removes the record when it has cleaned up. A later run of the same
 * clone sweeps only leftovers of its own clone: run directories whose recorded owner is
 * dead, and the namespaces named after a run directory of this clone with no live owner.
 *
 * Several clones may run a lab on one machine at once (CI runners, worktrees). A namespace
 * whose prefix has no run directory here belongs to another clone (or to a run directory
 * removed by hand): it is reported, never touched, since nothing here says its owner is dead.
 */
import * as fs from "fs";
import * as path from "path";
import { pidAlive } from "./proc";

/** What a run records as its own. */
export interface OwnerRecord {
  prefix: string;
  /** The lab process. */
  pid: number;
  startedAt?: string;
  /** Processes the run started outside its namespaces (VMs, stand-ins), to stop if it dies. */
  pids?: number[];
  /** The run directory stays after the run (--keep): a sweep removes its namespaces only. */
  keepDir?: boolean;
}

export const OWNER_FILE = "owner.json";

/** Writes (or rewrites) the record whole: a reader never sees half of it. */
export function writeOwner(runDir: string, record: OwnerRecord): void {
  fs.mkdirSync(runDir, { recursive: true });
  const tmp = path.join(runDir, `.${OWNER_FILE}.${process.pid}`);
  fs.writeFileSync(tmp, JSON.stringify(record));
  fs.renameSync(tmp, path.join(runDir, OWNER_FILE));
}

export function readOwner(runDir: string): OwnerRecord | undefined {
  try {
    const r = JSON.parse(fs.readFileSync(path.join(runDir, OWNER_FILE), "utf8")) as OwnerRecord;
    return typeof r.pid === "number" && typeof r.prefix === "string" ? r : undefined;
  } catch {
    return undefined;
  }
}

export function removeOwner(runDir: string): void {
  fs.rmSync(path.join(runDir, OWNER_FILE), { force: true });
}

export function cmdlineOf(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ");
  } catch {
    return "";
  }
}

/** The recorded lab process still runs: alive, and a node, tsx or jest process (not whatever reused its pid). */
export function ownerAlive(owner: OwnerRecord, self = process.pid): boolean {
  return owner.pid !== self && pidAlive(owner.pid) && /node|tsx|jest/.test(cmdlineOf(owner.pid));
}

/** A run of this clone whose owner is gone, with its namespaces still present. */
export interface Leftover {
  prefix: string;
  dir: string;
  /** Undefined when the run left no readable record (its namespaces are still this clone's). */
  owner?: OwnerRecord;
  namespaces: string[];
}

export interface SweepOptions {
  /** This clone's run directories, one per run prefix. */
  runsRoot: string;
  /** A run prefix (the part of a namespace name before the first "-"). */
  prefixPattern: RegExp;
  /** The machine's network namespaces. */
  listNamespaces: () => Promise<string[]>;
  /** Removes a leftover (its processes, namespaces, files); returns what it removed, for the log. */
  destroy: (leftover: Leftover) => Promise<string[]>;
}

export interface SweepReport {
  swept: { prefix: string; removed: string[] }[];
  /** Namespaces with a lab prefix and no run directory of this clone: left alone. */
  notOurs: string[];
}

/** The run prefix a namespace name belongs to ("wgl1a2b-scaleway-gw" -> "wgl1a2b"), if it matches. */
export function prefixOfNamespace(netns: string, prefixPattern: RegExp): string | undefined {
  const prefix = netns.split("-")[0];
  return prefixPattern.test(prefix) ? prefix : undefined;
}

/** Removes this clone's leftovers: runs whose recorded owner is dead, and namespaces of its runs with no live owner. */
export async function sweepLeftovers(o: SweepOptions): Promise<SweepReport> {
  const namespaces = new Map<string, string[]>();
  for (const ns of await o.listNamespaces()) {
    const prefix = prefixOfNamespace(ns, o.prefixPattern);
    if (prefix) namespaces.set(prefix, [...(namespaces.get(prefix) ?? []), ns]);
  }
  const dirs = fs.existsSync(o.runsRoot) ? fs.readdirSync(o.runsRoot).filter((e) => o.prefixPattern.test(e)) : [];
  const report: SweepReport = { swept: [], notOurs: [] };
  for (const prefix of dirs) {
    const dir = path.join(o.runsRoot, prefix);
    const owner = readOwner(dir);
    if (owner && ownerAlive(owner)) continue;
    // A directory with no record and no namespaces is a finished run's (logs, --keep).
    if (!owner && !namespaces.has(prefix)) continue;
    const removed = await o.destroy({ prefix, dir, owner, namespaces: namespaces.get(prefix) ?? [] });
    removeOwner(dir);
    report.swept.push({ prefix, removed });
  }
  const ours = new Set(dirs);
  for (const [prefix, names] of namespaces) if (!ours.has(prefix)) report.notOurs.push(...names);
  return report;
}

/** The log line for a sweep, or undefined when it found nothing. */
export function sweepSummary(r: SweepReport): string | undefined {
  const parts = r.swept.map((s) => `run ${s.prefix}: ${s.removed.length ? s.removed.join(", ") : "its record"}`);
  if (r.notOurs.length)
    parts.push(
      `left alone, no run of this clone: ${r.notOurs.join(", ")} (another clone's; if none runs, \`ip netns delete NAME\`)`,
    );
  return parts.length ? `leftovers of earlier runs: ${parts.join("; ")}` : undefined;
}
