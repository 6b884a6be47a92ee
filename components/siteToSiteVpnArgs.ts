/**
 * The arguments of `SiteToSiteVpn`: the stack's configuration keys as typed arguments, same
 * names, same nesting (`remoteSites[0].subnet` is both a config path and an argument path),
 * so one set of rules (config/validation.ts) checks both and a field added to the config
 * model is one more line here (`tsc` fails until it is, see ArgumentsAreTheConfigKeys).
 * Defaults are the stack's (config/schema.ts).
 *
 * Types are chosen for Pulumi's schema inference, which turns them into the package schema
 * other languages' SDKs are generated from (@pulumi/pulumi provider/experimental/analyzer):
 * - `pulumi.Input<T>` where a value only passes through to a resource (instance type, image);
 *   such a value is checked here only when it is already known;
 * - plain values where a value shapes the resource graph or the rendered user-data (site
 *   names, kinds, subnets, addresses, ports): they must be known to plan the topology;
 * - no unions other than the string enums below, no `Record`, no intersections: the
 *   inference rejects them (components/package.test.ts, "planted mistakes", plants one and watches it fail).
 */
import * as pulumi from "@pulumi/pulumi";
import type { KeyMismatch, NoMismatch } from "../config/schema";
import { RemoteSiteKind, RoutePropagation, type StackConfig } from "../config/types";

/** The Scaleway site every remote site connects to (the hub). Every field is optional. */
export interface HubSite {
  /** Site name: a lower-case DNS label of at most 30 characters; names every resource of the site. Default `scaleway`. */
  name?: string;
  /** The private network's IPv4 subnet. Default 192.168.0.0/24. */
  subnet?: string;
  /** The gateway's fixed private address, reserved in IPAM. Default: `.2` of the subnet. */
  gatewayAddress?: string;
  /** Join this existing private network (UUID or `fr-par/<UUID>`) instead of creating a VPC and one; `subnet` must then be its subnet (checked at deploy time). */
  privateNetworkId?: string;
  /** Build a test host. Default true; false with `privateNetworkId`. */
  testHost?: boolean;
  /** The test host's fixed private address, reserved in IPAM. Default: `.3` of the subnet when `testHost`; otherwise an existing host to ping. */
  testHostAddress?: string;
  /** The hub's address in `tunnelCidr`. Default 172.16.0.1. */
  tunnelAddress?: string;
  /** How hosts on the hub's network learn the routes to remote subnets. Default `vpc-route`. */
  routePropagation?: RoutePropagation;
  /** Bump to rotate the hub gateway's WireGuard key. Default 0. */
  keyGeneration?: number;
  /** 1, or 2 for an HA hub (two gateways, keepalived failover; needs `vpc-route`). Default 1. */
  gateways?: number;
  /** The HA hub's second gateway's fixed private address, reserved in IPAM. Default: `.4` of the subnet when `gateways` is 2. */
  secondGatewayAddress?: string;
}

/** One remote site (a spoke). */
export interface RemoteSite {
  /** Site name: a lower-case DNS label of at most 30 characters. */
  name: string;
  /** `simulated` (built on Scaleway as its own VPC) or `external` (a gateway elsewhere; only its files are produced). Default `simulated`. */
  kind?: RemoteSiteKind;
  /** The site's LAN, e.g. 192.168.10.0/24. */
  subnet: string;
  /** The site gateway's LAN address. */
  gatewayAddress: string;
  /** `simulated` only: join this existing private network instead of creating a VPC and one (as for the hub). */
  privateNetworkId?: string;
  /** `simulated` only: build a test host. Default true; false with `privateNetworkId`. */
  testHost?: boolean;
  /** A host on the LAN the ping test reaches. Required when a test host is built, optional otherwise. */
  testHostAddress?: string;
  /** The site's address in `tunnelCidr`. */
  tunnelAddress: string;
  /** `vpc-route` (simulated), `static`, or `dhcp` (external LANs whose DHCP the gateway owns). Default: `vpc-route` for simulated, `static` for external. */
  routePropagation?: RoutePropagation;
  /** `external` only: the far gateway's fixed public IPv4 (the hub dials it and admits WireGuard only from it). Unset: a dynamic or NATed far end that dials the hub. */
  publicIp?: string;
  /** `dhcp` only: the LAN's own default router, kept in DHCP option 121. */
  lanRouter?: string;
  /** Allow traffic with other spokes that allow it too, through the hub. Default false. */
  allowSpokeToSpoke?: boolean;
  /** Bump to rotate this site's gateway key and its tunnel's preshared key. Default 0. */
  keyGeneration?: number;
  /** `dhcp` only: the LAN has no router of its own; hosts get the tunnel routes and no default route. Default false. */
  isolatedLan?: boolean;
  /** `dhcp` only: DNS servers handed to LAN hosts (option 6), at most 3. Default 9.9.9.9 and 1.1.1.1 (none when isolated). */
  dnsServers?: string[];
  /** `dhcp` only: LAN addresses set by hand; the DHCP pool leaves them out. */
  fixedHosts?: string[];
  /** `external` only: the operator has installed the bundle, so the checks include this peer. Default false. */
  bundleInstalled?: boolean;
  /** `external` only: the bundle's cloud-config adds `sshPublicKeys` (never the deploy key) for root on the operator's gateway. Default false. */
  bundleSshKeys?: boolean;
  /** `external` only, with `cockpit`: the bundle also pushes this far end's tunnel metrics to Cockpit (a write-only token of its own). Default false. */
  bundleCockpit?: boolean;
}

