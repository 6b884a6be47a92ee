/**
 * The VM lab (`npm run lab -- --vm`): the same topology as the namespace lab, as real
 * virtual machines. Each host boots Debian's cloud kernel and runs the program's
 * user-data, byte for byte, through the cloud-init that starts at boot. Only Scaleway's
 * own services (DHCP/IPAM and the VPC router applying custom routes) are stand-ins.
 *
 *   runVmLab(options) -> VmLabResult   (never throws for a failed check; `ok` says it all)
 *
 * Steps: program run (mock runtime) -> plan from its resources -> cached image ->
 * namespaces, bridges, taps, stand-ins -> one qemu per server with a NoCloud seed ->
 * scenarios (VM_LAB_SCENARIOS, lab/vm/scenarios/registry.ts, by phase) -> cleanup (also on
 * failure and on SIGINT/SIGTERM).
 */
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { REPO_ROOT } from "../paths";
import { runOk } from "../proc";
import { writeResultFile } from "../results";
import { checkRecorder } from "../scenarios/context";
import { standInsFor } from "../standins/list";
import type { LabNode } from "../topology";
import { defaultHostStart, ensureSavedStates, startVms, waitForCloudInit } from "./boot";
import type { SshTarget } from "./guest";
import { isFarEnd } from "./farEnd";
import { DEFAULT_CACHE_ROOT, ensureImage, type VmImage } from "./image";
import { createNetwork, plannedNetwork, privateAddress, siteOf, vmHosts } from "./network";
import { probeKvm } from "./qemu";
import { GENERIC_USER_DATA } from "./savedState";
import { DEFAULT_TIMEOUTS, type VmLabOptions, type VmLabResult } from "./result";
import { cleanup, recordOwner, sweepLeftovers, vmLabPrerequisites, type RunContext } from "./runState";
import type { VmScenario } from "./scenarios/context";
import { runVmScenarios, VM_LAB_SCENARIOS, vmLabNeeds } from "./scenarios/registry";
import { watchTunnel } from "./scenarios/tunnel";

export * from "./result";
export { NETNS_PATTERN, VM_LAB_TOOLS, sweepLeftovers, vmLabPrerequisites } from "./runState";

/**
 * Where the run's SSH control sockets go: its own directory when the socket paths fit the
 * 108 bytes a unix socket name may have (ssh adds a 17-character suffix while it sets one
 * up), a private directory under the system's temp directory otherwise.
 */
function sshControlDir(runDir: string): string {
  const inRun = path.join(runDir, "ssh");
  const dir = inRun.length + 1 + 16 + 17 < 100 ? inRun : fs.mkdtempSync(path.join(os.tmpdir(), "wgvm-ssh-"));
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  return dir;
}

