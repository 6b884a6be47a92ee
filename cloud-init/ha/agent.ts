/**
 * The HA hub's failover agent (cloud-init/ha/wg-s2s-ha, kept as a real file so shellcheck
 * reads it as it ships) and the environment file it reads. Pure: the component passes the
 * ids once Pulumi knows them. docs/ha.md says what the agent does and which API calls it makes.
 */
import { readFileSync } from "fs";
import * as path from "path";
import { WG_INTERFACE } from "../common";
import { ACTIVE_FILE } from "../tunnelMetrics";

export const HA_PATHS = {
  agent: "/usr/local/sbin/wg-s2s-ha",
  env: "/etc/wg-s2s/ha.env",
  /** The IAM API key's secret key alone, mode 0600: never in the env file, never on a command line. */
  secretKey: "/etc/wg-s2s/ha-api-key",
  stateDir: "/run/wg-s2s-ha",
} as const;

/**
 * The TCP port on which each gateway serves its share directory (`wg-s2s-ha serve`, the
 * peers' endpoints for the other gateway), on its private address only. Below Linux's
 * ephemeral range (32768-60999, net.ipv4.ip_local_port_range), so no outgoing connection
 * of the gateway holds it when the service starts; not in Debian's /etc/services; not
 * WireGuard's 51820 (nor 51821 and up, a second interface's), node_exporter's 9100
 * (cloud-init/tunnelMetrics.ts) or the metadata service's 80.
 */
export const HA_SHARE_PORT = 31820;

/** How the tunnel's routes come back after a link up: networkd's own, or one per allowed IP. */
export type TunnelForm = "networkd" | "plain";

