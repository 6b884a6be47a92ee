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
 * checks -> cleanup (also on failure and on SIGINT/SIGTERM).
 */
import { createHash, randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { parse as parseYaml } from "yaml";
import { pidAlive, run, runOk, sleep, waitFor } from "../proc";
import { cloudInitFinishedUptime, kernelPanic, ssh, sshScript, type SshTarget } from "./guest";
import { parseCloudInitResult, parseCloudInitStatus, parseIperf3, parseLatestHandshakes, parsePing } from "../parsers";
import { ensureImage, type VmImage } from "./image";
import { createNetwork, destroyNetwork, listLabNamespaces, tapName, type LabNetwork } from "./network";
import { planVmLab, type VmHost, type VmLabPlan } from "./plan";
import { probeKvm, qmp, startVm, stopVm, unlinkOnceOpen, type Accel, type RunningVm } from "./qemu";
import { renderMetaData, renderNetworkConfig, writeSeedIso, type VmNic } from "./seed";
import { KERNEL_HANDSHAKES_PY, shQuote } from "../../rendering/verificationScripts";

export const REPO_ROOT = path.resolve(__dirname, "..", "..");
/** Namespaces of VM-lab runs: wgvm<6 hex>-net, wgvm<6 hex>-vpcN. */
export const NETNS_PATTERN = /^wgvm[0-9a-f]{6}-(net|vpc\d+)$/;

export interface VmLabTimeouts {
  imageBuildMs: number;
  /** Per VM, from qemu start to cloud-init's "finished" line. */
  cloudInitMs: number;
  /** From VM start to the first cross-site ping. */
  tunnelMs: number;
  /** From the reboot command to the tunnel carrying pings again. */
  rebootMs: number;
}

/**
 * Generous: under TCG on a busy 2-CPU machine four VMs took ~4 minutes just to reach
 * systemd's journal. On an idle machine cloud-init finishes in a few minutes.
 */
export const DEFAULT_TIMEOUTS: VmLabTimeouts = {
  imageBuildMs: 20 * 60_000,
  cloudInitMs: 25 * 60_000,
  tunnelMs: 30 * 60_000,
  rebootMs: 15 * 60_000,
};

export interface VmLabOptions {
  /**
   * Raw stack config (keys without the project prefix) and the gateways' public IPs.
   * Default: the namespace lab's default topology (lab/labConfig.ts), so both modes build
   * the same segments and addresses.
   */
  config?: Record<string, unknown>;
  publicIps?: Record<string, string>;
  /** "auto" (default): KVM when a probe boots a kernel with it, TCG otherwise. */
  accel?: "auto" | Accel;
  /**
   * Bulk TCP checks (iperf3, the path-MTU black hole and its MSS-clamp negative control).
   * Off by default: the namespace lab proves them on every run, and under TCG they cost
   * minutes of emulated CPU. `--throughput` turns them on.
   */
  throughput?: boolean;
  /** Reboot the hub gateway and require the tunnel to come back (default true). */
  reboot?: boolean;
  /** "guest": `systemctl reboot` inside (default); "reset": QMP system_reset, a hard reset. */
  rebootMethod?: "guest" | "reset";
  /** Where image builds are cached (default /var/cache/scaleway-wireguard-s2s/vm). */
  cacheRoot?: string;
  /** Parent of the per-run directory (default <repo>/.lab/vm). */
  runsRoot?: string;
  timeouts?: Partial<VmLabTimeouts>;
  /** One line per step (default: stderr). */
  log?: (line: string) => void;
}

export interface VmLabCheck {
  name: string;
  ok: boolean;
  detail: string;
  /** Negative controls pass when the thing they provoke fails. */
  negativeControl?: boolean;
}

export interface VmLabHostResult {
  name: string;
  site: string;
  role: string;
  privateAddress: string;
  publicAddress?: string;
  cloudInitStatus?: string;
  cloudInitErrors: string[];
  /** Guest uptime when cloud-init finished (from its console line). */
  cloudInitDoneUptimeSeconds?: number;
  /** Wall time from qemu start to cloud-init's finished line. */
  cloudInitDoneSeconds?: number;
  userDataSha256: string;
  guestUserDataSha256?: string;
}

export interface VmLabResult {
  ok: boolean;
  prefix: string;
  runDir: string;
  resultFile: string;
  accel: Accel;
  accelReason: string;
  image: { key: string; dir: string; built: boolean; buildSeconds: number; packages: number };
  hosts: VmLabHostResult[];
  checks: VmLabCheck[];
  measurements: {
    imageSeconds: number;
    bootToTunnelSeconds?: number;
    pingRttMs: Record<string, number>;
    iperfBitsPerSecond?: number;
    iperfPmtuBlackholeBitsPerSecond?: number;
    rebootToTunnelSeconds?: number;
    /** Per gateway: guest uptime at its first WireGuard handshake (kernel log). */
    firstHandshakeUptimeSeconds: Record<string, number>;
    /** Per gateway: first handshake uptime / mean test-host cloud-init-done uptime. */
    handshakeToTestHostRatio: Record<string, number>;
    totalSeconds: number;
  };
  /** What stands in for Scaleway (or differs from it), so the gap to the cloud is explicit. */
  standIns: string[];
  cleanupProblems: string[];
  error?: string;
}

export const STAND_INS: readonly string[] = [
  "Scaleway DHCP/IPAM: dnsmasq per private network (own namespace, at the subnet's first address) with one static lease per private NIC MAC (the IPAM-reserved address), no default router, no DNS.",
  "VPC custom routes: the same namespace is the VPC router; it holds the network.Route resources the program declared (destination via the next-hop NIC's IPAM address) and pushes them to every host of the network as DHCP option 121 via itself.",
  "Private NICs: the image carries a reconstruction of Scaleway's scw-vpc-iface (udev rule 72-scw-vpc-iface.rules -> scw-vpc-iface@<nic>.service after cloud-init.service -> /etc/netplan/60-<nic>-vpc.yaml with DHCP -> netplan apply); gateways get their private NIC only that way. Test hosts (no public NIC) also have it in NoCloud network-config, so the boot's wait-online has a link.",
  "Flexible IPs: the gateways' public addresses are static (NoCloud network-config) on one bridged 'internet' segment, 198.51.100.0/24; Scaleway routes them to the instance and its image gets them by DHCP.",
  "Metadata service: a NoCloud seed volume (user-data unchanged; meta-data with instance-id and hostname; network-config).",
  "Image: Debian 12 made Ubuntu-like (netplan -> networkd, systemd-resolved stub on 127.0.0.53, cloud-init 22.4, cloud kernel 6.1) instead of Scaleway's Ubuntu noble; its only apt source is a mirror no VM can reach; iperf3 is preinstalled for the optional throughput check.",
  "Security groups are not modelled: the lab's internet segment only carries the two gateways.",
];

interface RunContext {
  prefix: string;
  runDir: string;
  log: (line: string) => void;
  vms: RunningVm[];
  network?: LabNetwork;
  cleaned: boolean;
}

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

/** Package names a cloud-config's `packages:` asks for (plain names only). */
export function userDataPackages(userData: string): string[] {
  const doc = parseYaml(userData) as { packages?: unknown[] } | null;
  return (doc?.packages ?? []).filter((p): p is string => typeof p === "string");
}

/** What the lab checks before touching anything; empty when it can run. */
/** Tools the VM lab runs, and the Debian package of each (scripts/ensure-setup.js installs them). */
export const VM_LAB_TOOLS: Record<string, string> = {
  "qemu-system-x86_64": "qemu-system-x86",
  "qemu-img": "qemu-utils",
  genisoimage: "genisoimage",
  debootstrap: "debootstrap",
  dnsmasq: "dnsmasq",
  ssh: "openssh-client",
  "ssh-keygen": "openssh-client",
  "mkfs.ext4": "e2fsprogs",
  ip: "iproute2",
  nft: "nftables",
};

export async function vmLabPrerequisites(): Promise<string[]> {
  const missing: string[] = [];
  if (process.platform !== "linux") missing.push("Linux");
  if (typeof process.getuid === "function" && process.getuid() !== 0)
    missing.push("root (namespaces, taps, debootstrap)");
  if (!fs.existsSync("/dev/net/tun")) missing.push("/dev/net/tun");

  for (const [tool, pkg] of Object.entries(VM_LAB_TOOLS)) {
    const r = await run(["sh", "-c", `command -v ${tool}`], { timeoutMs: 5000 });
    if (r.code !== 0) missing.push(`${tool} (apt-get install ${pkg})`);
  }
  return missing;
}

function cmdlineOf(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ");
  } catch {
    return "";
  }
}

