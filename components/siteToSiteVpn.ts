import * as pulumi from "@pulumi/pulumi";
import * as scaleway from "@pulumiverse/scaleway";
import * as tls from "@pulumi/tls";
import { renderGatewayCloudConfig } from "../cloud-init/gateway";
import { renderTestHostCloudConfig } from "../cloud-init/testHost";
import { renderOperatorBundle } from "../rendering/operatorBundle";
import type { HostRole } from "./privateInstance";
import { ScalewaySite, type HaGatewayContext } from "./scalewaySite";
import { bareId } from "./haHub";
import type { GatewayHaSpec } from "../planning/specs";
import { declareCockpit } from "./cockpit";
import {
  gatewaySpecFor,
  planTopology,
  ResolvedKeys,
  SitePlan,
  testHostSpecFor,
  TopologyPlan,
} from "../planning/topology";
import {
  externalSiteSteps,
  pingTests,
  siteAddresses,
  sshCommands,
  type ExternalSiteStep,
  type SiteAccess,
  type SiteAddresses,
} from "../planning/accessCommands";
import { argumentPhrasing } from "../config/errors";
import { regionOfZone } from "../config/rules/access";
import { resolveStackConfig } from "../config/validation";
import { TunnelVerification } from "./tunnelVerification";
import { WireGuardKeyPair, WireGuardPresharedKey } from "./wireguardKeys";
import { argsForValidation, type SiteToSiteVpnArgs } from "./siteToSiteVpnArgs";

export type { HubSite, RemoteSite, SiteToSiteVpnArgs } from "./siteToSiteVpnArgs";

/** Argument errors name the argument path and phrase the fix for the caller. */
const ARGUMENTS = argumentPhrasing("SiteToSiteVpn");

interface GatewayInputs {
  privateKey: string;
  peerPublicKeys: Record<string, string>;
  presharedKeys: Record<string, string>;
  /** Public IPv4 of each peer this site holds an Endpoint for. */
  peerPublicIps: Record<string, string>;
  authorizedKeys: string[];
}

interface HostKey {
  privateKeyOpenssh: pulumi.Output<string>;
  publicKeyOpenssh: pulumi.Output<string>;
}

export { regionOfZone };

/** What only TypeScript callers get: values the package schema has no type for. */
interface TypeScriptViews {
  plan: TopologyPlan;
  sites: Record<string, ScalewaySite>;
  verification?: TunnelVerification;
}
const views = new WeakMap<SiteToSiteVpn, TypeScriptViews>();

/**
 * Site-to-site WireGuard between a Scaleway VPC (the hub) and remote sites (spokes): a
 * gateway per Scaleway-built site with keys in state, VPC routes, a test host, post-deploy
 * checks, and for each external site the files its operator installs.
 *
 * Every argument is checked, and defaults applied, before anything is declared (this
 * component included); errors name the argument path and its fix.
 *
 * Keys, public IPs and SSH keys are declared here because every site needs its peers'
 * values before its own gateway can be configured; each site's user-data depends only on
 * the outputs it actually uses, so Pulumi creates the sites in parallel.
 *
 * Its public properties are its outputs in the package schema (other languages see exactly
 * these), so each has a schema type; TypeScript-only views (`plan`, `sites`,
 * `tunnelVerification`) are accessors, which the schema inference leaves out.
 */
export class SiteToSiteVpn extends pulumi.ComponentResource {
  /** Outputs other languages must receive as secrets; the provider marks them in the schema too. */
  static readonly secretOutputs = ["deployPrivateKey", "externalSiteBundles"] as const;

  /** Site name -> the gateway's public IPv4 (for an external site: its configured address). */
  public readonly gatewayPublicIps: pulumi.Output<Record<string, string>>;
  /** Site name -> test host public IP, only where `testHostPublicIp` is on. */
  public readonly testHostPublicIps: pulumi.Output<Record<string, string>>;
  /** Site name -> the gateway's WireGuard public key. */
  public readonly publicKeys: pulumi.Output<Record<string, string>>;
  /** Secret: the OpenSSH private key the deploy checks (and you) log in with. */
  public readonly deployPrivateKey: pulumi.Output<string>;
  /** The deploy key's OpenSSH public key, authorised for root on every host. */
  public readonly deployPublicKey: pulumi.Output<string>;
  /** `site/role` -> the host's SSH public key (OpenSSH), pinned by the deploy checks; put it in known_hosts. */
  public readonly hostPublicKeys: pulumi.Output<Record<string, string>>;
  /** Secret: site name -> file name -> content, for each external site's operator. */
  public readonly externalSiteBundles: pulumi.Output<Record<string, Record<string, string>>>;
  /** Scaleway-built site name -> its private network's ID, to attach more hosts. */
  public readonly privateNetworkIds: pulumi.Output<Record<string, string>>;
  /** Site name -> the ping test's summary line; empty when `verify` is off. */
  public readonly pingResults: pulumi.Output<Record<string, string>>;
  /** Site name -> the site's address in `tunnelCidr`. */
  public readonly tunnelAddresses: pulumi.Output<Record<string, string>>;
  /** Site name -> its subnet, its gateway's address and the test host's, on its own network. */
  public readonly privateAddresses: pulumi.Output<Record<string, SiteAddresses>>;
  /** Scaleway-built site name -> ready-to-run SSH commands (deploy key, the gateway as jump host). */
  public readonly sshCommandsBySite: pulumi.Output<Record<string, SiteAccess>>;
  /** Remote site name -> the tutorial's ping test, run from the hub, as one SSH command. */
  public readonly pingTest: pulumi.Output<Record<string, string>>;
  /** External site name -> pending or checked, what to hand to whom, and the next command. */
  public readonly externalSites: pulumi.Output<Record<string, ExternalSiteStep>>;
  /** Remote site name -> the result of the checks `pulumi up` ran, or why they did not run. */
  public readonly verification: pulumi.Output<Record<string, string>>;

