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
import * as fs from "fs";
import * as path from "path";
import { runProgram, type DeclaredResource } from "../../testkit/programRun";
import { waitForPing, ping, type Exec } from "../checks";
import { runUserData } from "../cloudinit";
import { LabHost } from "../host";
import { listNetns, addBridge, addNetns, addVethPair, attachToBridge, ipIn, nsRunOk } from "../netns";
import {
  buildSwitch,
  hotplugPrivateNic,
  runDhcpClient,
  startLanRouter,
  startVpcRouter,
  wireNode,
  type Wiring,
} from "../network";
import { RESULTS_DIR, RUNS_DIR } from "../paths";
import { preflight } from "../preflight";
import { LabCannotRun } from "../run";
import { pollUntil, sleep } from "../proc";
import { check, maskSecrets, renderTable, type HostBootSummary, type LabResult } from "../results";
import { buildNetworkctlShim, buildSystemctlShim } from "../standins/build";
import { standInsFor } from "../standins/list";
import {
  cleanupLeftovers,
  destroyRun,
  newPrefix,
  prefixOf,
  removeRunState,
  startReaper,
  writeRunState,
} from "../state";
import {
  INTERNET_SUBNET,
  labMac,
  PRIVATE_NIC,
  PUBLIC_NIC,
  type LabNode,
  type LabSite,
  type LabTopology,
  publicMac,
} from "../topology";
import { LAB_ADMIN_CIDR } from "../labConfig";
import { NETWORKD_FILES, NETWORKD_PATHS } from "../../rendering/bundleNetworkd";
import { NETPLAN_FILES, NETPLAN_PATH } from "../../rendering/bundleNetplan";
import { BUNDLE_FILES } from "../../rendering/operatorBundle";
import { PATHS, UNITS } from "../../cloud-init/common";

/** The existing network the hub joins (what the user's Scaleway project holds). */
export const PRODUCTION_NETWORK = {
  id: "0a77ac4e-d000-4000-8000-000000000001",
  vpcId: "fr-par/0a77ac4e-d000-4000-8000-0000000000fc",
  subnet: "192.168.0.0/24",
};
const HUB_PUBLIC = "198.51.100.10";
const BRANCH_PUBLIC = "198.51.100.12";
/** The office NAT's public address before and after the ISP changes it. */
const OFFICE_NAT_BEFORE = "198.51.100.21";
const OFFICE_NAT_AFTER = "198.51.100.22";
/** The segment between the office gateway and its NAT router (carrier-grade NAT space). */
const OFFICE_WAN = { nat: "100.64.1.1", gateway: "100.64.1.2", len: 24, bridge: "br-o1wan" };
/** The address the hub network's DHCP/IPAM gives the workload (an existing instance). */
const WORKLOAD_ADDRESS = "192.168.0.50";

/** The stack config of the scenario: exactly what a user would set. */
export function productionLabConfig(): Record<string, unknown> {
  return {
    adminCidrs: [LAB_ADMIN_CIDR],
    scalewaySite: {
      privateNetworkId: PRODUCTION_NETWORK.id,
      subnet: PRODUCTION_NETWORK.subnet,
      gatewayAddress: "192.168.0.2",
    },
    remoteSites: [
      {
        name: "office",
        kind: "external",
        subnet: "192.168.1.0/24",
        gatewayAddress: "192.168.1.2",
        tunnelAddress: "172.16.0.2",
        routePropagation: "dhcp",
        lanRouter: "192.168.1.1",
      },
      {
        name: "branch",
        kind: "external",
        subnet: "192.168.2.0/24",
        gatewayAddress: "192.168.2.2",
        testHostAddress: "192.168.2.3",
        tunnelAddress: "172.16.0.3",
        routePropagation: "static",
        publicIp: BRANCH_PUBLIC,
      },
    ],
  };
}

const T = {
  vpc: "scaleway:network/vpc:Vpc",
  pn: "scaleway:network/privateNetwork:PrivateNetwork",
  nic: "scaleway:instance/privateNic:PrivateNic",
  ipam: "scaleway:ipam/ip:Ip",
  route: "scaleway:network/route:Route",
};

/** The hub gateway's NIC (MAC, IPAM address) and the routes declared into the existing VPC. */
function hubFromResources(resources: DeclaredResource[]) {
  const nics = resources.filter((r) => r.type === T.nic);
  if (nics.length !== 1) throw new Error(`expected one private NIC (the hub gateway's), got ${nics.length}`);
  const nic = nics[0];
  const ip = resources.find((r) => r.type === T.ipam && r.id === nic.inputs.ipamIpIds?.[0]);
  if (!ip) throw new Error("the hub gateway's NIC has no IPAM address");
  const routes = resources
    .filter((r) => r.type === T.route && r.inputs.vpcId === PRODUCTION_NETWORK.vpcId)
    .map((r) => {
      if (r.inputs.nexthopResourceId !== nic.id) throw new Error(`${r.name} does not point at the gateway's NIC`);
      return { destination: r.inputs.destination as string, nexthop: ip.inputs.address as string, resource: r.name };
    })
    .sort((a, b) => a.destination.localeCompare(b.destination));
  return { mac: nic.state.macAddress as string, address: ip.inputs.address as string, routes };
}

