/**
 * Network namespaces and links, all through iproute2. Every namespace the lab creates
 * carries the run prefix; veth pairs are always created with both ends inside lab
 * namespaces, so no lab link ever exists in the machine's own (root) namespace.
 */
import { run, runOk, type RunOptions, type RunResult } from "./proc";

export async function addNetns(name: string): Promise<void> {
  await runOk(["ip", "netns", "add", name]);
  await runOk(["ip", "-n", name, "link", "set", "lo", "up"]);
}

export async function listNetns(): Promise<string[]> {
  const r = await run(["ip", "netns", "list"]);
  return r.stdout
    .split("\n")
    .map((l) => l.trim().split(/\s+/)[0])
    .filter((n) => n.length > 0);
}

/** PIDs of every process whose network namespace is `name`. */
export async function netnsPids(name: string): Promise<number[]> {
  const r = await run(["ip", "netns", "pids", name], { timeoutMs: 5000 });
  return r.stdout
    .split(/\s+/)
    .filter((s) => /^\d+$/.test(s))
    .map(Number);
}

/** Run a command inside a plain namespace (no private mounts; used for switch and stand-ins). */
export function nsRun(ns: string, argv: string[], opts?: RunOptions): Promise<RunResult> {
  return run(["ip", "netns", "exec", ns, ...argv], opts);
}

export function nsRunOk(ns: string, argv: string[], opts?: RunOptions): Promise<RunResult> {
  return runOk(["ip", "netns", "exec", ns, ...argv], opts);
}

/** `ip -n ns <args>`, exit 0 required. */
export function ipIn(ns: string, args: string[], opts?: RunOptions): Promise<RunResult> {
  return runOk(["ip", "-n", ns, ...args], opts);
}

/** Create a veth pair straight into two lab namespaces. */
export async function addVethPair(
  a: { ns: string; name: string; mac?: string },
  b: { ns: string; name: string; mac?: string },
): Promise<void> {
  await runOk(["ip", "link", "add", a.name, "netns", a.ns, "type", "veth", "peer", "name", b.name, "netns", b.ns]);
  for (const end of [a, b]) {
    if (end.mac) await ipIn(end.ns, ["link", "set", end.name, "address", end.mac]);
  }
}

export async function addBridge(ns: string, name: string): Promise<void> {
  await ipIn(ns, ["link", "add", name, "type", "bridge"]);
  // No STP: a lab segment is a single bridge and must forward from the first frame.
  await ipIn(ns, ["link", "set", name, "type", "bridge", "stp_state", "0", "forward_delay", "0"]);
  await ipIn(ns, ["link", "set", name, "up"]);
}

export async function attachToBridge(ns: string, port: string, bridge: string): Promise<void> {
  await ipIn(ns, ["link", "set", port, "master", bridge]);
  await ipIn(ns, ["link", "set", port, "up"]);
}

/** Move a link from one lab namespace to another, renaming it there (a NIC hot-plug). */
export async function moveLink(fromNs: string, name: string, toNs: string, newName: string): Promise<void> {
  await ipIn(fromNs, ["link", "set", name, "netns", toNs]);
  if (newName !== name) await ipIn(toNs, ["link", "set", name, "name", newName]);
}

/** Kill every process in a namespace (TERM, then KILL), then delete it. Tolerates absence. */
export async function destroyNetns(name: string, graceMs = 1500): Promise<void> {
  for (const signal of ["SIGTERM", "SIGKILL"] as const) {
    const pids = await netnsPids(name);
    if (pids.length === 0) break;
    for (const pid of pids) {
      try {
        process.kill(pid, signal);
      } catch {
        /* exited meanwhile */
      }
    }
    const deadline = Date.now() + graceMs;
    while (Date.now() < deadline && (await netnsPids(name)).length > 0) {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  await run(["ip", "netns", "del", name], { timeoutMs: 10_000 });
}
