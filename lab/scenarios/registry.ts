/**
 * Scenarios as registered entries: what each is called, which lab backends run it, what it
 * needs of the run, what it checks. This file holds the entry type both labs share and the
 * namespace lab's list: lab/run.ts loops over NAMESPACE_LAB_SCENARIOS in this order; a
 * scenario whose needs the run does not meet is left out. The VM lab's list, with the
 * phases its VMs run them in, is VM_LAB_SCENARIOS (lab/vm/scenarios/registry.ts). "Adding a
 * scenario" in lab/README.md shows the steps. The production shape
 * (lab/scenarios/production.ts) is its topology plus PRODUCTION_SCENARIOS, run the same way.
 */
import type { ProgramRun } from "../../testkit/programRun";
import { check, maskSecrets, type LabMetrics } from "../results";
import { hubPingChecks, spokeToSpokeChecks } from "./connectivity";
import type { Ctx, ScenarioSink } from "./context";
import { dhcpLeaseChecks, twoStepAfterInstall } from "./externalSites";
import { faultLoss, faultNatRebinding, faultTunnelRestart, negativeMissingRoute, negativeWrongKey } from "./faults";
import { throughputAndMtu } from "./throughput";
import { tunnelMetricsReport } from "./tunnelMetrics";

/** The lab that runs a scenario: network namespaces (lab/run.ts) or VMs (lab/vm/). */
export type Backend = "netns" | "vm";

/** What a scenario needs of a run; it runs only where every one holds. */
export type Need =
  /** `--faults`. */
  | "faults"
  /** Not `--tunnels-only` (what the bench times is boot and the hub ping test only). */
  | "full-checks"
  /** At least two remote sites (spoke to spoke through the hub). */
  | "spokes"
  /** An external site whose LAN hosts get their address by DHCP. */
  | "dhcp-lan"
  /** `--two-step` with at least one external site. */
  | "two-step"
  /** VM lab, not `--no-reboot`: a scenario that reboots a VM, or leans on one that did. */
  | "reboot"
  /** VM lab, `--throughput`: bulk TCP, minutes of emulated CPU under TCG. */
  | "throughput"
  /** VM lab: at least one external site whose gateway is an operator's own VM (lab/vm/farEnd.ts). */
  | "far-end";

/** What a scenario works with: the run's context, its figures, and the program's declarations. */
export interface ScenarioRun extends Ctx {
  metrics: LabMetrics;
  /** Figures of the faults (result.metrics.faults). */
  faults: Record<string, number | string | boolean | null>;
  program: ProgramRun;
  /** The program's second run (bundleInstalled=true), on two-step runs. */
  step2?: ProgramRun;
  /** How the underlay loss was made, for the run's stand-in list (known only once tried). */
  setLossMethod(method: string): void;
}

export type { CheckFn, ScenarioBase, ScenarioSink } from "./context";

/** One registered scenario; `R` is the context of the runner that loops over it (default: lab/run.ts's). */
export interface Scenario<R extends ScenarioSink = ScenarioRun> {
  /** Progress line, and the failed check's name when an isolated scenario errs. */
  name: string | ((r: R) => string);
  backends: readonly Backend[];
  needs: readonly Need[];
  /** What it checks, in a sentence. */
  checks: string;
  /** A lab error becomes this scenario's failed check and the next scenario runs (one broken fault must not hide the others). */
  isolated?: boolean;
  run(r: R): Promise<void>;
}

export const scenarioName = <R extends ScenarioSink>(s: Scenario<R>, r: R): string =>
  typeof s.name === "string" ? s.name : s.name(r);

