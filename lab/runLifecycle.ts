/**
 * What every namespace-lab run does around its scenario, written once: leftovers of dead runs
 * removed, a fresh prefix and run directory, its owner record (lab/runOwnership.ts) and a reaper (lab/state.ts),
 * cleanup on Ctrl-C/SIGTERM that a second signal cannot interrupt, numbered progress steps,
 * and at the end the verdict and the masked result file. Used by the default/--sites/--faults
 * runs (lab/run.ts) and the production scenario (lab/scenarios/production.ts).
 */
import * as path from "path";
import { listNetns } from "./netns";
import type { Wiring } from "./network";
import { RESULTS_DIR, RUNS_DIR } from "./paths";
import { renderTable, writeResultFile, type LabResult } from "./results";
import { removeOwner, sweepSummary, writeOwner } from "./runOwnership";
import { announceMachineWide, cleanupLeftovers, destroyRun, newPrefix, prefixOf, startReaper } from "./state";

export interface LabRun {
  log: (line: string) => void;
  /** Logs "[n] what (+seconds)". */
  step: (what: string) => void;
  started: number;
  prefix: string;
  runDir: string;
  wiring: Wiring;
  /** Stops every daemon, deletes the run's namespaces and directory (once), detaches the signal handlers; returns the namespaces left. */
  finish: () => Promise<string[]>;
}

export async function startLabRun(opts: { log?: (line: string) => void; keep?: boolean }): Promise<LabRun> {
  const log = opts.log ?? ((l: string) => console.log(l));
  const started = Date.now();
  let stepNo = 0;
  const step = (what: string) => log(`[${++stepNo}] ${what} (+${((Date.now() - started) / 1000).toFixed(1)} s)`);

  const swept = sweepSummary(await cleanupLeftovers());
  if (swept) log(swept);
  const prefix = await newPrefix();
  const runDir = path.join(RUNS_DIR, prefix);
  const keepDir = opts.keep ?? false;
  writeOwner(runDir, { prefix, pid: process.pid, startedAt: new Date(started).toISOString(), keepDir });
  const unannounce = announceMachineWide(prefix, runDir);

  const wiring: Wiring = { hosts: new Map(), daemons: [] };
  let cleaned = false;
  const cleanup = async () => {
    if (cleaned) return;
    cleaned = true;
    // All at once: each stop may wait out its grace period, and they do not depend on each other.
    await Promise.all(wiring.daemons.map((d) => d.stop(1000)));
    await destroyRun(prefix, keepDir ? undefined : runDir);
    removeOwner(runDir);
    unannounce();
  };
  // Last line of defence when this process dies without running `cleanup` (SIGKILL).
  startReaper(prefix, runDir, keepDir);
  let signalled = false;
  const onSignal = (sig: NodeJS.Signals) => {
    // A second Ctrl-C (or tsx relaying the first one) must not interrupt the cleanup.
    if (signalled) return;
    signalled = true;
    log(`${sig}: cleaning up run ${prefix}`);
    void cleanup().finally(() => process.exit(sig === "SIGINT" ? 130 : 143));
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

  const finish = async () => {
    await cleanup();
    process.removeListener("SIGINT", onSignal);
    process.removeListener("SIGTERM", onSignal);
    return (await listNetns()).filter((n) => prefixOf(n) === prefix);
  };
  return { log, step, started, prefix, runDir, wiring, finish };
}

/** The verdict (every check as expected, no error, nothing left behind) and the masked result file. */
export function concludeLabRun(run: LabRun, result: LabResult, resultsFile?: string): LabResult {
  result.durationMs = Date.now() - run.started;
  result.ok =
    !result.error &&
    result.checks.length > 0 &&
    result.checks.every((x) => x.ok) &&
    (result.namespacesLeft?.length ?? 0) === 0;
  const file = resultsFile ?? path.join(RESULTS_DIR, `${run.prefix}.json`);
  result.resultsFile = file;
  writeResultFile(file, result);
  run.log("");
  run.log(renderTable(result));
  run.log(`results: ${file}`);
  return result;
}
