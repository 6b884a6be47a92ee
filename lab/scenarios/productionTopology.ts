/**
 * The production scenario's fixed shape: the existing network the hub joins, the stack config
 * a user would set for it, and its lab topology, built by hand where the scenario differs from
 * what lab/topology.ts derives (the hub has no test host, the office sits behind NAT).
 */
import type { DeclaredResource } from "../../testkit/programRun";
import type { StackConfig } from "../../config/types";
import { LAB_ADMIN_CIDR } from "../labConfig";
import {
  INTERNET_SUBNET,
  labMac,
  PRIVATE_NIC,
  PUBLIC_NIC,
  publicMac,
  type LabNode,
  type LabSite,
  type LabTopology,
  RESOURCE_TYPES as T,
} from "../topology";
/** The existing network the hub joins (what the user's Scaleway project holds). */
export const PRODUCTION_NETWORK = {
  id: "0a77ac4e-d000-4000-8000-000000000001",
  vpcId: "fr-par/0a77ac4e-d000-4000-8000-0000000000fc",
  subnet: "192.168.0.0/24",
};
export const HUB_PUBLIC = "198.51.100.10";
export const BRANCH_PUBLIC = "198.51.100.12";
/** The office NAT's public address before and after the ISP changes it. */
export const OFFICE_NAT_BEFORE = "198.51.100.21";
export const OFFICE_NAT_AFTER = "198.51.100.22";
/** The segment between the office gateway and its NAT router (carrier-grade NAT space). */
export const OFFICE_WAN = { nat: "100.64.1.1", gateway: "100.64.1.2", len: 24, bridge: "br-o1wan" };
/** The address the hub network's DHCP/IPAM gives the workload (an existing instance). */
export const WORKLOAD_ADDRESS = "192.168.0.50";

/** The stack config of the scenario: exactly what a user would set. */
export function productionLabConfig(): Record<string, unknown> {
  return {
    adminCidrs: [LAB_ADMIN_CIDR],
    scalewaySite: {
      privateNetworkId: PRODUCTION_NETWORK.id,
      subnet: PRODUCTION_NETWORK.subnet,
      gatewayAddress: "192.168.0.2",
    },
    remoteSites: [
      {
        name: "office",
        kind: "external",
        subnet: "192.168.1.0/24",
        gatewayAddress: "192.168.1.2",
        tunnelAddress: "172.16.0.2",
        routePropagation: "dhcp",
        lanRouter: "192.168.1.1",
      },
      {
        name: "branch",
        kind: "external",
        subnet: "192.168.2.0/24",
        gatewayAddress: "192.168.2.2",
        testHostAddress: "192.168.2.3",
        tunnelAddress: "172.16.0.3",
        routePropagation: "static",
        publicIp: BRANCH_PUBLIC,
      },
    ],
  };
}

/** The hub gateway's NIC (MAC, IPAM address) and the routes declared into the existing VPC. */
export function hubFromResources(resources: DeclaredResource[]) {
  const nics = resources.filter((r) => r.type === T.privateNic);
  if (nics.length !== 1) throw new Error(`expected one private NIC (the hub gateway's), got ${nics.length}`);
  const nic = nics[0];
  const ip = resources.find((r) => r.type === T.ipamIp && r.id === nic.inputs.ipamIpIds?.[0]);
  if (!ip) throw new Error("the hub gateway's NIC has no IPAM address");
  const routes = resources
    .filter((r) => r.type === T.route && r.inputs.vpcId === PRODUCTION_NETWORK.vpcId)
    .map((r) => {
      if (r.inputs.nexthopResourceId !== nic.id) throw new Error(`${r.name} does not point at the gateway's NIC`);
      return { destination: r.inputs.destination as string, nexthop: ip.inputs.address as string, resource: r.name };
    })
    .sort((a, b) => a.destination.localeCompare(b.destination));
  return { mac: nic.state.macAddress as string, address: ip.inputs.address as string, routes };
}

const node = (
  prefix: string,
  index: number,
  site: string,
  short: string,
  role: LabNode["role"],
  provisioning: LabNode["provisioning"],
  nic: Omit<LabNode["privateNic"], "name" | "switchPort">,
  publicAddress?: string,
): LabNode => ({
  id: `${site}-${short}`,
  ns: `${prefix}-${site}-${short}`,
  site,
  role,
  provisioning,
  privateNic: { ...nic, name: PRIVATE_NIC, switchPort: `s${index}-${short}` },
  ...(publicAddress
    ? {
        publicNic: {
          name: PUBLIC_NIC,
          address: `${publicAddress}/24`,
          mac: publicMac(index),
          switchPort: `s${index}-pub`,
        },
      }
    : {}),
});

