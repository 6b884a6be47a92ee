/**
 * What both labs (namespaces and VMs) report: the check type, the stand-in list entry,
 * secret masking and the masked result file; and the namespace lab's result and table.
 */
import * as fs from "fs";
import * as path from "path";

export type CheckOutcome = "passed" | "failed" | "failed as expected" | "passed unexpectedly";

/** Groups of the namespace lab's table. */
export type CheckGroup =
  | "boot"
  | "ping"
  | "spoke-to-spoke"
  | "throughput"
  | "mtu"
  | "fault"
  | "negative-control"
  | "dhcp"
  | "two-step"
  | "metrics";

/** One check of either lab. */
export interface LabCheck {
  name: string;
  /** Came out as expected: a check passed, or what a negative control provoked failed. */
  ok: boolean;
  /** Passes when what it provokes fails. */
  negativeControl: boolean;
  outcome: CheckOutcome;
  /** Secrets masked. */
  detail: string;
  group?: CheckGroup;
  metrics?: Record<string, number | string | boolean | null>;
}

/** A check that came out as expected (`ok`) or not; a negative control's `ok` means its provoked failure happened. */
export function labCheck(
  name: string,
  ok: boolean,
  detail: string,
  more: { negativeControl?: boolean; group?: CheckGroup; metrics?: LabCheck["metrics"] } = {},
): LabCheck {
  const negativeControl = more.negativeControl ?? false;
  const outcome: CheckOutcome = negativeControl
    ? ok
      ? "failed as expected"
      : "passed unexpectedly"
    : ok
      ? "passed"
      : "failed";
  return {
    name,
    ok,
    negativeControl,
    outcome,
    detail: maskSecrets(detail),
    ...(more.group ? { group: more.group } : {}),
    ...(more.metrics ? { metrics: more.metrics } : {}),
  };
}

/**
 * The namespace lab's form: whether the thing checked `passed`, and whether it was expected
 * to ("fail": a negative control).
 */
export function check(
  name: string,
  group: CheckGroup,
  expect: "pass" | "fail",
  passed: boolean,
  detail: string,
  metrics?: LabCheck["metrics"],
): LabCheck {
  return labCheck(name, passed === (expect === "pass"), detail, { negativeControl: expect === "fail", group, metrics });
}

/** Writes a lab's result as JSON with every secret masked, wherever in the result it is. */
export function writeResultFile(file: string, result: unknown): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, maskSecrets(JSON.stringify(result, null, 2)));
}

export interface StandIn {
  name: string;
  replaces: string;
  why: string;
}

export interface HostBootSummary {
  host: string;
  site: string;
  role: string;
  provisioning: string;
  ok: boolean;
  cloudInitMs: number | null;
  stages: { stage: string; ms: number; ok: boolean }[];
  dhcp?: { ok: boolean; address?: string; ms: number };
  hotplugAtMs?: number;
  /** External `static` LAN hosts: the operator bundle's routes.sh ran and succeeded. */
  routesSh?: boolean;
  /** Gateways: seconds the wait-for-private-NIC script waited (null: it did not log). */
  nicWaitSeconds?: number | null;
  notApplied: string[];
  errors: string[];
  /** Units the systemctl stand-in started, in order, with their result. */
  units: { unit: string; action: string; result: string }[];
}

/** A host's boot summary before anything is known about its boot. */
export function emptyBootSummary(n: { id: string; site: string; role: string; provisioning: string }): HostBootSummary {
  return {
    host: n.id,
    site: n.site,
    role: n.role,
    provisioning: n.provisioning,
    ok: true,
    cloudInitMs: null,
    stages: [],
    notApplied: [],
    errors: [],
    units: [],
  };
}

/** One tunnel as its gateway's metrics collector reported it (lab/scenarios/tunnelMetrics.ts). */
export interface TunnelMetricsRow {
  gateway: string;
  peer: string;
  pingUp: boolean;
  rttMs: number | null;
  handshakeAgeSeconds: number | null;
  receiveBytes: number | null;
  transmitBytes: number | null;
  endpoint: string | null;
}

