/**
 * What each gateway's tunnel metrics collector reports at the end of a lab run: the file
 * node_exporter would serve (`wg_s2s.prom`, written by the real collector under the lab's
 * systemd stand-in), read from every gateway the stack builds, one row per tunnel. The
 * check: every tunnel the ping test proved answers its probe across the tunnel too
 * (`wg_s2s_peer_ping_up 1`), and the file is fresh.
 */
import { METRICS_PATHS } from "../../cloud-init/tunnelMetrics";
import { parseSamples, type Sample } from "../../testkit/metricsCollector";
import { check, type LabMetrics, type TunnelMetricsRow } from "../results";
import type { Ctx } from "./context";

/** A collection every 10 s: a file older than this means the collector stopped. */
const FRESH_SECONDS = 30;

export function tunnelRows(gateway: string, text: string, nowSeconds: number): TunnelMetricsRow[] {
  const samples = parseSamples(text);
  const of = (name: string, peer: string): Sample | undefined =>
    samples.find((s) => s.name === name && s.labels.peer === peer);
  const peers = samples.filter((s) => s.name === "wg_s2s_peer_ping_up").map((s) => s.labels.peer);
  return peers.map((peer) => {
    const handshake = of("wg_s2s_peer_latest_handshake_timestamp_seconds", peer)?.value;
    const rtt = of("wg_s2s_peer_ping_rtt_seconds", peer)?.value;
    return {
      gateway,
      peer,
      pingUp: of("wg_s2s_peer_ping_up", peer)!.value === 1,
      rttMs: rtt === undefined ? null : Math.round(rtt * 100000) / 100,
      handshakeAgeSeconds: handshake ? Math.max(0, Math.round(nowSeconds - handshake)) : null,
      receiveBytes: of("wg_s2s_peer_receive_bytes_total", peer)?.value ?? null,
      transmitBytes: of("wg_s2s_peer_transmit_bytes_total", peer)?.value ?? null,
      endpoint: of("wg_s2s_peer_endpoint_info", peer)?.labels.endpoint ?? null,
    };
  });
}

export async function tunnelMetricsReport(c: Ctx, metrics: LabMetrics): Promise<void> {
  metrics.tunnels = [];
  for (const site of c.t.sites.filter((s) => s.gateway.provisioning === "scaleway-user-data")) {
    const gw = site.gateway;
    const read = await c.exec(gw, ["sh", "-c", `cat ${METRICS_PATHS.textfile} && date +%s`]);
    const name = `tunnel metrics: ${gw.id} reports every tunnel up`;
    if (read.code !== 0) {
      c.checks.push(check(name, "metrics", "pass", false, `no ${METRICS_PATHS.textfile}: ${read.stderr.trim()}`));
      continue;
    }
    const lines = read.stdout.trimEnd().split("\n");
    const now = Number(lines.pop());
    const text = `${lines.join("\n")}\n`;
    const rows = tunnelRows(gw.id, text, now);
    metrics.tunnels.push(...rows);
    const lastRun = parseSamples(text).find((s) => s.name === "wg_s2s_collector_last_run_timestamp_seconds")?.value;
    const age = lastRun === undefined ? null : now - lastRun;
    const down = rows.filter((r) => !r.pingUp).map((r) => r.peer);
    const ok = rows.length > 0 && down.length === 0 && age !== null && age <= FRESH_SECONDS;
    c.checks.push(
      check(
        name,
        "metrics",
        "pass",
        ok,
        `${rows.length} tunnel(s)${down.length ? `, no answer from ${down.join(", ")}` : ""}, written ${age ?? "?"} s ago`,
      ),
    );
  }
}
