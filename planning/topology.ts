/**
 * The topology planner: a pure function from a validated StackConfig to everything each
 * site needs (peers, allowed IPs, forwarding flows, routes, DHCP), with no keys and no
 * cloud identifiers. Components fill in keys and public addresses; the lab, the tests and
 * the policy checks read the same plan, so there is one place that decides who talks to whom.
 *
 * Reachability rules (hub and spoke):
 * - the hub's subnet and every spoke's subnet reach each other, both ways;
 * - spoke A reaches spoke B through the hub only if both set `allowSpokeToSpoke`;
 *   the hub's forward policy enforces it (AllowedIPs alone would not: the hub holds
 *   every spoke's subnet in its own AllowedIPs).
 */
import { Address4 } from "ip-address";
import type {
  DhcpServerSpec,
  ForwardFlow,
  GatewayHaSpec,
  GatewayMetricsPushSpec,
  GatewaySpec,
  StaticRoute,
  TestHostSpec,
} from "./specs";
import { dhcpPool, sortCidrs } from "../addressing/ipv4";
import { DEFAULT_DNS_SERVERS } from "../config/schema";
import type { RemoteSiteConfig, RoutePropagation, StackConfig } from "../config/types";

export type SiteKind = "scaleway" | "simulated" | "external";

export interface PeerPlan {
  /** Site name of the peer. */
  name: string;
  /** The peer's tunnel address (no prefix): what the tunnel metrics ping across the tunnel. */
  tunnelAddress: string;
  allowedIps: string[];
  /** The peer is the hub: this site dials it (Endpoint + keepalive). */
  dialsHub: boolean;
  /**
   * This site holds an Endpoint for the peer: the hub for every spoke, and the hub for
   * every spoke whose address is known (Scaleway-built, or external with `publicIp`). With
   * it, the hub re-handshakes by itself after a restart instead of waiting for the spoke's
   * next keepalive or rekey (15 s in the lab without it). Dynamic far ends have none: they
   * dial the hub and WireGuard's roaming keeps their current address.
   */
  hasEndpoint: boolean;
}

/**
 * An HA hub (`scalewaySite.gateways: 2`, docs/ha.md): two gateways with one WireGuard
 * identity; keepalived elects the active one, which holds the service IP and the VPC routes.
 */
export interface HaPlan {
  /** The gateways' names within the site (keepalived's router_id, the second server's resource name). */
  gatewayNames: readonly [string, string];
  /** Their private addresses; the first is the site's `gatewayAddress`. */
  gatewayAddresses: readonly [string, string];
  /** VRRP's virtual router id, the same on both; unicast, so only these two see it. */
  virtualRouterId: number;
}

/** VRRP's virtual router id of an HA hub: any 1-255 works, since the adverts are unicast between the pair. */
export const HA_VIRTUAL_ROUTER_ID = 52;

export interface SitePlan {
  name: string;
  role: "hub" | "spoke";
  kind: SiteKind;
  /** Built on Scaleway (the hub and `simulated` sites): instances, and the network unless it exists. */
  onScaleway: boolean;
  /** An existing private network the site joins (no VPC or private network is declared). */
  privateNetworkId?: string;
  /** A test host is built on this site (Scaleway-built sites only). */
  buildsTestHost: boolean;
  subnet: string;
  prefixLength: number;
  gatewayAddress: string;
  /** The host the ping test reaches (built when `buildsTestHost`, else an existing host). */
  testHostAddress?: string;
  tunnelAddress: string;
  routePropagation: RoutePropagation;
  keyGeneration: number;
  /** Subnets this site reaches through its tunnel(s), sorted. */
  remoteSubnets: string[];
  peers: PeerPlan[];
  forwardFlows: ForwardFlow[];
  /** Routes hosts need when propagation is "static" (remote subnets via the gateway). */
  hostRoutes: StaticRoute[];
  dhcp?: DhcpServerSpec;
  /** `external` only. */
  publicIp?: string;
  /**
   * `external` only, and true until the user sets `bundleInstalled`: the far gateway is not
   * there yet, so `pulumi up` checks nothing that needs it (the two-step external deploy).
   */
  awaitsOperator: boolean;
  /** Hub only, with `gateways: 2`. */
  ha?: HaPlan;
}

export interface TopologyPlan {
  hub: SitePlan;
  spokes: SitePlan[];
  /** Hub first, then spokes in config order. */
  sites: SitePlan[];
}

/** How long user-data waits for Scaleway to attach and configure the private NIC. */
export const PRIVATE_NIC_TIMEOUT_SECONDS = 600;