export interface LabMetrics {
  /** Per remote site: ms from the start of every host's user-data to the first hub<->site ping. */
  timeToFirstPingMs: Record<string, number | null>;
  timeToAllTunnelsMs: number | null;
  rttAvgMs: Record<string, number | null>;
  throughputMbps: {
    hostToHostTunnel: number | null;
    gatewayToGatewayTunnel: number | null;
    gatewayToGatewayUnderlay: number | null;
    hostToHostUnderLoss?: number | null;
  };
  mtu: {
    tunnelMtu: number;
    testHostMtu: Record<string, number | null>;
    fragNeededDropped: number;
    clampedTransferMbps: number | null;
    unclampedTransferMbps?: number | null;
  };
  faults?: Record<string, number | string | boolean | null>;
  cloudInitMs: Record<string, number | null>;
  /**
   * Wall time of the run's consecutive phases (they add up to the run's duration): setup
   * (program, namespaces, stand-ins), boot (every host's user-data through cloud-init, NIC
   * hot-plug, DHCP, until the first pings; timeToAllTunnelsMs is the tunnel part of it),
   * checks (pings, throughput, faults), cleanup. null for a phase the run never reached.
   */
  phasesMs?: { setup: number | null; boot: number | null; checks: number | null; cleanup: number | null };
  /** What the gateways' metrics collectors reported at the end of the run. */
  tunnels?: TunnelMetricsRow[];
}

/** The metrics of a run that has measured nothing yet: every scenario runner starts here. */
export function emptyMetrics(tunnelMtu = 0): LabMetrics {
  return {
    timeToFirstPingMs: {},
    timeToAllTunnelsMs: null,
    rttAvgMs: {},
    throughputMbps: { hostToHostTunnel: null, gatewayToGatewayTunnel: null, gatewayToGatewayUnderlay: null },
    mtu: { tunnelMtu, testHostMtu: {}, fragNeededDropped: 0, clampedTransferMbps: null },
    cloudInitMs: {},
  };
}

export interface LabResult {
  prefix: string;
  mode: string;
  faults: boolean;
  startedAt: string;
  durationMs: number;
  ok: boolean;
  sites: {
    name: string;
    kind: string;
    subnet: string;
    routePropagation: string;
    allowSpokeToSpoke: boolean;
    tunnelAddress: string;
    publicIp: string;
    testHostAddress?: string;
  }[];
  notes: string[];
  hosts: HostBootSummary[];
  standIns: StandIn[];
  checks: LabCheck[];
  metrics: LabMetrics;
  namespacesLeft?: string[];
  resultsFile?: string;
  error?: string;
}

