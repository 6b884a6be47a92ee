/**
 * Joining an existing private network: the deploy-time check of what the user stated
 * against what the network is.
 *
 * Why the subnet is stated in config rather than only read: the topology (AllowedIPs,
 * forward policy, routes, overlap checks, the gateway's address) is planned from plain
 * values before any resource is declared, and a data-source read is an Output. So the user
 * states `subnet` next to `privateNetworkId`, validation checks it against the other sites
 * like any subnet, and at deploy time the program reads the network with the provider's
 * data source (`scaleway.network.getPrivateNetworkOutput`) and refuses to attach anything
 * to it unless the network really has that subnet. Pure: the component calls it in `apply`.
 */
import { setCommand } from "./errors";

/** What the provider's getPrivateNetwork returns that the check reads. */
export interface ExistingNetworkFacts {
  ipv4Subnets?: readonly { subnet?: string }[];
  vpcId?: string;
  region?: string;
}

export interface ExistingNetworkExpectation {
  /** "scalewaySite" or "remoteSites[i]". */
  configPath: string;
  privateNetworkId: string;
  subnet: string;
  region: string;
}

/** Undefined when the network matches; else one message naming the key and the fix. */
export function existingNetworkProblem(
  expected: ExistingNetworkExpectation,
  actual: ExistingNetworkFacts,
): string | undefined {
  const key = `${expected.configPath}.subnet`;
  const subnets = (actual.ipv4Subnets ?? []).map((s) => s.subnet).filter((s): s is string => !!s);
  const where = `private network ${expected.privateNetworkId}`;
  if (actual.region && actual.region !== expected.region) {
    return `${expected.configPath}.privateNetworkId: ${where} is in region ${actual.region}, but the gateway is in ${expected.region}. Fix: use a network of ${expected.region}, or move the stack with ${setCommand("scaleway:zone", `${actual.region}-1`)}.`;
  }
  if (!actual.vpcId) {
    return `${expected.configPath}.privateNetworkId: ${where} reports no VPC, so no custom route can be added for it. Fix: attach the network to a VPC first (Scaleway console, VPC).`;
  }
  if (subnets.length === 0) {
    return `${key}: ${where} has no IPv4 subnet. Fix: add one to the network, or join another network.`;
  }
  if (!subnets.includes(expected.subnet)) {
    return `${key}: is ${expected.subnet}, but ${where} has ${subnets.join(", ")}; nothing was attached to it. Fix: ${setCommand(key, subnets[0])} (and move gatewayAddress/testHostAddress into it).`;
  }
  return undefined;
}

/**
 * The VPC of a joined network must route for the site's custom routes to work (VPCs created
 * before routing existed have it off; the switch is one-way and belongs to the VPC's owner,
 * not to this stack). Undefined when it routes.
 */
export function existingVpcProblem(
  expected: Pick<ExistingNetworkExpectation, "configPath" | "privateNetworkId">,
  vpc: { id?: string; enableRouting?: boolean },
): string | undefined {
  if (vpc.enableRouting) return undefined;
  return `${expected.configPath}.privateNetworkId: the VPC of private network ${expected.privateNetworkId} (${vpc.id ?? "unknown"}) has routing off, so its custom routes to the gateway would never apply; nothing was attached. Fix: enable routing on that VPC (console: VPC, then its settings; API: POST /vpc/v2/regions/<region>/vpcs/<id>/enable-routing; one-way), or use ${setCommand(`${expected.configPath}.routePropagation`, "static")}.`;
}