/** The scenario's machines and sites (namespace names carry the run prefix). */
export function productionTopology(prefix: string, hubNic: ReturnType<typeof hubFromResources>, cfg: StackConfig) {
  const keepalive = cfg.keepalive;
  // ---- topology (built by hand: the hub has no test host and office sits behind NAT)
  const hubGw = node(
    prefix,
    0,
    "scaleway",
    "gw",
    "gateway",
    "scaleway-user-data",
    { mac: hubNic.mac, address: `${hubNic.address}/24`, addressing: "ipam-dhcp", hotplug: true },
    HUB_PUBLIC,
  );
  const workload = node(prefix, 0, "scaleway", "wl", "test-host", "none", {
    mac: labMac(0, "test-host"),
    address: `${WORKLOAD_ADDRESS}/24`,
    addressing: "ipam-dhcp",
    hotplug: false,
  });
  const vpcRouter = node(prefix, 0, "scaleway", "vr", "vpc-router", "lab-stand-in", {
    mac: labMac(0, "vpc-router"),
    address: "192.168.0.1/24",
    addressing: "static",
    hotplug: false,
  });
  const officeGw = node(prefix, 1, "office", "gw", "gateway", "operator-bundle", {
    mac: labMac(1, "gateway"),
    address: "192.168.1.2/24",
    addressing: "static",
    hotplug: false,
  });
  const officeHost = node(prefix, 1, "office", "th", "test-host", "none", {
    mac: labMac(1, "test-host"),
    addressing: "lan-dhcp",
    hotplug: false,
  });
  const officeRouter = node(prefix, 1, "office", "lr", "lan-router", "lab-stand-in", {
    mac: labMac(1, "lan-router"),
    address: "192.168.1.1/24",
    addressing: "static",
    hotplug: false,
  });
  const branchGw = node(
    prefix,
    2,
    "branch",
    "gw",
    "gateway",
    "operator-bundle",
    { mac: labMac(2, "gateway"), address: "192.168.2.2/24", addressing: "static", hotplug: false },
    BRANCH_PUBLIC,
  );
  const branchHost = node(prefix, 2, "branch", "th", "test-host", "none", {
    mac: labMac(2, "test-host"),
    address: "192.168.2.3/24",
    addressing: "static",
    hotplug: false,
  });
  const hubSite: LabSite = {
    index: 0,
    name: "scaleway",
    kind: "hub",
    subnet: PRODUCTION_NETWORK.subnet,
    routePropagation: "vpc-route",
    tunnelAddress: cfg.scalewaySite.tunnelAddress,
    allowSpokeToSpoke: false,
    bridge: "br-s0",
    gateway: hubGw,
    testHost: workload,
    vpcRouter: {
      ...vpcRouter,
      leases: [
        { mac: hubNic.mac, address: hubNic.address, host: hubGw.id },
        { mac: workload.privateNic.mac, address: WORKLOAD_ADDRESS, host: workload.id },
      ],
      customRoutes: hubNic.routes,
    },
    publicIp: HUB_PUBLIC,
  };
  const site = (index: number, name: string, gw: LabNode, th: LabNode, lr?: LabNode): LabSite => {
    const r = cfg.remoteSites.find((s) => s.name === name)!;
    return {
      index,
      name,
      kind: "external",
      subnet: r.subnet,
      routePropagation: r.routePropagation,
      tunnelAddress: r.tunnelAddress,
      allowSpokeToSpoke: false,
      bridge: `br-s${index}`,
      gateway: gw,
      testHost: th,
      ...(lr ? { lanRouter: lr } : {}),
      publicIp: r.publicIp ?? OFFICE_NAT_BEFORE,
    };
  };
  const office = site(1, "office", officeGw, officeHost, officeRouter);
  const branch = site(2, "branch", branchGw, branchHost);
  const t: LabTopology = {
    prefix,
    switchNs: `${prefix}-switch`,
    internet: { subnet: INTERNET_SUBNET, bridge: "br-inet" },
    listenPort: cfg.listenPort,
    tunnelMtu: cfg.mtu,
    keepaliveSeconds: keepalive,
    sites: [hubSite, office, branch],
  };
  return {
    t,
    hubSite,
    office,
    branch,
    hubGw,
    workload,
    vpcRouter,
    officeGw,
    officeHost,
    officeRouter,
    branchGw,
    branchHost,
  };
}
