/**
 * The stack's data model: one Scaleway site (the hub) and a list of remote sites.
 * The seed tutorial is the one-remote-site case. Everything here is plain data,
 * produced by `parseStackConfig` (config/parse.ts) and checked by
 * `validateStackConfig` (config/validation.ts) before any resource exists.
 */

/**
 * How hosts on a site learn the route to the other sites' subnets. A const object plus its
 * value type (not a bare union) because that is the enum shape Pulumi's schema inference
 * accepts (@pulumi/pulumi provider/experimental analyzer): other languages get an enum.
 */
export const RoutePropagation = {
  /** Scaleway VPC custom route to the gateway's private NIC (Scaleway-built sites only; the default there). */
  VpcRoute: "vpc-route",
  /** dnsmasq on the gateway hands out DHCP option 121 (external sites whose LAN DHCP the gateway owns). */
  Dhcp: "dhcp",
  /** cloud-init (or the operator, for external sites) adds the route on each host. */
  Static: "static",
} as const;
export type RoutePropagation = (typeof RoutePropagation)[keyof typeof RoutePropagation];

export const ROUTE_PROPAGATIONS: readonly RoutePropagation[] = Object.values(RoutePropagation);

/** What a remote site is; an enum in other languages, like RoutePropagation. */
export const RemoteSiteKind = {
  /** Built on Scaleway as a second VPC (the tutorial's "on-premise"). */
  Simulated: "simulated",
  /** A real gateway elsewhere: nothing is built, its operator gets a bundle. */
  External: "external",
} as const;
export type RemoteSiteKind = (typeof RemoteSiteKind)[keyof typeof RemoteSiteKind];

export const REMOTE_SITE_KINDS: readonly RemoteSiteKind[] = Object.values(RemoteSiteKind);

export interface TunnelSettings {
  /** UDP port every gateway listens on (seed: 52435). */
  listenPort: number;
  /** PersistentKeepalive on the remote side, seconds (seed: 25). 0 disables it. */
  keepaliveSeconds: number;
  /** MTU of wg0, chosen explicitly (1420 fits a 1500-byte underlay over IPv4 or IPv6). */
  mtu: number;
  /** Range the tunnel addresses come from (seed: 172.16.0.0/24). Must not overlap any site subnet. */
  cidr: string;
}

export interface ScalewaySiteConfig {
  /** Lower-case DNS label; names every resource of the site. */
  name: string;
  /**
   * The private network's IPv4 subnet (seed: 192.168.0.0/24). With `privateNetworkId` it is
   * the existing network's subnet, stated by the user and checked against the network at deploy time.
   */
  subnet: string;
  /**
   * An existing private network to join instead of creating a VPC and a private network.
   * Nothing of that network or its VPC is created, changed or deleted by the stack.
   */
  privateNetworkId?: string;
  /** Gateway's fixed private address (reserved in IPAM). Not .0/.1/last two: Scaleway reserves them. */
  gatewayAddress: string;
  /** Build a test host (default: true for a created network, false when joining an existing one). */
  testHost: boolean;
  /** The host the ping test reaches: the test host's fixed address when `testHost`, else an existing host (optional). */
  testHostAddress?: string;
  /** Hub's address inside the tunnel range (seed: 172.16.0.1). */
  tunnelAddress: string;
  routePropagation: RoutePropagation;
  /** Bump to rotate this gateway's private key. Keys never change otherwise. */
  keyGeneration: number;
}

export interface RemoteSiteConfig {
  name: string;
  kind: RemoteSiteKind;
  subnet: string;
  /** The remote gateway's LAN address (simulated: reserved in IPAM on its own VPC). */
  gatewayAddress: string;
  /** `simulated` only: join this existing private network instead of creating a VPC and one. */
  privateNetworkId?: string;
  /** `simulated` only: build a test host (default: true, false when joining an existing network). */
  testHost: boolean;
  /** A host on the remote LAN to ping. Required when a test host is built, optional otherwise. */
  testHostAddress?: string;
  /** This site's address inside the tunnel range. Explicit, so it never depends on list order. */
  tunnelAddress: string;
  routePropagation: RoutePropagation;
  /**
   * `external` only: the remote gateway's public IPv4 (WireGuard is allowed only from it, and
   * the hub dials it). Absent: a dynamic or NATed far end; it dials the hub and keeps the
   * tunnel up with keepalives, the hub admits WireGuard from `dynamicPeerCidrs`.
   */
  publicIp?: string;
  /** `dhcp` only: the LAN's own default router, kept in option 121 so hosts keep their default route. */
  lanRouter?: string;
  /**
   * `dhcp` only: the LAN has no router of its own (no internet exit). The explicit alternative
   * to `lanRouter`: hosts then get the tunnel routes and no default route, knowingly.
   */
  isolatedLan?: boolean;
  /** `dhcp` only: DNS servers handed to LAN hosts (option 6). Absent: DEFAULT_DNS_SERVERS (none when isolated); [] sends none. */
  dnsServers?: string[];
  /** `dhcp` only: LAN addresses configured by hand (servers, printers); the DHCP pool leaves them out. */
  fixedHosts?: string[];
  /**
   * `external` only: the operator has installed this site's bundle. Until the user sets it,
   * `pulumi up` neither waits for this peer's handshake nor pings its LAN (step 1 of 2).
   */
  bundleInstalled?: boolean;
  /**
   * `external` only: the bundle's cloud-config.yaml adds `sshPublicKeys` (never the stack's
   * deploy key) to root's authorized_keys on the operator's gateway. Off by default: the
   * bundle changes nothing about SSH on a host the stack does not own.
   */
  bundleSshKeys?: boolean;
  /** Allow traffic between this site and other spokes that also allow it, through the hub. Default false. */
  allowSpokeToSpoke: boolean;
  /** Bump to rotate this site's gateway key and its tunnel's preshared key. */
  keyGeneration: number;
}

export interface StackConfig {
  /** Scaleway zone for every instance, e.g. fr-par-1. The region is derived from it. */
  zone: string;
  /** CIDRs allowed to SSH to the gateways. Required: there is no silent 0.0.0.0/0. */
  adminCidrs: string[];
  /** Extra OpenSSH public keys authorised on every host (the deploy key is always added). */
  sshPublicKeys: string[];
  instanceType: string;
  image: string;
  /** Give test hosts a public IP. Default false: the gateway is their SSH jump host. */
  testHostPublicIp: boolean;
  /** Run the post-deploy verification (SSH: cloud-init done, handshake, ping). */
  verify: boolean;
  tunnel: TunnelSettings;
  /** Sources the hub admits WireGuard from for external sites without `publicIp`. */
  dynamicPeerCidrs: string[];
  scalewaySite: ScalewaySiteConfig;
  remoteSites: RemoteSiteConfig[];
}