export function planTopology(cfg: StackConfig): TopologyPlan {
  const hubCfg = cfg.scalewaySite;
  const talksToSpokes = new Set(cfg.remoteSites.filter((s) => s.allowSpokeToSpoke).map((s) => s.name));

  const spokeReach = (site: RemoteSiteConfig): string[] => {
    const others = talksToSpokes.has(site.name)
      ? cfg.remoteSites.filter((o) => o.name !== site.name && talksToSpokes.has(o.name)).map((o) => o.subnet)
      : [];
    return sortCidrs([hubCfg.subnet, ...others]);
  };

  const hubFlows: ForwardFlow[] = [];
  for (const spoke of cfg.remoteSites) {
    hubFlows.push({ from: hubCfg.subnet, to: spoke.subnet }, { from: spoke.subnet, to: hubCfg.subnet });
  }
  for (const a of cfg.remoteSites) {
    for (const b of cfg.remoteSites) {
      if (a.name !== b.name && talksToSpokes.has(a.name) && talksToSpokes.has(b.name)) {
        hubFlows.push({ from: a.subnet, to: b.subnet });
      }
    }
  }

  const hubRemote = sortCidrs(cfg.remoteSites.map((s) => s.subnet));
  const hub: SitePlan = {
    name: hubCfg.name,
    role: "hub",
    kind: "scaleway",
    onScaleway: true,
    ...(hubCfg.privateNetworkId !== undefined ? { privateNetworkId: hubCfg.privateNetworkId } : {}),
    buildsTestHost: hubCfg.testHost,
    subnet: hubCfg.subnet,
    prefixLength: prefixOf(hubCfg.subnet),
    gatewayAddress: hubCfg.gatewayAddress,
    testHostAddress: hubCfg.testHostAddress,
    tunnelAddress: hubCfg.tunnelAddress,
    routePropagation: hubCfg.routePropagation,
    keyGeneration: hubCfg.keyGeneration,
    remoteSubnets: hubRemote,
    peers: cfg.remoteSites
      .map((s) => ({
        name: s.name,
        tunnelAddress: s.tunnelAddress,
        allowedIps: sortCidrs([`${s.tunnelAddress}/32`, s.subnet]),
        dialsHub: false,
        hasEndpoint: s.kind === "simulated" || s.publicIp !== undefined,
      }))
      .sort(byName),
    forwardFlows: hubFlows,
    hostRoutes: routesVia(hubRemote, hubCfg.gatewayAddress),
    awaitsOperator: false,
    ...(hubCfg.gateways === 2 && hubCfg.secondGatewayAddress !== undefined
      ? {
          ha: {
            gatewayNames: ["gateway-a", "gateway-b"],
            gatewayAddresses: [hubCfg.gatewayAddress, hubCfg.secondGatewayAddress],
            virtualRouterId: HA_VIRTUAL_ROUTER_ID,
          },
        }
      : {}),
  };

  const spokes = cfg.remoteSites.map((s): SitePlan => {
    const remote = spokeReach(s);
    const plan: SitePlan = {
      name: s.name,
      role: "spoke",
      kind: s.kind,
      onScaleway: s.kind === "simulated",
      ...(s.privateNetworkId !== undefined ? { privateNetworkId: s.privateNetworkId } : {}),
      buildsTestHost: s.kind === "simulated" && s.testHost,
      subnet: s.subnet,
      prefixLength: prefixOf(s.subnet),
      gatewayAddress: s.gatewayAddress,
      testHostAddress: s.testHostAddress,
      tunnelAddress: s.tunnelAddress,
      routePropagation: s.routePropagation,
      keyGeneration: s.keyGeneration,
      remoteSubnets: remote,
      peers: [
        {
          name: hubCfg.name,
          tunnelAddress: hubCfg.tunnelAddress,
          allowedIps: sortCidrs([`${hubCfg.tunnelAddress}/32`, ...remote]),
          dialsHub: true,
          hasEndpoint: true,
        },
      ],
      forwardFlows: remote.flatMap((r) => [
        { from: s.subnet, to: r },
        { from: r, to: s.subnet },
      ]),
      hostRoutes: routesVia(remote, s.gatewayAddress),
      publicIp: s.publicIp,
      awaitsOperator: s.kind === "external" && s.bundleInstalled !== true,
    };
    if (s.routePropagation === "dhcp") plan.dhcp = dhcpFor(s, remote);
    return plan;
  });

  return { hub, spokes, sites: [hub, ...spokes] };
}

/** Resolved per-site values the plan does not hold: keys and public addresses. */
export interface SiteSecrets {
  privateKey: string;
  publicKey: string;
}

export interface ResolvedKeys {
  /** Site name -> its gateway's key pair. */
  gateways: Record<string, SiteSecrets>;
  /** Spoke site name -> the preshared key of its tunnel to the hub. */
  presharedKeys: Record<string, string>;
  /** Site name -> gateway public IPv4, for every peer this site holds an Endpoint for. */
  publicIps: Record<string, string>;
}

export interface HostAccess {
  sshAuthorizedKeys: string[];
  sshHostKey?: { privateKeyOpenssh: string; publicKeyOpenssh: string };
}

/** Resolved values only some gateways have. */
export interface GatewayExtras {
  /** One gateway of an HA hub: which one (both share the site's WireGuard identity). */
  ha?: GatewayHaSpec;
  /** Config `cockpit: true`: the data source and token the gateway pushes its metrics with. */
  metricsPush?: GatewayMetricsPushSpec;
}

