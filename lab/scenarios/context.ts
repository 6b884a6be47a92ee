/**
 * What every scenario works with. Both labs (namespaces and VMs): where its checks and log
 * lines go, and the one way to record a check (ScenarioBase, CheckFn). The namespace lab's
 * scenarios also get the topology, its wiring, and how to run a command in a host (Ctx).
 */
import * as fs from "fs";
import { type Exec } from "../checks";
import { type RunOptions, type RunResult } from "../proc";
import { type LabHost } from "../host";
import { type Wiring } from "../network";
import { labCheck, type LabCheck } from "../results";
import { UNITS } from "../../cloud-init/common";
import { type LabNode, type LabTopology } from "../topology";

/**
 * Records one check (labCheck: `more.negativeControl` makes a negative control, which passes
 * when what it provokes fails; `more.group` is its row in the namespace lab's table) in the
 * run's list and logs it. Returns whether it came out as expected.
 */
export type CheckFn = (name: string, ok: boolean, detail: string, more?: Parameters<typeof labCheck>[3]) => boolean;

/** Where a scenario's checks and log lines go: all a runner's context must have. */
export interface ScenarioSink {
  log: (line: string) => void;
  checks: LabCheck[];
}

/** What every scenario of either lab works with: its sink and the one way to record a check into it. */
export interface ScenarioBase extends ScenarioSink {
  check: CheckFn;
}

/** The CheckFn of a run: appends to `checks`, one log line per check (its detail masked, as recorded). */
export const checkRecorder =
  (checks: LabCheck[], log: (line: string) => void): CheckFn =>
  (name, ok, detail, more) => {
    const c = labCheck(name, ok, detail, more);
    checks.push(c);
    log(`${ok ? "PASS" : "FAIL"} ${name}: ${c.detail}`);
    return ok;
  };

export interface Ctx extends ScenarioBase {
  t: LabTopology;
  w: Wiring;
  /** Runs a command in a host. */
  exec(node: LabNode, argv: string[], opts?: RunOptions): Promise<RunResult>;
  /** Test host address per site (external dhcp hosts learn theirs at boot). */
  testHostAddr: Map<string, string>;
  iperfSeconds: number;
}

/** The part of the context the external-site checks use (the production scenario builds only this). */
export type ScenarioCtx = Pick<Ctx, "log" | "checks" | "exec" | "testHostAddr">;

export const readText = (file: string): string => {
  try {
    return fs.readFileSync(file, "utf8");
  } catch {
    return "";
  }
};

/** The journal line of the networkd stand-in once wg0 is up (lab/standins/networkctl.ts). */
export const TUNNEL_UP_LINE = "networkctl: wg0: configured";

/**
 * How long the host waited for its private NIC, and whether the tunnel came up before that
 * wait ended. The gateway brings wg0 up first on purpose (it does not need the private
 * NIC), so "before" is expected. Read from the stand-ins' shared journal.
 */
export function nicOrdering(journal: string): { waitedSeconds: number | null; tunnelBeforeNic: boolean | null } {
  const waited = /wg-s2s-wait-private-nic: \S+ is present after (\d+)s/.exec(journal);
  const nicDone = journal.indexOf(`${UNITS.privateNic}: started`);
  const tunnelUp = journal.indexOf(TUNNEL_UP_LINE);
  return {
    waitedSeconds: waited ? Number(waited[1]) : null,
    tunnelBeforeNic: tunnelUp < 0 ? null : nicDone < 0 || tunnelUp < nicDone,
  };
}

export const host = (c: Ctx, n: LabNode): LabHost => {
  const h = c.w.hosts.get(n.id);
  if (!h) throw new Error(`no lab host for ${n.id}`);
  return h;
};
export const execOf =
  (c: Ctx, n: LabNode): Exec =>
  (argv, opts) =>
    host(c, n).exec(argv, opts);
export const serverOf = (c: Ctx, n: LabNode) => ({
  exec: execOf(c, n),
  spawn: (argv: string[]) => host(c, n).spawn(argv),
});