/** Removes what a killed earlier run left: its qemu/dnsmasq (by recorded pid), namespaces, secrets. */
export async function sweepLeftovers(runsRoot: string, log: (l: string) => void): Promise<string[]> {
  const swept: string[] = [];
  const livePrefixes = new Set<string>();
  if (fs.existsSync(runsRoot)) {
    for (const entry of fs.readdirSync(runsRoot)) {
      const dir = path.join(runsRoot, entry);
      const ownerFile = path.join(dir, "owner.json");
      if (!fs.existsSync(ownerFile)) continue;
      let owner: { pid: number; prefix: string; pids?: number[] };
      try {
        owner = JSON.parse(fs.readFileSync(ownerFile, "utf8"));
      } catch {
        continue;
      }
      if (owner.pid !== process.pid && pidAlive(owner.pid) && /node|tsx|jest/.test(cmdlineOf(owner.pid))) {
        livePrefixes.add(owner.prefix);
        continue;
      }
      // Only processes whose command line names this run's directory are ours to kill.
      for (const pid of owner.pids ?? []) {
        if (pidAlive(pid) && cmdlineOf(pid).includes(dir)) {
          process.kill(pid, "SIGKILL");
          swept.push(`pid ${pid}`);
        }
      }
      scrubRunDir(dir);
      fs.rmSync(ownerFile, { force: true });
    }
  }
  for (const netns of await listLabNamespaces(NETNS_PATTERN)) {
    const prefix = netns.replace(/-(net|vpc\d+)$/, "");
    if (livePrefixes.has(prefix)) continue;
    // Only runs of this clone (a run directory under runsRoot) are ours to sweep: another
    // clone's run, live or dead, is that clone's business (it sweeps its own next time).
    if (!fs.existsSync(path.join(runsRoot, prefix))) continue;
    const pids = await run(["ip", "netns", "pids", netns], { timeoutMs: 5000 });
    for (const pid of pids.stdout.split(/\s+/).filter(Boolean).map(Number)) {
      // A namespace named like ours holds only what a lab run started there.
      if (/qemu-system|dnsmasq/.test(cmdlineOf(pid))) process.kill(pid, "SIGKILL");
    }
    await run(["ip", "netns", "delete", netns], { timeoutMs: 10_000 });
    swept.push(`netns ${netns}`);
  }
  if (swept.length) log(`removed leftovers of an earlier run: ${swept.join(", ")}`);
  return swept;
}

