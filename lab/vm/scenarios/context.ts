/**
 * What every VM-lab scenario works with: the topology's machines, their running VMs, how
 * to reach each over SSH, and where checks and measurements go. Built once by the
 * orchestrator (lab/vm/index.ts) after the VMs are started.
 */
import type { LabNode, LabTopology } from "../../topology";
import { ssh, type SshTarget } from "../guest";
import { privateAddress } from "../network";
import type { RunningVm } from "../qemu";
import type { CheckFn, VmLabResult, VmLabTimeouts } from "../result";

export interface VmScenario {
  topology: LabTopology;
  /** Every VM's host, in the order of `vms`. */
  hosts: LabNode[];
  vms: RunningVm[];
  /** Namespace of the bridges (where the path-MTU black hole is switched on). */
  switchNs: string;
  target: (host: LabNode) => SshTarget;
  check: CheckFn;
  result: VmLabResult;
  timeouts: VmLabTimeouts;
  hubGateway: LabNode;
  hubTest: LabNode;
  /** Test hosts of the other (simulated) sites; at least one. */
  spokeTests: LabNode[];
  /**
   * WireGuard public keys of the far ends (external sites): their operators install the
   * bundle once the hub runs, so a gateway's handshake with them is the far-end scenario's
   * to check, as `pulumi up` leaves them out of its own verification.
   */
  farEndPublicKeys: ReadonlySet<string>;
  log: (line: string) => void;
  /** True once the run is being torn down: long waits end early. */
  stopped: () => boolean;
}

export const gateways = (s: VmScenario): LabNode[] => s.hosts.filter((h) => h.role === "gateway");
export const vmOf = (s: VmScenario, host: LabNode): RunningVm => s.vms[s.hosts.indexOf(host)];

/** "answered", "no answer", or undefined when SSH itself failed (nothing was learnt). */
export async function pingOnce(
  s: VmScenario,
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