/** The renderer input for a site's gateway, from the plan plus resolved keys and addresses. */
export function gatewaySpecFor(
  site: SitePlan,
  plan: TopologyPlan,
  cfg: StackConfig,
  keys: ResolvedKeys,
  access: HostAccess,
  { ha, metricsPush }: GatewayExtras = {},
): GatewaySpec {
  const own = keys.gateways[site.name];
  if ((ha !== undefined) !== (site.ha !== undefined)) {
    throw new Error(`site ${site.name}: ${site.ha ? "an HA hub's gateway needs its HA spec" : "not an HA hub"}`);
  }
  return {
    siteName: site.name,
    privateAddress: `${ha?.ownAddress ?? site.gatewayAddress}/${site.prefixLength}`,
    wireguard: {
      privateKey: own.privateKey,
      address: `${site.tunnelAddress}/32`,
      listenPort: cfg.listenPort,
      mtu: cfg.mtu,
      peers: site.peers.map((p) => {
        // One preshared key per tunnel: the spoke's, seen from either end.
        const tunnelSpoke = site.role === "hub" ? p.name : site.name;
        return {
          name: p.name,
          publicKey: keys.gateways[p.name].publicKey,
          presharedKey: keys.presharedKeys[tunnelSpoke],
          endpoint: p.hasEndpoint ? endpointOf(p.name, keys.publicIps, cfg.listenPort) : undefined,
          allowedIps: p.allowedIps,
          persistentKeepalive: p.dialsHub && cfg.keepalive > 0 ? cfg.keepalive : undefined,
        };
      }),
    },
    forwardFlows: site.forwardFlows,
    // An HA gateway starts as standby; the agent reports it active once it holds the service IP.
    metrics: {
      active: !ha,
      probes: site.peers.map((p) => ({ peer: p.name, address: p.tunnelAddress })),
      ...(metricsPush ? { push: metricsPush } : {}),
    },
    ...(ha ? { ha } : {}),
    routePropagation: site.routePropagation,
    dhcp: site.dhcp,
    privateNicTimeoutSeconds: PRIVATE_NIC_TIMEOUT_SECONDS,
    sshAuthorizedKeys: access.sshAuthorizedKeys,
    sshHostKey: access.sshHostKey,
  };
}

function endpointOf(peer: string, publicIps: Record<string, string>, port: number): string {
  const ip = publicIps[peer];
  if (!ip) throw new Error(`no public address resolved for peer ${peer}, whose endpoint the plan says is known`);
  return `${ip}:${port}`;
}

export function testHostSpecFor(site: SitePlan, access: HostAccess): TestHostSpec {
  if (!site.buildsTestHost || !site.testHostAddress) throw new Error(`site ${site.name} builds no test host`);
  return {
    siteName: site.name,
    privateAddress: `${site.testHostAddress}/${site.prefixLength}`,
    routePropagation: site.routePropagation,
    staticRoutes: site.routePropagation === "static" ? site.hostRoutes : [],
    privateNicTimeoutSeconds: PRIVATE_NIC_TIMEOUT_SECONDS,
    sshAuthorizedKeys: access.sshAuthorizedKeys,
    sshHostKey: access.sshHostKey,
  };
}

/**
 * DHCP for an external LAN whose DHCP the gateway owns. The pool is the longest run of
 * addresses clear of every configured one (gateway, LAN router, test host, fixed hosts),
 * above the first nine hosts in LANs of 32 addresses or more (addressing/ipv4.ts dhcpPool);
 * validation has made sure it holds at least MIN_DHCP_POOL addresses. Hosts keep their
 * default route through `lanRouter` (RFC 3442, see dnsmasq.ts) unless the LAN is isolated,
 * and get DNS servers (config, else DEFAULT_DNS_SERVERS, none on an isolated LAN).
 */
function dhcpFor(site: RemoteSiteConfig, remote: string[]): DhcpServerSpec {
  const configured = [site.gatewayAddress, site.lanRouter, site.testHostAddress, ...(site.fixedHosts ?? [])].filter(
    (a): a is string => a !== undefined,
  );
  const pool = dhcpPool(site.subnet, configured);
  if (!pool) throw new Error(`dhcp: ${site.subnet} has no free address for a pool (validation should have said so)`);
  const spec: DhcpServerSpec = {
    subnet: site.subnet,
    rangeStart: pool.start,
    rangeEnd: pool.end,
    leaseTime: "12h",
    routes: routesVia(remote, site.gatewayAddress),
    lanRouter: site.lanRouter,
    dnsServers: [...(site.dnsServers ?? (site.isolatedLan ? [] : DEFAULT_DNS_SERVERS))],
  };
  return spec;
}

function routesVia(destinations: string[], via: string): StaticRoute[] {
  return destinations.map((destination) => ({ destination, via }));
}

function prefixOf(cidr: string): number {
  return new Address4(cidr).subnetMask;
}

function byName<T extends { name: string }>(a: T, b: T): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}
