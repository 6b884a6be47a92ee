/**
 * What the VM lab builds, read from the resources the program declared (not from a second,
 * hand-written topology): one segment per private network, one VM per server, the address
 * IPAM would hand each private NIC, and the VPC custom routes Scaleway would apply.
 * Pure: declared resources in, plan out.
 */
import { Address4 } from "ip-address";
import { scalewayMac } from "./seed";

/** The part of the program run (testkit/programRun.ts) the plan reads. */
export interface DeclaredResourceLike {
  type: string;
  name: string;
  inputs: Record<string, any>;
  state: Record<string, any>;
}

export const TYPES = {
  vpc: "scaleway:network/vpc:Vpc",
  privateNetwork: "scaleway:network/privateNetwork:PrivateNetwork",
  server: "scaleway:instance/server:Server",
  privateNic: "scaleway:instance/privateNic:PrivateNic",
  ipamIp: "scaleway:ipam/ip:Ip",
  publicIp: "scaleway:instance/ip:Ip",
  route: "scaleway:network/route:Route",
} as const;

export type HostRole = "gateway" | "test-host";

export interface VpcRoute {
  destination: string;
  /** The next hop's private address (the gateway's private NIC). */
  via: string;
}

export interface VmSegment {
  site: string;
  subnet: string;
  prefixLength: number;
  /** Scaleway's virtual router/DHCP sits at the subnet's first host address. */
  routerAddress: string;
  /** Custom routes of the VPC this private network belongs to (propagated to every PN). */
  vpcRoutes: VpcRoute[];
}

export interface VmHost {
  /** Hostname and file-name stem, e.g. "scaleway-gateway". */
  name: string;
  site: string;
  role: HostRole;
  privateAddress: string;
  privateMac: string;
  /** Gateways: the flexible IP Scaleway routes to the instance. */
  publicAddress?: string;
  publicMac?: string;
}

export interface VmLabPlan {
  segments: VmSegment[];
  hosts: VmHost[];
  /** The "internet" segment carrying the gateways' public addresses. */
  internet: { subnet: string; prefixLength: number };
}

export const INTERNET_SUBNET = "198.51.100.0/24";

/** Mock and real ids may be zoned ("fr-par-1/<uuid>"); the provider trims the zone. */
const bareId = (id: unknown): string => String(id ?? "").replace(/^.*\//, "");
const tagValue = (tags: unknown, key: string): string | undefined =>
  (Array.isArray(tags) ? tags : [])
    .map(String)
    .find((t) => t.startsWith(`${key}:`))
    ?.slice(key.length + 1);

export function planVmLab(
  resources: readonly DeclaredResourceLike[],
  idOf = (r: DeclaredResourceLike) => `${r.name}-id`,
): VmLabPlan {
  const byId = new Map(resources.map((r) => [bareId(idOf(r)), r]));
  const ofType = (t: string) => resources.filter((r) => r.type === t);
  const lookup = (id: unknown, type: string, what: string): DeclaredResourceLike => {
    const r = byId.get(bareId(id));
    if (!r || r.type !== type)
      throw new Error(`VM lab plan: ${what} refers to ${String(id)}, which is not a declared ${type}`);
    return r;
  };

  const networks = ofType(TYPES.privateNetwork);
  const nics = ofType(TYPES.privateNic);
  const nicAddress = (nic: DeclaredResourceLike): string => {
    const ipamIds: unknown[] = nic.inputs.ipamIpIds ?? [];
    if (ipamIds.length !== 1) throw new Error(`VM lab plan: private NIC ${nic.name} needs exactly one IPAM address`);
    return String(lookup(ipamIds[0], TYPES.ipamIp, `private NIC ${nic.name}`).inputs.address).replace(/\/\d+$/, "");
  };

  const routesByVpc = new Map<string, VpcRoute[]>();
  for (const route of ofType(TYPES.route)) {
    const vpcId = bareId(route.inputs.vpcId);
    const nic = lookup(route.inputs.nexthopResourceId, TYPES.privateNic, `route ${route.name}`);
    const list = routesByVpc.get(vpcId) ?? [];
    list.push({ destination: String(route.inputs.destination), via: nicAddress(nic) });
    routesByVpc.set(vpcId, list);
  }

  const segments: VmSegment[] = networks.map((pn) => {
    const subnet = String(pn.inputs.ipv4Subnet?.subnet);
    const parsed = new Address4(subnet);
    const first = Address4.fromBigInt(parsed.startAddress().bigInt() + 1n).address;
    return {
      site: tagValue(pn.inputs.tags, "wg-s2s-site") ?? pn.name,
      subnet,
      prefixLength: parsed.subnetMask,
      routerAddress: first,
      vpcRoutes: routesByVpc.get(bareId(pn.inputs.vpcId)) ?? [],
    };
  });

  const hosts: VmHost[] = ofType(TYPES.server).map((server, index) => {
    const site = tagValue(server.inputs.tags, "wg-s2s-site");
    const role = tagValue(server.inputs.tags, "wg-s2s-role") as HostRole | undefined;
    if (!site || (role !== "gateway" && role !== "test-host")) {
      throw new Error(`VM lab plan: server ${server.name} lacks wg-s2s-site/wg-s2s-role tags`);
    }
    const serverNics = nics.filter((n) => bareId(n.inputs.serverId) === bareId(idOf(server)));
    if (serverNics.length !== 1)
      throw new Error(`VM lab plan: server ${server.name} has ${serverNics.length} private NICs, expected 1`);
    const nic = serverNics[0];
    const host: VmHost = {
      name: `${site}-${role}`,
      site,
      role,
      privateAddress: nicAddress(nic),
      privateMac: typeof nic.state.macAddress === "string" ? nic.state.macAddress : scalewayMac(index + 1, 1),
    };
    if (server.inputs.ipId) {
      host.publicAddress = String(lookup(server.inputs.ipId, TYPES.publicIp, `server ${server.name}`).state.address);
      host.publicMac = `52:54:00:00:${(index + 1).toString(16).padStart(2, "0")}:02`;
    }
    return host;
  });

  for (const h of hosts) {
    const seg = segments.find((s) => s.site === h.site);
    if (!seg) throw new Error(`VM lab plan: no private network for site ${h.site}`);
    if (!new Address4(h.privateAddress).isInSubnet(new Address4(seg.subnet))) {
      throw new Error(`VM lab plan: ${h.name} address ${h.privateAddress} is outside ${seg.subnet}`);
    }
  }
  const internet = new Address4(INTERNET_SUBNET);
  for (const h of hosts) {
    if (h.publicAddress && !new Address4(h.publicAddress).isInSubnet(internet)) {
      throw new Error(
        `VM lab plan: ${h.name} public address ${h.publicAddress} is outside the lab's ${INTERNET_SUBNET}`,
      );
    }
  }
  return { segments, hosts, internet: { subnet: INTERNET_SUBNET, prefixLength: internet.subnetMask } };
}
