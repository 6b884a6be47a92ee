/**
 * What the labs read back from hosts, parsed once for both backends (namespaces and VMs):
 * ping summaries, iperf3 JSON, WireGuard handshakes, cloud-init's status, result.json and
 * console line. Pure: text in, values out; the callers decide what a value means.
 */

export interface PingStats {
  transmitted: number;
  received: number;
  lossPercent: number;
  rttAvgMs?: number;
  rttMinMs?: number;
  rttMaxMs?: number;
}

/** iputils ping's summary lines; no summary at all (ping could not start) reads as 0 sent, 100% loss. */
export function parsePing(output: string): PingStats {
  const counts = /(\d+) packets transmitted, (\d+) (?:packets )?received/.exec(output);
  const transmitted = counts ? Number(counts[1]) : 0;
  const received = counts ? Number(counts[2]) : 0;
  const rtt = /= ([\d.]+)\/([\d.]+)\/([\d.]+)\/[\d.]+ ms/.exec(output);
  return {
    transmitted,
    received,
    lossPercent: transmitted ? Math.round(((transmitted - received) / transmitted) * 1000) / 10 : 100,
    ...(rtt ? { rttMinMs: Number(rtt[1]), rttAvgMs: Number(rtt[2]), rttMaxMs: Number(rtt[3]) } : {}),
  };
}

export interface Iperf3Result {
  ok: boolean;
  /** Receiver-side throughput (what arrived), Mbit/s, one decimal. */
  mbps: number;
  /** The same, unrounded, bit/s. */
  bitsPerSecond: number;
  bytesReceived: number;
  retransmits?: number;
  seconds: number;
  error?: string;
}

/** A transfer that moved nothing, and why. */
export function iperf3Failure(error: string): Iperf3Result {
  return { ok: false, mbps: 0, bitsPerSecond: 0, bytesReceived: 0, seconds: 0, error };
}

/** `iperf3 -J` client output (may be empty or truncated when the test was killed). */
export function parseIperf3(json: string): Iperf3Result {
  let doc: any;
  try {
    doc = JSON.parse(json);
  } catch {
    return iperf3Failure("no iperf3 result (killed or crashed)");
  }
  const recv = doc?.end?.sum_received;
  const sent = doc?.end?.sum_sent;
  const bytes = Number(recv?.bytes ?? 0);
  const bps = Number(recv?.bits_per_second ?? 0);
  const result: Iperf3Result = {
    ok: !doc?.error && bytes > 0,
    mbps: Math.round((bps / 1e6) * 10) / 10,
    bitsPerSecond: bps,
    bytesReceived: bytes,
    retransmits: sent?.retransmits,
    seconds: Number(recv?.seconds ?? 0),
  };
  if (doc?.error) result.error = String(doc.error);
  return result;
}

/**
 * Seconds since the last handshake with each peer (by public key), from
 * `wg show wg0 latest-handshakes`; null for a peer never handshaken. Lines that are not
 * "<key> <timestamp>" (other output of the same shell command) are ignored.
 */
export function parseLatestHandshakes(output: string, nowS: number): Record<string, number | null> {
  const out: Record<string, number | null> = {};
  for (const line of output.trim().split("\n")) {
    const m = /^(\S+)\s+(\d+)$/.exec(line.trim());
    if (!m) continue;
    const t = Number(m[2]);
    out[m[1]] = t > 0 ? nowS - t : null;
  }
  return out;
}

export interface CloudInitResult {
  /** /run/cloud-init/result.json: v1.errors (empty when every module succeeded). */
  errors: string[];
  datasource?: string;
}

/** /run/cloud-init/result.json; throws on anything that is not one (the caller reports it). */
export function parseCloudInitResult(json: string): CloudInitResult {
  const parsed = JSON.parse(json);
  const v1 = parsed?.v1;
  if (!v1 || !Array.isArray(v1.errors)) throw new Error(`not a cloud-init result.json: ${json.slice(0, 200)}`);
  return { errors: v1.errors.map(String), datasource: v1.datasource ?? undefined };
}

/** `cloud-init status --long` -> its "status:" value (done, error, running, ...). */
export function parseCloudInitStatus(text: string): string | undefined {
  return /(?:^|\.|\n)status:\s*(\S+)/.exec(text)?.[1];
}

/** cloud-init writes this line to the console when its final stage ends. */
export const CLOUD_INIT_FINISHED = /Cloud-init v\. \S+ finished at .* Up ([\d.]+) seconds/;

/** Guest uptime (s) in cloud-init's "finished" console line, if it is there yet. */
export function parseCloudInitFinished(consoleText: string): number | undefined {
  const m = CLOUD_INIT_FINISHED.exec(consoleText);
  return m ? Number(m[1]) : undefined;
}

/** A kernel panic on a console: such a guest will never finish. */
export function parseKernelPanic(consoleText: string): string | undefined {
  return /Kernel panic - not syncing: [^\r\n]*/.exec(consoleText)?.[0];
}
