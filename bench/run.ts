/**
 * `npm run bench`: numbers, not pass/fail. Shared, noisy machines, so each figure is set
 * against another from the same run (per-site cost against the one-site run, tunnel
 * throughput against the raw underlay).
 *
 *   1. Program scale under the mock runtime, 1/4/16/64 remote sites: resources declared and
 *      evaluation time (median of repeated runs after a warm-up run that also fills the
 *      mock's SSH-key cache, so the figure is the program's, not ssh-keygen's).
 *   2. The namespace lab, default topology: time to first ping, RTT, throughput host-to-host
 *      and gateway-to-gateway through the tunnel and over the raw underlay, MTU check.
 *   3. Lab time to all tunnels up for 1/2/4/8 remote sites.
 *
 * Flags: --program-only, --lab-only, --repeat N (default 3), --json FILE.
 * Results also go to bench/results/<timestamp>.json (gitignored).
 */
import { Command } from "commander";
import * as fs from "fs";
import * as path from "path";
import { runProgram } from "../testkit/programRun";
import { sitesLabConfig } from "../lab/labConfig";

interface ProgramScaleRow {
  remoteSites: number;
  resources: number;
  resourcesPerAddedSite: number | null;
  evalMsMedian: number;
  msPerRemoteSite: number;
  perSiteRatioVsOne: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function programScale(sizes: number[], repeat: number): Promise<ProgramScaleRow[]> {
  const rows: ProgramScaleRow[] = [];
  for (const n of sizes) {
    const lab = sitesLabConfig(n);
    const opts = { config: lab.config, publicIps: lab.publicIps, keySeed: `bench-${n}` };
    const warm = await runProgram(opts);
    const times: number[] = [];
    for (let i = 0; i < repeat; i++) {
      const t = process.hrtime.bigint();
      await runProgram(opts);
      times.push(Number(process.hrtime.bigint() - t) / 1e6);
    }
    const resources = warm.resources.filter((r) => r.custom).length;
    const evalMs = median(times);
    const prev = rows[rows.length - 1];
    rows.push({
      remoteSites: n,
      resources,
      resourcesPerAddedSite: prev ? (resources - prev.resources) / (n - prev.remoteSites) : null,
      evalMsMedian: Math.round(evalMs),
      msPerRemoteSite: Math.round((evalMs / n) * 10) / 10,
      perSiteRatioVsOne: 0,
    });
  }
  const one = rows[0].msPerRemoteSite;
  for (const r of rows) r.perSiteRatioVsOne = Math.round((r.msPerRemoteSite / one) * 100) / 100;
  return rows;
}

async function labFigures(sizes: number[]) {
  // Imported lazily: the lab module checks the machine (root, tun) only when run.
  const { labMetrics, LabCannotRun } = await import("../lab/run");
  try {
    const base = await labMetrics({ keySeed: "bench" });
    const scale: { remoteSites: number; ok: boolean; timeToAllTunnelsMs: number | null; wallMs: number }[] = [];
    for (const n of sizes) {
      const r = await labMetrics({ sites: n, keySeed: `bench-lab-${n}`, tunnelsOnly: true });
      scale.push({ remoteSites: n, ok: r.ok, timeToAllTunnelsMs: r.metrics.timeToAllTunnelsMs, wallMs: r.durationMs });
    }
    return { default: base, scale };
  } catch (err) {
    if (err instanceof LabCannotRun) return { skipped: `lab cannot run here: ${err.message}` };
    throw err;
  }
}

async function main() {
  const cli = new Command()
    .option("--program-only", "only the mock-runtime scale figures")
    .option("--lab-only", "only the lab figures")
    .option("--repeat <n>", "timed runs per size", "3")
    .option("--json <file>", "also write the results here")
    .parse();
  const o = cli.opts<{ programOnly?: boolean; labOnly?: boolean; repeat: string; json?: string }>();
  const out: Record<string, unknown> = { at: new Date().toISOString() };

  if (!o.labOnly) {
    const rows = await programScale([1, 4, 16, 64], Number(o.repeat));
    out.programScale = rows;
    console.log("\nProgram under the mock runtime (verify on; median of %s runs after a warm-up):", o.repeat);
    console.table(rows);
  }
  if (!o.programOnly) {
    const lab = await labFigures([1, 2, 4, 8]);
    out.lab = lab;
    if ("skipped" in lab) {
      console.log(`\nLab: ${lab.skipped}`);
    } else {
      const m = lab.default.metrics;
      console.log("\nLab, default topology (one run):");
      console.table({
        "time to first ping (ms)": m.timeToFirstPingMs,
        "RTT avg (ms)": m.rttAvgMs,
      });
      const t = m.throughputMbps;
      console.table({
        "host-to-host via tunnel (Mbit/s)": t.hostToHostTunnel,
        "gateway-to-gateway via tunnel (Mbit/s)": t.gatewayToGatewayTunnel,
        "gateway-to-gateway raw underlay (Mbit/s)": t.gatewayToGatewayUnderlay,
        "tunnel / underlay ratio":
          t.gatewayToGatewayTunnel && t.gatewayToGatewayUnderlay
            ? Math.round((t.gatewayToGatewayTunnel / t.gatewayToGatewayUnderlay) * 1000) / 1000
            : null,
        "MTU check: clamped 1500-byte host transfer (Mbit/s)": m.mtu.clampedTransferMbps,
      });
      console.log("\nLab, time to all tunnels up by number of remote sites:");
      console.table(lab.scale);
    }
  }
  const dir = path.join(__dirname, "results");
  fs.mkdirSync(dir, { recursive: true });
  const file = o.json ?? path.join(dir, `${out.at}.json`.replace(/:/g, "-"));
  fs.writeFileSync(file, JSON.stringify(out, null, 2));
  console.log(`\nresults: ${file}`);
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
