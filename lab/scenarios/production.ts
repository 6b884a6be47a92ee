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
 * The far ends are installed by running their README's steps. Then the hub's tunnel is
 * restarted (the hub holds an endpoint for branch, none for the dynamic office).
 */
import * as path from "path";
import { runProgram } from "../../testkit/programRun";
import { waitForPing, ping, type Exec } from "../checks";
import { runUserData } from "../cloudinit";
import { LabHost } from "../host";
import { addBridge, addNetns, addVethPair, attachToBridge, ipIn, nsRunOk } from "../netns";
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
import { check, emptyBootSummary, emptyMetrics, maskSecrets, type HostBootSummary, type LabResult } from "../results";
import { buildNetworkctlShim, buildSystemctlShim } from "../standins/build";
import { standInsFor } from "../standins/list";
import { PRIVATE_NIC, PUBLIC_NIC, type LabNode } from "../topology";
import { NETWORKD_FILES, NETWORKD_PATHS } from "../../rendering/bundleNetworkd";
import { NETPLAN_FILES, NETPLAN_PATH } from "../../rendering/bundleNetplan";
import { BUNDLE_FILES } from "../../rendering/operatorBundle";
import { PATHS, UNITS } from "../../cloud-init/common";

import {
  hubFromResources,
  HUB_PUBLIC,
  OFFICE_NAT_AFTER,
  OFFICE_NAT_BEFORE,
  OFFICE_WAN,
  PRODUCTION_NETWORK,
  productionLabConfig,
  productionTopology,
  T,
  WORKLOAD_ADDRESS,
} from "./productionTopology";

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
      "office: external dhcp, no publicIp, behind NAT, systemd-networkd bundle form; NAT public address changes mid-run",
      "branch: external static, fixed publicIp, netplan bundle form (netplan generate)",
    ],
    hosts: [],
    standIns: [
      ...standInsFor("netns"),
      {
        name: "NAT router namespace in front of the office (nftables masquerade)",
        replaces: "the office's ISP router, and the ISP re-assigning its public address",
        why: "a dynamic-IP office behind NAT; the address change removes the old address, so the kernel drops its masquerade mappings as a re-dialling router does",
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
    const declaredNetworks = program.resources.filter((r) => r.type === T.vpc || r.type === T.pn).length;
    checks.push(
      check(
        "program declares no VPC and no private network for the existing network",
        "boot",
        "pass",
        declaredNetworks === 0,
        `${declaredNetworks} Vpc/PrivateNetwork resources declared`,
      ),
    );
    const hubNic = hubFromResources(program.resources);
    log(`    hub gateway ${hubNic.address} (IPAM), VPC routes: ${hubNic.routes.map((r) => r.destination).join(", ")}`);
    const bundles = {
      office: program.operatorBundle("office"),
      branch: program.operatorBundle("branch"),
    };
    const cfg = program.config;
    const keepalive = cfg.tunnel.keepaliveSeconds;
    result.metrics.mtu.tunnelMtu = cfg.tunnel.mtu;

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
    } = productionTopology(prefix, hubNic, cfg);
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
      if (d.address !== hubNic.address) {
        s.ok = false;
        s.errors.push(`DHCP gave ${d.address ?? "nothing"}, expected the IPAM address ${hubNic.address}`);
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
    const officeBoot = (async () => {
      const s = summary(officeGw);
      const b = bundles.office;
      const h = host(wiring, officeGw);
      try {
        await installPolicyAndForwarding(h, b);
        // networkd form, README step 3.
        await h.writeFile(NETWORKD_PATHS.netdev, b[NETWORKD_FILES.netdev], "0640");
        await h.writeFile(NETWORKD_PATHS.network, b[NETWORKD_FILES.network]);
        await h.execOk(["networkctl", "reload"]);
        // README step 4 (dhcp): the bundle's dnsmasq config.
        await h.writeFile(PATHS.dnsmasq, b[BUNDLE_FILES.dnsmasq]);
        await h.execOk(["systemctl", "restart", UNITS.dnsmasq], { timeoutMs: 30_000 });
      } catch (e) {
        s.ok = false;
        s.errors.push(maskSecrets((e as Error).message));
      }
      const hs = summary(officeHost);
      const d = await runDhcpClient(host(wiring, officeHost), PRIVATE_NIC);
      hs.dhcp = { ok: d.ok, address: d.address, ms: d.ms };
      if (!d.ok) {
        hs.ok = false;
        hs.errors.push(`DHCP from the office gateway's dnsmasq failed: ${d.log}`);
      }
    })();
    const branchBoot = (async () => {
      const s = summary(branchGw);
      const b = bundles.branch;
      const h = host(wiring, branchGw);
      try {
        await installPolicyAndForwarding(h, b);
        // netplan form, README step 3: netplan renders networkd files into /run, networkd applies them.
        await h.writeFile(NETPLAN_PATH, b[NETPLAN_FILES.config], "0600");
        await h.execOk(["netplan", "generate"], { timeoutMs: 30_000 });
        await h.execOk(["networkctl", "reload"]);
      } catch (e) {
        s.ok = false;
        s.errors.push(maskSecrets((e as Error).message));
      }
      const hs = summary(branchHost);
      const r = await host(wiring, branchHost).exec(["sh", "-c", b[BUNDLE_FILES.routes]]);
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
    for (const h of summaries)
      checks.push(
        check(
          `boot ${h.host} (${h.provisioning})`,
          "boot",
          "pass",
          h.ok,
          h.ok
            ? `${h.cloudInitMs !== null ? `cloud-init ${h.cloudInitMs} ms` : h.provisioning === "operator-bundle" ? "bundle installed" : "no user-data"}${h.dhcp ? `, DHCP ${h.dhcp.address}` : ""}${h.routesSh ? ", routes.sh applied" : ""}`
            : h.errors.join(" | ").slice(0, 600),
        ),
      );
    const times = Object.values(result.metrics.timeToFirstPingMs);
    result.metrics.timeToAllTunnelsMs =
      times.length && times.every((x) => x !== null) ? Math.max(...(times as number[])) : null;

    step("ping test: the unconfigured workload <-> each office LAN host");
    const officeTarget = (await officeAddr()) ?? "192.168.1.0";
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
      result.metrics.rttAvgMs[name] = there.rttAvgMs ?? null;
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

    step(`fault: the office NAT's public address changes ${OFFICE_NAT_BEFORE} -> ${OFFICE_NAT_AFTER}`);
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

    step("fault: hub tunnel restart (endpoint known for branch; none for the dynamic office)");
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
  } catch (e) {
    result.error = maskSecrets((e as Error).stack ?? String(e));
    log(`ERROR: ${result.error}`);
  } finally {
    step("cleanup: every process, namespace and temp dir of this run");
    result.namespacesLeft = await run.finish();
  }
  return concludeLabRun(run, result, opts.resultsFile);
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

/** README step 2 of the networkd and netplan forms: the unit loads the forward policy, then switches forwarding on. */
async function installPolicyAndForwarding(h: LabHost, b: Record<string, string>): Promise<void> {
  await h.writeFile(PATHS.forwardPolicy, b[BUNDLE_FILES.forwardPolicy]);
  await h.writeFile(PATHS.firewallUnit, b[BUNDLE_FILES.firewallUnit]);
  await h.execOk(["systemctl", "daemon-reload"]);
  await h.execOk(["systemctl", "enable", "--now", UNITS.firewall], { timeoutMs: 30_000 });
}

/**
 * The ISP gives the office a new address: the NAT's public address changes. Removing the
 * old address makes the kernel drop the masquerade mappings that used it (as a router
 * that re-dials does), so the office's next packet leaves from the new address.
 */
async function changeNatAddress(ns: string, from: string, to: string): Promise<void> {
  await ipIn(ns, ["addr", "del", `${from}/24`, "dev", "wan"]);
  await ipIn(ns, ["addr", "add", `${to}/24`, "dev", "wan"]);
}