/** Deletes what must not outlive a run: disks, seeds (they hold WireGuard keys), SSH keys. */
function scrubRunDir(dir: string): void {
  if (!fs.existsSync(dir)) return;
  for (const entry of fs.readdirSync(dir)) {
    const p = path.join(dir, entry);
    if (entry.startsWith("ssh-key") || entry === "deploy.key") fs.rmSync(p, { force: true });
    else if (fs.statSync(p).isDirectory()) {
      for (const f of ["overlay.qcow2", "seed.iso", "qmp.sock"]) fs.rmSync(path.join(p, f), { force: true });
      fs.rmSync(path.join(p, "seed"), { recursive: true, force: true });
    }
  }
}

function recordOwner(ctx: RunContext): void {
  const pids = [...ctx.vms.map((v) => v.pid), ...(ctx.network?.dnsmasq.map((d) => d.pid) ?? [])];
  fs.writeFileSync(path.join(ctx.runDir, "owner.json"), JSON.stringify({ pid: process.pid, prefix: ctx.prefix, pids }));
}

async function cleanup(ctx: RunContext): Promise<string[]> {
  if (ctx.cleaned) return [];
  ctx.cleaned = true;
  const problems: string[] = [];
  await Promise.all(ctx.vms.map((vm) => stopVm(vm)));
  for (const vm of ctx.vms) if (pidAlive(vm.pid)) problems.push(`qemu ${vm.name} (pid ${vm.pid}) still running`);
  if (ctx.network) problems.push(...(await destroyNetwork(ctx.network)));
  const left = (await listLabNamespaces(NETNS_PATTERN)).filter((n) => n.startsWith(`${ctx.prefix}-`));
  if (left.length) problems.push(`namespaces left: ${left.join(", ")}`);
  scrubRunDir(ctx.runDir);
  fs.rmSync(path.join(ctx.runDir, "owner.json"), { force: true });
  return problems;
}

function nicsOf(host: VmHost, hostIndex: number): (VmNic & { tap: string })[] {
  const nics: (VmNic & { tap: string })[] = [];
  if (host.publicAddress && host.publicMac) {
    nics.push({
      id: "public",
      mac: host.publicMac,
      pciSlot: 2,
      staticAddress: `${host.publicAddress}/24`,
      tap: tapName(hostIndex, "public"),
    });
  }
  nics.push({ id: "private", mac: host.privateMac, pciSlot: 5, tap: tapName(hostIndex, "private") });
  return nics;
}

