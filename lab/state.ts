/**
 * A namespace-lab run's prefix, its teardown, the sweep of this clone's leftovers (the
 * ownership policy is lab/runOwnership.ts, shared with the VM lab), and the reaper that
 * tears a run down when its process dies without doing it.
 */
import { spawn } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { destroyNetnsAll, listNetns } from "./netns";
import { PREFIX_PATTERN, RUNS_DIR } from "./paths";
import { OWNER_FILE, prefixOfNamespace, sweepLeftovers, type SweepReport } from "./runOwnership";

/** A fresh prefix: no namespace on the machine and no run directory here uses it. */
export async function newPrefix(): Promise<string> {
  const taken = new Set((await listNetns()).map(prefixOf));
  for (let i = 0; i < 100; i++) {
    const p = `wgl${crypto.randomBytes(2).toString("hex")}`;
    if (!taken.has(p) && !fs.existsSync(path.join(RUNS_DIR, p))) return p;
  }
  throw new Error("no free lab prefix in 100 tries: remove old runs (ip netns list; .lab/runs)");
}

/** The run prefix a namespace name belongs to ("wgl1a2b-scaleway-gw" -> "wgl1a2b"). */
export function prefixOf(ns: string): string | undefined {
  return prefixOfNamespace(ns, PREFIX_PATTERN);
}

/** Remove every namespace of a prefix (killing its processes) and the run directory. */
export async function destroyRun(prefix: string, runDir?: string): Promise<string[]> {
  const names = (await listNetns()).filter((n) => prefixOf(n) === prefix);
  // Hosts first, the switch last: processes die before their links' peers vanish.
  names.sort((a, b) => Number(a.endsWith("-switch")) - Number(b.endsWith("-switch")));
  await destroyNetnsAll(names);
  if (runDir && path.resolve(runDir).startsWith(path.resolve(RUNS_DIR)))
    fs.rmSync(runDir, { recursive: true, force: true });
  return names;
}

/**
 * Clones still on the earlier, machine-wide policy delete every lab namespace whose prefix
 * has no entry with a live pid in this directory, whichever clone it belongs to. A run
 * writes its entry there too, so those clones leave it alone while it runs; nothing here
 * reads the directory. Returns what removes the entry.
 */
const MACHINE_WIDE_DIR = process.env.LAB_STATE_DIR ?? "/run/scaleway-wireguard-s2s/lab-state";
const machineWideEntry = (prefix: string) => path.join(MACHINE_WIDE_DIR, `${prefix}.json`);
export function announceMachineWide(prefix: string, runDir: string): () => void {
  const file = machineWideEntry(prefix);
  fs.mkdirSync(MACHINE_WIDE_DIR, { recursive: true });
  fs.writeFileSync(file, JSON.stringify({ prefix, pid: process.pid, startedAt: new Date().toISOString(), runDir }));
  return () => fs.rmSync(file, { force: true });
}

/** Removes this clone's leftover runs: those whose recorded owner is dead, and their namespaces. */
export async function cleanupLeftovers(): Promise<SweepReport> {
  return sweepLeftovers({
    runsRoot: RUNS_DIR,
    prefixPattern: PREFIX_PATTERN,
    listNamespaces: listNetns,
    destroy: async ({ prefix, dir, owner }) => destroyRun(prefix, owner?.keepDir ? undefined : dir),
  });
}

/**
 * A detached shell that outlives the lab process: once that PID is gone (exited, killed,
 * or a zombie), it removes whatever namespaces of the prefix are left, killing their
 * processes, then the run's owner record, its machine-wide entry and (unless kept) its
 * directory. It covers deaths no handler can catch (SIGKILL, or tsx's wrapper SIGKILLing a
 * busy child after relaying Ctrl-C). Bounded: gives up after `maxHours`. Exits at once when
 * the lab cleaned up itself.
 */
export function startReaper(prefix: string, runDir: string, keepDir: boolean, maxHours = 3): number | undefined {
  if (!PREFIX_PATTERN.test(prefix)) throw new Error(`bad prefix ${prefix}`);
  const script = `
pid=$1; prefix=$2; dir=$3; owner=$4; rounds=$(( $5 * 3600 )); entry=$6
alive() { [ -r /proc/$pid/stat ] && ! grep -q ') Z ' /proc/$pid/stat; }
i=0
while alive && [ $i -lt $rounds ]; do sleep 1; i=$((i+1)); done
alive && exit 0
for ns in $(ip netns list | awk '{print $1}' | grep "^$prefix-"); do
  for p in $(ip netns pids "$ns"); do kill -9 "$p" 2>/dev/null; done
done
for ns in $(ip netns list | awk '{print $1}' | grep "^$prefix-"); do ip netns del "$ns" 2>/dev/null; done
[ -n "$dir" ] && rm -rf "$dir"
rm -f "$owner" "$entry"
`;
  const child = spawn(
    "sh",
    [
      "-c",
      script,
      "lab-reaper",
      String(process.pid),
      prefix,
      keepDir ? "" : runDir,
      path.join(runDir, OWNER_FILE),
      String(maxHours),
      machineWideEntry(prefix),
    ],
    {
      detached: true,
      stdio: "ignore",
    },
  );
  child.unref();
  return child.pid;
}