  /** The topology every resource was declared from (TypeScript only). */
  get plan(): TopologyPlan {
    return views.get(this)!.plan;
  }
  /** Site name -> the Scaleway-built site's components (TypeScript only). */
  get sites(): Record<string, ScalewaySite> {
    return views.get(this)!.sites;
  }
  /** The post-deploy checks when `verify` is on (TypeScript only). */
  get tunnelVerification(): TunnelVerification | undefined {
    return views.get(this)!.verification;
  }

  constructor(name: string, args: SiteToSiteVpnArgs, opts?: pulumi.ComponentResourceOptions) {
    // Checked before super(): a bad argument declares nothing, not even this component.
    const cfg = resolveStackConfig(argsForValidation(args), ARGUMENTS);
    super("wg-s2s:index:SiteToSiteVpn", name, {}, opts);
    const instanceType = args.instanceType ?? cfg.instanceType;
    const image = args.image ?? cfg.image;
    const plan = planTopology(cfg);
    const sites: Record<string, ScalewaySite> = {};
    const hostPublicKeys: Record<string, pulumi.Output<string>> = {};
    views.set(this, { plan, sites });
    const region = regionOfZone(cfg.zone);
    const child = { parent: this };

    const keys: Record<string, WireGuardKeyPair> = {};
    for (const site of plan.sites) {
      keys[site.name] = new WireGuardKeyPair(`${name}-${site.name}-key`, { generation: site.keyGeneration }, child);
    }
    const psks: Record<string, WireGuardPresharedKey> = {};
    for (const spoke of plan.spokes) {
      psks[spoke.name] = new WireGuardPresharedKey(
        `${name}-${spoke.name}-psk`,
        { generation: spoke.keyGeneration },
        child,
      );
    }

    // The deploy key lets `pulumi up` verify the tunnel over SSH with no manual key step.
    const deployKey = new tls.PrivateKey(`${name}-deploy-key`, { algorithm: "ED25519" }, child);
    this.deployPrivateKey = pulumi.secret(deployKey.privateKeyOpenssh);
    this.deployPublicKey = deployKey.publicKeyOpenssh;
    const authorizedKeys = pulumi
      .all([deployKey.publicKeyOpenssh, ...cfg.sshPublicKeys])
      .apply((ks) => ks.map((k) => k.trim()));

    const publicIpResources: Record<string, scaleway.instance.Ip> = {};
    /** Known public addresses only: a dynamic far end (external, no publicIp) has none. */
    const publicIps: Record<string, pulumi.Output<string>> = {};
    for (const site of plan.sites) {
      if (site.onScaleway) {
        const ip = new scaleway.instance.Ip(
          `${name}-${site.name}-gateway-ip`,
          { zone: cfg.zone, type: "routed_ipv4", tags: ["wg-s2s", `wg-s2s-site:${site.name}`] },
          child,
        );
        publicIpResources[site.name] = ip;
        publicIps[site.name] = ip.address;
      } else if (site.publicIp !== undefined) {
        publicIps[site.name] = pulumi.output(site.publicIp);
      }
    }

    const hostKey = (site: SitePlan, role: HostRole): HostKey => {
      const key = new tls.PrivateKey(`${name}-${site.name}-${role}-host-key`, { algorithm: "ED25519" }, child);
      hostPublicKeys[`${site.name}/${role}`] = key.publicKeyOpenssh;
      return { privateKeyOpenssh: pulumi.secret(key.privateKeyOpenssh), publicKeyOpenssh: key.publicKeyOpenssh };
    };

    /** Only the outputs this site's gateway uses, so its server waits for nothing else. */
    const gatewayInputs = (site: SitePlan): pulumi.Output<GatewayInputs> => {
      const peerNames = site.peers.map((p) => p.name);
      const tunnelSpokes = site.role === "hub" ? peerNames : [site.name];
      return pulumi.output({
        privateKey: keys[site.name].privateKey,
        peerPublicKeys: Object.fromEntries(peerNames.map((n) => [n, keys[n].publicKey])),
        presharedKeys: Object.fromEntries(tunnelSpokes.map((n) => [n, psks[n].key])),
        peerPublicIps: Object.fromEntries(
          site.peers.filter((p) => p.hasEndpoint).map((p) => [p.name, publicIps[p.name]]),
        ),
        authorizedKeys,
      }) as pulumi.Output<GatewayInputs>;
    };
    const resolvedKeys = (site: SitePlan, r: GatewayInputs): ResolvedKeys => ({
      gateways: {
        [site.name]: { privateKey: r.privateKey, publicKey: "" },
        ...Object.fromEntries(Object.entries(r.peerPublicKeys).map(([n, k]) => [n, { privateKey: "", publicKey: k }])),
      },
      presharedKeys: r.presharedKeys,
      publicIps: r.peerPublicIps,
    });

    // Cockpit (config `cockpit`): one data source and one write-only token for every gateway we build.
    const cockpit = cfg.cockpit ? declareCockpit(name, { region, alertEmails: cfg.alertEmails }, this) : undefined;
    const metricsPush = cockpit?.gatewayPush;

    const bundles: Record<string, pulumi.Output<Record<string, string>>> = {};
    for (const site of plan.sites) {
      if (!site.onScaleway) {
        // Nothing is built for an external site: its operator gets the files instead.
        // The operator's host is not ours: no deploy key there, ever; the user's own keys
        // only when they opted in (bundleSshKeys), and the bundle's README.txt says so.
        const remote = cfg.remoteSites.find((s) => s.name === site.name)!;
        const operatorKeys = remote.bundleSshKeys ? cfg.sshPublicKeys.map((k) => k.trim()) : [];
        // The tunnel in three forms (wg-quick, networkd/, netplan/); install.sh installs one.
        // Metrics to the deployer's Cockpit only on request (bundleCockpit), with a token of this site's own.
        const farEndPush = cockpit && remote.bundleCockpit ? cockpit.farEndPush(site.name) : undefined;
        bundles[site.name] = pulumi.all([gatewayInputs(site), farEndPush]).apply(([r, push]) => {
          const spec = gatewaySpecFor(
            site,
            plan,
            cfg,
            resolvedKeys(site, r),
            { sshAuthorizedKeys: operatorKeys },
            { metricsPush: push },
          );
          return renderOperatorBundle(spec, { publicIp: site.publicIp });
        });
        continue;
      }
      // One host key per site: an HA hub's two gateways answer on the same service IP.
      const gwHostKey = hostKey(site, "gateway");
      const renderGateway = (ha?: pulumi.Input<GatewayHaSpec>) =>
        pulumi
          .all([gatewayInputs(site), gwHostKey.privateKeyOpenssh, gwHostKey.publicKeyOpenssh, ha, metricsPush])
          .apply(([r, priv, pub, haSpec, push]) =>
            renderGatewayCloudConfig(
              gatewaySpecFor(
                site,
                plan,
                cfg,
                resolvedKeys(site, r),
                { sshAuthorizedKeys: r.authorizedKeys, sshHostKey: { privateKeyOpenssh: priv, publicKeyOpenssh: pub } },
                { ha: haSpec, metricsPush: push },
              ),
            ),
          );
      const serviceIp = publicIpResources[site.name];
      const haPlan = site.ha;
      // User-data holds private keys (and an HA hub's API key): secret end to end, also in the state file.
      const gatewayUserData = haPlan
        ? (gw: HaGatewayContext) =>
            pulumi.secret(
              renderGateway(
                pulumi
                  .all([serviceIp.id, serviceIp.address, gw.privateNetworkId, gw.vpcId, gw.routeTag, gw.apiSecretKey])
                  .apply(([ipId, ipAddress, privateNetworkId, vpcId, routeTag, apiSecretKey]): GatewayHaSpec => ({
                    name: haPlan.gatewayNames[gw.index],
                    ownAddress: haPlan.gatewayAddresses[gw.index],
                    peerAddress: haPlan.gatewayAddresses[1 - gw.index],
                    virtualRouterId: haPlan.virtualRouterId,
                    zone: cfg.zone,
                    region,
                    serviceIpId: bareId(ipId),
                    serviceIpAddress: ipAddress,
                    privateNetworkId: bareId(privateNetworkId),
                    vpcId: bareId(vpcId),
                    routeTag,
                    apiSecretKey,
                  })),
              ),
            )
        : pulumi.secret(renderGateway());
      let testHostUserData: pulumi.Output<string> | undefined;
      if (site.buildsTestHost) {
        const thHostKey = hostKey(site, "test-host");
        testHostUserData = pulumi
          .all([authorizedKeys, thHostKey.privateKeyOpenssh, thHostKey.publicKeyOpenssh])
          .apply(([ak, priv, pub]) =>
            renderTestHostCloudConfig(
              testHostSpecFor(site, {
                sshAuthorizedKeys: ak,
                sshHostKey: { privateKeyOpenssh: priv, publicKeyOpenssh: pub },
              }),
            ),
          );
      }
      // The hub accepts WireGuard from every spoke (its /32, or dynamicPeerCidrs for a
      // dynamic far end); a spoke only from the hub.
      const known = site.peers.filter((p) => publicIps[p.name] !== undefined);
      const wireguardSources: pulumi.Input<string>[] = known.map((p) => pulumi.interpolate`${publicIps[p.name]}/32`);
      if (known.length < site.peers.length) wireguardSources.push(...cfg.dynamicPeerCidrs);
      sites[site.name] = new ScalewaySite(
        `${name}-${site.name}`,
        {
          plan: site,
          configPath:
            site.role === "hub"
              ? "scalewaySite"
              : `remoteSites[${cfg.remoteSites.findIndex((r) => r.name === site.name)}]`,
          zone: cfg.zone,
          region,
          instanceType,
          image,
          adminCidrs: cfg.adminCidrs,
          listenPort: cfg.listenPort,
          testHostPublicIp: cfg.testHostPublicIp,
          publicIp: publicIpResources[site.name],
          wireguardSources,
          gatewayUserData,
          ...(haPlan
            ? { haAccess: { deployPrivateKey: this.deployPrivateKey, hostPublicKey: gwHostKey.publicKeyOpenssh } }
            : {}),
          testHostUserData: testHostUserData && pulumi.secret(testHostUserData),
        },
        child,
      );
    }

    this.gatewayPublicIps = pulumi.all(publicIps);
    this.testHostPublicIps = pulumi.all(
      Object.fromEntries(
        Object.entries(sites)
          .filter(([, s]) => s.testHost?.publicIp)
          .map(([n, s]) => [n, s.testHost!.publicIp!]),
      ),
    );
    this.publicKeys = pulumi.all(Object.fromEntries(plan.sites.map((s) => [s.name, keys[s.name].publicKey])));
    this.externalSiteBundles = pulumi.secret(pulumi.all(bundles));
    this.hostPublicKeys = pulumi.all(hostPublicKeys);
    this.privateNetworkIds = pulumi.all(
      Object.fromEntries(Object.entries(sites).map(([n, s]) => [n, s.privateNetworkId])),
    );
    let verification: TunnelVerification | undefined;
    if (cfg.verify) {
      verification = new TunnelVerification(
        `${name}-verify`,
        {
          plan,
          sites,
          gatewayPublicIps: publicIps,
          publicKeys: Object.fromEntries(plan.sites.map((s) => [s.name, keys[s.name].publicKey])),
          hostPublicKeys,
          deployPrivateKey: this.deployPrivateKey,
        },
        child,
      );
    }
    views.set(this, { plan, sites, verification });
    this.pingResults = verification?.pingResults ?? pulumi.output<Record<string, string>>({});
    this.tunnelAddresses = pulumi.output(Object.fromEntries(plan.sites.map((s) => [s.name, s.tunnelAddress])));
    this.privateAddresses = pulumi.output(siteAddresses(plan));
    this.sshCommandsBySite = pulumi
      .all([this.gatewayPublicIps, this.testHostPublicIps])
      .apply(([ips, testHostIps]) => sshCommands(plan, ips, testHostIps));
    this.pingTest = this.gatewayPublicIps.apply((ips) => pingTests(plan, ips));
    this.externalSites = pulumi.output(externalSiteSteps(plan, cfg.verify));
    this.verification = verification
      ? verification.pingResults
      : pulumi.output(Object.fromEntries(plan.spokes.map((s) => [s.name, "skipped: verify is false"])));
    this.registerOutputs({
      gatewayPublicIps: this.gatewayPublicIps,
      testHostPublicIps: this.testHostPublicIps,
      publicKeys: this.publicKeys,
      deployPrivateKey: this.deployPrivateKey,
      deployPublicKey: this.deployPublicKey,
      hostPublicKeys: this.hostPublicKeys,
      externalSiteBundles: this.externalSiteBundles,
      privateNetworkIds: this.privateNetworkIds,
      pingResults: this.pingResults,
      tunnelAddresses: this.tunnelAddresses,
      privateAddresses: this.privateAddresses,
      sshCommandsBySite: this.sshCommandsBySite,
      pingTest: this.pingTest,
      externalSites: this.externalSites,
      verification: this.verification,
    });
  }
}
