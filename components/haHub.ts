/**
 * The cloud side of an HA hub (docs/ha.md) that is not a gateway itself: a placement group
 * spreading the two gateways, a management IP for each, and the failover agent's IAM
 * application, policy and API key. The service IP (the flexible IP the far ends dial) is the
 * site's public IP, declared by SiteToSiteVpn and attached by the agent, never by the stack.
 */
import * as pulumi from "@pulumi/pulumi";
import * as scaleway from "@pulumiverse/scaleway";

/**
 * The narrowest permission sets for the agent's calls (docs/ha.md, "Permission sets and
 * conditions"): moving an IP is an Instances write, a route's next hop a VPC write.
 */
export const HA_PERMISSION_SETS = ["InstancesFullAccess", "VPCFullAccess"] as const;

export interface HaHubArgs {
  siteName: string;
  zone: string;
  /** The service IP: its project scopes the policy, its address is one the agent calls from. */
  serviceIp: scaleway.instance.Ip;
  tags: string[];
}

export interface HaHub {
  placementGroup: scaleway.instance.PlacementGroup;
  /** One per gateway, attached at creation (the stack's own way in, and the API calls' source). */
  managementIps: [scaleway.instance.Ip, scaleway.instance.Ip];
  application: scaleway.iam.Application;
  policy: scaleway.iam.Policy;
  apiKey: scaleway.iam.ApiKey;
  /** Secret: the API key's secret key, for the gateways' user-data. */
  apiSecretKey: pulumi.Output<string>;
  /** The tag on every VPC route of the hub; the agent moves only routes that carry it. */
  routeTag: pulumi.Output<string>;
}

/** A Scaleway id without its locality prefix ("fr-par-1/<uuid>" -> "<uuid>"). */
export function bareId(id: string): string {
  return id.slice(id.lastIndexOf("/") + 1);
}

/**
 * `request.ip` is the caller's public address (docs-content iam/policies-permissions/
 * understanding-request-level-conditions.mdx): the key works from the gateways only.
 */
export function requestIpCondition(addresses: string[]): string {
  return addresses.map((a) => `request.ip == "${a}"`).join(" || ");
}

export function declareHaHub(name: string, args: HaHubArgs, parent: pulumi.Resource): HaHub {
  const opts = { parent };
  const placementGroup = new scaleway.instance.PlacementGroup(
    `${name}-gateways-placement`,
    { zone: args.zone, policyType: "max_availability", policyMode: "enforced", tags: args.tags },
    opts,
  );
  const managementIp = (suffix: string) =>
    new scaleway.instance.Ip(
      `${name}-gateway-${suffix}-ip`,
      { zone: args.zone, type: "routed_ipv4", tags: [...args.tags, "wg-s2s-ha:management"] },
      opts,
    );
  const managementIps: [scaleway.instance.Ip, scaleway.instance.Ip] = [managementIp("a"), managementIp("b")];
  const application = new scaleway.iam.Application(
    `${name}-failover`,
    { description: `wg-s2s: the ${args.siteName} hub's failover agent (moves its service IP and VPC routes)` },
    opts,
  );
  const policy = new scaleway.iam.Policy(
    `${name}-failover`,
    {
      applicationId: application.id,
      description: `wg-s2s: what the ${args.siteName} hub's failover agent may do, from its gateways only`,
      rules: [
        {
          projectIds: [args.serviceIp.projectId],
          permissionSetNames: [...HA_PERMISSION_SETS],
          condition: pulumi
            .all([args.serviceIp.address, ...managementIps.map((ip) => ip.address)])
            .apply(requestIpCondition),
        },
      ],
    },
    opts,
  );
  // Rotate with `pulumi up --replace <this key's URN>` (docs/ha.md): both gateways get the new
  // key through their user-data, so both are replaced.
  const apiKey = new scaleway.iam.ApiKey(
    `${name}-failover`,
    {
      applicationId: application.id,
      defaultProjectId: args.serviceIp.projectId,
      description: `wg-s2s: the ${args.siteName} hub's failover agent`,
    },
    { parent, additionalSecretOutputs: ["secretKey"], dependsOn: [policy] },
  );
  return {
    placementGroup,
    managementIps,
    application,
    policy,
    apiKey,
    apiSecretKey: pulumi.secret(apiKey.secretKey),
    routeTag: args.serviceIp.id.apply((id) => `wg-s2s-ha:${bareId(id)}`),
  };
}
