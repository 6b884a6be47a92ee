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
 *   4. The VM lab (one run, Ubuntu-like image, no package repository until the
 *      package-mirror stand-in opens near the end): each gateway's boot to first
 *      handshake (guest uptime, from its kernel log) divided by the booted test hosts'
 *      boot to cloud-init done (guest uptime, mean), boot to first cross-site ping, and
 *      after a gateway reboot, reboot to first ping; hosts resumed from
 *      a saved running state (lab/vm/savedState.ts) with their qemu start to cloud-init
 *      done, and any saved state the run had to build first; the run's wall time.
 *   5. The metrics lab (lab/metricsLab.ts): tunnel cut to the tunnel-down alert delivered,
 *      restore to its resolution delivered, bytes pushed per minute for one gateway and peer.
 *   6. The HA failover lab (lab/haLab.ts, one run; Scaleway API stand-in): active gateway
 *      killed to the standby's tunnel up and to the first ping through it from a fixed-IP
 *      and from a NATed far end, the same with the endpoint hand-over withheld, a
 *      partition of the private network to one gateway holding everything, and the rolling
 *      replacement (drain/ready) from each start: longest gap and pings lost per far end.
 *   Every lab run also reports its phases (setup, boot, tunnel, checks, cleanup), so where a
 *   lab run's time goes stays visible (issue 11: a cleanup figure once read as 21.6 s was
 *   the cleanup step's start time, not its duration).
 *
 * Flags: --program-only, --lab-only, --vm-only, --ha-only, --no-vm, --vm-result FILE (figures from
 * an earlier VM lab result.json instead of a new run), --repeat N (default 3), --json FILE.
 * Results also go to bench/results/<timestamp>.json (gitignored).
 */
import { Command } from "commander";
import * as fs from "fs";
import * as path from "path";
import { runProgram } from "../testkit/programRun";
import { sitesLabConfig } from "../lab/labConfig";
import { metricsLabUnavailable, runMetricsLab, seconds } from "../lab/metricsLab";
import { haLabUnavailable, runHaLab, HANDOVER_WINDOW_S } from "../lab/haLab";

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

type Phases = { setup: number | null; boot: number | null; checks: number | null; cleanup: number | null };

/** A lab run's phases as table columns, in ms; "tunnel" (to all tunnels up) is part of boot. */
function phaseColumns(p: Phases | undefined, tunnelMs: number | null): Record<string, number | null> {
  return {
    "setup ms": p?.setup ?? null,
    "boot ms": p?.boot ?? null,
    "tunnel ms (of boot)": tunnelMs,
    "checks ms": p?.checks ?? null,
    "cleanup ms": p?.cleanup ?? null,
  };
}

async function labFigures(sizes: number[]) {
  // Imported lazily: the lab module checks the machine (root, tun) only when run.
  const { labMetrics, LabCannotRun } = await import("../lab/run");
  try {
    const base = await labMetrics({ keySeed: "bench" });
    const scale: ({ remoteSites: number; ok: boolean; timeToAllTunnelsMs: number | null; wallMs: number } & Record<
      string,
      number | boolean | null
    >)[] = [];
    for (const n of sizes) {
      const r = await labMetrics({ sites: n, keySeed: `bench-lab-${n}`, tunnelsOnly: true });
      scale.push({
        remoteSites: n,
        ok: r.ok,
        timeToAllTunnelsMs: r.metrics.timeToAllTunnelsMs,
        wallMs: r.durationMs,
        ...phaseColumns(r.metrics.phasesMs, r.metrics.timeToAllTunnelsMs),
      });
    }
    return { default: base, scale };
  } catch (err) {
    if (err instanceof LabCannotRun) return { skipped: `lab cannot run here: ${err.message}` };
    throw err;
  }
}