export async function runVmLab(options: VmLabOptions = {}): Promise<VmLabResult> {
  const started = Date.now();
  const log = options.log ?? ((line: string) => process.stderr.write(`[vm-lab] ${line}\n`));
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
    hosts: [],
    checks: [],
    measurements: {
      imageSeconds: 0,
      pingRttMs: {},
      firstHandshakeUptimeSeconds: {},
      handshakeToTestHostRatio: {},
      totalSeconds: 0,
    },
    standIns: [...STAND_INS],
    cleanupProblems: [],
  };
  const check = (name: string, ok: boolean, detail: string, negativeControl = false) => {
    result.checks.push({ name, ok, detail, negativeControl });
    log(`${ok ? "PASS" : "FAIL"} ${name}: ${detail}`);
    return ok;
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
    const { defaultLabConfig } = await import("../labConfig");
    const fallback = defaultLabConfig();
    const program = await runProgram({
      config: options.config ?? fallback.config,
      publicIps: options.publicIps ?? (options.config ? undefined : fallback.publicIps),
    });
    const plan: VmLabPlan = planVmLab(program.resources);
    const userData = new Map(plan.hosts.map((h) => [h.name, program.userData(h.site, h.role)]));
    log(
      `plan: ${plan.hosts.map((h) => `${h.name} ${h.privateAddress}${h.publicAddress ? ` / ${h.publicAddress}` : ""}`).join(", ")}`,
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

    ctx.network = await createNetwork(prefix, plan, runDir);
    recordOwner(ctx);
    log(
      `network: namespace ${ctx.network.switchNs} (bridges, ${ctx.network.taps.length} taps), stand-ins ${[...ctx.network.vpcNs.values()].join(", ")}`,
    );

    const t0 = Date.now();
    for (const [i, host] of plan.hosts.entries()) {
      const dir = path.join(runDir, host.name);
      const nics = nicsOf(host, i);
      const seedIso = path.join(dir, "seed.iso");
      const ud = userData.get(host.name)!;
      await writeSeedIso(
        path.join(dir, "seed"),
        {
          userData: ud,
          metaData: renderMetaData({ instanceId: `${prefix}-${host.name}`, hostname: host.name, publicKeys: labKeys }),
          // A gateway's private NIC comes up the Scaleway way (the image's udev rule), not from cloud-init.
          networkConfig: renderNetworkConfig(host.publicAddress ? nics.filter((n) => n.id === "public") : nics),
        },
        seedIso,
      );
      const vm = await startVm({
        name: host.name,
        netns: ctx.network.switchNs,
        kernel: image.kernel,
        initrd: image.initrd,
        baseImage: image.rootfs,
        dir,
        seedIso,
        nics,
        accel: result.accel,
      });
      ctx.vms.push(vm);
      recordOwner(ctx);
      // The seed's files and the overlay hold keys: keep them only as qemu's open files.
      fs.rmSync(path.join(dir, "seed"), { recursive: true, force: true });
      if (!(await unlinkOnceOpen(vm.pid, [vm.overlay, seedIso]))) {
        throw new Error(`${host.name}: qemu did not open its disks; see ${path.join(dir, "qemu.stderr")}`);
      }
      result.hosts.push({
        name: host.name,
        site: host.site,
        role: host.role,
        privateAddress: host.privateAddress,
        publicAddress: host.publicAddress,
        cloudInitErrors: [],
        userDataSha256: sha256(ud),
      });
      log(`started ${host.name} (qemu pid ${vm.pid}, serial ${path.relative(REPO_ROOT, vm.serialLog)})`);
    }

    const target = (host: VmHost): SshTarget => ({
      netns: ctx.network!.vpcNs.get(host.site)!,
      address: host.privateAddress,
      keyFile,
    });
    const hubSite = program.config.scalewaySite.name;
    const testHosts = plan.hosts.filter((h) => h.role === "test-host");
    const hubTest = testHosts.find((h) => h.site === hubSite);
    const spokeTests = testHosts.filter((h) => h.site !== hubSite);
    if (!hubTest || spokeTests.length === 0)
      throw new Error("the VM lab needs the hub's test host and at least one simulated site's test host");
    /** "answered", "no answer", or undefined when SSH itself failed (nothing was learnt). */
    const pingOnce = async (from: VmHost, to: VmHost): Promise<"answered" | "no answer" | undefined> => {
      const r = await ssh(
        target(from),
        `ping -n -c 1 -W 2 ${to.privateAddress} >/dev/null; echo "ping-exit=$?"`,
        45_000,
      );
      const m = /ping-exit=(\d+)/.exec(r.stdout);
      return m ? (m[1] === "0" ? "answered" : "no answer") : undefined;
    };

    // Boot to tunnel: polled while the VMs boot, from the first moment SSH answers.
    const tunnelWatch = waitFor(
      async () => ((await pingOnce(hubTest, spokeTests[0])) === "answered" ? (Date.now() - t0) / 1000 : undefined),
      timeouts.tunnelMs,
      // Each SSH handshake costs an emulated guest seconds of CPU: poll gently.
      10_000,
      () => ctx.cleaned,
    );

    log(`waiting for cloud-init on ${plan.hosts.length} VMs (bound ${timeouts.cloudInitMs / 1000} s each)`);
    await Promise.all(
      plan.hosts.map(async (host, i) => {
        const vm = ctx.vms[i];
        const uptime = await waitFor(
          async () => {
            if (vm.process.exitCode !== null)
              throw new Error(`${host.name}: qemu exited (${vm.process.exitCode}); see ${vm.serialLog}`);
            const panic = kernelPanic(vm.serialLog);
            if (panic) throw new Error(`${host.name}: ${panic}; see ${vm.serialLog}`);
            return cloudInitFinishedUptime(vm.serialLog);
          },
          timeouts.cloudInitMs,
          2000,
          () => ctx.cleaned,
        );
        const hr = result.hosts[i];
        if (uptime === undefined) {
          hr.cloudInitErrors.push(`cloud-init did not finish within ${timeouts.cloudInitMs / 1000} s`);
          return;
        }
        hr.cloudInitDoneUptimeSeconds = uptime;
        hr.cloudInitDoneSeconds = (Date.now() - vm.startedAt) / 1000;
        log(
          `${host.name}: cloud-init finished (guest uptime ${uptime.toFixed(0)} s, wall ${hr.cloudInitDoneSeconds.toFixed(0)} s)`,
        );
      }),
    );

    for (const [i, host] of plan.hosts.entries()) {
      const hr = result.hosts[i];
      if (hr.cloudInitDoneUptimeSeconds === undefined) {
        check(`cloud-init on ${host.name}`, false, hr.cloudInitErrors.join("; "));
        continue;
      }
      await inspectCloudInit(host, hr, target(host), check);
    }

    const boot = await tunnelWatch;
    result.measurements.bootToTunnelSeconds = boot;
    if (
      !check(
        "tunnel up: first ping between test hosts",
        boot !== undefined,
        boot !== undefined
          ? `${boot.toFixed(0)} s after the VMs started`
          : `no ping within ${timeouts.tunnelMs / 1000} s`,
      )
    ) {
      throw new Error("the tunnel never came up");
    }

    await kernelWireGuardChecks(plan, target, check);
    await deployVerificationChecks(plan, program, target, check);

    for (const spoke of spokeTests) {
      for (const [from, to] of [
        [hubTest, spoke],
        [spoke, hubTest],
      ] as const) {
        const r = await ssh(target(from), `ping -n -c 5 -i 0.5 -W 3 ${to.privateAddress}`, 60_000);
        const stats = parsePing(r.stdout);
        const ok = r.code === 0 && stats.transmitted > 0 && stats.received === stats.transmitted;
        if (stats?.rttAvgMs !== undefined) result.measurements.pingRttMs[`${from.name}->${to.name}`] = stats.rttAvgMs;
        check(
          `ping ${from.name} -> ${to.name}`,
          ok,
          stats.transmitted > 0
            ? `${stats.received}/${stats.transmitted} replies, avg ${stats.rttAvgMs ?? "?"} ms`
            : r.stderr.trim() || r.stdout.trim(),
        );
      }
    }

    const spoke = spokeTests[0];
    const hubGw = plan.hosts.find((h) => h.site === hubSite && h.role === "gateway")!;
    const gateways = plan.hosts.filter((h) => h.role === "gateway");

    await ubuntuLikeChecks(plan, target, check);
    await unreachableRepositoryCheck(hubGw, target, check);
    for (const gw of gateways) {
      const up = await firstHandshakeUptime(target(gw));
      if (up !== undefined) result.measurements.firstHandshakeUptimeSeconds[gw.name] = up;
    }
    const testDone = result.hosts.filter((h) => h.role === "test-host").map((h) => h.cloudInitDoneUptimeSeconds);
    if (testDone.every((u) => u !== undefined) && testDone.length > 0) {
      const mean = (testDone as number[]).reduce((x, y) => x + y, 0) / testDone.length;
      for (const [name, up] of Object.entries(result.measurements.firstHandshakeUptimeSeconds)) {
        result.measurements.handshakeToTestHostRatio[name] = Math.round((up / mean) * 100) / 100;
      }
    }
    log(
      `first handshake (guest uptime): ${JSON.stringify(result.measurements.firstHandshakeUptimeSeconds)}; ratio to test hosts' cloud-init done: ${JSON.stringify(result.measurements.handshakeToTestHostRatio)}`,
    );
    await renewalCheck(hubGw, target, async () => (await pingOnce(hubTest, spoke)) === "answered", check);

    if (options.throughput) {
      const iperf = await iperfRun(target(hubTest), target(spoke), spoke.privateAddress);
      result.measurements.iperfBitsPerSecond = iperf.bps;
      check(
        `iperf3 ${hubTest.name} -> ${spoke.name} through the tunnel`,
        iperf.bps !== undefined && iperf.bps > 0,
        iperf.detail,
      );

      // MTU: the test hosts keep 1500-byte MTUs; with every ICMP "fragmentation needed"
      // dropped on all segments, path-MTU discovery is blind and only MSS clamping saves TCP.
      await dropFragNeeded(ctx.network.switchNs, true);
      const blackhole = await iperfRun(target(hubTest), target(spoke), spoke.privateAddress);
      await dropFragNeeded(ctx.network.switchNs, false);
      result.measurements.iperfPmtuBlackholeBitsPerSecond = blackhole.bps;
      check(
        "MTU: bulk TCP across the tunnel with ICMP frag-needed dropped",
        blackhole.bps !== undefined && blackhole.bps > 0,
        blackhole.detail,
      );

      // Negative control: the same black hole without the gateways' MSS clamping must stall
      // bulk TCP, or the MTU check above proves nothing. The policy is reloaded afterwards.
      const unclamped = await Promise.all(gateways.map((gw) => ssh(target(gw), UNCLAMP_SCRIPT, 60_000)));
      await dropFragNeeded(ctx.network.switchNs, true);
      const stalled = await iperfRun(target(hubTest), target(spoke), spoke.privateAddress);
      await dropFragNeeded(ctx.network.switchNs, false);
      const restored = await Promise.all(
        gateways.map((gw) =>
          ssh(
            target(gw),
            "systemctl restart wg-s2s-firewall.service && nft list table inet wg_s2s | grep -c maxseg",
            60_000,
          ),
        ),
      );
      const removedAll = unclamped.every((r) => /removed [1-9]/.test(r.stdout));
      const clampedBps = blackhole.bps ?? 0;
      const stall = stalled.bps === undefined || stalled.bps < clampedBps / 4;
      check(
        "negative control: without MSS clamping, the frag-needed black hole stalls bulk TCP",
        removedAll && stall,
        `${removedAll ? "clamp rules removed on both gateways" : `could not remove the clamp rules: ${unclamped.map((r) => r.stdout.trim() || r.stderr.trim()).join(" | ")}`}; ${stalled.detail}`,
        true,
      );
      if (!restored.every((r) => r.code === 0 && Number(r.stdout.trim()) > 0))
        throw new Error("could not restore the gateways' forward policy");
    }

    if (options.reboot !== false) {
      // Negative control first: with the hub's tunnel down, the ping must fail, or the
      // checks above were not measuring the tunnel.
      const stopped = await ssh(
        target(hubGw),
        // networkd leaves a link an operator downed alone; the reboot below brings it back.
        "ip link set wg0 down && ip link show wg0 | grep -q 'state DOWN' && echo wg0-down",
        60_000,
      );
      const without = await pingOnce(hubTest, spoke);
      check(
        "negative control: no ping with the hub gateway's tunnel stopped",
        stopped.stdout.includes("wg0-down") && without === "no answer",
        without === "answered"
          ? "ping answered without the tunnel: traffic bypasses it"
          : without === "no answer"
            ? "wg0 down; ping unanswered, as it must be"
            : "could not run the ping (SSH failed)",
        true,
      );
      await rebootCheck(
        hubGw,
        ctx.vms[plan.hosts.indexOf(hubGw)],
        options.rebootMethod ?? "guest",
        target,
        async () => (await pingOnce(hubTest, spoke)) === "answered",
        timeouts.rebootMs,
        result,
        check,
      );
    }

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
    fs.writeFileSync(result.resultFile, JSON.stringify(result, null, 2));
    log(
      `${result.ok ? "VM lab passed" : "VM lab FAILED"} in ${result.measurements.totalSeconds.toFixed(0)} s; result: ${path.relative(REPO_ROOT, result.resultFile)}`,
    );
  }
  return result;
}

