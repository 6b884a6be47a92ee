/**
 * `npm run lab -- --production`: the production shape, in network namespaces.
 *
 *  - hub "scaleway" joins an EXISTING private network 192.168.0.0/24 (config
 *    `scalewaySite.privateNetworkId`; the program declares no VPC and no private network,
 *    only the gateway with its IPAM address and the VPC custom routes into that network's
 *    VPC). On it, a workload host the program did not configure: no user-data of ours,
 *    only what the network's DHCP (the VPC-router stand-in) gives it — its address and the
 *    custom routes as option 121.
 *  - "office": external, `dhcp`, no publicIp: a dynamic-IP office behind NAT, served by the
 *    bundle's systemd-networkd form (networkd/90-wg-s2s.netdev/.network, brought up by the
 *    networkd stand-in). Mid-run, the NAT's public address changes (ISP re-assignment):
 *    the time until traffic flows again is measured; failing to recover fails the run.
 *  - "branch": external, `static`, fixed publicIp, served by the bundle's netplan form
 *    (`netplan generate` inside the host, then the networkd stand-in).
 *
 * The far ends are installed by running their README's steps. After boot, the shape's
 * scenarios (PRODUCTION_SCENARIOS, registered like the default runs' in registry.ts) run in
 * order: the ping test, coexistence with the far ends' own jobs, the NAT address change, the
 * hub's tunnel restart (it holds an endpoint for branch, none for the dynamic office), and
 * uninstall with the third form.
 */
import * as path from "path";
import { runProgram } from "../../testkit/programRun";
import { iperf3, waitForPing, ping, type Exec } from "../checks";
import type { PingStats } from "../parsers";
import { runUserData } from "../cloudInit";
import { bootCheck } from "./boot";
import { LabHost } from "../host";
import { addBridge, addNetns, addVethPair, attachToBridge, ipIn, nsRun, nsRunOk } from "../netns";
import {
  buildSwitch,
  hotplugPrivateNic,
  runDhcpClient,
  startLanRouter,
  startVpcRouter,
  wireNode,
  type Wiring,
} from "../network";
import { preflight } from "../preflight";
import { LabCannotRun } from "../run";
import { concludeLabRun, startLabRun } from "../runLifecycle";
import { pollUntil, sleep } from "../proc";
import {
  check,
  emptyBootSummary,
  emptyMetrics,
  maskSecrets,
  type HostBootSummary,
  type LabCheck,
  type LabMetrics,
  type LabResult,
} from "../results";
import { buildNetworkctlShim, buildSystemctlShim } from "../standins/build";
import { standInsFor } from "../standins/list";
import { bare, PRIVATE_NIC, PUBLIC_NIC, RESOURCE_TYPES, type LabNode } from "../topology";
import { BUNDLE_FILES } from "../../rendering/operatorBundle";
import { METRICS_PATHS, METRICS_UNIT } from "../../cloud-init/tunnelMetrics";
import { DEFAULT_SCALEWAY_SITE } from "../../config/schema";

/** The office installs the bundle with the tunnel metrics (the branch without: both paths run). */
const OFFICE_INSTALL_EXTRA = ["--metrics"];
/** The hub's site name, the office's one peer (the production config leaves it at its default). */
const HUB_SITE = DEFAULT_SCALEWAY_SITE.name;
import {
  addInternetHost,
  copyBundle,
  DOCKER_BRIDGE,
  firstDifference,
  hostFirewallState,
  installSh,
  INTERNET_HOST,
  makeDockerHost,
  makeOfficeRouter,
  makeUfwHost,
  type HostFirewallState,
} from "./farEndHosts";

import {
  HUB_PUBLIC,
  OFFICE_NAT_AFTER,
  OFFICE_NAT_BEFORE,
  OFFICE_WAN,
  PRODUCTION_NETWORK,
  productionLabConfig,
  productionTopology,
  WORKLOAD_ADDRESS,
} from "./productionTopology";
import { runScenarios, type Scenario } from "./registry";

export { PRODUCTION_NETWORK, productionLabConfig } from "./productionTopology";

export interface ProductionOptions {
  log?: (line: string) => void;
  keep?: boolean;
  resultsFile?: string;
  keySeed?: string;
}

