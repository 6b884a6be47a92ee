import * as pulumi from "@pulumi/pulumi";
import * as scaleway from "@pulumiverse/scaleway";
import { declarePrivateInstance, SiteHostArgs } from "./privateInstance";

export interface GatewayInstanceArgs extends SiteHostArgs {
  /**
   * The site's flexible IP; a separate resource so the address survives server replacement.
   * On an HA hub, this gateway's own management IP (the service IP is attached by the agent).
   */
  publicIp: scaleway.instance.Ip;
  listenPort: number;
  /**
   * CIDRs WireGuard is accepted from: each peer gateway's /32 where its address is known,
   * `dynamicPeerCidrs` for dynamic far ends (WireGuard answers nothing to unauthenticated packets).
   */
  wireguardSources: pulumi.Input<string>[];
  adminCidrs: string[];
  /** One of an HA hub's two gateways: placed apart, its public IPs left to the failover. */
  haPlacementGroupId?: pulumi.Input<string>;
  /** An HA hub's second gateway: replaced only once the first is back (components/haHub.ts). */
  serverDependsOn?: pulumi.Resource[];
}

/** A site's WireGuard gateway: public IP, fixed private IP, and a drop-by-default security group. */
export class GatewayInstance extends pulumi.ComponentResource {
  public readonly server: scaleway.instance.Server;
  public readonly privateNic: scaleway.instance.PrivateNic;
  public readonly securityGroup: scaleway.instance.SecurityGroup;
  public readonly publicIp: pulumi.Output<string>;

  constructor(name: string, args: GatewayInstanceArgs, opts?: pulumi.ComponentResourceOptions) {
    super("wg-s2s:index:GatewayInstance", name, {}, opts);
    const inboundRules = [
      ...args.wireguardSources.map((ipRange) => ({
        action: "accept",
        protocol: "UDP",
        port: args.listenPort,
        ipRange,
      })),
      ...args.adminCidrs.map((cidr) => ({ action: "accept", protocol: "TCP", port: 22, ipRange: cidr })),
      // Path-MTU discovery and the ping test need ICMP; it carries no tunnel secrets.
      { action: "accept", protocol: "ICMP", ipRange: "0.0.0.0/0" },
    ];
    const host = declarePrivateInstance(
      name,
      {
        ...args,
        role: "gateway",
        inboundRules,
        placementGroupId: args.haPlacementGroupId,
        leavesPublicIpsToFailover: args.haPlacementGroupId !== undefined,
      },
      this,
    );
    this.server = host.server;
    this.privateNic = host.privateNic;
    this.securityGroup = host.securityGroup;
    this.publicIp = args.publicIp.address;
    this.registerOutputs({ publicIp: this.publicIp });
  }
}