type CheckFn = (name: string, ok: boolean, detail: string, negativeControl?: boolean) => boolean;

async function inspectCloudInit(host: VmHost, hr: VmLabHostResult, t: SshTarget, check: CheckFn): Promise<void> {
  const r = await ssh(
    t,
    "timeout 300 cloud-init status --wait --long; echo '--8<--'; cat /run/cloud-init/result.json; echo '--8<--'; sha256sum /var/lib/cloud/instance/user-data.txt",
    360_000,
  );
  const [statusText, resultJson, shaLine] = r.stdout.split("--8<--\n");
  hr.cloudInitStatus = parseCloudInitStatus(statusText ?? "");
  try {
    hr.cloudInitErrors.push(...parseCloudInitResult(resultJson ?? "").errors);
  } catch (e) {
    hr.cloudInitErrors.push(`no result.json over SSH: ${(e as Error).message} ${r.stderr.trim()}`);
  }
  hr.guestUserDataSha256 = shaLine?.split(/\s+/)[0];
  check(
    `cloud-init on ${host.name}: status done, no errors`,
    hr.cloudInitStatus === "done" && hr.cloudInitErrors.length === 0,
    `status ${hr.cloudInitStatus ?? "?"}; errors: ${hr.cloudInitErrors.length ? hr.cloudInitErrors.join(" | ") : "none"}`,
  );
  check(
    `user-data on ${host.name} is the program's, byte for byte`,
    hr.guestUserDataSha256 === hr.userDataSha256,
    `sha256 program ${hr.userDataSha256.slice(0, 12)}, guest ${hr.guestUserDataSha256?.slice(0, 12) ?? "?"}`,
  );
}

