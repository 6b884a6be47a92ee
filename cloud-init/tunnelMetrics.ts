/**
 * Tunnel metrics of a gateway: the metric list (declared once, here: the collector's HELP
 * and TYPE lines, docs/metrics.md, the alert rules' and the dashboard's tests all read
 * it), the collector's config, and the systemd unit that runs the collector
 * (metrics/wg-s2s-metrics, a real file so shellcheck reads it as it ships) every
 * COLLECT_INTERVAL_SECONDS. The collector writes node_exporter's textfile format into the
 * directory Debian's prometheus-node-exporter reads by default, so the metrics appear on
 * node_exporter's port (9100) beside the machine's own.
 *
 * Nothing here is on the tunnel's boot path: the collector starts after the tunnel, needs
 * neither wireguard-tools nor node_exporter to run (they come from the extras unit), and
 * says in its own metrics what it could not read.
 */
import { readFileSync } from "fs";
import * as path from "path";
import { WG_INTERFACE } from "./common";
import { NFT_TABLE } from "./firewall";
import { addressPart, assertSiteName } from "./guards";
import { renderSystemdUnit } from "./ini";
import type { GatewayMetricsSpec, WireGuardPeerSpec } from "../planning/specs";

export type MetricType = "gauge" | "counter";

export interface MetricDeclaration {
  name: string;
  type: MetricType;
  /** Label names, in the order the collector writes them. */
  labels: readonly string[];
  /** The HELP text: one line, what the value means. */
  help: string;
}

const PEER = ["site", "interface", "peer"] as const;
const PROBE = [...PEER, "address"] as const;

/** Every metric the collector exports, in the order it writes them. */
export const TUNNEL_METRICS: readonly MetricDeclaration[] = [
  {
    name: "wg_s2s_peer_ping_up",
    type: "gauge",
    labels: PROBE,
    help: "1 when a ping across the tunnel to the peer's tunnel address was answered (3 sent, 3 s at most), else 0.",
  },
  {
    name: "wg_s2s_peer_ping_rtt_seconds",
    type: "gauge",
    labels: PROBE,
    help: "Average round-trip time of the answered pings across the tunnel; absent when none was answered.",
  },
  {
    name: "wg_s2s_peer_latest_handshake_timestamp_seconds",
    type: "gauge",
    labels: PEER,
    help: "Unix time of the peer's latest WireGuard handshake; 0 when none since the interface came up.",
  },
  {
    name: "wg_s2s_peer_receive_bytes_total",
    type: "counter",
    labels: PEER,
    help: "Bytes received from the peer through the tunnel (WireGuard's counter; restarts with the interface).",
  },
  {
    name: "wg_s2s_peer_transmit_bytes_total",
    type: "counter",
    labels: PEER,
    help: "Bytes sent to the peer through the tunnel (WireGuard's counter; restarts with the interface).",
  },
  {
    name: "wg_s2s_peer_endpoint_info",
    type: "gauge",
    labels: [...PEER, "endpoint"],
    help: 'Always 1; endpoint is the peer\'s address:port as WireGuard uses it now (it roams), or "none".',
  },
  {
    name: "wg_s2s_interface_up",
    type: "gauge",
    labels: ["site", "interface"],
    help: "1 when the WireGuard interface exists and is administratively up, else 0.",
  },
  {
    name: "wg_s2s_forwarding_enabled",
    type: "gauge",
    labels: ["site"],
    help: "1 when IPv4 forwarding is on (net.ipv4.ip_forward), else 0.",
  },
  {
    name: "wg_s2s_forward_policy_loaded",
    type: "gauge",
    labels: ["site", "table"],
    help: "1 when the forward policy's nftables table is loaded, else 0 (also when nft is missing).",
  },
  {
    name: "wg_s2s_gateway_active",
    type: "gauge",
    labels: ["site"],
    help: "1 when this gateway is meant to carry the site's tunnels, 0 on an HA standby (whose tunnels are down by design).",
  },
  {
    name: "wg_s2s_collector_tool_available",
    type: "gauge",
    labels: ["site", "tool"],
    help: "1 when the collector found the tool (wg, nft, ping), else 0: the metrics that need it are left out.",
  },
  {
    name: "wg_s2s_collector_last_run_timestamp_seconds",
    type: "gauge",
    labels: ["site"],
    help: "Unix time the collector last wrote the file; node_exporter serves a file whose writer stopped as it is.",
  },
];

/** Refresh period of the metrics: a collection (3 s at most) every 10 s. */
export const COLLECT_INTERVAL_SECONDS = 10;

/** node_exporter's textfile directory as Debian packages it (README.textfile of prometheus-node-exporter). */
export const TEXTFILE_DIRECTORY = "/var/lib/prometheus/node-exporter";

