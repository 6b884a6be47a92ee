/**
 * Inputs of the pure cloud-init renderers. All values are resolved plain data
 * (no Pulumi Outputs): components resolve keys and addresses, then call a renderer
 * inside `.apply()`. Same spec in, byte-identical text out.
 */
import type { RoutePropagation } from "../config/types";

export interface WireGuardPeerSpec {
  /** Site name of the peer, written as a comment in wg0.conf. */
  name: string;
  publicKey: string;
  presharedKey: string;
  /** "host:port"; absent on the hub, which waits for spokes to dial in. */
  endpoint?: string;
  /** CIDRs routed to this peer (its tunnel /32 and its subnet(s)). */
  allowedIps: string[];
  /** Seconds; absent or 0 means no keepalive. */
  persistentKeepalive?: number;
}

export interface WireGuardInterfaceSpec {
  privateKey: string;
  /** Tunnel address with prefix, e.g. "172.16.0.1/32". */
  address: string;
  listenPort: number;
  mtu: number;
  peers: WireGuardPeerSpec[];
}

/** One allowed forwarding direction through the gateway (the reverse is a separate flow). */
export interface ForwardFlow {
  from: string;
  to: string;
}

export interface StaticRoute {
  destination: string;
  via: string;
}

export interface DhcpServerSpec {
  /** LAN subnet served, e.g. "192.168.1.0/24". */
  subnet: string;
  rangeStart: string;
  rangeEnd: string;
  /** Lease time as dnsmasq writes it, e.g. "12h". */
  leaseTime: string;
  /** Option 121 routes pushed to clients (remote subnets via the gateway). */
  routes: StaticRoute[];
  /**
   * The LAN's own default router. RFC 3442: a client given option 121 ignores option 3,
   * so when set it is also pushed as 0.0.0.0/0 in option 121; when unset, no router is
   * advertised at all (dnsmasq would otherwise advertise itself).
   */
  lanRouter?: string;
  /** DNS servers pushed as option 6. Absent: none (dnsmasq runs with DNS off, port=0). */
  dnsServers?: string[];
}

/** A peer the tunnel metrics collector pings across the tunnel. */
export interface TunnelProbeSpec {
  /** Site name of the peer (a WireGuard peer of the same name must exist). */
  peer: string;
  /** The peer's tunnel address, without prefix, e.g. "172.16.0.2". */
  address: string;
}

/** What a gateway's tunnel metrics collector reports about. */
export interface GatewayMetricsSpec {
  /**
   * Whether this gateway is meant to carry its tunnels. An HA standby's tunnels are down
   * by design: it exports 0, and the alert rules leave it out.
   */
  active: boolean;
  probes: TunnelProbeSpec[];
  /** Config `cockpit: true`: where this gateway pushes its metrics. */
  push?: GatewayMetricsPushSpec;
}

/** A Cockpit metrics data source this gateway pushes to (resolved by the component). */
export interface GatewayMetricsPushSpec {
  /** The data source's push URL, e.g. "https://<id>.metrics.cockpit.fr-par.scw.cloud". */
  pushUrl: string;
  /** A Cockpit token that can write metrics and nothing else: a secret. */
  token: string;
}

/**
 * One gateway of an HA hub (docs/ha.md): who it is, who the other one is, and where the
 * service IP and the VPC routes its agent moves are. Resolved cloud ids, bare UUIDs.
 */
export interface GatewayHaSpec {
  /** This gateway's name within the site, e.g. "gateway-a" (keepalived's router_id). */
  name: string;
  /** This gateway's and the other gateway's private addresses (bare). */
  ownAddress: string;
  peerAddress: string;
  virtualRouterId: number;
  zone: string;
  region: string;
  /** The service IP: the flexible IP the far ends dial, attached to the active gateway. */
  serviceIpId: string;
  serviceIpAddress: string;
  privateNetworkId: string;
  vpcId: string;
  /** The tag on every VPC route of this stack's hub; the agent moves those routes only. */
  routeTag: string;
  /** The failover's IAM API key's secret key: a secret, like the WireGuard keys. */
  apiSecretKey: string;
}

export interface GatewaySpec {
  siteName: string;
  /** Gateway's private address with prefix, e.g. "192.168.0.2/24". */
  privateAddress: string;
  wireguard: WireGuardInterfaceSpec;
  /** Flows the forward policy allows; everything else forwarded is dropped. */
  forwardFlows: ForwardFlow[];
  /** Tunnel metrics: one probe per WireGuard peer. */
  metrics: GatewayMetricsSpec;
  /** An HA hub's gateway: keepalived and the failover agent bring its tunnel up, not the boot. */
  ha?: GatewayHaSpec;
  routePropagation: RoutePropagation;
  /** Present when routePropagation is "dhcp". */
  dhcp?: DhcpServerSpec;
  /**
   * "static" only: the routes every LAN host needs (the operator bundle's routes.sh).
   * Absent: each forward flow's destination whose source is this LAN, via privateAddress.
   */
  lanRoutes?: StaticRoute[];
  /** Bound on waiting for the private NIC, which Scaleway attaches after boot. */
  privateNicTimeoutSeconds: number;
  sshAuthorizedKeys: string[];
  /** Optional pinned SSH host key (OpenSSH format), so verification can check it. */
  sshHostKey?: { privateKeyOpenssh: string; publicKeyOpenssh: string };
}

export interface TestHostSpec {
  siteName: string;
  /** Test host's private address with prefix, e.g. "192.168.0.3/24". */
  privateAddress: string;
  routePropagation: RoutePropagation;
  /** Routes cloud-init adds on the host ("static" propagation only; empty otherwise). */
  staticRoutes: StaticRoute[];
  privateNicTimeoutSeconds: number;
  sshAuthorizedKeys: string[];
  sshHostKey?: { privateKeyOpenssh: string; publicKeyOpenssh: string };
}
