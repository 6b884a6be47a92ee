/**
 * The VM lab's wiring of a LabTopology (lab/topology.ts, the namespace lab's model too),
 * entirely inside namespaces this run creates:
 *
 *   <prefix>-switch        bridges (one per private network, one "internet") and the VMs'
 *                          taps; no addresses, no forwarding: it is only the switches.
 *   <prefix>-<site>-vr     per private network, the stand-in for Scaleway's managed
 *                          services on it (lab/standins/vpcRouter.ts, shared with the
 *                          namespace lab): DHCP/IPAM and the VPC router at the subnet's first
 *                          address. Its veth is plugged into the network's bridge.
 *   <prefix>-mirror        the package-mirror stand-in (lab/standins/packageMirror.ts) on
 *                          the internet bridge; made only when a scenario opens the mirror
 *                          (lab/vm/scenarios/packageMirror.ts), so until then no VM reaches
 *                          any package repository.
 *
 * Nothing here touches the machine's own namespace: every link is created inside a lab
 * namespace and there is no veth, route or NAT to the root namespace.
 */
import * as path from "node:path";
import { addBridge, addNetns, addVethPair, attachToBridge, destroyNetns, ipIn, listNetns, nsRunOk } from "../netns";
import { run, type BackgroundProcess } from "../proc";
import { addInternetHost } from "../scenarios/farEndHosts";
import { startVpcRouter } from "../standins/vpcRouter";
import { bare, type LabNode, type LabSite, type LabTopology } from "../topology";

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
  /**
   * Site -> the namespace the lab SSHes from, on the site's bridge: a Scaleway-built site's
   * stand-in for Scaleway's DHCP and VPC router, an external site's LAN workstation.
   */
  vpcNs: Map<string, string>;
  /** A host on the internet bridge that far ends already talk to (present when there are far ends). */
  internetNs?: string;
  /** The package-mirror stand-in's namespace, when a scenario made it (addPackageMirrorHost). */
  mirrorNs: string;
  taps: Tap[];
  dnsmasq: { site: string; process: BackgroundProcess; pid: number }[];
}

/** Interface names are per namespace, so short fixed names never collide across runs. */
export const tapName = (hostIndex: number, nic: "public" | "private") =>
  `tap${hostIndex}${nic === "public" ? "p" : "v"}`;

/**
 * The machines the VM lab runs: every gateway and test host of the Scaleway-built sites
 * (what the program declares as instance.Server), sites in order, then each external
 * site's gateway: the operator's own host, a far-end VM that resumes from a saved state
 * (lab/vm/farEnd.ts). An external site's LAN hosts are namespaces, not VMs. Only `static`
 * external sites: the VM lab has no stand-in for an operator's LAN router or DHCP.
 */
export function vmHosts(t: LabTopology): LabNode[] {
  const external = t.sites.filter((s) => !s.vpcRouter);
  const unsupported = external.filter((s) => s.routePropagation !== "static");
  if (unsupported.length)
    throw new Error(
      `the VM lab's far ends are external sites with routePropagation static; ${unsupported.map((s) => `${s.name} (${s.routePropagation})`).join(", ")} ${unsupported.length > 1 ? "are" : "is"} not (run the namespace lab for those)`,
    );
  return [
    ...t.sites.filter((s) => s.vpcRouter).flatMap((s) => [s.gateway, s.testHost]),
    ...external.map((s) => s.gateway),
  ];
}

/** A host's private address (no prefix length): the IPAM reservation. */
export const privateAddress = (h: LabNode): string => bare(h.privateNic.address!);

/** The site a host belongs to. */
export const siteOf = (t: LabTopology, h: LabNode): LabSite => t.sites.find((s) => s.name === h.site)!;

/** What a run will create; recorded before anything exists, so cleanup also covers a half-built network. */
export function plannedNetwork(t: LabTopology): LabNetwork {
  return {
    prefix: t.prefix,
    switchNs: t.switchNs,
    vpcNs: new Map(t.sites.map((s) => [s.name, s.vpcRouter?.ns ?? s.testHost.ns])),
    internetNs: t.sites.some((s) => !s.vpcRouter) ? `${t.prefix}-inet` : undefined,
    mirrorNs: packageMirrorNs(t.prefix),
    taps: [],
    dnsmasq: [],
  };
}

