/**
 * The VM lab's wiring, entirely inside namespaces this run creates:
 *
 *   <prefix>-net       bridges (one per private network, one "internet") and the VMs' taps;
 *                      no addresses, no forwarding: it is only the switches.
 *   <prefix>-vpcN      per private network, the stand-in for Scaleway's managed services on
 *                      that network: DHCP/IPAM (dnsmasq with one static lease per private
 *                      NIC) and the VPC router at the subnet's first address, which applies
 *                      the VPC custom routes. Its veth is plugged into the network's bridge.
 *
 * Nothing here touches the machine's own namespace: every link is created inside a lab
 * namespace and there is no veth, route or NAT to the root namespace.
 */
import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { Address4 } from "ip-address";
import { run, runOk, sleep } from "../proc";
import type { VmHost, VmLabPlan, VmSegment } from "./plan";

export interface Tap {
  host: string;
  nic: "public" | "private";
  name: string;
  bridge: string;
}

export interface LabNetwork {
  prefix: string;
  /** Namespace holding the bridges and taps; qemu runs here. */
  switchNs: string;
  /** Site -> namespace of its Scaleway stand-in (DHCP + VPC router); the lab SSHes from here. */
  vpcNs: Map<string, string>;
  taps: Tap[];
  dnsmasq: { site: string; process: ChildProcess; pid: number; log: string }[];
}

/** Interface names are per namespace, so short fixed names never collide across runs. */
export const tapName = (hostIndex: number, nic: "public" | "private") =>
  `tap${hostIndex}${nic === "public" ? "p" : "v"}`;
const bridgeName = (segmentIndex: number) => `br${segmentIndex}`;
const INTERNET_BRIDGE = "brinet";

async function ns(netns: string, ...args: string[]): Promise<string> {
  return (await runOk(["ip", "netns", "exec", netns, ...args])).stdout;
}

/** dnsmasq configuration of one private network's DHCP/IPAM stand-in. */
export function renderVpcDnsmasqConfig(
  segment: VmSegment,
  hosts: readonly VmHost[],
  files: { leases: string; log: string; pid: string },
): string {
  const parsed = new Address4(segment.subnet);
  const network = parsed.startAddress().address;
  const mask = maskOf(parsed.subnetMask);
  const lines = [
    "# Stand-in for Scaleway's managed DHCP/IPAM on one private network (VM lab).",
    "port=0",
    "interface=eth0",
    "bind-interfaces",
    "dhcp-authoritative",
    // IPAM hands out reserved addresses only: no dynamic pool.
    `dhcp-range=${network},static,${mask},1h`,
    ...hosts.map((h) => `dhcp-host=${h.privateMac},${h.privateAddress},${h.name}`),
    // No default router: a private network without a Public Gateway gives none.
    "dhcp-option=option:router",
    "dhcp-option=option:dns-server",
  ];
  if (segment.vpcRoutes.length > 0) {
    // The VPC's custom routes reach instances as classless static routes via the VPC router.
    lines.push(
      `dhcp-option=121,${segment.vpcRoutes.map((r) => `${r.destination},${segment.routerAddress}`).join(",")}`,
    );
  }
  lines.push(
    `dhcp-leasefile=${files.leases}`,
    `pid-file=${files.pid}`,
    `log-facility=${files.log}`,
    "log-dhcp",
    "user=root",
    "group=root",
  );
  return lines.join("\n") + "\n";
}

function maskOf(prefix: number): string {
  const bits = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return [24, 16, 8, 0].map((s) => (bits >>> s) & 0xff).join(".");
}

