/**
 * The namespace lab, end to end: run the program under mocks, build the topology it
 * declares out of namespaces, boot every host from its own user-data with real
 * cloud-init, then the registered scenarios (lab/scenarios/registry.ts): the tutorial's
 * ping test, bulk TCP, the MTU check and (with `faults`) the faults and negative controls.
 * Always cleans up. lab/README.md has the design and the stand-ins.
 */
import { randomBytes } from "crypto";
import * as path from "path";
import { runProgram } from "../testkit/programRun";
import { allPublicIps, defaultLabConfig, HUB_NAME, sitesLabConfig } from "./labConfig";
import { buildSwitch, startLanRouter, startVpcRouter, wireNode } from "./network";
import { concludeLabRun, startLabRun } from "./runLifecycle";
import { preflight } from "./preflight";
import { emptyMetrics, maskSecrets, type LabMetrics, type LabResult, type StandIn } from "./results";
import { buildNetworkctlShim, buildSystemctlShim } from "./standins/build";
import { standInsFor } from "./standins/list";
import { allNodes, bare, buildTopology } from "./topology";
import { bootAll, bootCheck } from "./scenarios/boot";
import { checkRecorder } from "./scenarios/context";
import { twoStepBeforeInstall, withBundlesInstalled } from "./scenarios/externalSites";
import { NAMESPACE_LAB_SCENARIOS, runScenarios, type Need, type ScenarioRun } from "./scenarios/registry";

export { TUNNEL_UP_LINE, nicOrdering } from "./scenarios/context";
export { RESTART_TUNNEL } from "./scenarios/faults";

export interface LabOptions {
  /** Remote sites to generate (`--sites N`); undefined = the program's default topology. */
  sites?: number;
  /** Run the faults and negative controls too. */
  faults?: boolean;
  /** Keep the run directory (host files, logs) for debugging; namespaces are removed anyway. */
  keep?: boolean;
  /** Progress sink, one line per step (default: stdout). */
  log?: (line: string) => void;
  /** Delay between a host's user-data start and its private NIC hot-plug (default 3000 ms). */
  hotplugDelayMs?: number;
  /** iperf3 duration (default 3 s). */
  iperfSeconds?: number;
  /** Deterministic WireGuard keys (tests); random otherwise, like a real stack. */
  keySeed?: string;
  /** Where to write the JSON (default .lab/results/<prefix>.json). */
  resultsFile?: string;
  /** Only boot and the hub<->spoke ping test (what `npm run bench` times); no iperf3, MTU or spoke probes. */
  tunnelsOnly?: boolean;
  /**
   * The two-step external deploy (lab/scenarios/externalSites.ts): external gateways boot only
   * after step 1's checks ran without them; then step 2 (bundleInstalled=true) is checked.
   */
  twoStep?: boolean;
}

/** The lab cannot run on this machine (exit code 2 in the CLI). */
export class LabCannotRun extends Error {
  constructor(
    readonly problems: string[],
    readonly missingPackages: string[],
  ) {
    super(`the lab cannot run here:\n  - ${problems.join("\n  - ")}`);
  }
}

/** The namespace lab's stand-ins (lab/standins/list.ts, the one list of both labs). */
export function standIns(lossMethod?: string): StandIn[] {
  return standInsFor("netns", lossMethod);
}