/** Arguments of SiteToSiteVpn; the stack's configuration keys, as typed arguments. */
export interface SiteToSiteVpnArgs {
  /** Scaleway zone of every instance, e.g. fr-par-1; the region is derived from it. Default fr-par-1. */
  zone?: string;
  /** IPv4 CIDRs allowed to SSH to the gateways. Required; 0.0.0.0/0 is refused. */
  adminCidrs: string[];
  /** Extra OpenSSH public keys for root on every host (the deploy key is always added). */
  sshPublicKeys?: string[];
  /** Instance type of gateways and test hosts. Default DEV1-S. */
  instanceType?: pulumi.Input<string>;
  /** Instance image of gateways and test hosts. Default ubuntu_noble. */
  image?: pulumi.Input<string>;
  /** Give test hosts a public IP; by default the gateway is their SSH jump host. */
  testHostPublicIp?: boolean;
  /** After deploy, check over SSH that cloud-init finished, WireGuard shook hands and the ping test passes. Default true. */
  verify?: boolean;
  /** WireGuard UDP port on every gateway. Default 52435. */
  listenPort?: number;
  /** PersistentKeepalive (seconds) from spokes to the hub; 0 disables it. Default 25. */
  keepalive?: number;
  /** MTU of wg0 (1280-1440); TCP MSS is clamped to it. Default 1420. */
  mtu?: number;
  /** Range the tunnel addresses come from; must not overlap any site subnet. Default 172.16.0.0/24. */
  tunnelCidr?: string;
  /** Sources the hub admits WireGuard from for external sites without `publicIp`. Default ["0.0.0.0/0"]. */
  dynamicPeerCidrs?: string[];
  /** Push every Scaleway-built gateway's tunnel metrics to Scaleway Cockpit (a data source and a write-only token). Default false. */
  cockpit?: boolean;
  /** With `cockpit`: e-mail addresses Cockpit's alert manager notifies. Default none. */
  alertEmails?: string[];
  /** The hub. Default: name `scaleway`, 192.168.0.0/24, gateway .2, test host .3, tunnel 172.16.0.1. */
  scalewaySite?: HubSite;
  /** The spokes. Default: one simulated site `onprem`, 192.168.1.0/24, tunnel 172.16.0.2. */
  remoteSites?: RemoteSite[];
}

/**
 * Argument paths whose value is a `pulumi.Input`: known values are checked, unknown ones are
 * passed on. Top-level only: a nested Input whose presence shapes the graph (such as
 * `privateNetworkId`: join instead of create) would need a stand-in that keeps it "set" for
 * the rules, not a removal.
 */
export const INPUT_ARGS = ["instanceType", "image"] as const satisfies readonly (keyof SiteToSiteVpnArgs)[];

/**
 * The arguments as the config rules read them: a value not known yet (an Output or a
 * Promise) is left out, so the default stands in for the checks and the value itself still
 * goes to the resources. Everything else is handed over as given, unchecked by TypeScript:
 * callers in other languages are not type-checked, so the rules check every value's type.
 */
export function argsForValidation(args: SiteToSiteVpnArgs): Record<string, unknown> {
  const raw: Record<string, unknown> = { ...(args as object) };
  for (const key of INPUT_ARGS) if (!isKnown(raw[key])) delete raw[key];
  return raw;
}

function isKnown(value: unknown): boolean {
  return !pulumi.Output.isInstance(value) && !(value instanceof Promise);
}

/**
 * The arguments are the config's keys, at every depth: `tsc` fails here, naming the key,
 * when one is added to the schema (config/schema.ts) and not to these interfaces, or the
 * other way round.
 */
export type ArgumentsAreTheConfigKeys = NoMismatch<KeyMismatch<SiteToSiteVpnArgs, StackConfig>>;
