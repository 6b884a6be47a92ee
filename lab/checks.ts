/**
 * Measurements between lab hosts: ping (the seed tutorial's test), iperf3 bulk TCP,
 * WireGuard handshakes. Runners take an "exec in host" function; the parsers they use are
 * lab/parsers.ts, shared with the VM lab.
 */
import { iperf3Failure, parseIperf3, parsePing, type Iperf3Result, type PingStats } from "./parsers";
import type { RunOptions, RunResult } from "./proc";
import { pollUntil } from "./proc";

export type Exec = (argv: string[], opts?: RunOptions) => Promise<RunResult>;

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
    if (listening === null) return iperf3Failure(`iperf3 server did not listen: ${srv.output().trim()}`);
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
