/**
 * Network namespaces and links, all through iproute2. Every namespace the lab creates
 * carries the run prefix; veth pairs are always created with both ends inside lab
 * namespaces, so no lab link ever exists in the machine's own (root) namespace.
 */
import * as fs from "fs";
import { pidAlive, run, runOk, sleep, type RunOptions, type RunResult } from "./proc";

/** Where iproute2 keeps its named namespaces (NETNS_RUN_DIR). */
const NETNS_RUN_DIR = "/var/run/netns";

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

/**
 * PIDs of every process in each of the named namespaces, in one pass over /proc: what
 * `ip netns pids` does for one name (match /proc/<pid>/ns/net against the namespace's
 * nsfs inode), without a process and a /proc scan per namespace and per poll.
 */
export function netnsPidsOf(names: string[]): Map<string, number[]> {
  const byInode = new Map<string, string>();
  const found = new Map<string, number[]>(names.map((n) => [n, []]));
  for (const name of names) {
    try {
      byInode.set(`net:[${fs.statSync(`${NETNS_RUN_DIR}/${name}`).ino}]`, name);
    } catch {
      /* no such namespace (any more) */
    }
  }
  if (byInode.size === 0) return found;
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let link: string;
    try {
      link = fs.readlinkSync(`/proc/${entry}/ns/net`);
    } catch {
      continue; // exited meanwhile, or a kernel thread
    }
    const name = byInode.get(link);
    if (name) found.get(name)!.push(Number(entry));
  }
  return found;
}

/**
 * Kill every process in the named namespaces (TERM, then KILL after graceMs), then delete
 * them in that order, with one `ip -batch`. Tolerates absence. All namespaces at once, and
 * liveness polled by PID (not by rescanning /proc) every 50 ms: the lab's cleanup takes
 * well under 3 s, not seconds per namespace.
 */
export async function destroyNetnsAll(names: string[], graceMs = 1500): Promise<void> {
  if (names.length === 0) return;
  for (const signal of ["SIGTERM", "SIGKILL"] as const) {
    const pids = [...netnsPidsOf(names).values()].flat();
    if (pids.length === 0) break;
    for (const pid of pids) {
      try {
        process.kill(pid, signal);
      } catch {
        /* exited meanwhile */
      }
    }
    const deadline = Date.now() + (signal === "SIGTERM" ? graceMs : 1000);
    while (Date.now() < deadline && pids.some(pidAlive)) await sleep(50);
  }
  await run(["ip", "-force", "-batch", "-"], {
    input: names.map((n) => `netns del ${n}\n`).join(""),
    timeoutMs: 10_000 + 1000 * names.length,
  });
}

/** Kill every process in a namespace (TERM, then KILL), then delete it. Tolerates absence. */
export async function destroyNetns(name: string, graceMs = 1500): Promise<void> {
  await destroyNetnsAll([name], graceMs);
}
