import * as pulumi from "@pulumi/pulumi";
import * as scaleway from "@pulumiverse/scaleway";
import { GatewayInstance } from "./gatewayInstance";
import { TestHost } from "./testHost";
import type { SitePlan } from "../planning/topology";

export interface ScalewaySiteArgs {
  plan: SitePlan;
  zone: string;
  region: string;
  instanceType: pulumi.Input<string>;
  image: pulumi.Input<string>;
  adminCidrs: string[];
  listenPort: number;
  testHostPublicIp: boolean;
  /** The gateway's flexible IP, declared by the owner because peers need it first. */
  publicIp: scaleway.instance.Ip;
  peerPublicIps: pulumi.Input<string>[];
  gatewayUserData: pulumi.Input<string>;
  testHostUserData: pulumi.Input<string>;
}

/**
 * One site built on Scaleway: its own VPC (routing on), a private network with the site's
 * subnet, the gateway, a test host, and, for `vpc-route` sites, one VPC custom route per
 * remote subnet pointing at the gateway's private NIC. Routes do not cross VPCs, so each
 * Scaleway-built site carries its own routes back.
 */
export class ScalewaySite extends pulumi.ComponentResource {
  public readonly vpc: scaleway.network.Vpc;
  public readonly privateNetwork: scaleway.network.PrivateNetwork;
  public readonly gateway: GatewayInstance;
  public readonly testHost: TestHost;
  public readonly routes: scaleway.network.Route[];

  constructor(name: string, args: ScalewaySiteArgs, opts?: pulumi.ComponentResourceOptions) {
    super("wg-s2s:index:ScalewaySite", name, {}, opts);
    const { plan } = args;
    const child = { parent: this };
    const tags = ["wg-s2s", `wg-s2s-site:${plan.name}`];

    // Both switches are one-way on Scaleway; custom routes need both.
    this.vpc = new scaleway.network.Vpc(
      `${name}-vpc`,
      { region: args.region, enableRouting: true, enableCustomRoutesPropagation: true, tags },
      child,
    );
    this.privateNetwork = new scaleway.network.PrivateNetwork(
      `${name}-pn`,
      { region: args.region, vpcId: this.vpc.id, ipv4Subnet: { subnet: plan.subnet }, tags },
      child,
    );
    const host = {
      siteName: plan.name,
      zone: args.zone,
      region: args.region,
      instanceType: args.instanceType,
      image: args.image,
      privateNetworkId: this.privateNetwork.id,
      adminCidrs: args.adminCidrs,
    };
    this.gateway = new GatewayInstance(
      `${name}-gateway`,
      {
        ...host,
        privateAddress: plan.gatewayAddress,
        publicIp: args.publicIp,
        userData: args.gatewayUserData,
        listenPort: args.listenPort,
        peerPublicIps: args.peerPublicIps,
      },
      child,
    );
    this.routes =
      plan.routePropagation === "vpc-route"
        ? plan.remoteSubnets.map(
            (destination) =>
              new scaleway.network.Route(
                `${name}-route-${destination.replace(/[./]/g, "-")}`,
                {
                  region: args.region,
                  vpcId: this.vpc.id,
                  description: `wg-s2s: ${destination} through the ${plan.name} gateway`,
                  destination,
                  nexthopResourceId: this.gateway.privateNic.id,
                  nexthopPrivateNetworkId: this.privateNetwork.id,
                  tags,
                },
                child,
              ),
          )
        : [];
    this.testHost = new TestHost(
      `${name}-test-host`,
      {
        ...host,
        privateAddress: plan.testHostAddress!,
        userData: args.testHostUserData,
        publicIp: args.testHostPublicIp,
        // Routes first, so the test host's first lease carries them (the gateway's own NIC is
        // the routes' next hop, so it necessarily comes before them).
        privateNicDependsOn: this.routes,
      },
      child,
    );
    this.registerOutputs({ gatewayPublicIp: this.gateway.publicIp });
  }
}