async function kernelWireGuardChecks(plan: VmLabPlan, target: (h: VmHost) => SshTarget, check: CheckFn): Promise<void> {
  for (const gw of plan.hosts.filter((h) => h.role === "gateway")) {
    // Kernel module (not wireguard-go), and a recent handshake with every peer.
    const r = await ssh(
      target(gw),
      // The image has no wireguard-tools (and no mirror to get it from): read the kernel.
      `test -d /sys/module/wireguard && ip -d link show wg0 | grep -qw wireguard && echo KERNEL-WG; python3 -c ${shQuote(KERNEL_HANDSHAKES_PY)}`,
      30_000,
    );
    const kernel = r.stdout.includes("KERNEL-WG");
    const handshakes = Object.values(parseLatestHandshakes(r.stdout, Date.now() / 1000));
    const allShook = handshakes.length > 0 && handshakes.every((age) => age !== null);
    check(
      `${gw.name}: kernel WireGuard, handshake with every peer`,
      kernel && allShook,
      `kernel module ${kernel ? "yes" : "no"}; handshakes ${handshakes.length ? handshakes.map((age) => (age !== null ? "done" : "none")).join(", ") : "none listed"}`,
    );
  }
}

/**
 * The image behaves like Ubuntu on Scaleway: resolved's stub on 127.0.0.53:53 behind
 * /etc/resolv.conf, netplan-generated networkd config, wg0 and the private NIC managed by
 * networkd, and on gateways the private NIC configured by the scw-vpc-iface unit.
 */
async function ubuntuLikeChecks(plan: VmLabPlan, target: (h: VmHost) => SshTarget, check: CheckFn): Promise<void> {
  for (const host of plan.hosts) {
    const gw = host.role === "gateway";
    const r = await ssh(
      target(host),
      [
        "ss -Hlnu | grep -q '127.0.0.53%lo:53 \\|127.0.0.53:53 ' && echo STUB",
        "readlink /etc/resolv.conf | grep -q stub-resolv.conf && echo RESOLV",
        "ls /run/systemd/network/ | grep -q '^10-netplan-' && echo NETPLAN",
        'networkctl list --no-legend --no-pager | awk \'$2 == "ens5" && $5 == "configured"\' | grep -q . && echo PRIVATE-NETWORKD',
        gw
          ? 'networkctl list --no-legend --no-pager | awk \'$2 == "wg0" && $5 == "configured"\' | grep -q . && echo WG0-NETWORKD'
          : "true",
        gw
          ? "test -f /etc/netplan/60-ens5-vpc.yaml && systemctl is-active -q scw-vpc-iface@ens5.service && echo SCW-VPC-IFACE"
          : "true",
      ].join("; "),
      60_000,
    );
    const want = ["STUB", "RESOLV", "NETPLAN", "PRIVATE-NETWORKD", ...(gw ? ["WG0-NETWORKD", "SCW-VPC-IFACE"] : [])];
    const missing = want.filter((w) => !r.stdout.includes(w));
    check(
      `${host.name}: Ubuntu-like network stack${gw ? ", private NIC by scw-vpc-iface, wg0 by networkd" : ""}`,
      missing.length === 0,
      missing.length ? `missing: ${missing.join(", ")}` : want.join(", ").toLowerCase(),
    );
  }
}

/**
 * The run's premise: the package repository is unreachable. apt cannot refresh or fetch,
 * wireguard-tools is absent (its unit keeps retrying), and yet the tunnel is up. The old
 * user-data's tunnel was `wg-quick@wg0` from that very package, so it could not start here.
 */