const node = (
  prefix: string,
  index: number,
  site: string,
  short: string,
  role: LabNode["role"],
  provisioning: LabNode["provisioning"],
  nic: Omit<LabNode["privateNic"], "name" | "switchPort">,
  publicAddress?: string,
): LabNode => ({
  id: `${site}-${short}`,
  ns: `${prefix}-${site}-${short}`,
  site,
  role,
  provisioning,
  privateNic: { ...nic, name: PRIVATE_NIC, switchPort: `s${index}-${short}` },
  ...(publicAddress
    ? {
        publicNic: {
          name: PUBLIC_NIC,
          address: `${publicAddress}/24`,
          mac: publicMac(index),
          switchPort: `s${index}-pub`,
        },
      }
    : {}),
});

export interface ProductionOptions {
  log?: (line: string) => void;
  keep?: boolean;
  resultsFile?: string;
  keySeed?: string;
}

export async function runProduction(opts: ProductionOptions = {}): Promise<LabResult> {
  const log = opts.log ?? ((l: string) => console.log(l));
  const pf = preflight();
  if (!pf.ok) throw new LabCannotRun(pf.problems, pf.missingPackages);
  const started = Date.now();
  let stepNo = 0;
  const step = (what: string) => log(`[${++stepNo}] ${what} (+${((Date.now() - started) / 1000).toFixed(1)} s)`);
  for (const r of await cleanupLeftovers())
    log(`removed leftovers of run ${r.prefix}: ${r.namespaces.length} namespaces`);
  const prefix = newPrefix();
  const runDir = path.join(RUNS_DIR, prefix);
  fs.mkdirSync(runDir, { recursive: true });
  writeRunState({ prefix, pid: process.pid, startedAt: new Date(started).toISOString(), runDir });
  startReaper(prefix, opts.keep ? undefined : runDir);
  const wiring: Wiring = { hosts: new Map(), daemons: [] };
  let cleaned = false;
  const cleanup = async () => {
    if (cleaned) return;
    cleaned = true;
    for (const d of wiring.daemons) await d.stop(1000);
    await destroyRun(prefix, opts.keep ? undefined : runDir);
    removeRunState(prefix);
  };
  let signalled = false;
  const onSignal = (sig: NodeJS.Signals) => {
    if (signalled) return;
    signalled = true;
    log(`${sig}: cleaning up run ${prefix}`);
    void cleanup().finally(() => process.exit(sig === "SIGINT" ? 130 : 143));
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

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
    metrics: {
      timeToFirstPingMs: {},
      timeToAllTunnelsMs: null,
      rttAvgMs: {},
      throughputMbps: { hostToHostTunnel: null, gatewayToGatewayTunnel: null, gatewayToGatewayUnderlay: null },
      mtu: { tunnelMtu: 0, testHostMtu: {}, fragNeededDropped: 0, clampedTransferMbps: null },
      cloudInitMs: {},
      faults: {},
    },
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

    // ---- topology (built by hand: the hub has no test host and office sits behind NAT)
    const hubGw = node(
      prefix,
      0,
      "scaleway",
      "gw",
      "gateway",
      "scaleway-user-data",
      { mac: hubNic.mac, address: `${hubNic.address}/24`, addressing: "ipam-dhcp", hotplug: true },
      HUB_PUBLIC,
    );
    const workload = node(prefix, 0, "scaleway", "wl", "test-host", "none", {
      mac: labMac(0, "test-host"),
      address: `${WORKLOAD_ADDRESS}/24`,
      addressing: "ipam-dhcp",
      hotplug: false,
    });
    const vpcRouter = node(prefix, 0, "scaleway", "vr", "vpc-router", "lab-stand-in", {
      mac: labMac(0, "vpc-router"),
      address: "192.168.0.1/24",
      addressing: "static",
      hotplug: false,
    });
    const officeGw = node(prefix, 1, "office", "gw", "gateway", "operator-bundle", {
      mac: labMac(1, "gateway"),
      address: "192.168.1.2/24",
      addressing: "static",
      hotplug: false,
    });
    const officeHost = node(prefix, 1, "office", "th", "test-host", "none", {
      mac: labMac(1, "test-host"),
      addressing: "lan-dhcp",
      hotplug: false,
    });
    const officeRouter = node(prefix, 1, "office", "lr", "lan-router", "lab-stand-in", {
      mac: labMac(1, "lan-router"),
      address: "192.168.1.1/24",
      addressing: "static",
      hotplug: false,
    });
    const branchGw = node(
      prefix,
      2,
      "branch",
      "gw",
      "gateway",
      "operator-bundle",
      { mac: labMac(2, "gateway"), address: "192.168.2.2/24", addressing: "static", hotplug: false },
      BRANCH_PUBLIC,
    );
    const branchHost = node(prefix, 2, "branch", "th", "test-host", "none", {
      mac: labMac(2, "test-host"),
      address: "192.168.2.3/24",
      addressing: "static",
      hotplug: false,
    });
    const hubSite: LabSite = {
      index: 0,
      name: "scaleway",
      kind: "hub",
      subnet: PRODUCTION_NETWORK.subnet,
      routePropagation: "vpc-route",
      tunnelAddress: cfg.scalewaySite.tunnelAddress,
      allowSpokeToSpoke: false,
      bridge: "br-s0",
      gateway: hubGw,
      testHost: workload,
      vpcRouter: {
        ...vpcRouter,
        leases: [
          { mac: hubNic.mac, address: hubNic.address, host: hubGw.id },
          { mac: workload.privateNic.mac, address: WORKLOAD_ADDRESS, host: workload.id },
        ],
        customRoutes: hubNic.routes,
      },
      publicIp: HUB_PUBLIC,
    };
    const site = (index: number, name: string, gw: LabNode, th: LabNode, lr?: LabNode): LabSite => {
      const r = cfg.remoteSites.find((s) => s.name === name)!;
      return {
        index,
        name,
        kind: "external",
        subnet: r.subnet,
        routePropagation: r.routePropagation,
        tunnelAddress: r.tunnelAddress,
        allowSpokeToSpoke: false,
        bridge: `br-s${index}`,
        gateway: gw,
        testHost: th,
        ...(lr ? { lanRouter: lr } : {}),
        publicIp: r.publicIp ?? OFFICE_NAT_BEFORE,
      };
    };
    const office = site(1, "office", officeGw, officeHost, officeRouter);
    const branch = site(2, "branch", branchGw, branchHost);
    const t: LabTopology = {
      prefix,
      switchNs: `${prefix}-switch`,
      internet: { subnet: INTERNET_SUBNET, bridge: "br-inet" },
      listenPort: cfg.tunnel.listenPort,
      tunnelMtu: cfg.tunnel.mtu,
      keepaliveSeconds: keepalive,
      sites: [hubSite, office, branch],
    };
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
      const s: HostBootSummary = {
        host: n.id,
        site: n.site,
        role: n.role,
        provisioning: n.provisioning,
        ok: true,
        cloudInitMs: null,
        stages: [],
        notApplied: [],
        errors: [],
        units: [],
      };
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
        await installPolicyAndForwarding(h, b, NETWORKD_FILES.firewallUnit);
        // networkd form, README step 4.
        await h.writeFile(NETWORKD_PATHS.netdev, b[NETWORKD_FILES.netdev], "0640");
        await h.writeFile(NETWORKD_PATHS.network, b[NETWORKD_FILES.network]);
        await h.execOk(["networkctl", "reload"]);
        // README step 5 (dhcp): the bundle's dnsmasq config.
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
        await installPolicyAndForwarding(h, b, NETPLAN_FILES.firewallUnit);
        // netplan form, README step 4: netplan renders networkd files into /run, networkd applies them.
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
    await cleanup();
    process.removeListener("SIGINT", onSignal);
    process.removeListener("SIGTERM", onSignal);
    result.namespacesLeft = (await listNetns()).filter((n) => prefixOf(n) === prefix);
  }
  result.durationMs = Date.now() - started;
  result.ok =
    !result.error && checks.length > 0 && checks.every((x) => x.ok) && (result.namespacesLeft?.length ?? 0) === 0;
  const file = opts.resultsFile ?? path.join(RESULTS_DIR, `${prefix}.json`);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  result.resultsFile = file;
  fs.writeFileSync(file, maskSecrets(JSON.stringify(result, null, 2)));
  log("");
  log(renderTable(result));
  log(`results: ${file}`);
  return result;
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

/** README steps 2 and 3 of the networkd and netplan forms: forward policy first, then forwarding. */
async function installPolicyAndForwarding(h: LabHost, b: Record<string, string>, unitFile: string): Promise<void> {
  await h.writeFile(PATHS.forwardPolicy, b[BUNDLE_FILES.forwardPolicy]);
  await h.writeFile(PATHS.firewallUnit, b[unitFile]);
  await h.execOk(["systemctl", "daemon-reload"]);
  await h.execOk(["systemctl", "enable", "--now", UNITS.firewall], { timeoutMs: 30_000 });
  await h.writeFile(PATHS.sysctl, b[BUNDLE_FILES.sysctl]);
  await h.execOk(["sysctl", "-p", PATHS.sysctl]);
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