export interface VmFigures {
  accel: string;
  image: string;
  /** Per gateway: first handshake uptime / mean test-host cloud-init-done uptime. */
  handshakeRatio: Record<string, number>;
  firstHandshakeUptimeS: Record<string, number>;
  testHostCloudInitDoneUptimeS: Record<string, number>;
  /** Hosts resumed from a saved state: qemu start to cloud-init done on this run's seed (wall s). */
  resumedToCloudInitDoneS: Record<string, number>;
  /** Saved states this run had to build first (s), by host; empty when all were cached. */
  savedStateBuildS: Record<string, number>;
  bootToFirstPingS: number | null;
  rebootToFirstPingS: number | null;
  /** Per bundle form on the far-end VM: install began -> install.sh check passed (s); null when it failed. */
  farEndInstallToCheckS: Record<string, number | null>;
  /** The far-end scenario's cost to the run: waited for after the hub's checks it runs beside (s). */
  farEndWaitS: number | null;
  vmLabWallS: number;
  ok: boolean;
}

/** The VM figures of one VM lab result (lab/vm/index.ts VmLabResult). */
export function vmFigures(r: import("../lab/vm").VmLabResult): VmFigures {
  const m = r.measurements;
  const round = (x: number) => Math.round(x * 10) / 10;
  return {
    accel: r.accel,
    image: `${r.image.key} (${r.image.built ? `built in ${round(r.image.buildSeconds)} s` : "cached"})`,
    handshakeRatio: m.handshakeToTestHostRatio,
    firstHandshakeUptimeS: Object.fromEntries(
      Object.entries(m.firstHandshakeUptimeSeconds).map(([gw, s]) => [gw, round(s)]),
    ),
    testHostCloudInitDoneUptimeS: Object.fromEntries(
      r.hosts
        .filter(
          (h) => h.role === "test-host" && h.start !== "saved-state" && h.cloudInitDoneUptimeSeconds !== undefined,
        )
        .map((h) => [h.name, round(h.cloudInitDoneUptimeSeconds!)]),
    ),
    resumedToCloudInitDoneS: Object.fromEntries(
      r.hosts
        .filter((h) => h.start === "saved-state" && h.cloudInitDoneSeconds !== undefined)
        .map((h) => [h.name, round(h.cloudInitDoneSeconds!)]),
    ),
    savedStateBuildS: Object.fromEntries(
      Object.entries(r.savedStates ?? {})
        .filter(([, st]) => st.built)
        .map(([h, st]) => [h, round(st.buildSeconds)]),
    ),
    bootToFirstPingS: m.bootToTunnelSeconds === undefined ? null : round(m.bootToTunnelSeconds),
    rebootToFirstPingS: m.rebootToTunnelSeconds === undefined ? null : round(m.rebootToTunnelSeconds),
    farEndInstallToCheckS: Object.fromEntries(
      Object.entries(m.farEndInstallToCheckSeconds ?? {}).map(([form, s]) => [form, s === undefined ? null : round(s)]),
    ),
    farEndWaitS: m.farEndWaitSeconds === undefined ? null : round(m.farEndWaitSeconds),
    vmLabWallS: round(m.totalSeconds),
    ok: r.ok,
  };
}

async function vmLabFigures(resultFile?: string): Promise<VmFigures | { skipped: string }> {
  const vm = await import("../lab/vm");
  if (resultFile) return vmFigures(JSON.parse(fs.readFileSync(resultFile, "utf8")));
  const missing = await vm.vmLabPrerequisites();
  if (missing.length) return { skipped: `VM lab cannot run here; missing: ${missing.join("; ")}` };
  return vmFigures(await vm.runVmLab({}));
}