/** Builds the namespaces, bridges, taps and stand-ins of `lab` (from plannedNetwork). */
export async function createNetwork(lab: LabNetwork, t: LabTopology, runDir: string): Promise<void> {
  const hosts = vmHosts(t);
  await addNetns(t.switchNs);
  // The switch namespace only bridges; it must never route between segments.
  await nsRunOk(t.switchNs, ["sysctl", "-q", "-w", "net.ipv4.ip_forward=0"]);
  await addBridge(t.switchNs, t.internet.bridge);
  for (const s of t.sites) await addBridge(t.switchNs, s.bridge);

  for (const [i, host] of hosts.entries()) {
    const nics: ("public" | "private")[] = host.publicNic ? ["public", "private"] : ["private"];
    for (const nic of nics) {
      const name = tapName(i, nic);
      const bridge = nic === "public" ? t.internet.bridge : siteOf(t, host).bridge;
      await ipIn(t.switchNs, ["tuntap", "add", "dev", name, "mode", "tap"]);
      await attachToBridge(t.switchNs, name, bridge);
      lab.taps.push({ host: host.id, nic, name, bridge });
    }
  }

  for (const site of t.sites.filter((s) => !s.vpcRouter)) await addLanHost(site, t.switchNs);
  if (lab.internetNs) await addInternetHost(t.prefix, t.switchNs, t.internet.bridge);

  for (const site of t.sites.filter((s) => s.vpcRouter)) {
    const vr = site.vpcRouter!;
    await addNetns(vr.ns);
    await addVethPair(
      { ns: vr.ns, name: vr.privateNic.name, mac: vr.privateNic.mac },
      { ns: t.switchNs, name: vr.privateNic.switchPort },
    );
    await attachToBridge(t.switchNs, vr.privateNic.switchPort, site.bridge);
    await ipIn(vr.ns, ["addr", "add", vr.privateNic.address!, "dev", vr.privateNic.name]);
    await ipIn(vr.ns, ["link", "set", vr.privateNic.name, "up"]);
    const d = await startVpcRouter(site, path.join(runDir, "standins", vr.id));
    lab.dnsmasq.push({ site: site.name, process: d, pid: d.pid });
  }
}

/**
 * An external site's LAN workstation: a namespace on the site's bridge at the test host's
 * address, whose default route is the site's gateway (the far end is the office's router).
 */
async function addLanHost(site: LabSite, switchNs: string): Promise<void> {
  const lan = site.testHost;
  await addNetns(lan.ns);
  await addVethPair(
    { ns: lan.ns, name: lan.privateNic.name, mac: lan.privateNic.mac },
    { ns: switchNs, name: lan.privateNic.switchPort },
  );
  await attachToBridge(switchNs, lan.privateNic.switchPort, site.bridge);
  await ipIn(lan.ns, ["addr", "add", lan.privateNic.address!, "dev", lan.privateNic.name]);
  await ipIn(lan.ns, ["link", "set", lan.privateNic.name, "up"]);
  await ipIn(lan.ns, ["link", "set", "lo", "up"]);
  await ipIn(lan.ns, ["route", "add", "default", "via", bare(site.gateway.privateNic.address!)]);
}

/** The package-mirror stand-in's address: on the internet segment, as a real mirror is reached from the public NIC. */
export const PACKAGE_MIRROR_ADDRESS = "198.51.100.80";

export const packageMirrorNs = (prefix: string): string => `${prefix}-mirror`;

/**
 * The package-mirror stand-in's namespace on the internet bridge at PACKAGE_MIRROR_ADDRESS,
 * where the gateways' public NICs are (on-link: they have no default route).
 */
export async function addPackageMirrorHost(t: LabTopology): Promise<string> {
  const taken = t.sites
    .flatMap((s) => [s.gateway, s.testHost])
    .find((h) => h.publicNic && bare(h.publicNic.address!) === PACKAGE_MIRROR_ADDRESS);
  if (taken) throw new Error(`the package mirror's address ${PACKAGE_MIRROR_ADDRESS} is ${taken.id}'s public address`);
  const ns = packageMirrorNs(t.prefix);
  await addNetns(ns);
  await addVethPair({ ns, name: "eth0" }, { ns: t.switchNs, name: "s1-mirror" });
  await attachToBridge(t.switchNs, "s1-mirror", t.internet.bridge);
  await ipIn(ns, ["addr", "add", `${PACKAGE_MIRROR_ADDRESS}/${t.internet.subnet.split("/")[1]}`, "dev", "eth0"]);
  await ipIn(ns, ["link", "set", "eth0", "up"]);
  return ns;
}

/** Ends what runs in the mirror's namespace (by pid: only the mirror this run started there) and deletes it. */
export const removePackageMirrorHost = (prefix: string): Promise<void> => destroyNetns(packageMirrorNs(prefix));

/** Stops the stand-ins by pid and deletes the namespaces (their links go with them). */
export async function destroyNetwork(lab: LabNetwork): Promise<string[]> {
  const problems: string[] = [];
  await Promise.all(lab.dnsmasq.map((d) => d.process.stop()));
  await destroyNetns(lab.mirrorNs);
  const existing = new Set(await listNetns());
  const all = [...lab.vpcNs.values(), ...(lab.internetNs ? [lab.internetNs] : []), lab.switchNs];
  for (const netns of all.filter((n) => existing.has(n))) {
    const r = await run(["ip", "netns", "delete", netns], { timeoutMs: 15_000 });
    if (r.code !== 0) problems.push(`ip netns delete ${netns}: ${r.stderr.trim()}`);
  }
  return problems;
}

/** Namespaces of this lab kind, for the leftover sweep. */
export async function listLabNamespaces(pattern: RegExp): Promise<string[]> {
  return (await listNetns()).filter((n) => pattern.test(n));
}
