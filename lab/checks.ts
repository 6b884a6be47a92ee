/**
 * Measurements between lab hosts: ping (the seed tutorial's test), iperf3 bulk TCP,
 * WireGuard handshakes. Parsers are pure; runners take an "exec in host" function so the
 * same code drives namespaces here and VMs in lab/vm/.
 */
import type { RunOptions, RunResult } from "./proc";
import { pollUntil } from "./proc";

export type Exec = (argv: string[], opts?: RunOptions) => Promise<RunResult>;

export interface PingStats {
  transmitted: number;
  received: number;
  lossPercent: number;
  rttAvgMs?: number;
  rttMinMs?: number;
  rttMaxMs?: number;
}

/** Parse iputils ping's summary lines. */
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

export async function ping(exec: Exec, to: string, count = 3, intervalS = 0.2, waitS = 2): Promise<PingStats> {
  const r = await exec(["ping", "-n", "-q", "-c", String(count), "-i", String(intervalS), "-W", String(waitS), to], {
    timeoutMs: (count * intervalS + waitS + 5) * 1000,
  });
  return parsePing(r.stdout);
}

/** One echo; true when answered within `waitS`. */
export async function pingOnce(exec: Exec, to: string, waitS = 1): Promise<boolean> {
  const r = await exec(["ping", "-n", "-q", "-c", "1", "-W", String(waitS), to], { timeoutMs: (waitS + 4) * 1000 });
  return r.code === 0;
}

/** Poll until `to` answers; returns ms waited, or null after `timeoutMs`. */
export function waitForPing(exec: Exec, to: string, timeoutMs: number, intervalMs = 200): Promise<number | null> {
  return pollUntil(() => pingOnce(exec, to, 1), timeoutMs, intervalMs);
}

export interface Iperf3Result {
  ok: boolean;
  /** Receiver-side throughput (what arrived), Mbit/s. */
  mbps: number;
  bytesReceived: number;
  retransmits?: number;
  seconds: number;
  error?: string;
}

/** Parse `iperf3 -J` client output (may be empty or truncated when the test was killed). */
export function parseIperf3(json: string): Iperf3Result {
  let doc: any;
  try {
    doc = JSON.parse(json);
  } catch {
    return { ok: false, mbps: 0, bytesReceived: 0, seconds: 0, error: "no iperf3 result (killed or crashed)" };
  }
  const recv = doc.end?.sum_received;
  const sent = doc.end?.sum_sent;
  const bytes = Number(recv?.bytes ?? 0);
  const result: Iperf3Result = {
    ok: !doc.error && bytes > 0,
    mbps: Math.round((Number(recv?.bits_per_second ?? 0) / 1e6) * 10) / 10,
    bytesReceived: bytes,
    retransmits: sent?.retransmits,
    seconds: Number(recv?.seconds ?? 0),
  };
  if (doc.error) result.error = String(doc.error);
  return result;
}

/**
 * Bulk TCP from `client` to `server` for `seconds`. The server is started here and killed
 * by PID afterwards (`-1`: one test, then it exits by itself anyway). The client is
 * bounded by a hard timeout, so a stalled transfer ends as a failed measurement.
 */
export async function iperf3(
  server: { exec: Exec; spawn: (argv: string[]) => { pid: number; stop: () => Promise<void>; output: () => string } },
  client: Exec,
  serverAddress: string,
  opts: { seconds?: number; port?: number; hardTimeoutMs?: number } = {},
): Promise<Iperf3Result> {
  const seconds = opts.seconds ?? 3;
  const port = opts.port ?? 5201;
  const srv = server.spawn(["iperf3", "-s", "-1", "-p", String(port), "--idle-timeout", String(seconds + 10)]);
  try {
    const listening = await pollUntil(
      async () => {
        const r = await server.exec(["ss", "-Hltn", `sport = :${port}`], { timeoutMs: 3000 });
        return r.stdout.trim().length > 0;
      },
      5000,
      100,
    );
    if (listening === null)
      return {
        ok: false,
        mbps: 0,
        bytesReceived: 0,
        seconds: 0,
        error: `iperf3 server did not listen: ${srv.output().trim()}`,
      };
    const r = await client(
      [
        "iperf3",
        "-J",
        "-c",
        serverAddress,
        "-p",
        String(port),
        "-t",
        String(seconds),
        "--connect-timeout",
        "3000",
        "--snd-timeout",
        "4000",
      ],
      { timeoutMs: opts.hardTimeoutMs ?? (seconds + 10) * 1000 },
    );
    const parsed = parseIperf3(r.stdout);
    if (r.timedOut)
      return {
        ...parsed,
        ok: false,
        error: `client killed after ${opts.hardTimeoutMs ?? (seconds + 10) * 1000} ms (transfer stalled)`,
      };
    return parsed;
  } finally {
    await srv.stop();
  }
}

/** Seconds since the last handshake with each peer (by public key), from `wg show wg0 latest-handshakes`. */
export function parseLatestHandshakes(output: string, nowS: number): Record<string, number | null> {
  const out: Record<string, number | null> = {};
  for (const line of output.trim().split("\n")) {
    const [key, ts] = line.trim().split(/\s+/);
    if (!key) continue;
    const t = Number(ts);
    out[key] = t > 0 ? nowS - t : null;
  }
  return out;
}
