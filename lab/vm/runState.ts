/**
 * What a VM-lab run owns and how it is given back: the prerequisites check, the owner
 * record of a run (its pid and the pids it started), cleanup, and the sweep of what a
 * killed earlier run left behind.
 *
 * Several clones of the repository may run the VM lab on one machine at once (CI runners,
 * worktrees), each with its own runs directory: the sweep only touches runs of this clone.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { VM_LAB_TOOLS } from "../debianPackages";
import { pidAlive, run } from "../proc";
import { closeSshMasters } from "./guest";
import { destroyNetwork, listLabNamespaces, type LabNetwork } from "./network";
import { stopVm, type RunningVm } from "./qemu";

/** Namespaces of VM-lab runs: wgvm<6 hex>-switch and wgvm<6 hex>-<site>-vr. */
export const NETNS_PATTERN = /^wgvm[0-9a-f]{6}-[a-z0-9-]+$/;
const prefixOfNetns = (netns: string): string => netns.slice(0, "wgvm".length + 6);
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

interface OwnerRecord {
  pid: number;
  prefix: string;
  pids?: number[];
}

function cmdlineOf(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ");
  } catch {
    return "";
  }
}

function readOwner(file: string): OwnerRecord | undefined {
  try {
    return JSON.parse(fs.readFileSync(file, "utf8")) as OwnerRecord;
  } catch {
    return undefined;
  }
}

/** The lab process itself (node, tsx or jest), not whatever reused its pid. */
const ownerAlive = (o: OwnerRecord | undefined): boolean =>
  !!o && o.pid !== process.pid && pidAlive(o.pid) && /node|tsx|jest/.test(cmdlineOf(o.pid));

/** Writes the run's owner record (its pid and the pids it started) into its run directory. */
export function recordOwner(ctx: RunContext): void {
  const pids = [...ctx.vms.map((v) => v.pid), ...(ctx.network?.dnsmasq.map((d) => d.pid) ?? [])];
  const record: OwnerRecord = { pid: process.pid, prefix: ctx.prefix, pids };
  fs.writeFileSync(path.join(ctx.runDir, "owner.json"), JSON.stringify(record));
}

/** Removes what a killed earlier run of this clone left: its qemu/dnsmasq (by recorded pid), namespaces, secrets. */
export async function sweepLeftovers(runsRoot: string, log: (l: string) => void): Promise<string[]> {
  const swept: string[] = [];
  const livePrefixes = new Set<string>();
  if (fs.existsSync(runsRoot)) {
    for (const entry of fs.readdirSync(runsRoot)) {
      const dir = path.join(runsRoot, entry);
      const ownerFile = path.join(dir, "owner.json");
      if (!fs.existsSync(ownerFile)) continue;
      const owner = readOwner(ownerFile);
      if (!owner) continue;
      if (ownerAlive(owner)) {
        livePrefixes.add(owner.prefix);
        continue;
      }
      // Only processes whose command line names this run's directory are ours to kill.
      for (const pid of owner.pids ?? []) {
        if (pidAlive(pid) && cmdlineOf(pid).includes(dir)) {
          process.kill(pid, "SIGKILL");
          swept.push(`pid ${pid}`);
        }
      }
      scrubRunDir(dir);
      fs.rmSync(ownerFile, { force: true });
    }
  }
  for (const netns of await listLabNamespaces(NETNS_PATTERN)) {
    const prefix = prefixOfNetns(netns);
    if (livePrefixes.has(prefix)) continue;
    // Only runs of this clone (a run directory under runsRoot) are ours to sweep: another
    // clone's run, live or dead, is that clone's business (it sweeps its own next time).
    if (!fs.existsSync(path.join(runsRoot, prefix))) continue;
    const pids = await run(["ip", "netns", "pids", netns], { timeoutMs: 5000 });
    for (const pid of pids.stdout.split(/\s+/).filter(Boolean).map(Number)) {
      // A namespace named like ours, whose owner is gone, holds only what a lab run started
      // there: VMs, stand-ins, and shared SSH connections ("ssh: <control socket> [mux]").
      if (/qemu-system|dnsmasq|^ssh: .*\[mux\]/.test(cmdlineOf(pid))) process.kill(pid, "SIGKILL");
    }
    await run(["ip", "netns", "delete", netns], { timeoutMs: 10_000 });
    swept.push(`netns ${netns}`);
  }
  if (swept.length) log(`removed leftovers of an earlier run: ${swept.join(", ")}`);
  return swept;
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
  fs.rmSync(path.join(ctx.runDir, "owner.json"), { force: true });
  return problems;
}