async function unreachableRepositoryCheck(gw: VmHost, target: (h: VmHost) => SshTarget, check: CheckFn): Promise<void> {
  const r = await ssh(
    target(gw),
    [
      "timeout 60 apt-get -q --error-on=any update >/dev/null 2>&1; echo apt-update=$?",
      "timeout 60 apt-get -q -y install --download-only wireguard-tools >/dev/null 2>&1; echo apt-install=$?",
      "command -v wg wg-quick >/dev/null; echo have-wg=$?",
      // What the previous user-data ran once its apt step had (not) installed wireguard-tools.
      "systemctl start wg-quick@wg0.service >/dev/null 2>&1; echo old-tunnel=$?",
      "systemctl show -p Result --value wg-s2s-extras.service | sed 's/^/extras=/'",
      "ip link show wg0 >/dev/null 2>&1; echo wg0=$?",
    ].join("; "),
    180_000,
  );
  const v = (k: string) => new RegExp(`^${k}=(\\S*)`, "m").exec(r.stdout)?.[1];
  const ok =
    v("apt-update") !== "0" &&
    v("apt-install") !== "0" &&
    v("have-wg") !== "0" &&
    v("old-tunnel") !== "0" &&
    v("wg0") === "0";
  check(
    "package repository unreachable: apt fails, no wireguard-tools, tunnel up anyway",
    ok,
    `apt-get update exit ${v("apt-update")}, install exit ${v("apt-install")}, wg(8) ${v("have-wg") === "0" ? "present" : "absent"}, the old user-data's wg-quick@wg0 ${v("old-tunnel") === "0" ? "STARTED" : "cannot start"}, wg-s2s-extras ${v("extras") ?? "?"}, wg0 ${v("wg0") === "0" ? "up" : "absent"}`,
  );
}

/**
 * Guest uptime of the first WireGuard handshake: the kernel logs "Keypair 1 created" with
 * a boot-relative timestamp (wireguard.dyndbg=+p on the lab's kernel command line).
 */
async function firstHandshakeUptime(t: SshTarget): Promise<number | undefined> {
  const r = await ssh(t, "dmesg | grep -m1 'wg0: Keypair [0-9]* created for peer'", 30_000);
  const m = /^\[\s*(\d+\.\d+)\]/.exec(r.stdout.trim());
  return m ? Number(m[1]) : undefined;
}

/**
 * A DHCP lease renewal on the gateway's private NIC, then what Scaleway's unit does on
 * every private NIC hot-plug (`netplan apply`, which restarts networkd here): wg0's
 * routes must be the same afterwards and the tunnel must still carry pings.
 */
async function renewalCheck(
  gw: VmHost,
  target: (h: VmHost) => SshTarget,
  pings: () => Promise<boolean>,
  check: CheckFn,
): Promise<void> {
  const routes = "ip -4 route show dev wg0 | sort | tr '\\n' ';'";
  const before = (await ssh(target(gw), routes, 30_000)).stdout.trim();
  const renew = await ssh(
    target(gw),
    "networkctl renew ens5 && sleep 5 && netplan apply && sleep 10 && echo DONE",
    120_000,
  );
  const after = (await ssh(target(gw), `${routes}; ip -4 -o addr show dev ens5 | grep -c inet`, 30_000)).stdout.trim();
  const back = await waitFor(async () => ((await pings()) ? true : undefined), 90_000, 5000);
  const sameRoutes = before !== "" && after.startsWith(before);
  check(
    `DHCP renewal + netplan apply on ${gw.name}'s private NIC: tunnel and routes survive`,
    renew.stdout.includes("DONE") && sameRoutes && back === true,
    `${renew.stdout.includes("DONE") ? "renewed and re-applied" : `renew/apply failed: ${renew.stderr.trim()}`}; wg0 routes ${sameRoutes ? "unchanged" : `changed: [${before}] -> [${after}]`}; ping ${back ? "answered" : "NOT answered within 90 s"}`,
  );
}

async function iperfRun(
  client: SshTarget,
  server: SshTarget,
  serverAddress: string,
): Promise<{ bps?: number; detail: string }> {
  // One-shot server; the client run is bounded by its own -t plus connect time.
  await ssh(server, "pkill -x iperf3; iperf3 -s -1 -D", 30_000);
  await sleep(1000);
  const r = await ssh(client, `iperf3 -c ${serverAddress} -t 5 -J --connect-timeout 5000`, 90_000);
  const parsed = parseIperf3(r.stdout);
  if (!parsed.ok) return { detail: `iperf3: ${parsed.error ?? "nothing received"} ${r.stderr.trim()}`.trim() };
  return {
    bps: parsed.bitsPerSecond,
    detail: `${parsed.mbps.toFixed(1)} Mbit/s over ${parsed.seconds.toFixed(1)} s${parsed.retransmits !== undefined ? `, ${parsed.retransmits} retransmits` : ""}`,
  };
}

/** Deletes the MSS-clamping rules (by handle) from the gateway's forward policy, nothing else. */
const UNCLAMP_SCRIPT = `n=0; for h in $(nft -a list chain inet wg_s2s forward | sed -n 's/.*maxseg size set.*# handle \\([0-9]*\\)$/\\1/p'); do nft delete rule inet wg_s2s forward handle "$h" && n=$((n+1)); done; echo "removed $n"`;

/** Drops ICMP "fragmentation needed" on every bridge of the lab (a path-MTU black hole). */
async function dropFragNeeded(switchNs: string, on: boolean): Promise<void> {
  const rules = on
    ? [
        "table bridge wgvm_pmtu {",
        "  chain forward {",
        "    type filter hook forward priority 0;",
        "    icmp type destination-unreachable icmp code frag-needed drop",
        "  }",
        "}",
        "",
      ].join("\n")
    : "delete table bridge wgvm_pmtu\n";
  const r = await run(["ip", "netns", "exec", switchNs, "nft", "-f", "-"], { timeoutMs: 10_000, input: rules });
  if (r.code !== 0) throw new Error(`nft in ${switchNs}: ${r.stderr.trim()}`);
}

