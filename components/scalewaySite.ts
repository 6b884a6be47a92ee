import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import * as scaleway from "@pulumiverse/scaleway";
import { GatewayInstance } from "./gatewayInstance";
import { declareHandOver, declareHaHub, type HaHub } from "./haHub";
import { TestHost } from "./testHost";
import { existingNetworkProblem, existingVpcProblem } from "../config/existingNetwork";
import type { SitePlan } from "../planning/topology";

export interface ScalewaySiteArgs {
  plan: SitePlan;
  /** Where the site is configured ("scalewaySite", "remoteSites[i]"), for deploy-time errors. */
  configPath: string;
  zone: string;
  region: string;
  instanceType: pulumi.Input<string>;
  image: pulumi.Input<string>;
  adminCidrs: string[];
  listenPort: number;
  testHostPublicIp: boolean;
  /** The gateway's flexible IP, declared by the owner because peers need it first. */
  publicIp: scaleway.instance.Ip;
  /** CIDRs the gateway admits WireGuard from (peers' /32s, dynamic peers' ranges). */
  wireguardSources: pulumi.Input<string>[];
  /** One gateway's user-data; on an HA hub, for each gateway from what only this site declares. */
  gatewayUserData: pulumi.Input<string> | ((gateway: HaGatewayContext) => pulumi.Input<string>);
  /** Present when the site builds a test host. */
  testHostUserData?: pulumi.Input<string>;
  /**
   * The existing network's id as an Input (e.g. another stack's output), when the caller has
   * one: `plan.privateNetworkId` then only says that the site joins a network (it shapes the
   * graph: no Vpc/PrivateNetwork), and this value is the one read and attached to.
   */
  existingPrivateNetworkId?: pulumi.Input<string>;
  /** An HA hub: how the stack logs in to each gateway to hand over before replacing it. */
  haAccess?: { deployPrivateKey: pulumi.Input<string>; hostPublicKey: pulumi.Input<string> };
}

/** What an HA hub gateway's user-data needs from the site (docs/ha.md). */
export interface HaGatewayContext {
  /** 0 or 1: which of `plan.ha`'s gateways. */
  index: 0 | 1;
  privateNetworkId: pulumi.Output<string>;
  vpcId: pulumi.Output<string>;
  /** Secret. */
  apiSecretKey: pulumi.Output<string>;
  routeTag: pulumi.Output<string>;
}

/**
 * One site built on Scaleway: its own VPC (routing on) and a private network with the
 * site's subnet — or an existing private network it joins —, the gateway, an optional test
 * host, and, for `vpc-route` sites, one VPC custom route per remote subnet pointing at the
 * gateway's private NIC. Routes do not cross VPCs, so each Scaleway-built site carries its
 * own routes back.
 *
 * Joining an existing network (`plan.privateNetworkId`): no Vpc or PrivateNetwork resource
 * is declared, so nothing of them is ever created, updated or deleted by this stack; the
 * network is read with the provider's data source, and the gateway's IPAM reservation and
 * the routes (into the network's own VPC) wait for the check that it has the stated subnet.
 */
/** What an HA hub's VPC routes leave to the failover agent after creation. */
export const ROUTE_FAILOVER_IGNORES = ["nexthopResourceId", "nexthopPrivateNetworkId"] as const;

export class ScalewaySite extends pulumi.ComponentResource {
  /** Absent when the site joins an existing network. */
  public readonly vpc?: scaleway.network.Vpc;
  public readonly privateNetwork?: scaleway.network.PrivateNetwork;
  public readonly privateNetworkId: pulumi.Output<string>;
  public readonly vpcId: pulumi.Output<string>;
  /** The gateway; on an HA hub, the first of `gateways`. */
  public readonly gateway: GatewayInstance;
  /** Every gateway of the site: one, or an HA hub's two. */
  public readonly gateways: GatewayInstance[];
  /** An HA hub's placement group, management IPs and failover credentials. */
  public readonly ha?: HaHub;
  /** An HA hub: per gateway, the command that waits for it to join and drains it before it goes. */
  public readonly handOvers: command.remote.Command[] = [];
  public readonly testHost?: TestHost;
  public readonly routes: scaleway.network.Route[];

