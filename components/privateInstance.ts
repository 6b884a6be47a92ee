/**
 * The part every host on a site shares: a fixed private address reserved in IPAM, a server
 * with its own security group, and the private NIC that attaches the reserved address.
 * `GatewayInstance` and `TestHost` differ only in what they add around it.
 */
import * as pulumi from "@pulumi/pulumi";
import * as scaleway from "@pulumiverse/scaleway";

export type HostRole = "gateway" | "test-host";

/** What every host on a site is given, gateway or test host. */
export interface SiteHostArgs {
  siteName: string;
  zone: string;
  region: string;
  instanceType: pulumi.Input<string>;
  image: pulumi.Input<string>;
  privateNetworkId: pulumi.Input<string>;
  /** Fixed private address (no prefix), reserved in IPAM. */
  privateAddress: string;
  /** cloud-init user-data; a secret whenever it holds key material. */
  userData: pulumi.Input<string>;
  /**
   * Resources the private NIC waits for: the site's VPC routes, so that the host's first DHCP
   * lease already carries them (Scaleway syncs routes "to each resource as it joins" a private
   * network, else only at a later renewal; docs-content vpc/how-to/manage-routing).
   */
  privateNicDependsOn?: pulumi.Resource[];
}

export interface PrivateInstanceArgs extends SiteHostArgs {
  role: HostRole;
  /** Public IPv4 to attach, or none (the host is then reached through the gateway). */
  publicIp?: scaleway.instance.Ip;
  inboundRules: pulumi.Input<scaleway.types.input.instance.SecurityGroupInboundRule>[];
  /** An HA hub's gateways: spread over different hypervisors. */
  placementGroupId?: pulumi.Input<string>;
  /**
   * An HA hub's gateways: the failover agent attaches the service IP to whichever is active.
   * The provider reads every attached IP back into `ipIds` (and `ipId`) and its update
   * detaches IPs not listed (terraform-provider-scaleway instance/server.go,
   * ResourceInstanceServerUpdateIPs), so the stack must not manage them after creation, or a
   * `pulumi up` after a failover would take the service IP off the active gateway.
   */
  leavesPublicIpsToFailover?: boolean;
  /** Resources the server waits for (an HA hub's second gateway: the first's hand-over). */
  serverDependsOn?: pulumi.Resource[];
}

export interface PrivateInstance {
  server: scaleway.instance.Server;
  privateNic: scaleway.instance.PrivateNic;
  securityGroup: scaleway.instance.SecurityGroup;
  ipamIp: scaleway.ipam.Ip;
}

/** Tags every server carries; the policy pack reads `wg-s2s-role:*`. */
/**
 * Root volume, set explicitly: without it the provider picks the image's SBS flavour and
 * bills a separate block volume (terraform-provider-scaleway instance/helpers_instance_block.go).
 * DEV1-S has 20 GB of local SSD.
 */
export const ROOT_VOLUME = { volumeType: "l_ssd", sizeInGb: 20 } as const;

/**
 * Resource options of every server. Scaleway updates user-data in place but cloud-init never
 * re-reads it, so a changed cloud-config (a new peer, a rotated key) must boot a new server:
 * replacement is tied to the `cloud-init` entry only. Scaleway itself adds an
 * `ssh-host-fingerprints` entry to user-data on Ubuntu noble (terraform-provider-scaleway
 * issue #2800, PR #2810), which a `pulumi refresh` brings into state: it is ignored, so it
 * never replaces (or even updates) a server. Delete first: the reserved private address can
 * only be attached to one NIC at a time. additionalSecretOutputs: the only signal CrossGuard
 * (policy/) sees that user-data is secret.
 */
export const SERVER_OPTIONS = {
  replaceOnChanges: ['userData["cloud-init"]'],
  ignoreChanges: ['userData["ssh-host-fingerprints"]'],
  deleteBeforeReplace: true,
  additionalSecretOutputs: ["userData"],
} as const;

/** What an HA gateway's server leaves to the failover agent (see `leavesPublicIpsToFailover`). */
export const FAILOVER_IGNORES = ["ipId", "ipIds"] as const;

export function hostTags(siteName: string, role: HostRole): string[] {
  return ["wg-s2s", `wg-s2s-site:${siteName}`, `wg-s2s-role:${role}`];
}

export function declarePrivateInstance(
  name: string,
  args: PrivateInstanceArgs,
  parent: pulumi.Resource,
): PrivateInstance {
  const opts = { parent };
  const tags = hostTags(args.siteName, args.role);
  // Security groups filter public traffic only; private-network traffic is not filtered by them.
  const securityGroup = new scaleway.instance.SecurityGroup(
    `${name}-sg`,
    {
      zone: args.zone,
      description: `wg-s2s ${args.role} of site ${args.siteName}`,
      stateful: true,
      inboundDefaultPolicy: "drop",
      outboundDefaultPolicy: "accept",
      inboundRules: args.inboundRules,
      tags,
    },
    opts,
  );
  const ipamIp = new scaleway.ipam.Ip(
    `${name}-private-ip`,
    { region: args.region, address: args.privateAddress, sources: [{ privateNetworkId: args.privateNetworkId }], tags },
    opts,
  );
  const server = new scaleway.instance.Server(
    name,
    {
      zone: args.zone,
      type: args.instanceType,
      image: args.image,
      securityGroupId: securityGroup.id,
      ipId: args.publicIp?.id,
      placementGroupId: args.placementGroupId,
      userData: { "cloud-init": args.userData },
      rootVolume: { ...ROOT_VOLUME },
      tags,
    },
    {
      parent,
      replaceOnChanges: [...SERVER_OPTIONS.replaceOnChanges],
      ignoreChanges: [...SERVER_OPTIONS.ignoreChanges, ...(args.leavesPublicIpsToFailover ? FAILOVER_IGNORES : [])],
      deleteBeforeReplace: SERVER_OPTIONS.deleteBeforeReplace,
      additionalSecretOutputs: [...SERVER_OPTIONS.additionalSecretOutputs],
      dependsOn: args.serverDependsOn ?? [],
    },
  );
  // Scaleway starts the server before this NIC exists; user-data waits for the address.
  const privateNic = new scaleway.instance.PrivateNic(
    `${name}-nic`,
    { zone: args.zone, serverId: server.id, privateNetworkId: args.privateNetworkId, ipamIpIds: [ipamIp.id], tags },
    { parent, dependsOn: args.privateNicDependsOn ?? [] },
  );
  return { server, privateNic, securityGroup, ipamIp };
}