export interface HaAgentSpec {
  zone: string;
  region: string;
  serviceIpId: string;
  privateNetworkId: string;
  vpcId: string;
  /** The tag every route of this stack carries; the agent moves those routes only. */
  routeTag: string;
  tunnelForm: TunnelForm;
  /** This gateway's and the other gateway's private addresses (bare IPv4, different). */
  ownPrivateAddress: string;
  peerPrivateAddress: string;
  /** The service IP's address (bare IPv4): WireGuard's packets leave from it on the active gateway. */
  serviceIpAddress: string;
  /** WireGuard's UDP listen port (1-65535): the packets whose source becomes the service IP. */
  listenPort: number;
  /** Where `wg-s2s-ha serve` listens on the private address (default HA_SHARE_PORT). */
  sharePort?: number;
  /** Defaults: Scaleway's API and the metadata service; the lab points them at its stand-in. */
  apiUrl?: string;
  metadataUrl?: string;
  wgInterface?: string;
  secretKeyFile?: string;
  stateDir?: string;
  /**
   * The other gateway's copy of the peers' endpoints, pulled by `check` while it is active and
   * applied when this one takes over (default `<stateDir>/peer-endpoints`).
   */
  endpointsFile?: string;
  apiAttempts?: number;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const ZONE = /^[a-z]{2}-[a-z]{3}-[1-9]$/;
const REGION = /^[a-z]{2}-[a-z]{3}$/;
/** Safe unquoted in a URL query and in the shell: letters, digits and `:_.-`. */
const TAG = /^[A-Za-z0-9][A-Za-z0-9:_.-]{0,127}$/;
const URL_RE = /^https?:\/\/[A-Za-z0-9.:[\]-]+$/;
const FILE = /^\/[A-Za-z0-9._/-]+$/;
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

function check(value: string, re: RegExp, key: string, fix: string): string {
  if (!re.test(value)) throw new Error(`ha agent: ${key} ${JSON.stringify(value)} is not valid: ${fix}`);
  return value;
}

/** /etc/wg-s2s/ha.env: sourced by the agent, every value validated so none needs quoting. */
export function renderHaAgentEnv(spec: HaAgentSpec): string {
  const uuid = (v: string, key: string) => check(v, UUID, key, "expected a bare UUID (no zone or region prefix)");
  const zone = check(spec.zone, ZONE, "zone", 'expected a zone such as "fr-par-1"');
  const region = check(spec.region, REGION, "region", 'expected a region such as "fr-par"');
  if (!zone.startsWith(`${region}-`)) {
    throw new Error(
      `ha agent: zone ${zone} is not in region ${region}: the IP and the routes must be in the same region`,
    );
  }
  const attempts = spec.apiAttempts ?? 5;
  if (!Number.isInteger(attempts) || attempts < 1 || attempts > 10) {
    throw new Error(`ha agent: apiAttempts ${attempts} must be an integer from 1 to 10 (bounded retries)`);
  }
  if (spec.tunnelForm !== "networkd" && spec.tunnelForm !== "plain") {
    throw new Error(`ha agent: tunnelForm must be "networkd" or "plain"`);
  }
  const ipv4 = (v: string, key: string) => check(v, IPV4, key, "expected a bare IPv4 address such as 192.168.0.2");
  const own = ipv4(spec.ownPrivateAddress, "ownPrivateAddress");
  const peer = ipv4(spec.peerPrivateAddress, "peerPrivateAddress");
  if (own === peer) {
    throw new Error(
      `ha agent: ownPrivateAddress and peerPrivateAddress are both ${own}: give each gateway its own (the standby pulls the endpoints from the other)`,
    );
  }
  const port = (v: number | undefined, key: string) => {
    if (!Number.isInteger(v) || v! < 1 || v! > 65535) {
      throw new Error(`ha agent: ${key} ${String(v)} must be an integer port from 1 to 65535`);
    }
    return String(v);
  };
  const file = (v: string, key: string) => check(v, FILE, key, "expected an absolute path of plain characters");
  const stateDir = file(spec.stateDir ?? HA_PATHS.stateDir, "stateDir");
  const url = (v: string, key: string) => check(v, URL_RE, key, "expected http(s)://host[:port] with no path");
  const lines: [string, string][] = [
    ["SCW_API_URL", url(spec.apiUrl ?? "https://api.scaleway.com", "apiUrl")],
    ["SCW_METADATA_URL", url(spec.metadataUrl ?? "http://169.254.42.42", "metadataUrl")],
    ["SCW_ZONE", zone],
    ["SCW_REGION", region],
    ["SERVICE_IP_ID", uuid(spec.serviceIpId, "serviceIpId")],
    ["PRIVATE_NETWORK_ID", uuid(spec.privateNetworkId, "privateNetworkId")],
    ["VPC_ID", uuid(spec.vpcId, "vpcId")],
    ["ROUTE_TAG", check(spec.routeTag, TAG, "routeTag", "letters, digits and :_.- only, at most 128")],
    [
      "WG_INTERFACE",
      check(spec.wgInterface ?? WG_INTERFACE, /^[A-Za-z0-9_-]{1,15}$/, "wgInterface", "an interface name"),
    ],
    ["TUNNEL_FORM", spec.tunnelForm],
    ["SECRET_KEY_FILE", file(spec.secretKeyFile ?? HA_PATHS.secretKey, "secretKeyFile")],
    ["STATE_DIR", stateDir],
    ["ENDPOINTS_FILE", file(spec.endpointsFile ?? `${stateDir}/peer-endpoints`, "endpointsFile")],
    ["OWN_PRIVATE_ADDRESS", own],
    ["PEER_PRIVATE_ADDRESS", peer],
    ["SERVICE_IP_ADDRESS", ipv4(spec.serviceIpAddress, "serviceIpAddress")],
    ["LISTEN_PORT", port(spec.listenPort, "listenPort")],
    ["SHARE_PORT", port(spec.sharePort ?? HA_SHARE_PORT, "sharePort")],
    ["API_ATTEMPTS", String(attempts)],
    // Read by the tunnel metrics collector: 1 while this gateway carries the tunnels.
    ["ACTIVE_FILE", ACTIVE_FILE],
  ];
  return [
    "# The HA hub's failover agent (wg-s2s-ha): where the API, the metadata and this stack's resources are.",
    ...lines.map(([k, v]) => `${k}=${v}`),
    "",
  ].join("\n");
}

/** The agent script's text, as it ships. */
export function haAgentScript(): string {
  return readFileSync(path.join(__dirname, "wg-s2s-ha"), "utf8");
}