export async function runProduction(opts: ProductionOptions = {}): Promise<LabResult> {
  const pf = preflight();
  if (!pf.ok) throw new LabCannotRun(pf.problems, pf.missingPackages);
  const run = await startLabRun(opts);
  const { log, step, started, prefix, runDir, wiring } = run;

  const result: LabResult = {
    prefix,
    mode: "production",
    faults: true,
    startedAt: new Date(started).toISOString(),
    durationMs: 0,
    ok: false,
    sites: [],
    notes: [
      "hub joins an existing private network (no VPC/PN declared); workload host configured only by that network's DHCP",
      "office: external dhcp, no publicIp, behind NAT, the office's router to the internet (nftables.conf with masquerade); install.sh --form networkd; NAT public address changes mid-run",
      "branch: external static, fixed publicIp, a Docker host (dockerd 20.10's iptables ruleset, one container): install.sh --form netplan; then a Debian box with ufw: --form wg-quick",
    ],
    hosts: [],
    standIns: [
      ...standInsFor("netns"),
      {
        name: "NAT router namespace in front of the office (nftables masquerade)",
        replaces: "the office's ISP router, and the ISP re-assigning its public address",
        why: "a dynamic-IP office behind NAT; the address change removes the old address, so the kernel drops its masquerade mappings as a re-dialling router does",
      },
      {
        name: "Docker host: dockerd 20.10's iptables ruleset loaded with iptables-restore, a docker0 bridge and a container namespace (lab/scenarios/hostRulesets)",
        replaces: "a host running Debian 12's docker.io",
        why: "dockerd does not run in a lab host; its ruleset (FORWARD policy drop, DOCKER-USER) is what decides whether tunnel traffic passes, and it is loaded as Docker writes it",
      },
    ],
    checks: [],
    metrics: { ...emptyMetrics(), faults: {} },
  };
  const faults = result.metrics.faults!;
  const checks = result.checks;
  try {
    step("program: index.ts under the Pulumi mock runtime (hub joined to an existing network)");
    const program = await runProgram({
      config: productionLabConfig(),
      publicIps: { scaleway: HUB_PUBLIC },
      existingNetworks: {
        [PRODUCTION_NETWORK.id]: { subnet: PRODUCTION_NETWORK.subnet, vpcId: PRODUCTION_NETWORK.vpcId },
      },
      keySeed: opts.keySeed,
    });
    const declaredNetworks = program.resources.filter(
      (r) => r.type === RESOURCE_TYPES.vpc || r.type === RESOURCE_TYPES.privateNetwork,
    ).length;
    checks.push(
      check(
        "program declares no VPC and no private network for the existing network",
        "boot",
        "pass",
        declaredNetworks === 0,
        `${declaredNetworks} Vpc/PrivateNetwork resources declared`,
      ),
    );
    const bundles = {
      office: program.operatorBundle("office"),
      branch: program.operatorBundle("branch"),
    };
    const cfg = program.config;
    const keepalive = cfg.keepalive;
    result.metrics.mtu.tunnelMtu = cfg.mtu;

    const {
      t,
      hubSite,
      office,
      branch,
      hubGw,
      workload,
      vpcRouter,
      officeGw,
      officeHost,
      officeRouter,
      branchGw,
      branchHost,
    } = productionTopology(prefix, program.resources, cfg);
    log(
      `    hub gateway ${hubGw.privateNic.address} (IPAM), VPC routes: ${vpcRouter.customRoutes.map((r) => r.destination).join(", ")}`,
    );
    result.sites = t.sites.map((s) => ({
      name: s.name,
      kind: s.kind,
      subnet: s.subnet,
      routePropagation: s.routePropagation,
      allowSpokeToSpoke: false,
      tunnelAddress: s.tunnelAddress,
      publicIp: s.publicIp,
    }));

    step(`network: switch, hub network + 2 office LANs, NAT in front of office (prefix ${prefix})`);
    const shim = buildSystemctlShim(path.join(runDir, "shim"));
    // Built next to the systemctl stand-in: wireNode installs it in every host.
    buildNetworkctlShim(path.join(runDir, "shim"));
    await buildSwitch(t);
    await addBridge(t.switchNs, OFFICE_WAN.bridge);
    for (const [s, n] of [
      [hubSite, hubGw],
      [hubSite, workload],
      [hubSite, vpcRouter],
      [office, officeGw],
      [office, officeHost],
      [office, officeRouter],
      [branch, branchGw],
      [branch, branchHost],
    ] as const)
      await wireNode(t, s, n, runDir, shim, wiring);
    // The office gateway's uplink goes to its NAT router, not to the internet.
    await addVethPair({ ns: officeGw.ns, name: PUBLIC_NIC }, { ns: t.switchNs, name: "s1-pub" });
    await attachToBridge(t.switchNs, "s1-pub", OFFICE_WAN.bridge);
    await ipIn(officeGw.ns, ["addr", "add", `${OFFICE_WAN.gateway}/${OFFICE_WAN.len}`, "dev", PUBLIC_NIC]);
    await ipIn(officeGw.ns, ["link", "set", PUBLIC_NIC, "up"]);
    await ipIn(officeGw.ns, ["route", "add", "default", "via", OFFICE_WAN.nat]);
    const nat = `${prefix}-office-nat`;
    await addNetns(nat);
    await addVethPair({ ns: nat, name: "wan" }, { ns: t.switchNs, name: "s1-natwan" });
    await attachToBridge(t.switchNs, "s1-natwan", t.internet.bridge);
    await addVethPair({ ns: nat, name: "lan" }, { ns: t.switchNs, name: "s1-natlan" });
    await attachToBridge(t.switchNs, "s1-natlan", OFFICE_WAN.bridge);
    await ipIn(nat, ["addr", "add", `${OFFICE_NAT_BEFORE}/24`, "dev", "wan"]);
    await ipIn(nat, ["addr", "add", `${OFFICE_WAN.nat}/${OFFICE_WAN.len}`, "dev", "lan"]);
    for (const l of ["wan", "lan"]) await ipIn(nat, ["link", "set", l, "up"]);
    await nsRunOk(nat, ["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
    await nsRunOk(nat, ["nft", "-f", "-"], {
      input: `table ip labnat {\n\tchain post {\n\t\ttype nat hook postrouting priority srcnat; policy accept;\n\t\toifname "wan" masquerade\n\t}\n}\n`,
    });

    step("stand-ins: the existing network's DHCP/IPAM + VPC router, the office's LAN router");
    await startVpcRouter(hubSite, runDir, wiring);
    await startLanRouter(officeRouter);

    step("far ends' own jobs, before the bundle: office router (masquerade to the internet), Docker host");
    await addInternetHost(prefix, t.switchNs, t.internet.bridge);
    await makeOfficeRouter(host(wiring, officeGw), PUBLIC_NIC);
    const container = await makeDockerHost(host(wiring, branchGw), branchGw.ns, prefix);
    const before: Record<string, HostFirewallState> = {
      office: await hostFirewallState(host(wiring, officeGw)),
      branch: await hostFirewallState(host(wiring, branchGw)),
    };
    const BUNDLE_DIR = "/root/wg-s2s-bundle";
    const installMs: Record<string, number | null> = {};

    step("boot: hub gateway from its user-data; far ends installed from their bundle's README steps");
    const t0 = Date.now();
    const summaries: HostBootSummary[] = [];
    const summary = (n: LabNode): HostBootSummary => {
      const s = emptyBootSummary(n);
      summaries.push(s);
      return s;
    };
    const hubBoot = (async () => {
      const s = summary(hubGw);
      const h = host(wiring, hubGw);
      const ci = runUserData(h, program.userData("scaleway", "gateway"), { instanceId: `${prefix}-hub` });
      await sleep(3000);
      await hotplugPrivateNic(t, hubGw);
      const d = await runDhcpClient(h, PRIVATE_NIC);
      const ipam = bare(hubGw.privateNic.address!);
      if (d.address !== ipam) {
        s.ok = false;
        s.errors.push(`DHCP gave ${d.address ?? "nothing"}, expected the IPAM address ${ipam}`);
      }
      s.dhcp = { ok: d.ok, address: d.address, ms: d.ms };
      const r = await ci;
      s.cloudInitMs = r.finishedAt - r.startedAt;
      s.stages = r.stages;
      if (!r.ok) {
        s.ok = false;
        s.errors.push(...r.errors.map(maskSecrets));
      }
    })();
    const workloadBoot = (async () => {
      // Nothing of ours on this host: it only asks the network's DHCP, as an existing instance does.
      const s = summary(workload);
      const d = await runDhcpClient(host(wiring, workload), PRIVATE_NIC);
      s.dhcp = { ok: d.ok, address: d.address, ms: d.ms };
      if (d.address !== WORKLOAD_ADDRESS) {
        s.ok = false;
        s.errors.push(`DHCP gave ${d.address ?? "nothing"}: ${d.log}`);
      }
    })();
    // The far ends: each operator copies the bundle and runs its installer (README.txt).
    const farEndInstall = async (far: LabNode, files: Record<string, string>, form: string, extra: string[] = []) => {
      const s = summary(far);
      const h = host(wiring, far);
      try {
        await copyBundle(h, files, BUNDLE_DIR);
        const dry = await installSh(h, BUNDLE_DIR, ["install", "--form", form, ...extra, "--dry-run"]);
        const afterDry = await hostFirewallState(h);
        if (
          dry.code !== 0 ||
          afterDry.ruleset !== before[far.site].ruleset ||
          afterDry.leftovers !== before[far.site].leftovers
        )
          throw new Error(
            `install --dry-run changed the host or failed (exit ${dry.code}): ${dry.stderr.trim()} ${afterDry.leftovers}`,
          );
        const at = Date.now();
        const r = await installSh(h, BUNDLE_DIR, ["install", "--form", form, ...extra]);
        if (r.code !== 0) throw new Error(`install.sh install --form ${form}: exit ${r.code}: ${r.stderr.trim()}`);
        const checked = await installSh(h, BUNDLE_DIR, ["check", "--wait", "60"], 90_000);
        installMs[`${far.site} ${form}`] = checked.code === 0 ? Date.now() - at : null;
        if (checked.code !== 0) throw new Error(`install.sh check: ${checked.stdout.trim()}`);
      } catch (e) {
        s.ok = false;
        s.errors.push(maskSecrets((e as Error).message));
      }
      return s;
    };
    const officeBoot = (async () => {
      // The office's operator also takes the tunnel metrics (opt-in, local only).
      await farEndInstall(officeGw, bundles.office, "networkd", OFFICE_INSTALL_EXTRA);
      const hs = summary(officeHost);
      const d = await runDhcpClient(host(wiring, officeHost), PRIVATE_NIC);
      hs.dhcp = { ok: d.ok, address: d.address, ms: d.ms };
      if (!d.ok) {
        hs.ok = false;
        hs.errors.push(`DHCP from the office gateway's dnsmasq failed: ${d.log}`);
      }
    })();
    const branchBoot = (async () => {
      await farEndInstall(branchGw, bundles.branch, "netplan");
      const hs = summary(branchHost);
      const r = await host(wiring, branchHost).exec(["sh", "-c", bundles.branch[BUNDLE_FILES.routes]]);
      hs.routesSh = r.code === 0;
      if (r.code !== 0) {
        hs.ok = false;
        hs.errors.push(`routes.sh failed: ${r.stderr.trim()}`);
      }
    })();

    // First ping per site, from the workload host, measured while everything comes up.
    // The office host's address comes from its gateway's dnsmasq: known once its lease is bound.
    const officeAddr = async (): Promise<string | undefined> => {
      const leased = () => summaries.find((x) => x.host === officeHost.id)?.dhcp;
      await pollUntil(async () => leased() !== undefined, 120_000, 250);
      return leased()?.address;
    };
    const wl = execOf(wiring, workload);
    const firstPing = async (name: string, to: () => Promise<string | undefined>) => {
      const target = await to();
      if (!target) {
        result.metrics.timeToFirstPingMs[name] = null;
        return;
      }
      const ms = await waitForPing(wl, target, 120_000, 250);
      result.metrics.timeToFirstPingMs[name] = ms === null ? null : Date.now() - t0;
      log(
        `  ${name}: ${ms === null ? "NO ping from the workload within 120 s" : `first ping from the workload after ${((Date.now() - t0) / 1000).toFixed(1)} s`}`,
      );
    };
    await Promise.all([
      hubBoot,
      workloadBoot,
      officeBoot,
      branchBoot,
      firstPing("office", officeAddr),
      firstPing("branch", async () => "192.168.2.3"),
    ]);
    result.hosts = summaries;
    for (const h of summaries) checks.push(bootCheck(h));
    const times = Object.values(result.metrics.timeToFirstPingMs);
    result.metrics.timeToAllTunnelsMs =
      times.length && times.every((x) => x !== null) ? Math.max(...(times as number[])) : null;

    const officeH = host(wiring, officeGw);
    const branchH = host(wiring, branchGw);
    const officeLan = execOf(wiring, officeHost);
    const officeTarget = (await officeAddr()) ?? "192.168.1.0";
    const inetFrom = {
      office: () => ping(officeLan, INTERNET_HOST.address, 3, 0.2, 1),
      branch: () => ping((argv, o) => nsRun(container, argv, o), INTERNET_HOST.address, 3, 0.2, 1),
    };
    const tunnelTo = {
      office: () => ping(wl, officeTarget, 3, 0.2, 1),
      branch: () => ping(wl, "192.168.2.3", 3, 0.2, 1),
    };
    const pr: ProductionRun = {
      log,
      checks,
      faults,
      metrics: result.metrics,
      wiring,
      keepalive,
      nat,
      container,
      before,
      installMs,
      bundleDir: BUNDLE_DIR,
      hubGw,
      workload,
      officeHost,
      branchGw,
      branchHost,
      officeH,
      branchH,
      officeLan,
      wl,
      officeTarget,
      inetFrom,
      tunnelTo,
    };
    await runScenarios(PRODUCTION_SCENARIOS, "netns", pr, new Set(), step);
  } catch (e) {
    result.error = maskSecrets((e as Error).stack ?? String(e));
    log(`ERROR: ${result.error}`);
  } finally {
    step("cleanup: every process, namespace and temp dir of this run");
    result.namespacesLeft = await run.finish();
  }
  return concludeLabRun(run, result, opts.resultsFile);
}

/** What the production scenarios work with: the run's hosts, the far ends' state before the bundle, probes. */
interface ProductionRun {
  log: (line: string) => void;
  checks: LabCheck[];
  faults: Record<string, number | string | boolean | null>;
  metrics: LabMetrics;
  wiring: Wiring;
  keepalive: number;
  /** The office's NAT router namespace. */
  nat: string;
  /** The Docker container's namespace on the branch. */
  container: string;
  before: Record<string, HostFirewallState>;
  installMs: Record<string, number | null>;
  bundleDir: string;
  hubGw: LabNode;
  workload: LabNode;
  officeHost: LabNode;
  branchGw: LabNode;
  branchHost: LabNode;
  officeH: LabHost;
  branchH: LabHost;
  officeLan: Exec;
  wl: Exec;
  officeTarget: string;
  inetFrom: Record<"office" | "branch", () => Promise<PingStats>>;
  tunnelTo: Record<"office" | "branch", () => Promise<PingStats>>;
}

const answered = (p: { received: number }) => p.received > 0;

/** The production shape after boot: productionTopology plus these scenarios, in order. */
export const PRODUCTION_SCENARIOS: readonly Scenario<ProductionRun>[] = [
  {
    name: "ping test: the unconfigured workload <-> each office LAN host",
    backends: ["netns"],
    needs: [],
    checks: "DHCP-only routes on the workload host, ping both ways per far end, no spoke-to-spoke (negative control)",
    run: pingTest,
  },
  {
    name: "coexistence: the far ends' own flows, Docker, the office firewall's restarts, install twice",
    backends: ["netns"],
    needs: [],
    checks:
      "the far ends' own flows with the bundle, idempotent install, Docker's and ufw's policies, firewall restarts, fail closed",
    run: coexistence,
  },
  {
    name: `fault: the office NAT's public address changes ${OFFICE_NAT_BEFORE} -> ${OFFICE_NAT_AFTER}`,
    backends: ["netns"],
    needs: [],
    checks: "traffic to the office flows again within keepalive + 20 s, through the new endpoint",
    run: natAddressChange,
  },
  {
    name: "fault: hub tunnel restart (endpoint known for branch; none for the dynamic office)",
    backends: ["netns"],
    needs: [],
    checks: "both far ends recover after the hub's tunnel restarts",
    run: hubRestart,
  },
  {
    name: "uninstall, and the third form: each far end back to what it was",
    backends: ["netns"],
    needs: [],
    checks:
      "uninstall restores ruleset, forwarding and files; the wg-quick form on a ufw host, with ufw's rule as negative control",
    run: uninstallAndThirdForm,
  },
];

/** The workload host, configured only by the network's DHCP, reaches each far end's LAN host; the far ends do not reach each other. */
async function pingTest(p: ProductionRun): Promise<void> {
  const { checks, metrics, wiring, workload, officeHost, branchHost, wl, officeTarget } = p;
  const routes = (await wl(["ip", "-4", "route", "show"])).stdout;
  const dhcpRoutes = ["192.168.1.0/24", "192.168.2.0/24"].filter((d) => routes.includes(`${d} via 192.168.0.1`));
  checks.push(
    check(
      "workload host learnt the remote LANs from the network's DHCP only",
      "ping",
      "pass",
      dhcpRoutes.length === 2,
      `routes via the VPC router: ${dhcpRoutes.join(", ") || "none"}`,
    ),
  );
  for (const [name, target, far] of [
    ["office", officeTarget, officeHost],
    ["branch", "192.168.2.3", branchHost],
  ] as const) {
    const there = await ping(wl, target, 5, 0.2, 2);
    const back = await ping(execOf(wiring, far), WORKLOAD_ADDRESS, 5, 0.2, 2);
    metrics.rttAvgMs[name] = there.rttAvgMs ?? null;
    checks.push(
      check(
        `ping ${workload.id} <-> ${far.id} (${target})`,
        "ping",
        "pass",
        there.received > 0 && back.received > 0,
        `${there.received}/${there.transmitted} there, ${back.received}/${back.transmitted} back, rtt ${there.rttAvgMs ?? "-"} ms`,
      ),
    );
  }
  // Negative control: the two offices may not talk (allowSpokeToSpoke is off on both).
  const across = await ping(execOf(wiring, officeHost), "192.168.2.3", 3, 0.2, 1);
  checks.push(
    check(
      "negative control: office LAN -> branch LAN through the hub (spoke-to-spoke off)",
      "negative-control",
      "fail",
      across.received > 0,
      `${across.received}/${across.transmitted} replies`,
    ),
  );
}

/** The far ends' own flows, Docker and the office firewall's restarts beside the bundle; install twice; fail closed. */
async function coexistence(p: ProductionRun): Promise<void> {
  const {
    checks,
    faults,
    bundleDir: BUNDLE_DIR,
    officeH,
    branchH,
    officeLan,
    wl,
    officeTarget,
    inetFrom,
    tunnelTo,
  } = p;
  // The office LAN host's internet traffic goes through the office gateway (its router).
  await officeLan(["ip", "route", "replace", `${INTERNET_HOST.address}/32`, "via", "192.168.1.2"]);
  for (const [site, label] of [
    ["office", `office LAN -> internet host (masqueraded by the office router)`],
    ["branch", `container ${DOCKER_BRIDGE.container} -> internet host (Docker's masquerade)`],
  ] as const) {
    const p = await inetFrom[site]();
    checks.push(
      check(
        `coexistence: ${label} with the bundle installed`,
        "fault",
        "pass",
        answered(p),
        `${p.received}/${p.transmitted}`,
      ),
    );
  }
  // install --metrics: the office's collector reports its tunnel to the hub in node_exporter's file.
  const hubPingUp = new RegExp(`^wg_s2s_peer_ping_up\\{[^}]*peer="${HUB_SITE}"[^}]*\\} 1$`, "m");
  let prom = "";
  const promMs = await pollUntil(
    async () => {
      const r = await officeH.exec(["cat", METRICS_PATHS.textfile]);
      prom = r.stdout;
      return r.code === 0 && hubPingUp.test(prom);
    },
    30_000,
    1000,
  );
  checks.push(
    check(
      `office: install.sh install --metrics -> ${METRICS_UNIT} writes ${METRICS_PATHS.textfile}, the tunnel to the hub up`,
      "fault",
      "pass",
      promMs !== null,
      promMs !== null
        ? `wg_s2s_peer_ping_up 1 for ${HUB_SITE}`
        : `no such line within 30 s: ${
            prom
              .split("\n")
              .filter((l) => l.startsWith("wg_s2s_peer_ping_up"))
              .join(" | ") || "no file"
          }`,
    ),
  );
  for (const [site, h] of [
    ["office", officeH],
    ["branch", branchH],
  ] as const) {
    const rulesetBefore = (await hostFirewallState(h)).ruleset;
    const again = await installSh(h, BUNDLE_DIR, [
      "install",
      "--form",
      site === "office" ? "networkd" : "netplan",
      ...(site === "office" ? OFFICE_INSTALL_EXTRA : []),
    ]);
    const rulesetAfter = (await hostFirewallState(h)).ruleset;
    checks.push(
      check(
        `idempotent: ${site} install.sh install run twice changes nothing`,
        "fault",
        "pass",
        again.code === 0 &&
          again.stdout.includes("nothing changed") &&
          !/^\+ /m.test(again.stdout) &&
          rulesetBefore === rulesetAfter,
        `exit ${again.code}; ${again.stdout.trim().split("\n").slice(-2).join(" | ")}; ruleset ${firstDifference(rulesetBefore, rulesetAfter)}`,
      ),
    );
  }
  // Docker's FORWARD chain drops by default: without the DOCKER-USER accepts, no tunnel traffic.
  await branchH.execOk(["/usr/local/sbin/wg-s2s-fw", "docker-remove"]);
  const withoutAccepts = await tunnelTo.branch();
  await branchH.execOk(["/usr/local/sbin/wg-s2s-fw", "docker-accept"]);
  const withAccepts = await tunnelTo.branch();
  checks.push(
    check(
      "negative control: Docker host without the DOCKER-USER accepts -> tunnel traffic dropped by Docker's FORWARD policy",
      "negative-control",
      "fail",
      answered(withoutAccepts),
      `${withoutAccepts.received}/${withoutAccepts.transmitted} replies`,
    ),
    check(
      "Docker host with the DOCKER-USER accepts -> tunnel traffic passes",
      "fault",
      "pass",
      answered(withAccepts),
      `${withAccepts.received}/${withAccepts.transmitted}`,
    ),
  );
  // Today's bundle judged every forwarded packet: --dedicated is that policy.
  const dedicated = await installSh(officeH, BUNDLE_DIR, [
    "install",
    "--form",
    "networkd",
    "--dedicated",
    ...OFFICE_INSTALL_EXTRA,
  ]);
  const inetDedicated = await inetFrom.office();
  const tunnelDedicated = await tunnelTo.office();
  const backToTunnelScope = await installSh(officeH, BUNDLE_DIR, [
    "install",
    "--form",
    "networkd",
    ...OFFICE_INSTALL_EXTRA,
  ]);
  const inetScoped = await inetFrom.office();
  checks.push(
    check(
      "negative control: the previous bundle's policy (--dedicated: drop every other forwarded packet) cuts the office router's own LAN -> internet flow",
      "negative-control",
      "fail",
      dedicated.code !== 0 || answered(inetDedicated),
      `install exit ${dedicated.code}; ${inetDedicated.received}/${inetDedicated.transmitted} replies; tunnel ${tunnelDedicated.received}/${tunnelDedicated.transmitted}`,
    ),
    check(
      "office router back on the tunnel-only policy: its LAN -> internet flow passes again",
      "fault",
      "pass",
      backToTunnelScope.code === 0 && answered(inetScoped),
      `install exit ${backToTunnelScope.code}; ${inetScoped.received}/${inetScoped.transmitted}`,
    ),
  );
  // The office's own firewall restarts: each begins with `flush ruleset`, ours included.
  const hasTable = async () => (await officeH.exec(["nft", "list", "table", "inet", "wg_s2s"])).code === 0;
  const restarts: [string, string[]][] = [
    ["systemctl restart nftables.service", ["systemctl", "restart", "nftables.service"]],
    ["systemctl reload nftables.service", ["systemctl", "reload", "nftables.service"]],
    ["nft -f /etc/nftables.conf", ["nft", "-f", "/etc/nftables.conf"]],
  ];
  for (const [label, argv] of restarts) {
    const at = Date.now();
    const r = await officeH.exec(argv, { timeoutMs: 20_000 });
    const back = await pollUntil(hasTable, 5_000, 50);
    const backMs = back === null ? null : Date.now() - at;
    const tunnel = await tunnelTo.office();
    const own = await inetFrom.office();
    faults[`policyBackAfter ${label}`] = backMs;
    checks.push(
      check(
        `office firewall restart (${label}) -> forward policy back, tunnel and the router's own flow work`,
        "fault",
        "pass",
        r.code === 0 && backMs !== null && answered(tunnel) && answered(own),
        `exit ${r.code}; policy ${backMs === null ? "NOT back within 5 s" : `back after ${backMs} ms`}; tunnel ${tunnel.received}/${tunnel.transmitted}, LAN -> internet ${own.received}/${own.transmitted}`,
      ),
    );
  }
  await officeH.execOk(["systemctl", "stop", "wg-s2s-guard.service"]);
  await officeH.execOk(["nft", "-f", "/etc/nftables.conf"]);
  await sleep(2_000);
  const unguarded = await hasTable();
  await officeH.execOk(["systemctl", "start", "wg-s2s-guard.service"]);
  const reguarded = await pollUntil(hasTable, 5_000, 50);
  checks.push(
    check(
      "negative control: without wg-s2s-guard a firewall reload leaves the forward policy gone",
      "negative-control",
      "fail",
      unguarded,
      `table inet wg_s2s ${unguarded ? "present" : "absent"} 2 s after nft -f; guard restarted: ${reguarded === null ? "NOT loaded" : "loaded again"}`,
    ),
  );

  // Fail closed: a reload the guard cannot follow (its policy file unreadable) takes wg0 down.
  await officeH.execOk(["mv", "/etc/wg-s2s/forward.nft", "/etc/wg-s2s/forward.nft.off"]);
  await officeH.execOk(["nft", "-f", "/etc/nftables.conf"]);
  const wg0Down = await pollUntil(
    async () => !(await officeH.exec(["ip", "link", "show", "wg0", "up"])).stdout.includes("UP"),
    5_000,
    50,
  );
  const closedTunnel = await tunnelTo.office();
  const closedOwn = await inetFrom.office();
  await officeH.execOk(["mv", "/etc/wg-s2s/forward.nft.off", "/etc/wg-s2s/forward.nft"]);
  await officeH.execOk(["systemctl", "reload", "wg-s2s-firewall.service"]);
  const reopened = await waitForPing(wl, officeTarget, 15_000, 250);
  checks.push(
    check(
      "fail closed: a firewall reload while the policy cannot load -> the guard takes wg0 down, no tunnel traffic; the router's own flow goes on",
      "fault",
      "pass",
      wg0Down !== null && !answered(closedTunnel) && answered(closedOwn),
      `wg0 ${wg0Down === null ? "still up" : "down"}; tunnel ${closedTunnel.received}/${closedTunnel.transmitted}, LAN -> internet ${closedOwn.received}/${closedOwn.transmitted}`,
    ),
    check(
      "the policy loads again (systemctl reload wg-s2s-firewall) -> the guard brings wg0 back, tunnel traffic passes",
      "fault",
      "pass",
      reopened !== null,
      reopened === null ? "no ping within 15 s" : `ping after ${reopened} ms`,
    ),
  );
}

/** The office NAT's public address changes: the hub learns the new endpoint, traffic flows again. */
async function natAddressChange(p: ProductionRun): Promise<void> {
  const { log, checks, faults, wiring, keepalive, nat, hubGw, wl, officeTarget } = p;
  await changeNatAddress(nat, OFFICE_NAT_BEFORE, OFFICE_NAT_AFTER);
  const changedAt = Date.now();
  const boundS = keepalive + 20;
  const back = await waitForPing(wl, officeTarget, boundS * 1000, 250);
  const recovery = back === null ? null : Date.now() - changedAt;
  const endpoints = (await execOf(wiring, hubGw)(["wg", "show", "wg0", "endpoints"])).stdout;
  const roamed = endpoints.includes(`${OFFICE_NAT_AFTER}:`);
  faults.officeAddressChangeRecoveryMs = recovery;
  faults.officeAddressChangeAimMs = (keepalive + 5) * 1000;
  checks.push(
    check(
      `fault: office public address changes behind NAT -> traffic flows again`,
      "fault",
      "pass",
      recovery !== null && roamed,
      recovery === null
        ? `no ping within ${boundS} s`
        : `after ${recovery} ms (aim: keepalive ${keepalive} s + 5 s = ${(keepalive + 5) * 1000} ms, ${recovery <= (keepalive + 5) * 1000 ? "met" : "MISSED"}); hub endpoint now ${roamed ? OFFICE_NAT_AFTER : "unchanged"}`,
      { recoveryMs: recovery },
    ),
  );
  log(
    `  office address change: ${recovery === null ? "NOT recovered" : `traffic again after ${(recovery / 1000).toFixed(1)} s`}`,
  );
}

/** The hub's tunnel restarts: branch (endpoint known) and the dynamic office (none) recover. */
async function hubRestart(p: ProductionRun): Promise<void> {
  const { log, checks, faults, wiring, hubGw, wl, officeTarget } = p;
  const hubExec = execOf(wiring, hubGw);
  const restarted = Date.now();
  const rr = await hubExec(["sh", "-c", RESTART_TUNNEL_SCRIPT], { timeoutMs: 30_000 });
  // From the moment the restart began (the restart command itself counts), per site.
  const recovered = async (to: string) =>
    (await waitForPing(wl, to, 60_000, 100)) === null ? null : Date.now() - restarted;
  const [branchMs, officeBackMs] = await Promise.all([recovered("192.168.2.3"), recovered(officeTarget)]);
  faults.hubRestartBranchRecoveryMs = branchMs;
  faults.hubRestartOfficeRecoveryMs = officeBackMs;
  checks.push(
    check(
      "fault: hub tunnel restart -> branch (hub holds its endpoint) recovers",
      "fault",
      "pass",
      rr.code === 0 && branchMs !== null,
      branchMs === null ? `no ping within 60 s (restart exit ${rr.code})` : `after ${branchMs} ms`,
      { recoveryMs: branchMs },
    ),
    check(
      "fault: hub tunnel restart -> dynamic office recovers (far end re-handshakes)",
      "fault",
      "pass",
      rr.code === 0 && officeBackMs !== null,
      officeBackMs === null ? "no ping within 60 s" : `after ${officeBackMs} ms`,
      { recoveryMs: officeBackMs },
    ),
  );
  log(
    `  hub restart: branch back after ${branchMs ?? "-"} ms, office after ${officeBackMs ?? "-"} ms (restart exit ${rr.code})`,
  );
}

/** Each far end uninstalled back to what it was; the branch, made a ufw host, installed in the wg-quick form. */
async function uninstallAndThirdForm(p: ProductionRun): Promise<void> {
  const {
    log,
    checks,
    faults,
    wiring,
    container,
    before,
    installMs,
    bundleDir: BUNDLE_DIR,
    branchGw,
    branchHost,
    officeH,
    branchH,
    wl,
    inetFrom,
    tunnelTo,
  } = p;
  const restored = async (b: HostFirewallState, h: LabHost, label: string) => {
    const r = await installSh(h, BUNDLE_DIR, ["uninstall"]);
    const after = await hostFirewallState(h);
    checks.push(
      check(
        `uninstall ${label} -> ruleset, IPv4 forwarding and files as before the install`,
        "fault",
        "pass",
        r.code === 0 &&
          after.ruleset === b.ruleset &&
          after.ipForward === b.ipForward &&
          after.leftovers === b.leftovers,
        `exit ${r.code}${r.code ? `: ${r.stderr.trim()}` : ""}; ruleset ${firstDifference(b.ruleset, after.ruleset)}; ip_forward ${b.ipForward} -> ${after.ipForward}; files ${after.leftovers === b.leftovers ? "as before" : `now: ${after.leftovers.replace(/\n/g, " ")}`}`,
      ),
    );
  };
  await restored(before.office, officeH, "office (networkd form)");
  const ownAfter = await inetFrom.office();
  checks.push(
    check(
      "office router's own flow works after uninstall",
      "fault",
      "pass",
      answered(ownAfter),
      `${ownAfter.received}/${ownAfter.transmitted}`,
    ),
  );
  await restored(before.branch, branchH, "branch (netplan form)");
  // The branch becomes a Debian box with ufw (forwarded traffic dropped by default).
  await makeUfwHost(branchH, branchGw.ns, container);
  // An earlier hand-made tunnel's config, not running: install keeps it aside, uninstall puts it back.
  const handMade = "# the operator's earlier wg-quick tunnel, not running\n[Interface]\n";
  await branchH.writeFile("/etc/wireguard/wg0.conf", handMade, "0600");
  const beforeUfw = await hostFirewallState(branchH);
  const wgQuickAt = Date.now();
  const wgQuick = await installSh(branchH, BUNDLE_DIR, ["install", "--form", "wg-quick"]);
  const wgQuickCheck = await installSh(branchH, BUNDLE_DIR, ["check", "--wait", "60"], 90_000);
  installMs["branch wg-quick"] = wgQuickCheck.code === 0 ? Date.now() - wgQuickAt : null;
  const wgQuickPing = await tunnelTo.branch();
  checks.push(
    check(
      "branch, now a ufw host, reinstalled in the wg-quick form: check passes, the workload reaches the branch host",
      "fault",
      "pass",
      wgQuick.code === 0 && wgQuickCheck.code === 0 && answered(wgQuickPing),
      `install exit ${wgQuick.code}, check exit ${wgQuickCheck.code}; ${
        wgQuickCheck.stdout
          .trim()
          .split("\n")
          .filter((l) => l.startsWith("FAIL"))
          .join(" | ") || "all ok"
      }; ping ${wgQuickPing.received}/${wgQuickPing.transmitted}`,
    ),
  );
  // TCP, not ping: ufw's before.rules forward ICMP echo whatever the route rules say.
  const tcpToBranch = () =>
    iperf3(
      { exec: execOf(wiring, branchHost), spawn: (argv) => host(wiring, branchHost).spawn(argv) },
      wl,
      "192.168.2.3",
      {
        seconds: 1,
        hardTimeoutMs: 15_000,
      },
    );
  await branchH.execOk(["ufw", "route", "delete", "allow", "in", "on", "wg0"]);
  const withoutUfwRule = await tcpToBranch();
  await branchH.execOk(["ufw", "route", "allow", "in", "on", "wg0", "comment", "wg-s2s"]);
  const withUfwRule = await tcpToBranch();
  checks.push(
    check(
      "negative control: ufw host without install.sh's `ufw route allow in on wg0` -> ufw drops TCP from the hub's network",
      "negative-control",
      "fail",
      withoutUfwRule.ok,
      withoutUfwRule.ok ? "TCP connected" : (withoutUfwRule.error ?? "no connection").slice(0, 200),
    ),
    check(
      "ufw host with the rule back -> TCP from the hub's network passes",
      "fault",
      "pass",
      withUfwRule.ok,
      withUfwRule.ok ? "TCP connected" : (withUfwRule.error ?? "no connection").slice(0, 200),
    ),
  );
  await restored(beforeUfw, branchH, "branch with ufw (wg-quick form)");
  const putBack = await branchH.readFile("/etc/wireguard/wg0.conf");
  checks.push(
    check(
      "a file install found in its way (an earlier hand-made wg0.conf) is put back by uninstall",
      "fault",
      "pass",
      putBack === handMade,
      putBack === handMade ? "same content" : `now: ${JSON.stringify((putBack ?? "absent").slice(0, 80))}`,
    ),
  );
  for (const [k, v] of Object.entries(installMs)) faults[`installToCheckedMs ${k}`] = v;
  log(
    `  install -> check passed: ${Object.entries(installMs)
      .map(([k, v]) => `${k} ${v ?? "-"} ms`)
      .join(", ")}`,
  );
}

/**
 * Restart a gateway's tunnel whichever way its user-data brought it up: a networkd netdev
 * is deleted and re-created by `networkctl reload` (networkd never re-creates an existing
 * netdev); a wg-quick tunnel is restarted by its unit.
 */
export const RESTART_TUNNEL_SCRIPT =
  "if ls /etc/systemd/network/*.netdev >/dev/null 2>&1; then ip link delete wg0 && networkctl reload; " +
  "else systemctl restart wg-quick@wg0.service; fi";

function host(w: Wiring, n: LabNode): LabHost {
  const h = w.hosts.get(n.id);
  if (!h) throw new Error(`no lab host for ${n.id}`);
  return h;
}

const execOf =
  (w: Wiring, n: LabNode): Exec =>
  (argv, o) =>
    host(w, n).exec(argv, o);

/**
 * The ISP gives the office a new address: the NAT's public address changes. Removing the
 * old address makes the kernel drop the masquerade mappings that used it (as a router
 * that re-dials does), so the office's next packet leaves from the new address.
 */
async function changeNatAddress(ns: string, from: string, to: string): Promise<void> {
  await ipIn(ns, ["addr", "del", `${from}/24`, "dev", "wan"]);
  await ipIn(ns, ["addr", "add", `${to}/24`, "dev", "wan"]);
}