const WG_KEY = /[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=/g;
const OPENSSH_PRIVATE = /-----BEGIN OPENSSH PRIVATE KEY-----[\s\S]*?-----END OPENSSH PRIVATE KEY-----/g;

/** Mask anything that looks like a WireGuard key or an OpenSSH private key. */
export function maskSecrets(text: string): string {
  return text.replace(OPENSSH_PRIVATE, "<openssh private key masked>").replace(WG_KEY, "<key masked>");
}

const pad = (s: string, n: number) => (s.length >= n ? s : s + " ".repeat(n - s.length));
const fmt = (v: number | null | undefined, unit: string) => (v === null || v === undefined ? "-" : `${v}${unit}`);

/** The end-of-run table (plain text). */
export function renderTable(r: LabResult): string {
  const lines: string[] = [];
  const w = Math.max(...r.checks.map((c) => c.name.length), 20) + 2;
  lines.push(`${pad("check", w)}${pad("expect", 8)}${pad("outcome", 22)}detail`);
  lines.push("-".repeat(w + 8 + 22 + 30));
  for (const c of r.checks)
    lines.push(`${pad(c.name, w)}${pad(c.negativeControl ? "fail" : "pass", 8)}${pad(c.outcome, 22)}${c.detail}`);
  lines.push("");
  const m = r.metrics;
  lines.push("site            time to first ping   RTT avg");
  for (const [site, ms] of Object.entries(m.timeToFirstPingMs)) {
    lines.push(`${pad(site, 16)}${pad(fmt(ms, " ms"), 21)}${fmt(m.rttAvgMs[site], " ms")}`);
  }
  lines.push(`all tunnels up after ${fmt(m.timeToAllTunnelsMs, " ms")}`);
  if (m.phasesMs) {
    const sec = (ms: number | null) => (ms === null ? "-" : `${(ms / 1000).toFixed(1)} s`);
    const p = m.phasesMs;
    lines.push(
      `phases: setup ${sec(p.setup)}, boot ${sec(p.boot)} (all tunnels up ${sec(m.timeToAllTunnelsMs)} after boot started), checks ${sec(p.checks)}, cleanup ${sec(p.cleanup)}`,
    );
  }
  lines.push(
    `TCP throughput (iperf3): host-to-host via tunnel ${fmt(m.throughputMbps.hostToHostTunnel, " Mbit/s")}, ` +
      `gateway-to-gateway via tunnel ${fmt(m.throughputMbps.gatewayToGatewayTunnel, " Mbit/s")}, ` +
      `gateway-to-gateway underlay ${fmt(m.throughputMbps.gatewayToGatewayUnderlay, " Mbit/s")}` +
      (m.throughputMbps.hostToHostUnderLoss !== undefined
        ? `, host-to-host with 5% underlay loss ${fmt(m.throughputMbps.hostToHostUnderLoss, " Mbit/s")}`
        : ""),
  );
  lines.push(
    `MTU: wg0 ${m.mtu.tunnelMtu}, test hosts ${Object.values(m.mtu.testHostMtu).join("/")}, ICMP frag-needed dropped by the lab: ${m.mtu.fragNeededDropped}, ` +
      `bulk TCP with MSS clamp ${fmt(m.mtu.clampedTransferMbps, " Mbit/s")}` +
      (m.mtu.unclampedTransferMbps !== undefined ? `, without ${fmt(m.mtu.unclampedTransferMbps, " Mbit/s")}` : ""),
  );
  if (m.tunnels?.length) {
    lines.push("tunnel metrics (each gateway's wg_s2s.prom, as node_exporter serves it):");
    lines.push(
      `${pad("gateway", 14)}${pad("peer", 14)}${pad("ping", 6)}${pad("RTT", 11)}${pad("handshake", 11)}${pad("rx / tx bytes", 22)}endpoint`,
    );
    for (const t of m.tunnels) {
      lines.push(
        `${pad(t.gateway, 14)}${pad(t.peer, 14)}${pad(t.pingUp ? "up" : "DOWN", 6)}${pad(fmt(t.rttMs, " ms"), 11)}${pad(
          t.handshakeAgeSeconds === null ? "never" : `${t.handshakeAgeSeconds} s ago`,
          11,
        )}${pad(`${t.receiveBytes ?? "-"} / ${t.transmitBytes ?? "-"}`, 22)}${t.endpoint ?? "-"}`,
      );
    }
  }
  if (m.faults)
    lines.push(
      `faults: ${Object.entries(m.faults)
        .map(([k, v]) => `${k}=${v}`)
        .join(", ")}`,
    );
  lines.push("");
  const failed = r.checks.filter((c) => !c.ok);
  lines.push(
    r.ok
      ? `LAB PASSED: ${r.checks.length} checks as expected (${r.checks.filter((c) => c.negativeControl).length} negative controls failed as expected) in ${(r.durationMs / 1000).toFixed(1)} s`
      : `LAB FAILED: ${failed.length} of ${r.checks.length} checks not as expected: ${failed.map((c) => c.name).join("; ")}${r.error ? ` (error: ${r.error})` : ""}`,
  );
  return lines.join("\n");
}