/** Run the lab. Throws LabCannotRun when the machine cannot; otherwise always returns a result (ok or not). */
export async function runLab(opts: LabOptions = {}): Promise<LabResult> {
  const pf = preflight();
  if (!pf.ok) throw new LabCannotRun(pf.problems, pf.missingPackages);
  const run = await startLabRun(opts);
  const { log, step, started, prefix, runDir, wiring } = run;
  // Phase boundaries (ms since epoch) for result.metrics.phasesMs.
  const marks: { boot?: number; booted?: number; cleanup?: number; cleaned?: number } = {};

  const mode = `${opts.sites === undefined ? "default" : `sites-${opts.sites}`}${opts.tunnelsOnly ? "-tunnels-only" : ""}`;
  const result: LabResult = {
    prefix,
    mode,
    faults: !!opts.faults,
    startedAt: new Date(started).toISOString(),
    durationMs: 0,
    ok: false,
    sites: [],
    notes: [],
    hosts: [],
    standIns: standIns(),
    checks: [],
    metrics: emptyMetrics(),
  };
  try {
    step(`program: index.ts under the Pulumi mock runtime (${mode} topology)`);
    const lc = opts.sites === undefined ? defaultLabConfig() : sitesLabConfig(opts.sites);
    result.notes = lc.notes;
    // Two-step runs the program twice, and a real stack keeps its keys in state between the
    // two `pulumi up`s: one seed for both runs stands for that state.
    const keySeed = opts.keySeed ?? (opts.twoStep ? randomBytes(16).toString("hex") : undefined);
    const program = await runProgram({ config: lc.config, publicIps: lc.publicIps, keySeed });
    const publicIps = allPublicIps(lc);
    const declaredIps = (program.outputs.gatewayPublicIps ?? {}) as Record<string, string>;
    for (const [site, ip] of Object.entries(declaredIps)) {
      if (publicIps[site] && publicIps[site] !== ip)
        throw new Error(`program gave ${site} public IP ${ip}, the lab handed it ${publicIps[site]}`);
    }
    const t = buildTopology({ prefix, config: program.config, resources: program.resources, publicIps });
    result.metrics = emptyMetrics(t.tunnelMtu);
    result.sites = t.sites.map((s) => ({
      name: s.name,
      kind: s.kind,
      subnet: s.subnet,
      routePropagation: s.routePropagation,
      allowSpokeToSpoke: s.allowSpokeToSpoke,
      tunnelAddress: s.tunnelAddress,
      publicIp: s.publicIp,
      ...(s.testHost.privateNic.address ? { testHostAddress: bare(s.testHost.privateNic.address) } : {}),
    }));
    log(
      `    ${t.sites.length} sites: ${t.sites.map((s) => `${s.name} ${s.subnet} (${s.kind}, ${s.routePropagation})`).join("; ")}`,
    );

    // Every host's user-data, exactly what `pulumi up` would send (or the operator bundle's cloud-config).
    const userData = new Map<string, string>();
    const bundles = new Map<string, Record<string, string>>();
    for (const s of t.sites) {
      if (s.kind === "external") {
        const b = program.operatorBundle(s.name);
        bundles.set(s.name, b);
        userData.set(s.gateway.id, b["cloud-config.yaml"]);
      } else {
        userData.set(s.gateway.id, program.userData(s.name, "gateway"));
        userData.set(s.testHost.id, program.userData(s.name, "test-host"));
      }
    }

    step(`network: switch namespace, ${t.sites.length + 1} segments, ${allNodes(t).length} nodes (prefix ${prefix})`);
    const shim = buildSystemctlShim(path.join(runDir, "shim"));
    buildNetworkctlShim(path.join(runDir, "shim"));
    await buildSwitch(t);
    for (const s of t.sites)
      for (const n of [
        s.gateway,
        s.testHost,
        ...(s.vpcRouter ? [s.vpcRouter] : []),
        ...(s.lanRouter ? [s.lanRouter] : []),
      ])
        await wireNode(t, s, n, runDir, shim, wiring);

    step("stand-ins: VPC routers (Scaleway DHCP/IPAM + custom routes), LAN routers");
    for (const s of t.sites) {
      if (s.vpcRouter) {
        await startVpcRouter(s, runDir, wiring);
        log(
          `    ${s.vpcRouter.id}: ${bare(s.vpcRouter.privateNic.address!)}, routes ${s.vpcRouter.customRoutes.map((r) => `${r.destination} -> ${r.nexthop}`).join(", ") || "none"}`,
        );
      }
      if (s.lanRouter) await startLanRouter(s.lanRouter);
    }

    const c: ScenarioRun = {
      t,
      w: wiring,
      log,
      checks: result.checks,
      check: checkRecorder(result.checks, (line) => log(`    ${line}`)),
      exec: (n, argv, o) => {
        const h = wiring.hosts.get(n.id);
        if (!h) throw new Error(`no lab host for ${n.id}`);
        return h.exec(argv, o);
      },
      testHostAddr: new Map(),
      iperfSeconds: opts.iperfSeconds ?? 3,
      metrics: result.metrics,
      faults: {},
      program,
      setLossMethod: (method) => (result.standIns = standIns(method)),
    };
    step(
      `boot: user-data of ${userData.size} hosts through cloud-init, private NICs hot-plugged after ${(opts.hotplugDelayMs ?? 3000) / 1000} s`,
    );
    const externals = t.sites.filter((s) => s.kind === "external");
    const twoStep = opts.twoStep && externals.length > 0;
    // The same keys as step 1 (Pulumi keeps them in state; here the key seed stands for it).
    const step2 = twoStep
      ? await runProgram({ config: withBundlesInstalled(lc.config), publicIps: lc.publicIps, keySeed })
      : undefined;
    let installed: () => void = () => {};
    const operatorsInstall = new Promise<void>((resolve) => (installed = resolve));
    const step1Checks = step2
      ? (async () => {
          step("two-step 1: pulumi up's checks run before any operator installed a bundle");
          try {
            await twoStepBeforeInstall({ ...c, program, step2 });
          } finally {
            log("    operators install their bundles now: external gateways boot");
            installed();
          }
        })()
      : Promise.resolve();
    const externalGateways = new Set(externals.map((s) => s.gateway.id));
    marks.boot = Date.now();
    const boot = await bootAll(c, userData, bundles, opts.hotplugDelayMs ?? 3000, (n) =>
      twoStep && externalGateways.has(n.id) ? operatorsInstall : Promise.resolve(),
    );
    marks.booted = Date.now();
    await step1Checks;
    result.hosts = boot.summaries;
    for (const h of boot.summaries) {
      result.metrics.cloudInitMs[h.host] = h.cloudInitMs;
      c.checks.push(bootCheck(h));
    }
    result.metrics.timeToFirstPingMs = boot.firstPing;
    const times = Object.values(boot.firstPing);
    result.metrics.timeToAllTunnelsMs =
      times.length && times.every((x) => x !== null) ? Math.max(...(times as number[])) : null;
    for (const s of result.sites)
      if (!s.testHostAddress && c.testHostAddr.get(s.name)) s.testHostAddress = c.testHostAddr.get(s.name);

    c.step2 = step2;
    if (opts.faults) result.metrics.faults = c.faults;
    const have = new Set<Need>([
      ...(opts.faults ? (["faults"] as const) : []),
      ...(opts.tunnelsOnly ? [] : (["full-checks"] as const)),
      ...(t.sites.length > 2 ? (["spokes"] as const) : []),
      ...(externals.some((s) => s.routePropagation === "dhcp") ? (["dhcp-lan"] as const) : []),
      ...(step2 ? (["two-step"] as const) : []),
    ]);
    await runScenarios(NAMESPACE_LAB_SCENARIOS, "netns", c, have, step);
  } catch (e) {
    result.error = maskSecrets((e as Error).stack ?? String(e));
    log(`ERROR: ${result.error}`);
  } finally {
    step("cleanup: every process, namespace and temp dir of this run");
    marks.cleanup = Date.now();
    result.namespacesLeft = await run.finish();
    marks.cleaned = Date.now();
    const span = (from?: number, to?: number) => (from !== undefined && to !== undefined ? to - from : null);
    result.metrics.phasesMs = {
      setup: span(started, marks.boot ?? marks.cleanup),
      boot: span(marks.boot, marks.booted ?? marks.cleanup),
      checks: span(marks.booted, marks.cleanup),
      cleanup: span(marks.cleanup, marks.cleaned),
    };
    log(`    cleanup took ${((marks.cleaned - marks.cleanup) / 1000).toFixed(1)} s`);
  }
  return concludeLabRun(run, result, opts.resultsFile);
}

export interface LabBenchFigures {
  ok: boolean;
  mode: string;
  sites: number;
  /** ms from the start of every host's user-data until the last remote site answered a ping. */
  timeToAllTunnelsMs: number | null;
  timeToFirstPingMs: Record<string, number | null>;
  metrics: LabMetrics;
  durationMs: number;
  resultsFile?: string;
  failedChecks: string[];
}

/**
 * Figures of one lab run for `npm run bench` (throws LabCannotRun when the lab cannot run
 * here). `labMetrics({ sites: 4, tunnelsOnly: true })` times all tunnels up for 4 sites.
 */
export async function labMetrics(opts: LabOptions = {}): Promise<LabBenchFigures> {
  const r = await runLab({ log: () => undefined, ...opts });
  return {
    ok: r.ok,
    mode: r.mode,
    sites: r.sites.length - 1,
    timeToAllTunnelsMs: r.metrics.timeToAllTunnelsMs,
    timeToFirstPingMs: r.metrics.timeToFirstPingMs,
    metrics: r.metrics,
    durationMs: r.durationMs,
    resultsFile: r.resultsFile,
    failedChecks: r.checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.outcome}`),
  };
}

export { HUB_NAME };