export async function runVmLab(options: VmLabOptions = {}): Promise<VmLabResult> {
  const started = Date.now();
  // Seconds since the run began on every line: where a slow run spent its time, from its log alone.
  const sink = options.log ?? ((line: string) => process.stderr.write(`[vm-lab] ${line}\n`));
  const log = (line: string) => sink(`+${((Date.now() - started) / 1000).toFixed(0).padStart(3)} s ${line}`);
  const timeouts = { ...DEFAULT_TIMEOUTS, ...options.timeouts };
  const runsRoot = options.runsRoot ?? path.join(REPO_ROOT, ".lab", "vm");
  const prefix = `wgvm${randomBytes(3).toString("hex")}`;
  const runDir = path.join(runsRoot, prefix);
  fs.mkdirSync(runDir, { recursive: true, mode: 0o700 });
  const ctx: RunContext = { prefix, runDir, log, vms: [], cleaned: false };
  const result: VmLabResult = {
    ok: false,
    prefix,
    runDir,
    resultFile: path.join(runDir, "result.json"),
    accel: "tcg",
    accelReason: "",
    image: { key: "", dir: "", built: false, buildSeconds: 0, packages: 0 },
    savedStates: {},
    hosts: [],
    checks: [],
    measurements: {
      imageSeconds: 0,
      pingRttMs: {},
      firstHandshakeUptimeSeconds: {},
      handshakeToTestHostRatio: {},
      totalSeconds: 0,
    },
    standIns: standInsFor("vm"),
    cleanupProblems: [],
  };
  // Ctrl-C or a kill: stop every VM and namespace before the process goes.
  const onSignal = (signal: NodeJS.Signals) => {
    log(`${signal}: cleaning up`);
    void cleanup(ctx).finally(() => process.exit(signal === "SIGINT" ? 130 : 143));
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);

  try {
    const missing = await vmLabPrerequisites();
    if (missing.length) throw new Error(`the VM lab cannot run here; missing: ${missing.join("; ")}`);
    await sweepLeftovers(runsRoot, log);
    recordOwner(ctx);

    log("running the program offline (mock runtime) for each host's user-data");
    // Loaded here so that the lab module itself stays cheap to import (tests, CLI help).
    const { runProgram } = await import("../../testkit/programRun");
    const { vmLabConfig } = await import("../labConfig");
    const { buildTopology } = await import("../topology");
    const fallback = vmLabConfig();
    const program = await runProgram({
      config: options.config ?? fallback.config,
      publicIps: options.publicIps ?? (options.config ? undefined : fallback.publicIps),
      keySeed: options.keySeed,
    });
    // The namespace lab's model, from the same declared resources: one topology, two backends.
    const topology = buildTopology({ prefix, config: program.config, resources: program.resources });
    // Every VM; `hosts` are the Scaleway-built ones (our user-data), `farEnds` the operators' own.
    const allVms = vmHosts(topology);
    const hosts = allVms.filter((h) => !isFarEnd(h));
    const farEnds = allVms.filter(isFarEnd);
    const userData = new Map(
      allVms.map((h) => {
        if (isFarEnd(h)) return [h.id, GENERIC_USER_DATA];
        const ud = program.userData(h.site, h.role as "gateway" | "test-host");
        return [h.id, options.userDataFor ? options.userDataFor(h, ud) : ud];
      }),
    );
    log(
      `topology: ${allVms.map((h) => `${h.id} ${privateAddress(h)}${h.publicNic ? ` / ${h.publicNic.address}` : ""}${isFarEnd(h) ? " (far end)" : ""}`).join(", ")}`,
    );

    // SSH access: the program's deploy key when it exports one, else a lab key via meta-data.
    let keyFile = path.join(runDir, "deploy.key");
    const labKeys: string[] = [];
    const deployKey = program.outputs.deployPrivateKey;
    if (typeof deployKey === "string" && deployKey.includes("PRIVATE KEY")) {
      fs.writeFileSync(keyFile, deployKey.endsWith("\n") ? deployKey : `${deployKey}\n`, { mode: 0o600 });
    } else {
      keyFile = path.join(runDir, "ssh-key");
      await runOk(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", `${prefix}-lab`, "-f", keyFile]);
      labKeys.push(fs.readFileSync(`${keyFile}.pub`, "utf8").trim());
      log("the program exports no deploy key: the lab's own key goes in through NoCloud meta-data public-keys");
    }
    const imageStarted = Date.now();
    const image: VmImage = await ensureImage({ cacheRoot: options.cacheRoot, log, timeoutMs: timeouts.imageBuildMs });
    result.measurements.imageSeconds = (Date.now() - imageStarted) / 1000;
    result.image = {
      key: image.key,
      dir: image.dir,
      built: image.built,
      buildSeconds: image.buildSeconds,
      packages: image.packages.length,
    };
    log(
      `image ${image.key} in ${image.dir} (${image.built ? `built in ${image.buildSeconds.toFixed(0)} s` : "cached"}); ${image.packages.length} packages, no reachable repository`,
    );

    if (options.accel && options.accel !== "auto") {
      result.accel = options.accel;
      result.accelReason = "chosen by option";
    } else {
      const probe = await probeKvm(image.kernel, runDir);
      result.accel = probe.ok ? "kvm" : "tcg";
      result.accelReason = probe.ok ? probe.reason : `${probe.reason}; using TCG (software emulation)`;
    }
    log(`accelerator: ${result.accel} (${result.accelReason})`);

    ctx.network = plannedNetwork(topology);
    recordOwner(ctx);
    await createNetwork(ctx.network, topology, runDir);
    recordOwner(ctx);
    log(
      `network: namespace ${ctx.network.switchNs} (bridges, ${ctx.network.taps.length} taps), stand-ins ${[...ctx.network.vpcNs.values()].join(", ")}`,
    );

    const sshTarget = (host: LabNode, key: string): SshTarget => ({
      netns: ctx.network!.vpcNs.get(host.site)!,
      address: privateAddress(host),
      keyFile: key,
    });
    ctx.sshControlDir = sshControlDir(runDir);
    const target = (host: LabNode): SshTarget => ({ ...sshTarget(host, keyFile), controlDir: ctx.sshControlDir });
    const hubSite = topology.sites[0].name;
    const hostStart = options.hostStart ?? defaultHostStart;
    const bootSpec = {
      hosts: allVms,
      userData,
      labKeys,
      image,
      accel: result.accel,
      switchNs: ctx.network.switchNs,
      repoRoot: REPO_ROOT,
      sshTarget,
    };
    const savedStates = await ensureSavedStates(
      ctx,
      bootSpec,
      // An operator's host runs when the bundle arrives: it always resumes.
      allVms.filter((h) => isFarEnd(h) || hostStart(h, hubSite) === "saved-state"),
      (h) => siteOf(topology, h),
      options.cacheRoot ?? DEFAULT_CACHE_ROOT,
      timeouts.cloudInitMs,
    );
    for (const [host, s] of savedStates)
      result.savedStates[host] = { key: s.key, built: s.built, buildSeconds: s.buildSeconds };

    const t0 = Date.now();
    const started = await startVms(ctx, { ...bootSpec, savedStates }, result.hosts);
    // The far ends' rows apart: they run no cloud-init or user-data of ours to report on.
    const farEndIds = new Set(farEnds.map((f) => f.id));
    result.farEnds = result.hosts.filter((h) => farEndIds.has(h.name));
    result.hosts = result.hosts.filter((h) => !farEndIds.has(h.name));

    const testHosts = hosts.filter((h) => h.role === "test-host");
    const hubTest = testHosts.find((h) => h.site === hubSite);
    const hubGateway = hosts.find((h) => h.site === hubSite && h.role === "gateway");
    const spokeTests = testHosts.filter((h) => h.site !== hubSite);
    if (!hubTest || !hubGateway || spokeTests.length === 0)
      throw new Error("the VM lab needs the hub's gateway and test host and at least one simulated site's test host");
    // The simulated site's gateway takes the checks that cut a tunnel (VmScenario.spokeGateway).
    const spokeGateway = hosts.find((h) => h.site === spokeTests[0].site && h.role === "gateway");
    if (!spokeGateway) throw new Error(`the VM lab needs the gateway of ${spokeTests[0].site}`);
    const stopped = () => ctx.cleaned;
    const scenario: Omit<VmScenario, "hubReady"> = {
      topology,
      hosts,
      vms: ctx.vms,
      switchNs: ctx.network.switchNs,
      target,
      log,
      checks: result.checks,
      check: checkRecorder(result.checks, log),
      result,
      timeouts,
      hubGateway,
      hubTest,
      spokeTests,
      spokeGateway,
      farEndPublicKeys: new Set(farEnds.map((f) => String(program.outputs.publicKeys?.[f.site] ?? ""))),
      farEnds: farEnds.map((far) => ({
        host: far,
        target: { ...sshTarget(far, savedStates.get(far.id)!.sshKey), controlDir: ctx.sshControlDir },
        lanNs: ctx.network!.vpcNs.get(far.site)!,
        bundle: program.operatorBundle(far.site),
        resumed: started.resumed.get(far.id) ?? Promise.resolve(),
        startFailure: () => started.failures.get(far.id),
      })),
      program,
      rebootMethod: options.rebootMethod ?? "guest",
      // Polled while the VMs boot, from the first moment SSH answers.
      bootToTunnel: watchTunnel({ target, hubTest, spokeTests, timeouts, stopped }, t0),
      stopped,
    };
    await runVmScenarios(
      VM_LAB_SCENARIOS,
      scenario,
      vmLabNeeds(options, farEnds.length),
      (name) => log(`scenario: ${name}`),
      () => waitForCloudInit(ctx, hosts, result.hosts, timeouts.cloudInitMs, started.failures),
    );

    result.ok = result.checks.every((c) => c.ok) && result.hosts.every((h) => h.cloudInitErrors.length === 0);
  } catch (e) {
    result.error = e instanceof Error ? e.message : String(e);
    log(`ERROR ${result.error}`);
    result.ok = false;
  } finally {
    log("cleaning up: VMs, taps, bridges, namespaces, disks, seeds, keys");
    result.cleanupProblems = await cleanup(ctx);
    if (result.cleanupProblems.length) {
      result.ok = false;
      log(`cleanup problems: ${result.cleanupProblems.join("; ")}`);
    }
    process.removeListener("SIGINT", onSignal);
    process.removeListener("SIGTERM", onSignal);
    result.measurements.totalSeconds = (Date.now() - started) / 1000;
    writeResultFile(result.resultFile, result);
    log(
      `${result.ok ? "VM lab passed" : "VM lab FAILED"} in ${result.measurements.totalSeconds.toFixed(0)} s; result: ${path.relative(REPO_ROOT, result.resultFile)}`,
    );
  }
  return result;
}