async function rebootCheck(
  gw: VmHost,
  vm: RunningVm,
  method: "guest" | "reset",
  target: (h: VmHost) => SshTarget,
  ping: () => Promise<boolean>,
  timeoutMs: number,
  result: VmLabResult,
  check: CheckFn,
): Promise<void> {
  const bootId = async () =>
    (await ssh(target(gw), "cat /proc/sys/kernel/random/boot_id", 45_000)).stdout.trim() || undefined;
  const before = await bootId();
  const t = Date.now();
  if (method === "reset") {
    // A hard reset: no orderly shutdown, as after a host crash.
    await qmp(vm.qmpSocket, "system_reset");
  } else {
    // In-guest reboot, as an operator (or an unattended upgrade) would do it.
    await ssh(target(gw), "systemctl reboot", 45_000, 0);
  }
  const rebooted = await waitFor(
    async () => {
      if (vm.process.exitCode !== null) throw new Error(`${gw.name}: qemu exited during the reboot`);
      const now = await bootId();
      return now && before && now !== before ? now : undefined;
    },
    timeoutMs,
    5000,
  );
  if (
    !check(
      `${gw.name} rebooted`,
      rebooted !== undefined,
      rebooted
        ? `new boot id (${method === "reset" ? "QMP system_reset" : "systemctl reboot"})`
        : `no new boot id within ${timeoutMs / 1000} s`,
    )
  )
    return;
  const back = await waitFor(
    async () => ((await ping()) ? (Date.now() - t) / 1000 : undefined),
    timeoutMs - (Date.now() - t),
    3000,
  );
  result.measurements.rebootToTunnelSeconds = back;
  check(
    `tunnel back after rebooting ${gw.name}, nothing done by hand`,
    back !== undefined,
    back !== undefined
      ? `${back.toFixed(0)} s from the reboot command to the first ping`
      : `no ping within ${timeoutMs / 1000} s`,
  );
  const r = await ssh(
    target(gw),
    "timeout 300 cloud-init status --wait --long; echo '--8<--'; cat /run/cloud-init/result.json",
    360_000,
  );
  const [statusText, json] = r.stdout.split("--8<--\n");
  let errors: string[];
  try {
    errors = parseCloudInitResult(json ?? "").errors;
  } catch (e) {
    errors = [(e as Error).message];
  }
  const status = parseCloudInitStatus(statusText ?? "");
  check(
    `cloud-init on ${gw.name} after the reboot: no errors`,
    status === "done" && errors.length === 0,
    `status ${status ?? "?"}; errors: ${errors.length ? errors.join(" | ") : "none"}`,
  );
}

/**
 * The deploy-verification scripts `pulumi up` runs over SSH (rendering/verificationScripts.ts),
 * the very same text, run against the VMs: cloud-init on every host, handshakes on every
 * gateway, and the seed's ping from the hub's test host to every spoke's.
 */
async function deployVerificationChecks(
  plan: VmLabPlan,
  program: { config: import("../../config/types").StackConfig; outputs: Record<string, any> },
  target: (h: VmHost) => SshTarget,
  check: CheckFn,
): Promise<void> {
  const scripts = await import("../../rendering/verificationScripts");
  const { planTopology } = await import("../../planning/topology");
  const topology = planTopology(program.config);
  const publicKeys: Record<string, string> = program.outputs.publicKeys ?? {};
  const t = {
    ...scripts.DEFAULT_VERIFICATION_TIMEOUTS,
    cloudInitSeconds: 300,
    handshakeSeconds: 240,
    pingSeconds: 120,
  };
  const runScript = async (name: string, host: VmHost, script: string, seconds: number) => {
    const r = await sshScript(target(host), script, (seconds + 60) * 1000);
    const said = (r.code === 0 ? r.stdout : r.stderr || r.stdout).trim().split("\n").pop() ?? "";
    check(`deploy verification: ${name}`, r.code === 0, said || `exit ${r.code}`);
  };
  for (const host of plan.hosts) {
    const label = `${host.site} ${host.role === "gateway" ? "gateway" : "test host"}`;
    await runScript(
      `cloud-init on ${host.name}`,
      host,
      scripts.waitForCloudInitScript(label, t.cloudInitSeconds),
      t.cloudInitSeconds,
    );
  }
  for (const gw of plan.hosts.filter((h) => h.role === "gateway")) {
    const site = topology.sites.find((s) => s.name === gw.site);
    const peers = (site?.peers ?? []).map((p) => publicKeys[p.name]).filter((k): k is string => typeof k === "string");
    await runScript(
      `handshakes on ${gw.name}`,
      gw,
      scripts.handshakeScript(`${gw.site} gateway`, peers, t.handshakeSeconds),
      t.handshakeSeconds,
    );
  }
  const hubTest = plan.hosts.find((h) => h.site === topology.hub.name && h.role === "test-host");
  for (const spoke of topology.spokes.filter((s) => s.onScaleway && s.testHostAddress)) {
    if (!hubTest) break;
    await runScript(
      `ping ${hubTest.name} -> ${spoke.name} test host`,
      hubTest,
      scripts.pingScript(`${topology.hub.name} test host`, spoke.testHostAddress!, t.pingSeconds),
      t.pingSeconds,
    );
  }
}
