/**
 * The production scenario's fixed shape: the existing network the hub joins, the stack config
 * a user would set for it, and its lab topology (lab/topology.ts, given the existing
 * network's workload host and the office's NAT, which the program does not declare).
 */
import type { StackConfig } from "../../config/types";
import { LAB_ADMIN_CIDR } from "../labConfig";
import { buildTopology, RESOURCE_TYPES as T, type ResourceView } from "../topology";
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

/**
 * The scenario's machines and sites (namespace names carry the run prefix), derived from the
 * program's declarations like every other lab topology: the hub's workload is the existing
 * host at WORKLOAD_ADDRESS, the office dials out through its NAT at OFFICE_NAT_BEFORE.
 */
export function productionTopology(prefix: string, resources: ResourceView[], cfg: StackConfig) {
  const t = buildTopology({
    prefix,
    config: cfg,
    resources,
    publicIps: { scaleway: HUB_PUBLIC, branch: BRANCH_PUBLIC },
    workloads: { scaleway: WORKLOAD_ADDRESS },
    natPublicIps: { office: OFFICE_NAT_BEFORE },
  });
  const [hubSite, office, branch] = t.sites;
  const vpcRouter = hubSite.vpcRouter!;
  // Every route the program declares goes into the network it joins, through the hub gateway.
  const routes = resources.filter((r) => r.type === T.route);
  const astray = routes.filter((r) => r.inputs.vpcId !== PRODUCTION_NETWORK.vpcId);
  if (astray.length || routes.length !== vpcRouter.customRoutes.length)
    throw new Error(
      `expected every route in ${PRODUCTION_NETWORK.vpcId} through the hub gateway's NIC; ${astray.map((r) => r.name).join(", ") || `${vpcRouter.customRoutes.length} of ${routes.length} do`}`,
    );
  return {
    t,
    hubSite,
    office,
    branch,
    hubGw: hubSite.gateway,
    workload: hubSite.testHost,
    vpcRouter,
    officeGw: office.gateway,
    officeHost: office.testHost,
    officeRouter: office.lanRouter!,
    branchGw: branch.gateway,
    branchHost: branch.testHost,
  };
}