async function main() {
  const cli = new Command()
    .option("--program-only", "only the mock-runtime scale figures")
    .option("--lab-only", "only the namespace lab figures")
    .option("--vm-only", "only the VM lab figures")
    .option("--ha-only", "only the HA failover lab figures")
    .option("--no-vm", "skip the VM lab (several minutes under software emulation)")
    .option("--vm-result <file>", "VM figures from an earlier VM lab result.json instead of a new run")
    .option("--repeat <n>", "timed runs per size", "3")
    .option("--json <file>", "also write the results here")
    .parse();
  const o = cli.opts<{
    programOnly?: boolean;
    labOnly?: boolean;
    vmOnly?: boolean;
    haOnly?: boolean;
    vm: boolean;
    vmResult?: string;
    repeat: string;
    json?: string;
  }>();
  const out: Record<string, unknown> = { at: new Date().toISOString() };

  if (o.haOnly) {
    o.programOnly = false;
    o.labOnly = false;
    o.vmOnly = false;
  }
  const notHaOnly = !o.haOnly;
  if (!o.labOnly && !o.vmOnly && notHaOnly) {
    const rows = await programScale([1, 4, 16, 64], Number(o.repeat));
    out.programScale = rows;
    console.log("\nProgram under the mock runtime (verify on; median of %s runs after a warm-up):", o.repeat);
    console.table(rows);
  }
  if (!o.programOnly && !o.vmOnly && notHaOnly) {
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
      console.log("\nLab, default topology: phases of the run (wall time, ms; they add up to the run's duration):");
      console.table({
        ...phaseColumns(m.phasesMs, m.timeToAllTunnelsMs),
        "run duration ms": lab.default.durationMs,
      });
      console.log("\nLab, time to all tunnels up by number of remote sites:");
      console.table(lab.scale);
    }
  }
  if (!o.programOnly && !o.vmOnly && notHaOnly) {
    const why = metricsLabUnavailable();
    const m = why ? { skipped: why } : await runMetricsLab();
    out.metricsLab = m;
    if ("skipped" in m) console.log(`\nMetrics lab: ${m.skipped}`);
    else {
      console.log(
        "\nMetrics lab (one run; Debian's Prometheus and Alertmanager behind a stand-in for Cockpit's push path):",
      );
      console.table({
        "tunnel cut to WgS2sTunnelDown delivered (s)": seconds(m.cut.fireMs),
        "restore to its resolution delivered (s)": seconds(m.cut.resolveMs),
        "tunnel-down alerts while healthy, through a rekey and an address change":
          m.healthy.tunnelDownNotifications.length,
        "bytes pushed per minute (one gateway, one peer, textfile collector only)": m.pushes.acceptedBytesPerMinute,
      });
      console.log("Metrics cost on the gateway (this machine; CPU seconds per minute of wall time, resident memory):");
      console.table({
        "Prometheus agent": { "CPU s/min": m.cost.agentCpuSecondsPerMinute, "RSS MiB": m.cost.agentRssMiB },
        "node_exporter (textfile only)": {
          "CPU s/min": m.cost.nodeExporterCpuSecondsPerMinute,
          "RSS MiB": m.cost.nodeExporterRssMiB,
        },
        "collector (wg-s2s-metrics, every 10 s, its commands included)": {
          "CPU s/min": m.cost.collectorCpuSecondsPerMinute,
          "RSS MiB": "-",
        },
      });
    }
  }
  if (!o.programOnly && !o.vmOnly) {
    const why = haLabUnavailable();
    const h = why ? { skipped: why } : await runHaLab();
    out.haFailover = h;
    if ("skipped" in h) console.log(`\nHA failover: ${h.skipped}`);
    else {
      console.log(
        `\nHA failover (namespace lab, Scaleway API stand-in; one run, load ${h.load.before} -> ${h.load.after}${h.error ? `; stopped: ${h.error}` : ""}):`,
      );
      const none = (x: number | undefined, what = "none") => x ?? what;
      console.table({
        "kill -> standby's tunnel up (s)": none(h.kill.tunnelUpS),
        "kill -> first ping through the standby, fixed-IP far end (s)": none(h.kill.firstPingFixedS),
        "kill -> first ping through the standby, NATed far end (s)": none(h.kill.firstPingNatedS),
        "hand-over withheld: fixed-IP far end (s)": none(h.withoutHandover.firstPingFixedS),
        [`hand-over withheld: NATed far end (s; none = not within ${HANDOVER_WINDOW_S})`]: none(
          h.withoutHandover.firstPingNatedS,
        ),
        "hand-over withheld: NATed far end back on its own rekey (s)": none(h.withoutHandover.natedEventuallyS),
        "partition -> the standby becomes MASTER and claims (s)": none(h.partition.challengerMasterS),
        "partition -> one gateway holds IP, routes and the only tunnel, both far ends answer (s)": none(
          h.partition.settledS,
        ),
        "far ends see the hub at": `${h.kill.hubSeenByFixed}, ${h.kill.hubSeenByNated}`,
        "HA lab wall time (s)": h.wallS,
      });
      if (h.rolling.length > 0) {
        console.log(
          "\nHA rolling replacement (gateway-a then gateway-b: keepalived stopped, drain 90, server replaced, ready 900; far ends ping every 0.2 s):",
        );
        console.table(
          Object.fromEntries(
            h.rolling.map((g) => [
              `${g.activeAtStart} active at the start`,
              {
                failovers: g.failovers,
                "IP moves": g.ipMoves,
                "endpoints applied per claim": g.endpointsApplied.join(" / "),
                "commands exit 0": g.steps.every((s) => s.exitCode === 0),
                "drain/ready s": g.steps.map((s) => s.seconds).join(" / "),
                "ended on": g.settledOn,
                "fixed-IP: longest gap s": g.fixed.longestGapS,
                "fixed-IP: lost/sent": `${g.fixed.lost}/${g.fixed.sent}`,
                "NATed: longest gap s": g.nated.longestGapS,
                "NATed: lost/sent": `${g.nated.lost}/${g.nated.sent}`,
                "wall s": g.wallS,
              },
            ]),
          ),
        );
      }
    }
  }
  if (o.vm && !o.programOnly && !o.labOnly && notHaOnly) {
    const vm = await vmLabFigures(o.vmResult);
    out.vmLab = vm;
    if ("skipped" in vm) console.log(`\nVM lab: ${vm.skipped}`);
    else {
      console.log(
        `\nVM lab (one run, ${vm.accel}, image ${vm.image}, package repository unreachable until the package-mirror stand-in opens near the end):`,
      );
      console.table({
        ...Object.fromEntries(
          Object.entries(vm.handshakeRatio).map(([gw, r]) => [
            `${gw}: boot to first handshake / test hosts' boot to cloud-init done`,
            r,
          ]),
        ),
        ...Object.fromEntries(
          Object.entries(vm.firstHandshakeUptimeS).map(([gw, s]) => [`${gw}: boot to first handshake (s)`, s]),
        ),
        ...Object.fromEntries(
          Object.entries(vm.testHostCloudInitDoneUptimeS).map(([h, s]) => [`${h}: boot to cloud-init done (s)`, s]),
        ),
        ...Object.fromEntries(
          Object.entries(vm.resumedToCloudInitDoneS).map(([h, s]) => [
            `${h}: resumed from its saved state, qemu start to cloud-init done on this run's seed (s)`,
            s,
          ]),
        ),
        ...Object.fromEntries(
          Object.entries(vm.savedStateBuildS).map(([h, s]) => [`${h}: saved state built first (s, not cached)`, s]),
        ),
        "boot to first cross-site ping (s, from qemu start)": vm.bootToFirstPingS,
        "gateway reboot to first ping (s)": vm.rebootToFirstPingS,
        ...Object.fromEntries(
          Object.entries(vm.farEndInstallToCheckS).map(([form, s]) => [
            `far end (office router VM), --form ${form}: install to check passed, ping across (s)`,
            s,
          ]),
        ),
        "far end's cost to the run: waited for after the spoke gateway's checks it runs beside (s)": vm.farEndWaitS,
        "VM lab wall time (s)": vm.vmLabWallS,
        "all checks passed": vm.ok,
      });
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
