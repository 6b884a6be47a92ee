/**
 * What every VM-lab scenario works with: the base both labs share (log, checks, check), the
 * topology's machines, their running VMs, how to reach each over SSH, and where
 * measurements go. Built once by the orchestrator (lab/vm/index.ts) after the VMs are
 * started; the runner (lab/vm/scenarios/registry.ts) adds the hub gate.
 */
import type { StackConfig } from "../../../config/types";
import type { ScenarioBase } from "../../scenarios/context";
import type { LabNode, LabTopology } from "../../topology";
import { ssh, type SshTarget } from "../guest";
import { privateAddress } from "../network";
import type { RunningVm } from "../qemu";
import type { VmLabResult, VmLabTimeouts } from "../result";

/** A far end: an operator's own host (an external site's gateway) that installs the bundle (lab/vm/scenarios/farEnd.ts). */
export interface FarEndVm {
  host: LabNode;
  /** The operator's SSH access (the saved state's key: their host, their key). */
  target: SshTarget;
  /** Namespace of the office's LAN workstation (the site's test host). */
  lanNs: string;
  bundle: Record<string, string>;
  /** Settles once the VM runs with this run's clock. */
  resumed: Promise<void>;
  /** Why it could not be started, once `resumed` settled. */
  startFailure: () => string | undefined;
}

export interface VmScenario extends ScenarioBase {
  topology: LabTopology;
  /** Every VM's host, in the order of `vms`. */
  hosts: LabNode[];
  vms: RunningVm[];
  /** Namespace of the bridges (where the path-MTU black hole is switched on). */
  switchNs: string;
  target: (host: LabNode) => SshTarget;
  /** `checks` is `result.checks` (a "beside" scenario gets a list of its own until it is joined). */
  result: VmLabResult;
  timeouts: VmLabTimeouts;
  hubGateway: LabNode;
  hubTest: LabNode;
  /** Test hosts of the other (simulated) sites; at least one. */
  spokeTests: LabNode[];
  /**
   * The first simulated site's gateway: it takes the checks that cut a tunnel (renewal, wg0
   * down, the fail-closed reboot), so that the far ends, which dial the hub, install their
   * forms beside them.
   */
  spokeGateway: LabNode;
  /**
   * WireGuard public keys of the far ends (external sites): their operators install the
   * bundle once the hub runs, so a gateway's handshake with them is the far-end scenario's
   * to check, as `pulumi up` leaves them out of its own verification.
   */
  farEndPublicKeys: ReadonlySet<string>;
  /** The far ends' VMs, with the bundle each operator received. */
  farEnds: FarEndVm[];
  /** The program's run: its stack config and outputs (what the deploy-verification scripts are built from). */
  program: { config: StackConfig; outputs: Record<string, any> };
  /** How the hub gateway is rebooted: `systemctl reboot` inside, or a hard QMP reset. */
  rebootMethod: "guest" | "reset";
  /** Boot to tunnel: seconds from the VMs' start to the first ping between the test hosts (watchTunnel), undefined if none came. */
  bootToTunnel: Promise<number | undefined>;
  /**
   * Settles true once the "hub" phase is done, false if it failed. Until then a "beside"
   * scenario does only what needs no hub.
   */
  hubReady: Promise<boolean>;
  /** True once the run is being torn down: long waits end early. */
  stopped: () => boolean;
}

export const gateways = (s: VmScenario): LabNode[] => s.hosts.filter((h) => h.role === "gateway");
export const vmOf = (s: VmScenario, host: LabNode): RunningVm => s.vms[s.hosts.indexOf(host)];

/** "answered", "no answer", or undefined when SSH itself failed (nothing was learnt). */
export async function pingOnce(
  s: Pick<VmScenario, "target">,
  from: LabNode,
  to: LabNode,
): Promise<"answered" | "no answer" | undefined> {
  const r = await ssh(
    s.target(from),
    `ping -n -c 1 -W 2 ${privateAddress(to)} >/dev/null; echo "ping-exit=$?"`,
    45_000,
  );
  const m = /ping-exit=(\d+)/.exec(r.stdout);
  return m ? (m[1] === "0" ? "answered" : "no answer") : undefined;
}
