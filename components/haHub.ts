/**
 * The cloud side of an HA hub (docs/ha.md) that is not a gateway itself: a placement group
 * spreading the two gateways, a management IP for each, and the failover agent's IAM
 * application, policy and API key. The service IP (the flexible IP the far ends dial) is the
 * site's public IP, declared by SiteToSiteVpn and attached by the agent, never by the stack.
 */
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import * as scaleway from "@pulumiverse/scaleway";
import { HA_PATHS } from "../cloud-init/ha/agent";

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
  // key through their user-data, so both are replaced, one at a time (declareHandOver).
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

/**
 * Updates without an outage (docs/ha.md, "Replacing the gateways"): a change that replaces
 * both gateways (image, type, user-data) replaces them one at a time, in a fixed order, the
 * first gateway then the second, each handing over first:
 *  - `ready` (create): waits until the gateway's keepalived runs and the agent is active or
 *    standby, so the second gateway is not touched before the first is back as a member;
 *  - `drain` (delete, which the engine runs before deleting the server it depends on): stops
 *    keepalived there (the agent takes the tunnel down), so the other gateway takes over,
 *    and waits, bounded, until it holds the service IP.
 * The second server depends on the first's `ready`. The order is fixed, not looked up at
 * program time: a lookup made at preview can be stale by the time the engine acts (a
 * failover in between), while a drain works from whatever state the pair is in. The cost:
 * when the first gateway is the active one, a rolling replacement makes two failovers
 * (to the second, then back to the new first), one when it is the standby.
 */
export const HA_READY_SECONDS = 900;
export const HA_DRAIN_SECONDS = 90;
export const HA_READY_COMMAND = `${HA_PATHS.agent} ready ${HA_READY_SECONDS}`;
export const HA_DRAIN_COMMAND = `${HA_PATHS.agent} drain ${HA_DRAIN_SECONDS}`;

export interface HandOverArgs {
  server: scaleway.instance.Server;
  /** The gateway's management IP: the hand-over does not depend on who holds the service IP. */
  host: pulumi.Input<string>;
  deployPrivateKey: pulumi.Input<string>;
  hostPublicKey: pulumi.Input<string>;
}

export function declareHandOver(name: string, args: HandOverArgs, parent: pulumi.Resource): command.remote.Command {
  return new command.remote.Command(
    name,
    {
      connection: {
        host: args.host,
        user: "root",
        privateKey: args.deployPrivateKey,
        hostKey: args.hostPublicKey,
        // Bounded: ~60 dials of up to 15 s while the instance boots (as the deploy checks).
        dialErrorLimit: 60,
        perDialTimeout: 15,
      },
      create: HA_READY_COMMAND,
      delete: HA_DRAIN_COMMAND,
      // A replaced server replaces this command: its delete drains the old server first.
      triggers: [args.server.id],
      logging: "stdoutAndStderr",
    },
    { parent, dependsOn: [args.server] },
  );
}
