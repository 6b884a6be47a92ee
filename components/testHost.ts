import * as pulumi from "@pulumi/pulumi";
import * as scaleway from "@pulumiverse/scaleway";
import { declarePrivateInstance, SiteHostArgs } from "./privateInstance";

export interface TestHostArgs extends SiteHostArgs {
  /** Off by default: the gateway is the SSH jump host, which saves an IPv4 and an exposed host. */
  publicIp: boolean;
  adminCidrs: string[];
}

/** The host the end-to-end ping test runs from or to, on the site's private network. */
export class TestHost extends pulumi.ComponentResource {
  public readonly server: scaleway.instance.Server;
  public readonly privateNic: scaleway.instance.PrivateNic;
  public readonly securityGroup: scaleway.instance.SecurityGroup;
  public readonly privateAddress: string;
  public readonly publicIp?: pulumi.Output<string>;

  constructor(name: string, args: TestHostArgs, opts?: pulumi.ComponentResourceOptions) {
    super("wg-s2s:index:TestHost", name, {}, opts);
    const ip = args.publicIp
      ? new scaleway.instance.Ip(`${name}-public-ip`, { zone: args.zone, type: "routed_ipv4" }, { parent: this })
      : undefined;
    const inboundRules = args.publicIp
      ? args.adminCidrs.map((cidr) => ({ action: "accept", protocol: "TCP", port: 22, ipRange: cidr }))
      : [];
    const host = declarePrivateInstance(name, { ...args, role: "test-host", publicIp: ip, inboundRules }, this);
    this.server = host.server;
    this.privateNic = host.privateNic;
    this.securityGroup = host.securityGroup;
    this.privateAddress = args.privateAddress;
    this.publicIp = ip?.address;
    this.registerOutputs({});
  }
}