export const NAMESPACE_LAB_SCENARIOS: readonly Scenario[] = [
  {
    name: "dhcp LANs: default route, resolv.conf and lease address after the lease (real dhclient)",
    backends: ["netns"],
    needs: ["dhcp-lan"],
    checks:
      "on dhcp external LANs: default route, resolv.conf and lease address, with the pre-fix dnsmasq.conf as negative control",
    run: (r) => dhcpLeaseChecks(r, r.t, r.program.config),
  },
  {
    name: "two-step 2: bundleInstalled=true, pulumi up's checks again",
    backends: ["netns"],
    needs: ["two-step"],
    checks: "pulumi up's checks once the operators installed their bundles",
    run: (r) => twoStepAfterInstall({ ...r, step2: r.step2! }),
  },
  {
    name: "seed ping test: hub test host <-> every remote test host",
    backends: ["netns"],
    needs: [],
    checks: "the tutorial's ping test both ways per remote site, with RTT",
    run: (r) => hubPingChecks(r, r.metrics),
  },
  {
    name: "spoke-to-spoke through the hub",
    backends: ["netns"],
    needs: ["full-checks", "spokes"],
    checks: "spoke-to-spoke matrix and a probe of the hub's own forward policy",
    run: (r) => spokeToSpokeChecks(r),
  },
  {
    name: (r) => `throughput (iperf3, ${r.iperfSeconds} s each) and MTU check`,
    backends: ["netns"],
    needs: ["full-checks"],
    checks: "bulk TCP host to host and gateway to gateway, the MTU check with the MSS clamp",
    run: (r) => throughputAndMtu(r, r.metrics),
  },
  {
    name: "tunnel metrics: what each gateway's collector reports",
    backends: ["netns"],
    needs: ["full-checks"],
    checks:
      "every tunnel the ping test proved answers the collector's probe too, in a fresh wg_s2s.prom; the rows are printed",
    run: (r) => tunnelMetricsReport(r, r.metrics),
  },
  {
    name: (r) => `fault: ${r.t.sites[1].gateway.id} tunnel restart`,
    backends: ["netns"],
    needs: ["faults"],
    checks: "the ping recovers after the remote gateway's tunnel restarts",
    isolated: true,
    run: (r) => faultTunnelRestart(r, "remote", r.faults),
  },
  {
    name: (r) => `fault: ${r.t.sites[0].gateway.id} tunnel restart`,
    backends: ["netns"],
    needs: ["faults"],
    checks: "the ping recovers after the hub gateway's tunnel restarts",
    isolated: true,
    run: (r) => faultTunnelRestart(r, "hub", r.faults),
  },
  {
    name: "fault: 5% underlay loss",
    backends: ["netns"],
    needs: ["faults"],
    checks: "the ping test still passes with 5% loss on the underlay",
    isolated: true,
    run: async (r) => {
      const method = await faultLoss(r, r.metrics, r.faults);
      r.faults.lossMethod = method;
      r.setLossMethod(method);
    },
  },
  {
    name: "negative control: wrong peer public key",
    backends: ["netns"],
    needs: ["faults"],
    checks: "no handshake and no ping with a wrong peer key (failed as expected), then restored",
    isolated: true,
    run: (r) => negativeWrongKey(r, r.faults),
  },
  {
    name: "negative control: missing route on a test host",
    backends: ["netns"],
    needs: ["faults"],
    checks: "no ping without the test host's route (failed as expected), then restored",
    isolated: true,
    run: (r) => negativeMissingRoute(r),
  },
  {
    name: "fault: NAT rebinding of the remote gateway's public address",
    backends: ["netns"],
    needs: ["faults"],
    checks: "the hub learns the remote gateway's new endpoint and the ping recovers",
    isolated: true,
    run: (r) => faultNatRebinding(r, r.faults),
  },
];

/**
 * Runs every scenario of `backend` whose needs `have` meets, in order, announcing each with
 * `step`. An isolated scenario's error becomes its failed check; any other error ends the run.
 */
export async function runScenarios<R extends ScenarioSink>(
  scenarios: readonly Scenario<R>[],
  backend: Backend,
  r: R,
  have: ReadonlySet<Need>,
  step: (line: string) => void,
): Promise<void> {
  for (const s of scenarios.filter((x) => x.backends.includes(backend))) {
    if (!s.needs.every((n) => have.has(n))) continue;
    const name = scenarioName(s, r);
    step(name);
    if (!s.isolated) {
      await s.run(r);
      continue;
    }
    try {
      await s.run(r);
    } catch (e) {
      r.checks.push(check(name, "fault", "pass", false, `lab error: ${(e as Error).message}`));
      r.log(`  ${name}: lab error: ${maskSecrets((e as Error).message)}`);
    }
  }
}
