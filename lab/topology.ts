/**
 * The lab's topology, derived only from what the program declared (testkit/programRun).
 * For Scaleway-built sites everything comes from the declared resources: the private
 * network's subnet, each private NIC's MAC and IPAM address, the gateway's instance.Ip
 * address and the VPC custom routes. The parsed stack config adds what has no resource:
 * tunnel addresses and the external sites (the operator builds those from the bundle).
 * There is no second, hand-written description of the sites.
 *
 * Pure: nothing is touched here. It is the one model of both backends: the namespace lab
 * (lab/run.ts) and the VM lab (lab/vm/) build their machines and stand-ins from a
 * LabTopology.
 *
 * Wiring (inside the lab's "switch" namespace; every name below is local to a lab
 * namespace, the namespaces themselves carry the run prefix):
 *   br-inet            the "internet": every gateway's public NIC (TEST-NET-2, 198.51.100.0/24)
 *   br-s<i>            site i's segment (hub = 0, remote sites 1..N in config order)
 *   host NICs          ens2 = public, ens5 = private (the names Scaleway's images use)
 */
import { contains, hostAddress as nthAddress, networkAddress, prefixLength } from "../addressing/ipv4";
import type { RoutePropagation, StackConfig } from "../config/types";

/** Minimal view of harness DeclaredResource the topology needs. */
export interface ResourceView {
  type: string;
  name: string;
  /** The id the provider (or the mocks) gave it; views without one fall back to `<name>-id`. */
  id?: string;
  inputs: Record<string, any>;
  state: Record<string, any>;
}

export const INTERNET_SUBNET = "198.51.100.0/24";
/** First public address the lab hands out (hub), then one per remote site in order. */
export const FIRST_PUBLIC_HOST = 10;
export const PUBLIC_NIC = "ens2";
export const PRIVATE_NIC = "ens5";

export type NodeRole = "gateway" | "test-host" | "vpc-router" | "lan-router";

export interface PrivateNicSpec {
  /** Interface name inside the host. */
  name: string;
  mac: string;
  /** "a.b.c.d/len" when known before boot (IPAM reservation or operator-configured). */
  address?: string;
  /**
   * ipam-dhcp: Scaleway's DHCP hands the IPAM address (lab: VPC-router dnsmasq + dhclient).
   * static:    configured by the operator / the lab before boot (external gateways, stand-ins).
   * lan-dhcp:  leased from the external site's own gateway dnsmasq (external "dhcp" test hosts).
   */
  addressing: "ipam-dhcp" | "static" | "lan-dhcp";
  /** Scaleway attaches private NICs after the server started: the lab hot-plugs it. */
  hotplug: boolean;
  /** Bridge port name of the other veth end, in the switch namespace. */
  switchPort: string;
}

export interface PublicNicSpec {
  name: string;
  /** "a.b.c.d/len" on the lab's internet segment. */
  address: string;
  /** Locally administered, fixed per site (a VM's network-config matches on it). */
  mac: string;
  switchPort: string;
}

export interface LabNode {
  /** Short id, also the hostname: "<site>-gw", "<site>-th", "<site>-vr", "<site>-lr". */
  id: string;
  /** Network namespace name (run prefix included). */
  ns: string;
  site: string;
  role: NodeRole;
  /** Where its configuration comes from. */
  provisioning: "scaleway-user-data" | "operator-bundle" | "lab-stand-in" | "none";
  privateNic: PrivateNicSpec;
  publicNic?: PublicNicSpec;
}

export interface VpcCustomRoute {
  destination: string;
  /** Private address of the next-hop private NIC (a gateway). */
  nexthop: string;
  /** Declared resource it comes from. */
  resource: string;
}

export interface LabSite {
  index: number;
  name: string;
  kind: "hub" | "simulated" | "external";
  subnet: string;
  routePropagation: RoutePropagation;
  tunnelAddress: string;
  allowSpokeToSpoke: boolean;
  bridge: string;
  gateway: LabNode;
  testHost: LabNode;
  /** Scaleway-built sites: stand-in for the PN's DHCP/IPAM and the VPC's virtual router (.1). */
  vpcRouter?: LabNode & {
    /** Static leases: MAC -> IPAM address, as Scaleway's DHCP serves them. */
    leases: { mac: string; address: string; host: string }[];
    /** The VPC's custom routes, from the program's network.Route resources. */
    customRoutes: VpcCustomRoute[];
  };
  /** External "dhcp" sites with lanRouter: the operator's own LAN router (just present). */
  lanRouter?: LabNode;
  /** External sites' public IP (what the config says); Scaleway-built: instance.Ip address. */
  publicIp: string;
}

