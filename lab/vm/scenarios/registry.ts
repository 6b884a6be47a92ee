/**
 * The VM lab's scenarios after boot, as registered entries of the namespace lab's type
 * (lab/scenarios/registry.ts) plus the phase each runs in. runVmLab (lab/vm/index.ts) hands
 * VM_LAB_SCENARIOS to runVmScenarios, which runs every entry whose needs the run meets: the
 * phases in the order of VM_PHASES, each phase's entries in the list's order, the "beside"
 * ones concurrently with the rest. "Adding a scenario" in lab/README.md shows the steps.
 */
import { checkRecorder } from "../../scenarios/context";
import { runScenarios, scenarioName, type Need, type Scenario } from "../../scenarios/registry";
import type { LabCheck } from "../../results";
import { cloudInitChecks } from "../boot";
import type { VmLabOptions } from "../result";
import type { VmScenario } from "./context";
import { deployVerificationChecks } from "./deployVerification";
import { farEndChecks } from "./farEnd";
import { ubuntuLikeChecks, unreachableRepositoryCheck } from "./image";
import { cloudInitAfterRebootCheck, failClosedCheck, rebootCheck, tunnelStoppedControl } from "./reboot";
import { packageMirrorChecks } from "./packageMirror";
import { renewalCheck } from "./renewal";
import { throughputChecks } from "./throughput";
import { handshakeTiming } from "./timing";
import { kernelWireGuardChecks, pingBothWays, tunnelUpCheck } from "./tunnel";

/**
 * When a VM-lab scenario runs. Two cores run four or five emulated VMs: what runs at once
 * is chosen so that no two VMs fight over a core while one of them is measured.
 */
export type VmPhase =
  /** Once every host's cloud-init finished, one after the other: the hub's own checks. `hubReady` settles when they are done. */
  | "hub"
  /**
   * Started with the VMs, beside "hub" and "spoke": it waits for `hubReady` itself before
   * anything that needs the hub (the far ends install once the hub's checks are done: beside
   * them, on two cores, both only slow down). Its checks go to a list of its own, recorded
   * after "spoke"'s, so the run's list keeps one order.
   */
  | "beside"
  /** After "hub", one after the other, beside the "beside" entries: checks that disturb only the simulated site. */
  | "spoke"
  /** Once every entry above has ended, alone on the machine: bulk transfers. */
  | "after";

/** The phases in the order they begin ("beside" begins with the VMs). */
export const VM_PHASES: readonly VmPhase[] = ["beside", "hub", "spoke", "after"];

/** One registered VM-lab scenario: a Scenario run on the VMs, in its phase. */
export interface VmLabScenario extends Scenario<VmScenario> {
  phase: VmPhase;
}