export async function createNetwork(prefix: string, plan: VmLabPlan, runDir: string): Promise<LabNetwork> {
  const switchNs = `${prefix}-net`;
  const lab: LabNetwork = { prefix, switchNs, vpcNs: new Map(), taps: [], dnsmasq: [] };
  await runOk(["ip", "netns", "add", switchNs]);
  await ns(switchNs, "ip", "link", "set", "lo", "up");
  // The switch namespace only bridges; it must never route between segments.
  await ns(switchNs, "sysctl", "-q", "-w", "net.ipv4.ip_forward=0");

  await ns(switchNs, "ip", "link", "add", INTERNET_BRIDGE, "type", "bridge");
  await ns(switchNs, "ip", "link", "set", INTERNET_BRIDGE, "up");
  const segmentBridge = new Map<string, string>();
  for (const [i, seg] of plan.segments.entries()) {
    const br = bridgeName(i);
    segmentBridge.set(seg.site, br);
    await ns(switchNs, "ip", "link", "add", br, "type", "bridge");
    await ns(switchNs, "ip", "link", "set", br, "up");
  }

  for (const [i, host] of plan.hosts.entries()) {
    const nics: ("public" | "private")[] = host.publicAddress ? ["public", "private"] : ["private"];
    for (const nic of nics) {
      const name = tapName(i, nic);
      const bridge = nic === "public" ? INTERNET_BRIDGE : segmentBridge.get(host.site)!;
      await ns(switchNs, "ip", "tuntap", "add", "dev", name, "mode", "tap");
      await ns(switchNs, "ip", "link", "set", name, "master", bridge, "up");
      lab.taps.push({ host: host.name, nic, name, bridge });
    }
  }

  for (const [i, seg] of plan.segments.entries()) {
    const vpc = `${prefix}-vpc${i}`;
    await runOk(["ip", "netns", "add", vpc]);
    lab.vpcNs.set(seg.site, vpc);
    await ns(vpc, "ip", "link", "set", "lo", "up");
    // Created inside the switch namespace, its peer moved straight into the stand-in's.
    await ns(switchNs, "ip", "link", "add", `vpc${i}`, "type", "veth", "peer", "name", "eth0", "netns", vpc);
    await ns(switchNs, "ip", "link", "set", `vpc${i}`, "master", bridgeName(i), "up");
    await ns(vpc, "ip", "addr", "add", `${seg.routerAddress}/${seg.prefixLength}`, "dev", "eth0");
    await ns(vpc, "ip", "link", "set", "eth0", "up");
    await ns(vpc, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1");
    // Keep hosts sending remote traffic to the VPC router, as on Scaleway, not redirected.
    await ns(vpc, "sysctl", "-q", "-w", "net.ipv4.conf.all.send_redirects=0");
    await ns(vpc, "sysctl", "-q", "-w", "net.ipv4.conf.eth0.send_redirects=0");
    for (const route of seg.vpcRoutes) {
      await ns(vpc, "ip", "route", "add", route.destination, "via", route.via, "dev", "eth0");
    }
    const hosts = plan.hosts.filter((h) => h.site === seg.site);
    const files = {
      leases: path.join(runDir, `vpc${i}.leases`),
      log: path.join(runDir, `vpc${i}-dnsmasq.log`),
      pid: path.join(runDir, `vpc${i}-dnsmasq.pid`),
    };
    const conf = path.join(runDir, `vpc${i}-dnsmasq.conf`);
    fs.writeFileSync(conf, renderVpcDnsmasqConfig(seg, hosts, files));
    fs.writeFileSync(files.leases, "");
    const child = spawn("ip", ["netns", "exec", vpc, "dnsmasq", "--keep-in-foreground", `--conf-file=${conf}`], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr?.on("data", (d) => (stderr += d));
    if (!child.pid) throw new Error(`dnsmasq for ${seg.site} did not start`);
    lab.dnsmasq.push({ site: seg.site, process: child, pid: child.pid, log: files.log });
    await sleep(300);
    if (child.exitCode !== null) throw new Error(`dnsmasq for ${seg.site} exited: ${stderr.trim()}`);
  }
  return lab;
}

/** Kills the stand-ins by pid and deletes the namespaces (their links go with them). */
export async function destroyNetwork(lab: LabNetwork): Promise<string[]> {
  const problems: string[] = [];
  for (const d of lab.dnsmasq) {
    if (d.process.exitCode === null && d.process.signalCode === null) {
      try {
        process.kill(d.pid, "SIGTERM");
      } catch {
        /* gone */
      }
    }
  }
  await sleep(200);
  for (const netns of [...lab.vpcNs.values(), lab.switchNs]) {
    const r = await run(["ip", "netns", "delete", netns], { timeoutMs: 15_000 });
    if (r.code !== 0 && !/No such file/.test(r.stderr)) problems.push(`ip netns delete ${netns}: ${r.stderr.trim()}`);
  }
  return problems;
}

/** Namespaces of this lab kind, for the leftover sweep. */
export async function listLabNamespaces(pattern: RegExp): Promise<string[]> {
  const r = await run(["ip", "netns", "list"], { timeoutMs: 10_000 });
  return r.stdout
    .split("\n")
    .map((l) => l.split(" ")[0])
    .filter((n) => n && pattern.test(n));
}