export interface LabTopology {
  prefix: string;
  switchNs: string;
  internet: { subnet: string; bridge: string };
  listenPort: number;
  tunnelMtu: number;
  keepaliveSeconds: number;
  sites: LabSite[];
}

/** Public IP per site name the lab hands out: hub .10, remote i .10+i (order of config). */
export function labPublicIps(siteNames: string[]): Record<string, string> {
  return Object.fromEntries(siteNames.map((n, i) => [n, nthAddress(INTERNET_SUBNET, FIRST_PUBLIC_HOST + i)]));
}

/** Mock and real ids may be zoned ("fr-par-1/<uuid>"); the provider trims the zone. */
const bareId = (id: unknown): string => String(id ?? "").replace(/^.*\//, "");
const idOf = (r: ResourceView): string => bareId(r.id ?? r.state.id ?? r.inputs.id ?? `${r.name}-id`);

function tagged(resources: ResourceView[], type: string, site: string, role?: string): ResourceView[] {
  return resources.filter(
    (r) =>
      r.type === type &&
      r.inputs.tags?.includes(`wg-s2s-site:${site}`) &&
      (!role || r.inputs.tags?.includes(`wg-s2s-role:${role}`)),
  );
}

function one<T>(items: T[], what: string): T {
  if (items.length !== 1)
    throw new Error(`lab topology: expected exactly one ${what}, the program declared ${items.length}`);
  return items[0];
}

/** The provider resource types the topology reads. */
export const RESOURCE_TYPES = {
  vpc: "scaleway:network/vpc:Vpc",
  privateNetwork: "scaleway:network/privateNetwork:PrivateNetwork",
  server: "scaleway:instance/server:Server",
  privateNic: "scaleway:instance/privateNic:PrivateNic",
  ipamIp: "scaleway:ipam/ip:Ip",
  publicIp: "scaleway:instance/ip:Ip",
  route: "scaleway:network/route:Route",
} as const;
const T = RESOURCE_TYPES;

/** The declared resource of `type` with id `id` (zone-trimmed), or a clear error naming `what`. */
function byId(resources: ResourceView[], type: string, id: unknown, what: string): ResourceView {
  const found = resources.filter((r) => r.type === type && idOf(r) === bareId(id));
  if (found.length !== 1)
    throw new Error(`lab topology: ${what} refers to ${String(id)}, which is not a declared ${type}`);
  return found[0];
}

/** A private NIC's address: the one IPAM Ip attached to it (without prefix length). */
function nicAddress(resources: ResourceView[], nic: ResourceView): string {
  const ipamId = one<string>(nic.inputs.ipamIpIds ?? [], `IPAM address on ${nic.name}`);
  return bare(String(byId(resources, T.ipamIp, ipamId, `private NIC ${nic.name}`).inputs.address));
}

/** The private NIC of a Scaleway-built host: MAC from the PrivateNic, address from its IPAM Ip. */
function scalewayNic(
  resources: ResourceView[],
  site: string,
  role: "gateway" | "test-host",
  subnet: string,
): { mac: string; address: string; id: string } {
  const nic = one(tagged(resources, T.privateNic, site, role), `private NIC for ${role} of site ${site}`);
  const address = nicAddress(resources, nic);
  if (!contains(subnet, address))
    throw new Error(`lab topology: ${role} of site ${site} has address ${address}, outside ${subnet}`);
  const mac = nic.state.macAddress;
  if (!mac) throw new Error(`lab topology: ${nic.name} has no macAddress`);
  return { mac, address, id: idOf(nic) };
}

/**
 * The subnet of a Scaleway-built site: its declared private network's (the config's is only
 * the input). A site that joins an existing network declares none: the config's subnet is
 * the one the deploy checks against that network.
 */
function declaredSubnet(resources: ResourceView[], site: string, configured: string, joined: boolean): string {
  if (joined) return configured;
  const pn = one(tagged(resources, T.privateNetwork, site), `private network of site ${site}`);
  const subnet = String(pn.inputs.ipv4Subnet?.subnet);
  if (subnet !== configured)
    throw new Error(`lab topology: site ${site} declares private network ${subnet}, the config says ${configured}`);
  return subnet;
}

/** The gateway's public address: the declared instance.Ip attached to its server. */
function declaredPublicIp(resources: ResourceView[], site: string): string | undefined {
  const server = one(tagged(resources, T.server, site, "gateway"), `gateway server of site ${site}`);
  if (!server.inputs.ipId) return undefined;
  const ip = byId(resources, T.publicIp, server.inputs.ipId, `server ${server.name}`);
  return ip.state.address === undefined ? undefined : String(ip.state.address);
}

/**
 * The VPC custom routes of a site's VPC, with next hops resolved to private addresses. A
 * site that joins an existing network declares no VPC: its routes are the ones into any VPC
 * whose next hop is its gateway's NIC.
 */
function customRoutesOf(resources: ResourceView[], site: string, gatewayNicId: string): VpcCustomRoute[] {
  const vpc = tagged(resources, T.vpc, site);
  const vpcId = vpc.length ? idOf(one(vpc, `VPC of site ${site}`)) : undefined;
  return resources
    .filter(
      (r) =>
        r.type === T.route &&
        (vpcId === undefined ? bareId(r.inputs.nexthopResourceId) === gatewayNicId : bareId(r.inputs.vpcId) === vpcId),
    )
    .map((r) => {
      const nic = byId(resources, T.privateNic, r.inputs.nexthopResourceId, `route ${r.name}`);
      return { destination: r.inputs.destination as string, nexthop: nicAddress(resources, nic), resource: r.name };
    })
    .sort((a, b) => a.destination.localeCompare(b.destination));
}

const hex2 = (n: number) => n.toString(16).padStart(2, "0");

/** Locally administered MAC for nodes the program does not declare (stand-ins, external LANs). */
export function labMac(siteIndex: number, role: NodeRole): string {
  const roleByte = { gateway: 1, "test-host": 2, "vpc-router": 3, "lan-router": 4 }[role];
  return `02:1a:b0:00:${hex2(siteIndex)}:${hex2(roleByte)}`;
}

/** A gateway's public NIC MAC (the platform's own, not declared by the program). */
export const publicMac = (siteIndex: number): string => `02:1a:b0:01:${hex2(siteIndex)}:01`;

const ROLE_SHORT: Record<NodeRole, string> = {
  gateway: "gw",
  "test-host": "th",
  "vpc-router": "vr",
  "lan-router": "lr",
};

export interface TopologyInput {
  prefix: string;
  config: StackConfig;
  resources: ResourceView[];
  /**
   * Site -> public IPv4 of its gateway, as the lab handed them to the program. Optional:
   * Scaleway-built gateways take the declared instance.Ip's address and external ones the
   * config's publicIp; when given, each must agree with that.
   */
  publicIps?: Record<string, string>;
  /**
   * Site -> address of a host already on a network the site joins (`privateNetworkId`): the
   * program builds no test host there, so the lab's test host is that workload, configured
   * only by the network's DHCP (id `<site>-wl`, no user-data).
   */
  workloads?: Record<string, string>;
  /**
   * External site -> the public address of the NAT its gateway sits behind: a site without
   * `publicIp` in its config dials out through the operator's NAT, so its gateway gets no
   * public NIC and the lab builds that NAT itself.
   */
  natPublicIps?: Record<string, string>;
}

export function buildTopology(input: TopologyInput): LabTopology {
  const { prefix, config, resources, publicIps, workloads = {}, natPublicIps = {} } = input;
  const inetLen = prefixLength(INTERNET_SUBNET);
  const node = (
    siteIndex: number,
    site: string,
    role: NodeRole,
    provisioning: LabNode["provisioning"],
    nic: Omit<PrivateNicSpec, "name" | "switchPort">,
    short = ROLE_SHORT[role],
  ): LabNode => {
    const id = `${site}-${short}`;
    return {
      id,
      ns: `${prefix}-${id}`,
      site,
      role,
      provisioning,
      privateNic: { ...nic, name: PRIVATE_NIC, switchPort: `s${siteIndex}-${short}` },
    };
  };
  const withPublic = (n: LabNode, siteIndex: number, site: string, ip: string | undefined): LabNode => {
    if (!ip || !contains(INTERNET_SUBNET, ip))
      throw new Error(`lab topology: site ${site} needs a public IP in the lab's ${INTERNET_SUBNET}, got ${ip}`);
    if (publicIps && publicIps[site] !== ip)
      throw new Error(`lab topology: site ${site} has public IP ${ip}, the lab handed out ${publicIps[site]}`);
    return {
      ...n,
      publicNic: {
        name: PUBLIC_NIC,
        address: `${ip}/${inetLen}`,
        mac: publicMac(siteIndex),
        switchPort: `s${siteIndex}-pub`,
      },
    };
  };

  const hub = config.scalewaySite;
  const siteDefs = [
    {
      kind: "hub" as const,
      name: hub.name,
      subnet: hub.subnet,
      gatewayAddress: hub.gatewayAddress,
      testHostAddress: hub.testHostAddress as string | undefined,
      tunnelAddress: hub.tunnelAddress,
      routePropagation: hub.routePropagation,
      allowSpokeToSpoke: false,
      lanRouter: undefined as string | undefined,
      privateNetworkId: hub.privateNetworkId,
    },
    ...config.remoteSites.map((r) => ({ ...r, kind: r.kind })),
  ];

  const sites = siteDefs.map((s, index): LabSite => {
    const scalewayBuilt = s.kind !== "external";
    const joined = Boolean((s as { privateNetworkId?: string }).privateNetworkId);
    const subnet = scalewayBuilt ? declaredSubnet(resources, s.name, s.subnet, joined) : s.subnet;
    const configuredIp = (s as { publicIp?: string }).publicIp;
    const natIp = scalewayBuilt || configuredIp ? undefined : natPublicIps[s.name];
    const publicIp = scalewayBuilt ? declaredPublicIp(resources, s.name) : (configuredIp ?? natIp);
    const len = prefixLength(subnet);
    const withLen = (a: string) => `${a}/${len}`;
    const base = {
      index,
      name: s.name,
      kind: s.kind,
      subnet,
      routePropagation: s.routePropagation,
      tunnelAddress: s.tunnelAddress,
      allowSpokeToSpoke: s.allowSpokeToSpoke,
      bridge: `br-s${index}`,
      publicIp: publicIp ?? "",
    };
    if (scalewayBuilt) {
      const gw = scalewayNic(resources, s.name, "gateway", subnet);
      const workload = workloads[s.name];
      const th = workload
        ? { mac: labMac(index, "test-host"), address: workload }
        : scalewayNic(resources, s.name, "test-host", subnet);
      if (!contains(subnet, th.address))
        throw new Error(`lab topology: workload of site ${s.name} has address ${th.address}, outside ${subnet}`);
      const gateway = withPublic(
        node(index, s.name, "gateway", "scaleway-user-data", {
          mac: gw.mac,
          address: withLen(gw.address),
          addressing: "ipam-dhcp",
          hotplug: true,
        }),
        index,
        s.name,
        publicIp,
      );
      const testHost = node(
        index,
        s.name,
        "test-host",
        workload ? "none" : "scaleway-user-data",
        { mac: th.mac, address: withLen(th.address), addressing: "ipam-dhcp", hotplug: !workload },
        workload ? "wl" : undefined,
      );
      // Scaleway reserves the subnet's first host address for the VPC's own router/DHCP.
      const vr = node(index, s.name, "vpc-router", "lab-stand-in", {
        mac: labMac(index, "vpc-router"),
        address: withLen(nthAddress(subnet, 1)),
        addressing: "static",
        hotplug: false,
      });
      return {
        ...base,
        gateway,
        testHost,
        vpcRouter: {
          ...vr,
          leases: [
            { mac: gw.mac, address: gw.address, host: gateway.id },
            { mac: th.mac, address: th.address, host: testHost.id },
          ],
          customRoutes: customRoutesOf(resources, s.name, gw.id),
        },
      };
    }
    // External: the operator's machines. The gateway's LAN address is configured by the operator.
    const lanGateway = node(index, s.name, "gateway", "operator-bundle", {
      mac: labMac(index, "gateway"),
      address: withLen(s.gatewayAddress),
      addressing: "static",
      hotplug: false,
    });
    const gateway = natIp ? lanGateway : withPublic(lanGateway, index, s.name, publicIp);
    const dhcp = s.routePropagation === "dhcp";
    const testHost = node(index, s.name, "test-host", "none", {
      mac: labMac(index, "test-host"),
      address: dhcp ? undefined : withLen(s.testHostAddress ?? nthAddress(s.subnet, 3)),
      addressing: dhcp ? "lan-dhcp" : "static",
      hotplug: false,
    });
    const lanRouter = s.lanRouter
      ? node(index, s.name, "lan-router", "lab-stand-in", {
          mac: labMac(index, "lan-router"),
          address: withLen(s.lanRouter),
          addressing: "static",
          hotplug: false,
        })
      : undefined;
    return { ...base, gateway, testHost, lanRouter };
  });

  return {
    prefix,
    switchNs: `${prefix}-switch`,
    internet: { subnet: INTERNET_SUBNET, bridge: "br-inet" },
    listenPort: config.listenPort,
    tunnelMtu: config.mtu,
    keepaliveSeconds: config.keepalive,
    sites,
  };
}

/** Every node of a topology (gateways, test hosts, stand-ins), sites in order. */
export function allNodes(t: LabTopology): LabNode[] {
  return t.sites.flatMap((s) => [
    s.gateway,
    s.testHost,
    ...(s.vpcRouter ? [s.vpcRouter] : []),
    ...(s.lanRouter ? [s.lanRouter] : []),
  ]);
}

/** Address without prefix length. */
export const bare = (cidr: string): string => cidr.split("/")[0];

/** Network address of a site subnet (e.g. for display). */
export const siteNetwork = (s: LabSite): string => `${networkAddress(s.subnet)}/${prefixLength(s.subnet)}`;