  constructor(name: string, args: ScalewaySiteArgs, opts?: pulumi.ComponentResourceOptions) {
    super("wg-s2s:index:ScalewaySite", name, {}, opts);
    const { plan } = args;
    const child = { parent: this };
    const tags = ["wg-s2s", `wg-s2s-site:${plan.name}`];

    if (plan.privateNetworkId === undefined) {
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
      this.privateNetworkId = this.privateNetwork.id;
      this.vpcId = this.vpc.id;
    } else {
      const id = pulumi.output(args.existingPrivateNetworkId ?? plan.privateNetworkId);
      const expectation = id.apply((privateNetworkId) => ({
        configPath: args.configPath,
        privateNetworkId,
        subnet: plan.subnet,
        region: args.region,
      }));
      const facts = scaleway.network.getPrivateNetworkOutput({ privateNetworkId: id, region: args.region }, child);
      const read = pulumi.all([expectation, facts]).apply(([expected, facts]) => {
        const problem = existingNetworkProblem(expected, facts);
        // RunError: Pulumi prints the message alone, no stack trace; nothing on the network was touched.
        if (problem) throw new pulumi.RunError(problem);
        return facts;
      });
      // Custom routes need the VPC to route (a switch of the VPC's owner, not of this stack).
      const network =
        plan.routePropagation === "vpc-route"
          ? pulumi
              .all([
                read,
                expectation,
                // Read from the raw facts, so a failed network check surfaces as itself, not as
                // an argument error of this second read. A private network always has a VPC.
                scaleway.network.getVpcOutput({ vpcId: facts.apply((f) => f.vpcId ?? ""), region: args.region }, child),
              ])
              .apply(([facts, expected, vpc]) => {
                const problem = existingVpcProblem(expected, vpc);
                if (problem) throw new pulumi.RunError(problem);
                return facts;
              })
          : read;
      // The id as given: the provider trims locality where it needs to.
      this.privateNetworkId = pulumi.all([network, id]).apply(([, given]) => given);
      this.vpcId = network.apply((facts) => facts.vpcId!);
    }
    const host = {
      siteName: plan.name,
      zone: args.zone,
      region: args.region,
      instanceType: args.instanceType,
      image: args.image,
      privateNetworkId: this.privateNetworkId,
      adminCidrs: args.adminCidrs,
    };
    const gatewayArgs = {
      ...host,
      listenPort: args.listenPort,
      wireguardSources: args.wireguardSources,
    };
    const userData = args.gatewayUserData;
    if (plan.ha) {
      if (typeof userData !== "function") throw new Error(`site ${plan.name}: an HA hub renders user-data per gateway`);
      const ha = declareHaHub(name, { siteName: plan.name, zone: args.zone, serviceIp: args.publicIp, tags }, this);
      this.ha = ha;
      if (!args.haAccess) throw new Error(`site ${plan.name}: an HA hub needs the deploy key to hand over`);
      const access = args.haAccess;
      const gateways: GatewayInstance[] = [];
      for (const index of [0, 1] as const) {
        const suffix = index === 0 ? "a" : "b";
        const gateway = new GatewayInstance(
          // The first keeps the single gateway's name: a hub made HA replaces it in place.
          index === 0 ? `${name}-gateway` : `${name}-gateway-b`,
          {
            ...gatewayArgs,
            privateAddress: plan.ha.gatewayAddresses[index],
            publicIp: ha.managementIps[index],
            haPlacementGroupId: ha.placementGroup.id,
            // One at a time: the second gateway waits until the first is back (see declareHandOver).
            serverDependsOn: this.handOvers.slice(),
            userData: userData({
              index,
              privateNetworkId: this.privateNetworkId,
              vpcId: this.vpcId,
              apiSecretKey: ha.apiSecretKey,
              routeTag: ha.routeTag,
            }),
          },
          child,
        );
        gateways.push(gateway);
        this.handOvers.push(
          declareHandOver(
            `${name}-gateway-${suffix}-hand-over`,
            {
              server: gateway.server,
              host: ha.managementIps[index].address,
              deployPrivateKey: access.deployPrivateKey,
              hostPublicKey: access.hostPublicKey,
            },
            this,
          ),
        );
      }
      this.gateways = gateways;
    } else {
      if (typeof userData === "function") throw new Error(`site ${plan.name}: one gateway, one user-data`);
      this.gateways = [
        new GatewayInstance(
          `${name}-gateway`,
          { ...gatewayArgs, privateAddress: plan.gatewayAddress, publicIp: args.publicIp, userData },
          child,
        ),
      ];
    }
    this.gateway = this.gateways[0];
    this.routes =
      plan.routePropagation === "vpc-route"
        ? plan.remoteSubnets.map(
            (destination) =>
              new scaleway.network.Route(
                `${name}-route-${destination.replace(/[./]/g, "-")}`,
                {
                  region: args.region,
                  vpcId: this.vpcId,
                  description: `wg-s2s: ${destination} through the ${plan.name} gateway`,
                  destination,
                  nexthopResourceId: this.gateway.privateNic.id,
                  nexthopPrivateNetworkId: this.privateNetworkId,
                  tags: this.ha ? pulumi.all([this.ha.routeTag]).apply(([tag]) => [...tags, tag]) : tags,
                },
                // On an HA hub the next hop is the active gateway's, moved by the agent: the stack
                // sets it at creation and never moves it back (docs/ha.md).
                this.ha ? { ...child, ignoreChanges: [...ROUTE_FAILOVER_IGNORES] } : child,
              ),
          )
        : [];
    if (plan.buildsTestHost) {
      if (!plan.testHostAddress || args.testHostUserData === undefined)
        throw new Error(`site ${plan.name}: a test host needs its address and user-data`);
      this.testHost = new TestHost(
        `${name}-test-host`,
        {
          ...host,
          privateAddress: plan.testHostAddress,
          userData: args.testHostUserData,
          publicIp: args.testHostPublicIp,
          // Routes first, so the test host's first lease carries them (the gateway's own NIC is
          // the routes' next hop, so it necessarily comes before them).
          privateNicDependsOn: this.routes,
        },
        child,
      );
    }
    this.registerOutputs({ gatewayPublicIp: args.publicIp.address });
  }
}
