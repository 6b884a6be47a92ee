/**
 * Run ownership and leftovers. Each run writes <STATE_DIR>/<prefix>.json with its PID
 * before creating anything; a run killed with SIGKILL leaves that file behind, and the
 * next run removes whatever it lists (and any namespace with a lab prefix that no live
 * run owns). Two live runs never touch each other's namespaces, from whichever checkout
 * they were started (STATE_DIR is machine-wide, see paths.ts).
 */
import { spawn } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { destroyNetnsAll, listNetns } from "./netns";
import { PREFIX_PATTERN, RUNS_DIR, STATE_DIR } from "./paths";
import { pidAlive } from "./proc";

export interface RunState {
  prefix: string;
  pid: number;
  startedAt: string;
  runDir: string;
}

export function newPrefix(): string {
  return `wgl${crypto.randomBytes(2).toString("hex")}`;
}

/** The run prefix a namespace name belongs to ("wgl1a2b-scaleway-gw" -> "wgl1a2b"). */
export function prefixOf(ns: string): string | undefined {
  const p = ns.split("-")[0];
  return PREFIX_PATTERN.test(p) ? p : undefined;
}

export function writeRunState(s: RunState): void {
  fs.mkdirSync(STATE_DIR, { recursive: true });
  fs.writeFileSync(path.join(STATE_DIR, `${s.prefix}.json`), JSON.stringify(s, null, 2));
}

export function removeRunState(prefix: string): void {
  fs.rmSync(path.join(STATE_DIR, `${prefix}.json`), { force: true });
}

function readStates(): RunState[] {
  let files: string[];
  try {
    files = fs.readdirSync(STATE_DIR).filter((f) => f.endsWith(".json"));
  } catch {
    return [];
  }
  return files.flatMap((f) => {
    try {
      return [JSON.parse(fs.readFileSync(path.join(STATE_DIR, f), "utf8")) as RunState];
    } catch {
      return [
        {
          prefix: f.replace(/\.json$/, ""),
          pid: 0,
          startedAt: "",
          runDir: path.join(RUNS_DIR, f.replace(/\.json$/, "")),
        },
      ];
    }
  });
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
 * Clean up after runs whose owner is dead. Returns what was removed (for the progress log).
 * Namespaces with a lab prefix and no state file at all are leftovers too.
 */
export async function cleanupLeftovers(): Promise<{ prefix: string; namespaces: string[] }[]> {
  const states = readStates();
  const live = new Set(
    states.filter((s) => s.pid > 0 && s.pid !== process.pid && pidAlive(s.pid)).map((s) => s.prefix),
  );
  const removed: { prefix: string; namespaces: string[] }[] = [];
  for (const s of states) {
    if (live.has(s.prefix) || s.pid === process.pid) continue;
    removed.push({ prefix: s.prefix, namespaces: await destroyRun(s.prefix, s.runDir) });
    removeRunState(s.prefix);
  }
  const known = new Set(states.map((s) => s.prefix));
  const orphans = new Set(
    (await listNetns()).map(prefixOf).filter((p): p is string => !!p && !known.has(p) && !live.has(p)),
  );
  for (const p of orphans) removed.push({ prefix: p, namespaces: await destroyRun(p, path.join(RUNS_DIR, p)) });
  return removed;
}

/**
 * A detached shell that outlives the lab process: once that PID is gone (exited, killed,
 * or a zombie), it removes whatever namespaces of the prefix are left, killing their
 * processes, and the run directory. It covers deaths no handler can catch (SIGKILL, or
 * tsx's wrapper SIGKILLing a busy child after relaying Ctrl-C). Bounded: gives up after
 * `maxHours`. Exits at once when the lab cleaned up itself.
 */
export function startReaper(prefix: string, runDir: string | undefined, maxHours = 3): number | undefined {
  if (!PREFIX_PATTERN.test(prefix)) throw new Error(`bad prefix ${prefix}`);
  const script = `
pid=$1; prefix=$2; dir=$3; state=$4; rounds=$(( $5 * 3600 ))
alive() { [ -r /proc/$pid/stat ] && ! grep -q ') Z ' /proc/$pid/stat; }
i=0
while alive && [ $i -lt $rounds ]; do sleep 1; i=$((i+1)); done
alive && exit 0
for ns in $(ip netns list | awk '{print $1}' | grep "^$prefix-"); do
  for p in $(ip netns pids "$ns"); do kill -9 "$p" 2>/dev/null; done
done
for ns in $(ip netns list | awk '{print $1}' | grep "^$prefix-"); do ip netns del "$ns" 2>/dev/null; done
[ -n "$dir" ] && rm -rf "$dir"
rm -f "$state"
`;
  const child = spawn(
    "sh",
    [
      "-c",
      script,
      "lab-reaper",
      String(process.pid),
      prefix,
      runDir ?? "",
      path.join(STATE_DIR, `${prefix}.json`),
      String(maxHours),
    ],
    {
      detached: true,
      stdio: "ignore",
    },
  );
  child.unref();
  return child.pid;
}