export const VM_LAB_SCENARIOS: readonly VmLabScenario[] = [
  {
    name: "far ends: the operator's bundle in each form",
    backends: ["vm"],
    needs: ["far-end"],
    phase: "beside",
    checks:
      "on each far end: install, install.sh check, the LAN to the hub and to the internet, a firewall restart, uninstall as found, then no hub (negative control), per form",
    run: async (r) => {
      const perFarEnd = await Promise.all(r.farEnds.map((far) => farEndChecks(r, far)));
      r.checks.push(...perFarEnd.flat());
    },
  },
  {
    name: "cloud-init on every host",
    backends: ["vm"],
    needs: [],
    phase: "hub",
    checks: "cloud-init done with no error, and the guest's user-data is the program's byte for byte, on every VM",
    run: (r) => cloudInitChecks(r.hosts, r.result.hosts, r.target, r.check),
  },
  {
    name: "boot to tunnel",
    backends: ["vm"],
    needs: [],
    phase: "hub",
    checks: "the first ping between the test hosts came, and when (the run ends here if it never did)",
    run: async (r) => tunnelUpCheck(r, await r.bootToTunnel),
  },
  {
    name: "kernel WireGuard on every gateway",
    backends: ["vm"],
    needs: [],
    phase: "hub",
    checks: "the kernel's WireGuard, with a handshake with every Scaleway-built peer, on each gateway",
    run: kernelWireGuardChecks,
  },
  {
    name: "deploy verification: pulumi up's scripts on the VMs",
    backends: ["vm"],
    needs: [],
    phase: "hub",
    checks: "the scripts `pulumi up` runs over SSH: cloud-init, forwarding, handshakes, the hub test host's ping",
    run: (r) => deployVerificationChecks(r, r.program),
  },
  {
    name: "seed ping test, both ways",
    backends: ["vm"],
    needs: [],
    phase: "hub",
    checks: "5 of 5 replies between the hub's test host and every spoke's, both ways, with RTT",
    run: pingBothWays,
  },
  {
    name: "boot to first handshake",
    backends: ["vm"],
    needs: [],
    phase: "hub",
    checks: "no check: each gateway's uptime at its first handshake, and its ratio to the test hosts' boot",
    run: handshakeTiming,
  },
  {
    // Before the far ends install: after it only the simulated site's gateway is
    // disrupted, and a reboot next to another VM's work took twice as long.
    name: "reboot of the hub gateway",
    backends: ["vm"],
    needs: ["reboot"],
    phase: "hub",
    checks: "the hub gateway reboots and the tunnel comes back with nothing done by hand",
    run: (r) => rebootCheck(r, r.rebootMethod),
  },
  {
    name: "cloud-init after the reboot",
    backends: ["vm"],
    needs: ["reboot"],
    phase: "spoke",
    checks: "cloud-init on the rebooted hub gateway still reports no error",
    run: cloudInitAfterRebootCheck,
  },
  {
    name: "Ubuntu-like network stack on every host",
    backends: ["vm"],
    needs: [],
    phase: "spoke",
    checks: "resolved's stub, netplan -> networkd, the private NIC by scw-vpc-iface and wg0 by networkd on gateways",
    run: ubuntuLikeChecks,
  },
  {
    name: "package repository unreachable",
    backends: ["vm"],
    needs: [],
    phase: "spoke",
    checks: "apt fails and wireguard-tools is absent on the hub gateway, and the tunnel is up anyway",
    run: unreachableRepositoryCheck,
  },
  {
    name: "DHCP renewal on the simulated site's gateway",
    backends: ["vm"],
    needs: [],
    phase: "spoke",
    checks: "a lease renewal and `netplan apply` on the private NIC leave wg0's routes and the ping as they were",
    run: (r) => renewalCheck(r, r.spokeGateway),
  },
  {
    // Before the fail-closed reboot, which brings the stopped tunnel back.
    name: "negative control: the simulated site's tunnel stopped",
    backends: ["vm"],
    needs: ["reboot"],
    phase: "spoke",
    checks: "with the gateway's wg0 down the ping fails, or the checks above were not measuring the tunnel",
    run: (r) => tunnelStoppedControl(r, r.spokeGateway),
  },
  {
    name: "fail-closed reboot of the simulated site's gateway",
    backends: ["vm"],
    needs: ["reboot"],
    phase: "spoke",
    checks:
      "rebooted without nft the gateway does not forward; once nft is back one `systemctl start` restores the ping",
    run: (r) => failClosedCheck(r, r.spokeGateway),
  },
  {
    // After the unreachable-repository check (it proves the tunnel needs no package) and
    // after the checks that disturb the simulated site's gateway: nothing before sees a mirror.
    name: "package-mirror stand-in: the gateways' extras installed",
    backends: ["vm"],
    needs: [],
    phase: "spoke",
    isolated: true,
    checks:
      "the mirror opens; on each gateway wg-s2s-extras.service installs its packages from it, wg(8) reads wg0 and node_exporter serves the tunnel metrics",
    run: packageMirrorChecks,
  },
  {
    name: "throughput and MTU",
    backends: ["vm"],
    needs: ["throughput"],
    phase: "after",
    checks: "iperf3 through the tunnel, with a path-MTU black hole, and without MSS clamping (negative control)",
    run: throughputChecks,
  },
];

/** What a VM-lab run meets of the scenarios' needs: its options, and whether the topology has far ends. */
export function vmLabNeeds(options: Pick<VmLabOptions, "reboot" | "throughput">, farEnds: number): Set<Need> {
  return new Set<Need>([
    ...(options.reboot !== false ? (["reboot"] as const) : []),
    ...(options.throughput ? (["throughput"] as const) : []),
    ...(farEnds > 0 ? (["far-end"] as const) : []),
  ]);
}

/**
 * Runs every entry of `scenarios` for the VM backend whose needs `have` meets, by phase
 * (VmPhase), announcing each with `step`. `booted` resolves once every host's cloud-init
 * has finished: the "hub" phase waits for it, the "beside" one does not.
 */
export async function runVmScenarios(
  scenarios: readonly VmLabScenario[],
  base: Omit<VmScenario, "hubReady">,
  have: ReadonlySet<Need>,
  step: (line: string) => void,
  booted: () => Promise<void>,
): Promise<void> {
  let settleHub!: (ready: boolean) => void;
  const r: VmScenario = { ...base, hubReady: new Promise<boolean>((resolve) => (settleHub = resolve)) };
  const runnable = scenarios.filter((s) => s.backends.includes("vm") && s.needs.every((n) => have.has(n)));
  const inPhase = (phase: VmPhase) => runnable.filter((s) => s.phase === phase);

  const beside = inPhase("beside").map((s) => {
    const checks: LabCheck[] = [];
    const own: VmScenario = {
      ...r,
      checks,
      check: checkRecorder(checks, (l) => r.log(`(${scenarioName(s, r)}) ${l}`)),
    };
    const done = runScenarios([s], "vm", own, have, step);
    // Awaited below; if "hub" fails the run ends without awaiting it.
    done.catch(() => undefined);
    return { checks, done };
  });
  try {
    await booted();
    await runScenarios(inPhase("hub"), "vm", r, have, step);
    settleHub(true);
  } finally {
    settleHub(false); // a no-op once settled; else the "beside" entries stop waiting
  }
  await runScenarios(inPhase("spoke"), "vm", r, have, step);

  const spokeDone = Date.now();
  for (const b of beside) {
    await b.done;
    for (const c of b.checks) {
      r.checks.push(c);
      r.log(`${c.ok ? "PASS" : "FAIL"} ${c.name}: ${c.detail}`);
    }
  }
  // What the "beside" entries (the far ends') cost the run beyond the checks they ran beside.
  if (beside.length) r.result.measurements.farEndWaitSeconds = (Date.now() - spokeDone) / 1000;

  await runScenarios(inPhase("after"), "vm", r, have, step);
}