/** Port node_exporter listens on (all addresses); Scaleway's security group keeps it closed publicly. */
export const NODE_EXPORTER_PORT = 9100;

/** Written by an HA failover agent: "1" while this gateway carries the tunnels, "0" on standby. */
export const ACTIVE_FILE = "/run/wg-s2s/active";

export const METRICS_PATHS = {
  collectorScript: "/usr/local/sbin/wg-s2s-metrics",
  collectorConfig: "/etc/wg-s2s/metrics.conf",
  collectorUnit: "/etc/systemd/system/wg-s2s-metrics.service",
  textfile: `${TEXTFILE_DIRECTORY}/wg_s2s.prom`,
} as const;

export const METRICS_UNIT = "wg-s2s-metrics.service";

/** The collector script, exactly as it ships. */
export function collectorScript(): string {
  return readFileSync(path.join(__dirname, "metrics", "wg-s2s-metrics"), "utf8");
}

export interface TunnelMetricsSpec {
  siteName: string;
  /** The WireGuard peers (public keys name them in `wg show`). */
  peers: readonly Pick<WireGuardPeerSpec, "name" | "publicKey">[];
  metrics: GatewayMetricsSpec;
}

function checkProbes(spec: TunnelMetricsSpec): void {
  const peerNames = new Set(spec.peers.map((p) => p.name));
  const seen = new Set<string>();
  for (const probe of spec.metrics.probes) {
    if (!peerNames.has(probe.peer)) {
      throw new Error(
        `tunnel metrics of "${spec.siteName}": probe for "${probe.peer}", which is not a WireGuard peer of this gateway (peers: ${[...peerNames].join(", ") || "none"})`,
      );
    }
    if (seen.has(probe.peer)) throw new Error(`tunnel metrics of "${spec.siteName}": two probes for "${probe.peer}"`);
    seen.add(probe.peer);
    addressPart(`${probe.address}/32`, `tunnel metrics probe address of "${probe.peer}"`);
  }
  for (const name of peerNames) {
    if (!seen.has(name)) throw new Error(`tunnel metrics of "${spec.siteName}": no probe for peer "${name}"`);
  }
}

/**
 * The collector's config (read line by line, never sourced): site, interface, policy table,
 * output, one `peer NAME PUBLIC-KEY TUNNEL-ADDRESS` line per probe (public keys only), and
 * one `metric NAME TYPE HELP` line per declared metric. Peers sorted by name.
 */
export function renderMetricsConfig(spec: TunnelMetricsSpec): string {
  assertSiteName(spec.siteName, "tunnel metrics siteName");
  checkProbes(spec);
  const keyOf = new Map(spec.peers.map((p) => [p.name, p.publicKey]));
  const probes = [...spec.metrics.probes].sort((a, b) => (a.peer < b.peer ? -1 : a.peer > b.peer ? 1 : 0));
  return [
    `# Tunnel metrics collector of gateway "${spec.siteName}", generated by scaleway-wireguard-s2s.`,
    `# Read by ${METRICS_PATHS.collectorScript}; public keys only.`,
    `site ${spec.siteName}`,
    `interface ${WG_INTERFACE}`,
    `forward_table ${NFT_TABLE}`,
    `active_default ${spec.metrics.active ? 1 : 0}`,
    `active_file ${ACTIVE_FILE}`,
    `output ${METRICS_PATHS.textfile}`,
    ...probes.map((p) => `peer ${p.peer} ${keyOf.get(p.peer)} ${p.address}`),
    ...TUNNEL_METRICS.map((m) => `metric ${m.name} ${m.type} ${m.help}`),
    "",
  ].join("\n");
}

/**
 * A long-running service rather than a timer: one process that sleeps between
 * collections keeps a run every 10 s out of the journal. Ordered after the tunnel's units,
 * required by none of them.
 */
export function renderCollectorUnit(): string {
  return renderSystemdUnit({
    comment: ["Generated by scaleway-wireguard-s2s."],
    unit: [
      ["Description", "WireGuard s2s tunnel metrics (node_exporter textfile collector)"],
      ["After", "wg-s2s-firewall.service systemd-networkd.service"],
    ],
    service: [
      ["Type", "simple"],
      [
        "ExecStart",
        `${METRICS_PATHS.collectorScript} --loop ${COLLECT_INTERVAL_SECONDS} ${METRICS_PATHS.collectorConfig}`,
      ],
      ["Restart", "always"],
      ["RestartSec", COLLECT_INTERVAL_SECONDS],
      ["Nice", 10],
      ["NoNewPrivileges", "yes"],
      ["PrivateTmp", "yes"],
      ["ProtectHome", "yes"],
    ],
    install: [["WantedBy", "multi-user.target"]],
  });
}
