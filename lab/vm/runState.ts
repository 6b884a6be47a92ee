/**
 * What a VM-lab run owns and how it is given back: the prerequisites check, the owner
 * record of a run (its pid and the pids it started), cleanup, and the sweep of what a
 * killed earlier run left behind.
 *
 * Who owns what, and which leftovers a run sweeps, is lab/runOwnership.ts (both labs): only
 * this clone's runs whose recorded owner is dead.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { VM_LAB_TOOLS } from "../debianPackages";
import { pidAlive, run } from "../proc";
import {
  cmdlineOf,
  removeOwner,
  sweepLeftovers as sweepOwnedLeftovers,
  sweepSummary,
  writeOwner,
  type Leftover,
} from "../runOwnership";
import { closeSshMasters } from "./guest";
import { destroyNetwork, listLabNamespaces, type LabNetwork } from "./network";
import { stopVm, type RunningVm } from "./qemu";

/** Namespaces of VM-lab runs: wgvm<6 hex>-switch and wgvm<6 hex>-<site>-vr. */
export const NETNS_PATTERN = /^wgvm[0-9a-f]{6}-[a-z0-9-]+$/;
/** A VM-lab run's prefix (index.ts makes it: wgvm and 3 random bytes). */
const PREFIX_PATTERN = /^wgvm[0-9a-f]{6}$/;
/** Tools the VM lab runs, and the Debian package of each: lab/debian-packages.json. */
export { VM_LAB_TOOLS };

/** What the lab checks before touching anything; empty when it can run. */
export async function vmLabPrerequisites(): Promise<string[]> {
  const missing: string[] = [];
  if (process.platform !== "linux") missing.push("Linux");
  if (typeof process.getuid === "function" && process.getuid() !== 0)
    missing.push("root (namespaces, taps, debootstrap)");
  if (!fs.existsSync("/dev/net/tun")) missing.push("/dev/net/tun");

  for (const [tool, pkg] of Object.entries(VM_LAB_TOOLS)) {
    const r = await run(["sh", "-c", `command -v ${tool}`], { timeoutMs: 5000 });
    if (r.code !== 0) missing.push(`${tool} (apt-get install ${pkg})`);
  }
  return missing;
}

export interface RunContext {
  prefix: string;
  runDir: string;
  log: (line: string) => void;
  vms: RunningVm[];
  network?: LabNetwork;
  /** Control sockets of the run's shared SSH connections (SshTarget.controlDir). */
  sshControlDir?: string;
  cleaned: boolean;
}

/** Writes the run's owner record (lab/runOwnership.ts): its pid and the pids it started so far. */
export function recordOwner(ctx: RunContext): void {
  const pids = [...ctx.vms.map((v) => v.pid), ...(ctx.network?.dnsmasq.map((d) => d.pid) ?? [])];
  writeOwner(ctx.runDir, { pid: process.pid, prefix: ctx.prefix, pids });
}

/** Removes what a killed earlier run of this clone left: its qemu/dnsmasq (by recorded pid), namespaces, secrets. */
async function destroyLeftover({ dir, owner, namespaces }: Leftover): Promise<string[]> {
  const removed: string[] = [];
  // Only processes whose command line names this run's directory are ours to kill.
  for (const pid of owner?.pids ?? []) {
    if (pidAlive(pid) && cmdlineOf(pid).includes(dir)) {
      process.kill(pid, "SIGKILL");
      removed.push(`pid ${pid}`);
    }
  }
  for (const netns of namespaces) {
    const pids = await run(["ip", "netns", "pids", netns], { timeoutMs: 5000 });
    for (const pid of pids.stdout.split(/\s+/).filter(Boolean).map(Number)) {
      // A namespace of a run of ours whose owner is gone holds only what a lab run started
      // there: VMs, stand-ins, and shared SSH connections ("ssh: <control socket> [mux]").
      if (/qemu-system|dnsmasq|^ssh: .*\[mux\]/.test(cmdlineOf(pid))) process.kill(pid, "SIGKILL");
    }
    await run(["ip", "netns", "delete", netns], { timeoutMs: 10_000 });
    removed.push(`netns ${netns}`);
  }
  scrubRunDir(dir);
  return removed;
}

/** Removes this clone's leftovers of VM-lab runs whose owner is dead (lab/runOwnership.ts). */
export async function sweepLeftovers(runsRoot: string, log: (l: string) => void): Promise<string[]> {
  const report = await sweepOwnedLeftovers({
    runsRoot,
    prefixPattern: PREFIX_PATTERN,
    listNamespaces: () => listLabNamespaces(NETNS_PATTERN),
    destroy: destroyLeftover,
  });
  const summary = sweepSummary(report);
  if (summary) log(summary);
  return report.swept.flatMap((s) => s.removed);
}

/** Deletes what must not outlive a run: disks, seeds (they hold WireGuard keys), SSH keys. */
export function scrubRunDir(dir: string): void {
  if (!fs.existsSync(dir)) return;
  for (const entry of fs.readdirSync(dir)) {
    const p = path.join(dir, entry);
    if (entry.startsWith("ssh-key") || entry === "deploy.key") fs.rmSync(p, { force: true });
    else if (fs.statSync(p).isDirectory()) {
      for (const f of ["overlay.qcow2", "seed.iso", "qmp.sock"]) fs.rmSync(path.join(p, f), { force: true });
      fs.rmSync(path.join(p, "seed"), { recursive: true, force: true });
    }
  }
}

/** Stops every VM and stand-in, deletes the namespaces and secrets; returns what could not be cleaned. */
export async function cleanup(ctx: RunContext): Promise<string[]> {
  if (ctx.cleaned) return [];
  ctx.cleaned = true;
  const problems: string[] = [];
  await Promise.all(ctx.vms.map((vm) => stopVm(vm)));
  for (const vm of ctx.vms) if (pidAlive(vm.pid)) problems.push(`qemu ${vm.name} (pid ${vm.pid}) still running`);
  // Before the namespaces go: the shared connections' ssh processes live in them.
  if (ctx.sshControlDir) problems.push(...(await closeSshMasters(ctx.sshControlDir)));
  if (ctx.network) problems.push(...(await destroyNetwork(ctx.network)));
  const left = (await listLabNamespaces(NETNS_PATTERN)).filter((n) => n.startsWith(`${ctx.prefix}-`));
  if (left.length) problems.push(`namespaces left: ${left.join(", ")}`);
  scrubRunDir(ctx.runDir);
  removeOwner(ctx.runDir);
  return problems;
}
