/**
 * The namespace lab, end to end: run the program under mocks, build the topology it
 * declares out of namespaces, boot every host from its own user-data with real
 * cloud-init, then the seed's ping test, bulk TCP, the MTU check and (with `faults`) the
 * faults and negative controls. Always cleans up. See lab/README section in the project
 * README ("What is verified here") for the design and the stand-ins.
 */
import * as fs from "fs";
import * as path from "path";
import { runProgram } from "../testkit/programRun";
import { iperf3, parseLatestHandshakes, ping, waitForPing, type Exec } from "./checks";
import { runUserData, type CloudInitResult } from "./cloudinit";
import type { LabHost } from "./host";
import { allPublicIps, defaultLabConfig, HUB_NAME, sitesLabConfig } from "./labConfig";
import { listNetns } from "./netns";
import {
  buildSwitch,
  fragNeededDrops,
  hotplugPrivateNic,
  nodeAddress,
  runDhcpClient,
  setUnderlayLoss,
  startLanRouter,
  startVpcRouter,
  wireNode,
  type Wiring,
} from "./network";
import { RESULTS_DIR, RUNS_DIR } from "./paths";
import { preflight } from "./preflight";
import { pollUntil, sleep } from "./proc";
import {
  check,
  maskSecrets,
  renderTable,
  type CheckResult,
  type HostBootSummary,
  type LabMetrics,
  type LabResult,
  type StandIn,
} from "./results";
import { UNITS } from "../cloud-init/common";
import { buildNetworkctlShim, buildSystemctlShim } from "./standins/build";
import { standInsFor } from "./standins/list";
import { cleanupLeftovers, destroyRun, newPrefix, prefixOf, removeRunState, startReaper, writeRunState } from "./state";
import { allNodes, bare, buildTopology, type LabNode, type LabSite, type LabTopology } from "./topology";

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

interface Ctx {
  t: LabTopology;
  w: Wiring;
  log: (line: string) => void;
  checks: CheckResult[];
  /** Test host address per site (external dhcp hosts learn theirs at boot). */
  testHostAddr: Map<string, string>;
  iperfSeconds: number;
}

const readText = (file: string): string => {
  try {
    return fs.readFileSync(file, "utf8");
  } catch {
    return "";
  }
};

/** The journal line of the networkd stand-in once wg0 is up (lab/standins/networkctl.ts). */
export const TUNNEL_UP_LINE = "networkctl: wg0: configured";

/**
 * How long the host waited for its private NIC, and whether the tunnel came up before that
 * wait ended. The gateway brings wg0 up first on purpose (it does not need the private
 * NIC), so "before" is expected. Read from the stand-ins' shared journal.
 */
export function nicOrdering(journal: string): { waitedSeconds: number | null; tunnelBeforeNic: boolean | null } {
  const waited = /wg-s2s-wait-private-nic: \S+ is present after (\d+)s/.exec(journal);
  const nicDone = journal.indexOf(`${UNITS.privateNic}: started`);
  const tunnelUp = journal.indexOf(TUNNEL_UP_LINE);
  return {
    waitedSeconds: waited ? Number(waited[1]) : null,
    tunnelBeforeNic: tunnelUp < 0 ? null : nicDone < 0 || tunnelUp < nicDone,
  };
}

const host = (c: Ctx, n: LabNode): LabHost => {
  const h = c.w.hosts.get(n.id);
  if (!h) throw new Error(`no lab host for ${n.id}`);
  return h;
};
const execOf =
  (c: Ctx, n: LabNode): Exec =>
  (argv, opts) =>
    host(c, n).exec(argv, opts);
const serverOf = (c: Ctx, n: LabNode) => ({ exec: execOf(c, n), spawn: (argv: string[]) => host(c, n).spawn(argv) });

/** Boot every host from its user-data, hot-plug NICs, run DHCP clients; measure time to first ping per site. */
async function bootAll(
  c: Ctx,
  userData: Map<string, string>,
  bundles: Map<string, Record<string, string>>,
  hotplugDelayMs: number,
): Promise<{ summaries: HostBootSummary[]; firstPing: Record<string, number | null> }> {
  const { t } = c;
  const hub = t.sites[0];
  const t0 = Date.now();
  const summaries = new Map<string, HostBootSummary>();
  const cloudInitDone = new Map<string, Promise<CloudInitResult | null>>();

  const summary = (n: LabNode): HostBootSummary => {
    let s = summaries.get(n.id);
    if (!s) {
      s = {
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
      summaries.set(n.id, s);
    }
    return s;
  };

  const bootNode = async (site: LabSite, n: LabNode) => {
    const s = summary(n);
    const ud = userData.get(n.id);
    const ci = ud ? runUserData(host(c, n), ud, { instanceId: `${t.prefix}-${n.id}` }) : Promise.resolve(null);
    cloudInitDone.set(n.id, ci);
    const nicWork = (async () => {
      if (n.privateNic.hotplug) {
        // Scaleway attaches the NIC while the server boots. Where the user-data waits for it,
        // plug it a few seconds into that wait (so the wait is really exercised); else a few
        // seconds after the user-data started.
        if (ud?.includes(UNITS.privateNic)) {
          const journal = path.join(host(c, n).runDir, "lab-systemd", "journal.log");
          const seen = await pollUntil(
            async () => readText(journal).includes(`${UNITS.privateNic}: starting`),
            90_000,
            200,
          );
          if (seen === null) c.log(`  ${n.id}: user-data never started ${UNITS.privateNic}; plugging the NIC anyway`);
        }
        await sleep(hotplugDelayMs);
        await hotplugPrivateNic(t, n);
        s.hotplugAtMs = Date.now() - t0;
        c.log(`  ${n.id}: private NIC ${n.privateNic.name} hot-plugged at +${(s.hotplugAtMs / 1000).toFixed(1)} s`);
      }
      if (n.privateNic.addressing === "ipam-dhcp") {
        const d = await runDhcpClient(host(c, n), n.privateNic.name);
        s.dhcp = { ok: d.ok, address: d.address, ms: d.ms };
        if (!d.ok || d.address !== nodeAddress(n)) {
          s.ok = false;
          s.errors.push(
            `DHCP (VPC router stand-in): got ${d.address ?? "no address"}, expected ${nodeAddress(n)}: ${d.log}`,
          );
        }
      } else if (n.privateNic.addressing === "lan-dhcp") {
        // The operator's LAN host asks for a lease once its gateway's dnsmasq is up.
        const gwDone = await cloudInitDone.get(site.gateway.id);
        if (!gwDone?.ok) c.log(`  ${n.id}: gateway user-data failed; asking for a lease anyway`);
        const d = await runDhcpClient(host(c, n), n.privateNic.name);
        s.dhcp = { ok: d.ok, address: d.address, ms: d.ms };
        if (d.address) c.testHostAddr.set(site.name, d.address);
        if (!d.ok) {
          s.ok = false;
          s.errors.push(`DHCP from the gateway's dnsmasq failed: ${d.log}`);
        }
      } else if (n.role === "test-host" && site.kind === "external") {
        // external `static`: the operator runs the bundle's routes.sh on each LAN host.
        const routes = bundles.get(site.name)?.["routes.sh"];
        if (routes) {
          const r = await host(c, n).exec(["sh", "-c", routes]);
          s.routesSh = r.code === 0;
          if (r.code !== 0) {
            s.ok = false;
            s.errors.push(`routes.sh failed: ${r.stderr.trim()}`);
          }
        }
      }
    })().catch((e: Error) => {
      s.ok = false;
      s.errors.push(`NIC: ${e.message}`);
    });
    const [ciResult] = await Promise.all([ci, nicWork]);
    if (ciResult) {
      s.cloudInitMs = ciResult.finishedAt - ciResult.startedAt;
      s.stages = ciResult.stages;
      s.notApplied = ciResult.notApplied.map((k) => k.key);
      if (!ciResult.ok) {
        s.ok = false;
        s.errors.push(...ciResult.errors.map(maskSecrets));
        if (ciResult.outputTail) s.errors.push(`cloud-init-output.log: ${maskSecrets(ciResult.outputTail)}`);
      }
      const ordering = nicOrdering(readText(path.join(host(c, n).runDir, "lab-systemd", "journal.log")));
      if (n.role === "gateway") {
        s.nicWaitSeconds = ordering.waitedSeconds;
        if (ordering.tunnelBeforeNic === null) {
          s.ok = false;
          s.errors.push("networkd stand-in never brought wg0 up (no networkctl reload in the journal)");
        }
      }
      const state = await host(c, n).readFile("/run/lab-systemd/state.json");
      if (state) {
        try {
          s.units = (JSON.parse(state).sequence ?? []).map((x: any) => ({
            unit: x.unit,
            action: x.action,
            result: x.result,
          }));
        } catch {
          /* state unreadable: units stay empty */
        }
      }
    }
    c.log(
      `  ${n.id}: ${ud ? `user-data ${s.ok ? "done" : "FAILED"} in ${((s.cloudInitMs ?? 0) / 1000).toFixed(1)} s` : s.ok ? "ready" : "FAILED"}${s.dhcp ? `, DHCP ${s.dhcp.address ?? "none"}` : ""}`,
    );
  };

  for (const site of t.sites)
    if (site.testHost.privateNic.address) c.testHostAddr.set(site.name, bare(site.testHost.privateNic.address));
  const boots = t.sites.flatMap((site) => [bootNode(site, site.gateway), bootNode(site, site.testHost)]);

  // Time to first ping, per remote site, measured while the hosts boot.
  const firstPing: Record<string, number | null> = {};
  const pollers = t.sites.slice(1).map(async (site) => {
    const deadline = 120_000;
    const ms = await pollUntil(
      async () => {
        const to = c.testHostAddr.get(site.name);
        if (!to) return false;
        const r = await execOf(c, hub.testHost)(["ping", "-n", "-q", "-c", "1", "-W", "1", to], {
          timeoutMs: 5000,
        }).catch(() => null);
        return r?.code === 0;
      },
      deadline,
      250,
    );
    firstPing[site.name] = ms === null ? null : Date.now() - t0;
    c.log(
      `  ${site.name}: ${ms === null ? "NO ping from the hub test host within 120 s" : `first ping from ${hub.testHost.id} after ${((Date.now() - t0) / 1000).toFixed(1)} s`}`,
    );
  });
  await Promise.all([...boots, ...pollers]);
  return { summaries: [...summaries.values()], firstPing };
}

async function hubPingChecks(c: Ctx, metrics: LabMetrics): Promise<void> {
  const hub = c.t.sites[0];
  for (const site of c.t.sites.slice(1)) {
    const to = c.testHostAddr.get(site.name);
    const from = c.testHostAddr.get(hub.name)!;
    if (!to) {
      c.checks.push(
        check(`ping ${hub.name} -> ${site.name} test host`, "ping", "pass", false, "remote test host has no address"),
      );
      continue;
    }
    const fwd = await ping(execOf(c, hub.testHost), to, 3);
    const back = await ping(execOf(c, site.testHost), from, 3);
    metrics.rttAvgMs[site.name] = fwd.rttAvgMs ?? null;
    c.checks.push(
      check(
        `ping ${hub.name} -> ${site.name} test host`,
        "ping",
        "pass",
        fwd.received > 0,
        `${hub.testHost.id} -> ${to}: ${fwd.received}/${fwd.transmitted} replies, rtt avg ${fwd.rttAvgMs ?? "-"} ms`,
        { rttAvgMs: fwd.rttAvgMs ?? null },
      ),
    );
    c.checks.push(
      check(
        `ping ${site.name} -> ${hub.name} test host`,
        "ping",
        "pass",
        back.received > 0,
        `${site.testHost.id} -> ${from}: ${back.received}/${back.transmitted} replies, rtt avg ${back.rttAvgMs ?? "-"} ms`,
        { rttAvgMs: back.rttAvgMs ?? null },
      ),
    );
    c.log(
      `  ping ${hub.name} <-> ${site.name}: ${fwd.received}/${fwd.transmitted} and ${back.received}/${back.transmitted}, rtt ${fwd.rttAvgMs ?? "-"} ms`,
    );
    if (site.lanRouter) {
      // RFC 3442: a client given option 121 ignores option 3; the LAN must keep its own default route.
      const lr = bare(site.lanRouter.privateNic.address!);
      const def = (await execOf(c, site.testHost)(["ip", "-4", "route", "show", "default"])).stdout.trim();
      c.checks.push(
        check(
          `${site.testHost.id} keeps its default route via the LAN router ${lr}`,
          "ping",
          "pass",
          def.includes(`via ${lr} `),
          def || "no default route",
        ),
      );
    }
  }
}

/** Spoke-to-spoke: must work exactly when both spokes allow it (enforced by the hub). */
async function spokeToSpokeChecks(c: Ctx): Promise<void> {
  const spokes = c.t.sites.slice(1);
  for (let i = 0; i < spokes.length; i++) {
    for (let j = i + 1; j < spokes.length; j++) {
      const a = spokes[i];
      const b = spokes[j];
      const to = c.testHostAddr.get(b.name);
      if (!to) continue;
      const allowed = a.allowSpokeToSpoke && b.allowSpokeToSpoke;
      const r = await ping(execOf(c, a.testHost), to, 2, 0.2, 1);
      c.checks.push(
        check(
          `spoke-to-spoke ${a.name} -> ${b.name} (${allowed ? "allowed" : "not allowed"})`,
          "spoke-to-spoke",
          allowed ? "pass" : "fail",
          r.received > 0,
          `${r.received}/${r.transmitted} replies`,
        ),
      );
      c.log(
        `  spoke-to-spoke ${a.name} -> ${b.name}: ${r.received}/${r.transmitted} replies (${allowed ? "should pass" : "should be blocked"})`,
      );
      await hubForwardProbe(c, a, b, to, allowed);
    }
  }
}

/**
 * Is spoke-to-spoke enforced by the hub itself, not only by the spokes' AllowedIPs and
 * routes? The lab forces spoke `a` to send traffic for `b` into the tunnel (adds b's subnet
 * to a's AllowedIPs for the hub and a route, then pings from a's gateway with a source in
 * a's subnet) and counts, with its own nftables table on the hub, what arrives from a for b
 * and what the hub sends on. Allowed pairs must be forwarded, others dropped by the hub.
 */
async function hubForwardProbe(c: Ctx, a: LabSite, b: LabSite, to: string, allowed: boolean): Promise<void> {
  const hubGw = execOf(c, c.t.sites[0].gateway);
  const aGw = execOf(c, a.gateway);
  const peers = (await aGw(["wg", "show", "wg0", "allowed-ips"])).stdout.trim().split("\n");
  const hubPeer = peers[0]?.split(/\s+/)[0];
  if (!hubPeer) throw new Error(`${a.gateway.id} has no WireGuard peer`);
  const original = peers[0]
    .split(/\s+/)
    .slice(1)
    .filter((x) => x.includes("/"));
  const probe = `table ip labprobe {
\tchain pre {
\t\ttype filter hook prerouting priority -300;
\t\tiifname "wg0" ip saddr ${a.subnet} ip daddr ${b.subnet} counter
\t}
\tchain post {
\t\ttype filter hook postrouting priority 300;
\t\tip saddr ${a.subnet} ip daddr ${b.subnet} counter
\t}
}
`;
  await hubGw(["nft", "-f", "-"], { input: probe, check: true });
  const forced = !original.includes(b.subnet);
  try {
    if (forced) {
      await aGw(["wg", "set", "wg0", "peer", hubPeer, "allowed-ips", [...original, b.subnet].join(",")], {
        check: true,
      });
      await aGw(["ip", "-4", "route", "replace", b.subnet, "dev", "wg0"], { check: true });
    }
    // -I: a source address inside a's subnet, as a LAN host behind a would have.
    await aGw(["ping", "-n", "-q", "-c", "3", "-i", "0.2", "-W", "1", "-I", bare(a.gateway.privateNic.address!), to], {
      timeoutMs: 10_000,
    });
    const counters = (await hubGw(["nft", "list", "table", "ip", "labprobe"])).stdout;
    const [arrived, forwarded] = [...counters.matchAll(/counter packets (\d+)/g)].map((m) => Number(m[1]));
    const passed = forwarded > 0;
    c.checks.push(
      check(
        `hub forward policy: ${a.name} -> ${b.name} forced into the tunnel (${allowed ? "allowed" : "not allowed"})`,
        "spoke-to-spoke",
        allowed ? "pass" : "fail",
        arrived > 0 && passed,
        `${arrived} packets from ${a.name} for ${b.subnet} reached the hub, ${forwarded} forwarded${forced ? ` (lab added ${b.subnet} to ${a.gateway.id}'s AllowedIPs)` : ""}`,
        { arrived, forwarded },
      ),
    );
    if (arrived === 0)
      c.checks.push(
        check(
          `hub forward probe ${a.name} -> ${b.name}: traffic reached the hub`,
          "spoke-to-spoke",
          "pass",
          false,
          "nothing arrived; the probe proves nothing",
        ),
      );
    c.log(
      `  hub forward policy ${a.name} -> ${b.name}: ${arrived} in, ${forwarded} forwarded (${allowed ? "should forward" : "should drop"})`,
    );
  } finally {
    await hubGw(["nft", "delete", "table", "ip", "labprobe"]);
    if (forced) {
      await aGw(["wg", "set", "wg0", "peer", hubPeer, "allowed-ips", original.join(",")]);
      await aGw(["ip", "-4", "route", "del", b.subnet, "dev", "wg0"]);
    }
  }
}

async function testHostMtus(c: Ctx): Promise<Record<string, number | null>> {
  const out: Record<string, number | null> = {};
  for (const site of c.t.sites) {
    const r = await execOf(c, site.testHost)(["cat", `/sys/class/net/${site.testHost.privateNic.name}/mtu`]);
    out[site.testHost.id] = r.code === 0 ? Number(r.stdout.trim()) : null;
  }
  return out;
}

/** Delete the gateway's MSS-clamp rules (the lines with `maxseg size set`); returns how many. */
async function removeMssClamp(c: Ctx, gw: LabNode): Promise<number> {
  const list = await execOf(c, gw)(["nft", "-a", "list", "table", "inet", "wg_s2s"]);
  const handles = list.stdout
    .split("\n")
    .filter((l) => l.includes("maxseg size set"))
    .map((l) => /# handle (\d+)/.exec(l)?.[1])
    .filter((h): h is string => !!h);
  for (const h of handles)
    await execOf(c, gw)(["nft", "delete", "rule", "inet", "wg_s2s", "forward", "handle", h], { check: true });
  return handles.length;
}

async function throughputAndMtu(c: Ctx, metrics: LabMetrics): Promise<void> {
  const hub = c.t.sites[0];
  const far = c.t.sites[1];
  const farAddr = c.testHostAddr.get(far.name);
  metrics.mtu.testHostMtu = await testHostMtus(c);
  const mtusOk = Object.values(metrics.mtu.testHostMtu).every((m) => m === 1500);
  c.checks.push(
    check(
      "test hosts keep MTU 1500",
      "mtu",
      "pass",
      mtusOk,
      Object.entries(metrics.mtu.testHostMtu)
        .map(([h, m]) => `${h} ${m}`)
        .join(", "),
    ),
  );

  const dropsBefore = await fragNeededDrops(c.t);
  if (farAddr) {
    const h2h = await iperf3(serverOf(c, far.testHost), execOf(c, hub.testHost), farAddr, {
      seconds: c.iperfSeconds,
      port: 5201,
    });
    metrics.throughputMbps.hostToHostTunnel = h2h.ok ? h2h.mbps : null;
    metrics.mtu.clampedTransferMbps = h2h.ok ? h2h.mbps : null;
    c.checks.push(
      check(
        `bulk TCP ${hub.testHost.id} -> ${far.testHost.id} through the tunnel (MTU 1500 hosts, frag-needed dropped)`,
        "mtu",
        "pass",
        h2h.ok,
        h2h.ok ? `${h2h.mbps} Mbit/s, ${h2h.bytesReceived} bytes in ${c.iperfSeconds} s` : (h2h.error ?? "no data"),
        { mbps: h2h.mbps },
      ),
    );
    c.log(`  iperf3 host-to-host via tunnel: ${h2h.ok ? `${h2h.mbps} Mbit/s` : `FAILED (${h2h.error})`}`);
  }
  const g2gT = await iperf3(serverOf(c, far.gateway), execOf(c, hub.gateway), far.tunnelAddress, {
    seconds: c.iperfSeconds,
    port: 5202,
  });
  metrics.throughputMbps.gatewayToGatewayTunnel = g2gT.ok ? g2gT.mbps : null;
  c.checks.push(
    check(
      `bulk TCP ${hub.gateway.id} -> ${far.gateway.id} through the tunnel`,
      "throughput",
      "pass",
      g2gT.ok,
      g2gT.ok ? `${g2gT.mbps} Mbit/s` : (g2gT.error ?? "no data"),
    ),
  );
  c.log(`  iperf3 gateway-to-gateway via tunnel: ${g2gT.ok ? `${g2gT.mbps} Mbit/s` : `FAILED (${g2gT.error})`}`);
  const g2gU = await iperf3(serverOf(c, far.gateway), execOf(c, hub.gateway), far.publicIp, {
    seconds: c.iperfSeconds,
    port: 5203,
  });
  metrics.throughputMbps.gatewayToGatewayUnderlay = g2gU.ok ? g2gU.mbps : null;
  c.checks.push(
    check(
      `bulk TCP ${hub.gateway.id} -> ${far.gateway.id} over the raw underlay`,
      "throughput",
      "pass",
      g2gU.ok,
      g2gU.ok ? `${g2gU.mbps} Mbit/s` : (g2gU.error ?? "no data"),
    ),
  );
  c.log(`  iperf3 gateway-to-gateway underlay: ${g2gU.ok ? `${g2gU.mbps} Mbit/s` : `FAILED (${g2gU.error})`}`);

  if (farAddr && far.kind !== "external") {
    // Negative control: without the clamp on either gateway of the path, full-size segments
    // need PMTU discovery, whose ICMP the lab drops: the transfer must stall.
    const removed = (await removeMssClamp(c, hub.gateway)) + (await removeMssClamp(c, far.gateway));
    const bare = await iperf3(serverOf(c, far.testHost), execOf(c, hub.testHost), farAddr, {
      seconds: c.iperfSeconds,
      port: 5204,
      hardTimeoutMs: (c.iperfSeconds + 8) * 1000,
    });
    const drops = (await fragNeededDrops(c.t)) - dropsBefore;
    metrics.mtu.unclampedTransferMbps = bare.ok ? bare.mbps : 0;
    // "Works" = at least a tenth of the clamped rate arrived; a stall delivers (almost) nothing.
    const worked = bare.ok && bare.mbps > Math.max(1, (metrics.mtu.clampedTransferMbps ?? 0) / 10);
    c.checks.push(
      check(
        `negative control: bulk TCP with the MSS clamp removed (${removed} rules on 2 gateways)`,
        "negative-control",
        "fail",
        worked,
        `${bare.ok ? `${bare.mbps} Mbit/s` : (bare.error ?? "no data")}; frag-needed dropped meanwhile: ${drops}`,
      ),
    );
    c.log(
      `  negative control, no MSS clamp: ${worked ? "transfer WORKED (unexpected)" : "stalled as expected"} (${bare.ok ? `${bare.mbps} Mbit/s` : (bare.error ?? `${bare.bytesReceived} bytes arrived`)})`,
    );
    // Restore through the unit's own reload (the ruleset is written to be re-runnable).
    for (const gw of [hub.gateway, far.gateway])
      await execOf(c, gw)(["systemctl", "reload", "wg-s2s-firewall.service"], { check: true });
    const restored = (await execOf(c, hub.gateway)(["nft", "list", "table", "inet", "wg_s2s"])).stdout.includes(
      "maxseg size set",
    );
    c.checks.push(
      check(
        "MSS clamp restored by `systemctl reload wg-s2s-firewall`",
        "mtu",
        "pass",
        restored,
        restored ? "rules back" : "rules missing after reload",
      ),
    );
  }
  metrics.mtu.fragNeededDropped = await fragNeededDrops(c.t);
}

/**
 * Restarting the tunnel the networkd way: networkd never re-creates an existing netdev on
 * reload, so the link is deleted and networkd (its stand-in here) creates it afresh.
 */
export const RESTART_TUNNEL: readonly string[] = ["sh", "-c", "ip link delete wg0 && networkctl reload"];

/** A gateway's tunnel restarted (RESTART_TUNNEL): time until the hub test host reaches the site again. */
async function faultTunnelRestart(
  c: Ctx,
  which: "remote" | "hub",
  faults: Record<string, number | string | boolean | null>,
): Promise<void> {
  const hub = c.t.sites[0];
  const far = c.t.sites[1];
  const gw = which === "hub" ? hub.gateway : far.gateway;
  const to = c.testHostAddr.get(far.name)!;
  const started = Date.now();
  const r = await execOf(c, gw)([...RESTART_TUNNEL], { timeoutMs: 30_000 });
  const ms = await waitForPing(execOf(c, hub.testHost), to, 60_000, 200);
  const total = ms === null ? null : Date.now() - started;
  faults[`tunnelRestart${which === "hub" ? "Hub" : "Remote"}RecoveryMs`] = total;
  c.checks.push(
    check(
      `fault: ${gw.id} tunnel restarted -> ping recovers`,
      "fault",
      "pass",
      r.code === 0 && ms !== null,
      ms === null ? `no ping within 60 s (restart exit ${r.code})` : `recovered after ${total} ms`,
      { recoveryMs: total },
    ),
  );
  c.log(
    `  fault: restart ${gw.id} wg0 (delete + networkctl reload) -> ${ms === null ? "NOT recovered" : `ping back after ${((total ?? 0) / 1000).toFixed(1)} s`}`,
  );
}

/** NAT rebinding: the remote gateway's public address changes mid-run. */
async function faultNatRebinding(c: Ctx, faults: Record<string, number | string | boolean | null>): Promise<void> {
  const hub = c.t.sites[0];
  const far = c.t.sites[1];
  const pub = far.gateway.publicNic!;
  const oldAddr = pub.address;
  const len = oldAddr.split("/")[1];
  const newIp = `198.51.100.${200 + far.index}`;
  const to = c.testHostAddr.get(far.name)!;
  const started = Date.now();
  // Old address out first: deleting a primary address also deletes the secondaries of its subnet.
  await execOf(c, far.gateway)(["ip", "addr", "del", oldAddr, "dev", pub.name], { check: true });
  await execOf(c, far.gateway)(["ip", "addr", "add", `${newIp}/${len}`, "dev", pub.name], { check: true });
  const held = (await execOf(c, far.gateway)(["ip", "-4", "-o", "addr", "show", "dev", pub.name])).stdout.includes(
    `${newIp}/`,
  );
  if (!held) throw new Error(`${far.gateway.id} does not hold ${newIp} after the change`);
  // Traffic from the hub side: the tunnel comes back when the remote's keepalive (or data) arrives from the new address.
  const ms = await waitForPing(execOf(c, hub.testHost), to, (c.t.keepaliveSeconds + 20) * 1000, 250);
  const total = ms === null ? null : Date.now() - started;
  const endpoints = (await execOf(c, hub.gateway)(["wg", "show", "wg0", "endpoints"])).stdout;
  const roamed = endpoints.includes(`${newIp}:`);
  faults.natRebindingRecoveryMs = total;
  c.checks.push(
    check(
      `fault: ${far.gateway.id} public address ${bare(oldAddr)} -> ${newIp} (NAT rebinding) -> tunnel recovers`,
      "fault",
      "pass",
      ms !== null && roamed,
      ms === null
        ? `no ping within ${c.t.keepaliveSeconds + 20} s`
        : `recovered after ${total} ms; hub endpoint now ${roamed ? newIp : "unchanged"}`,
      { recoveryMs: total },
    ),
  );
  c.log(
    `  fault: NAT rebinding ${bare(oldAddr)} -> ${newIp}: ${ms === null ? "NOT recovered" : `recovered after ${((total ?? 0) / 1000).toFixed(1)} s`}`,
  );
}

async function faultLoss(
  c: Ctx,
  metrics: LabMetrics,
  faults: Record<string, number | string | boolean | null>,
): Promise<string> {
  const hub = c.t.sites[0];
  const far = c.t.sites[1];
  const to = c.testHostAddr.get(far.name)!;
  const { method } = await setUnderlayLoss(c.t, 5);
  try {
    const p = await ping(execOf(c, hub.testHost), to, 30, 0.1, 1);
    const tput = await iperf3(serverOf(c, far.testHost), execOf(c, hub.testHost), to, {
      seconds: c.iperfSeconds,
      port: 5205,
    });
    metrics.throughputMbps.hostToHostUnderLoss = tput.ok ? tput.mbps : null;
    faults.lossPingLossPercent = p.lossPercent;
    // The seed's test passes when replies come back; with 5% per-direction loss most must.
    const passed = p.received >= p.transmitted / 2;
    c.checks.push(
      check(
        "fault: 5% underlay loss -> ping test still passes",
        "fault",
        "pass",
        passed,
        `${p.received}/${p.transmitted} replies (${p.lossPercent}% lost); iperf3 ${tput.ok ? `${tput.mbps} Mbit/s` : tput.error}`,
      ),
    );
    c.log(
      `  fault: 5% underlay loss: ${p.received}/${p.transmitted} replies, iperf3 ${tput.ok ? `${tput.mbps} Mbit/s` : "failed"}`,
    );
  } finally {
    await setUnderlayLoss(c.t, 0);
  }
  return method;
}

/** Negative control: the remote gateway is given a wrong public key for the hub. No handshake may happen. */
async function negativeWrongKey(c: Ctx, faults: Record<string, number | string | boolean | null>): Promise<void> {
  const hub = c.t.sites[0];
  const far = c.t.sites[1];
  const to = c.testHostAddr.get(far.name)!;
  const gw = execOf(c, far.gateway);
  // Only public data is read here (peers, endpoints, allowed IPs); no private key leaves wg.
  const peers = (await gw(["wg", "show", "wg0", "peers"])).stdout.trim().split("\n").filter(Boolean);
  const endpoints = (await gw(["wg", "show", "wg0", "endpoints"])).stdout;
  const allowed = (await gw(["wg", "show", "wg0", "allowed-ips"])).stdout;
  const hubPeer = peers[0];
  const endpoint =
    endpoints
      .split("\n")
      .find((l) => l.startsWith(hubPeer))
      ?.split(/\s+/)[1] ?? `${hub.publicIp}:${c.t.listenPort}`;
  const ips = (allowed.split("\n").find((l) => l.startsWith(hubPeer)) ?? "").split(/\s+/).slice(1).join(",");
  const wrongKey = (await gw(["sh", "-c", "wg genkey | wg pubkey"])).stdout.trim();
  await gw(["wg", "set", "wg0", "peer", hubPeer, "remove"], { check: true });
  await gw(
    [
      "wg",
      "set",
      "wg0",
      "peer",
      wrongKey,
      "endpoint",
      endpoint,
      "allowed-ips",
      ips,
      "persistent-keepalive",
      String(c.t.keepaliveSeconds || 25),
    ],
    { check: true },
  );
  const reached = await waitForPing(execOf(c, hub.testHost), to, 8000, 500);
  const hs = parseLatestHandshakes(
    (await gw(["wg", "show", "wg0", "latest-handshakes"])).stdout,
    Math.floor(Date.now() / 1000),
  );
  const handshake = hs[wrongKey] !== null && hs[wrongKey] !== undefined;
  faults.wrongKeyHandshake = handshake;
  c.checks.push(
    check(
      `negative control: ${far.gateway.id} has a wrong public key for the hub`,
      "negative-control",
      "fail",
      reached !== null || handshake,
      `${reached !== null ? "ping got through" : "no ping in 8 s"}, ${handshake ? "handshake happened" : "no handshake"}`,
    ),
  );
  c.log(
    `  negative control, wrong peer key: ${reached === null && !handshake ? "no handshake, no ping (failed as expected)" : "TUNNEL WORKED (unexpected)"}`,
  );
  // Restore from the config files: a re-created wg0 re-reads the netdev.
  await gw([...RESTART_TUNNEL], { timeoutMs: 30_000 });
  const back = await waitForPing(execOf(c, hub.testHost), to, 45_000, 250);
  faults.wrongKeyRestoreRecoveryMs = back;
  c.checks.push(
    check(
      `tunnel back after restoring ${far.gateway.id}'s config`,
      "fault",
      "pass",
      back !== null,
      back === null ? "no ping within 45 s" : `after ${back} ms`,
    ),
  );
}

/** Negative control: one test host loses its route to the hub's subnet. */
async function negativeMissingRoute(c: Ctx): Promise<void> {
  const hub = c.t.sites[0];
  const far = c.t.sites[1];
  const to = c.testHostAddr.get(far.name)!;
  const th = execOf(c, far.testHost);
  const route = (await th(["ip", "-4", "route", "show", hub.subnet])).stdout.trim();
  if (route) await th(["ip", "-4", "route", "del", hub.subnet], { check: true });
  const p = await ping(execOf(c, hub.testHost), to, 3, 0.2, 1);
  c.checks.push(
    check(
      `negative control: ${far.testHost.id} without its route to ${hub.subnet}`,
      "negative-control",
      "fail",
      p.received > 0,
      `route was "${route || "absent"}"; ${p.received}/${p.transmitted} replies`,
    ),
  );
  c.log(
    `  negative control, missing route: ${p.received === 0 ? "no replies (failed as expected)" : "REPLIES (unexpected)"}`,
  );
  if (route) await th(["sh", "-c", `ip -4 route add ${route}`], { check: true });
  const back = await waitForPing(execOf(c, hub.testHost), to, 10_000, 200);
  c.checks.push(
    check(
      `ping back after restoring ${far.testHost.id}'s route`,
      "fault",
      "pass",
      back !== null,
      back === null ? "no ping within 10 s" : `after ${back} ms`,
    ),
  );
}

function emptyMetrics(t: LabTopology): LabMetrics {
  return {
    timeToFirstPingMs: {},
    timeToAllTunnelsMs: null,
    rttAvgMs: {},
    throughputMbps: { hostToHostTunnel: null, gatewayToGatewayTunnel: null, gatewayToGatewayUnderlay: null },
    mtu: { tunnelMtu: t.tunnelMtu, testHostMtu: {}, fragNeededDropped: 0, clampedTransferMbps: null },
    cloudInitMs: {},
  };
}

/** Run the lab. Throws LabCannotRun when the machine cannot; otherwise always returns a result (ok or not). */
export async function runLab(opts: LabOptions = {}): Promise<LabResult> {
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

  let cleaned = false;
  const wiring: Wiring = { hosts: new Map(), daemons: [] };
  const cleanup = async () => {
    if (cleaned) return;
    cleaned = true;
    for (const d of wiring.daemons) await d.stop(1000);
    await destroyRun(prefix, opts.keep ? undefined : runDir);
    removeRunState(prefix);
  };
  // Last line of defence when this process dies without running `cleanup` (SIGKILL).
  startReaper(prefix, opts.keep ? undefined : runDir);
  let signalled = false;
  const onSignal = (sig: NodeJS.Signals) => {
    // A second Ctrl-C (or tsx relaying the first one) must not interrupt the cleanup.
    if (signalled) return;
    signalled = true;
    log(`${sig}: cleaning up run ${prefix}`);
    void cleanup().finally(() => process.exit(sig === "SIGINT" ? 130 : 143));
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

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
    metrics: {
      timeToFirstPingMs: {},
      timeToAllTunnelsMs: null,
      rttAvgMs: {},
      throughputMbps: { hostToHostTunnel: null, gatewayToGatewayTunnel: null, gatewayToGatewayUnderlay: null },
      mtu: { tunnelMtu: 0, testHostMtu: {}, fragNeededDropped: 0, clampedTransferMbps: null },
      cloudInitMs: {},
    },
  };
  try {
    step(`program: index.ts under the Pulumi mock runtime (${mode} topology)`);
    const lc = opts.sites === undefined ? defaultLabConfig() : sitesLabConfig(opts.sites);
    result.notes = lc.notes;
    const program = await runProgram({ config: lc.config, publicIps: lc.publicIps, keySeed: opts.keySeed });
    const publicIps = allPublicIps(lc);
    const declaredIps = (program.outputs.gatewayPublicIps ?? {}) as Record<string, string>;
    for (const [site, ip] of Object.entries(declaredIps)) {
      if (publicIps[site] && publicIps[site] !== ip)
        throw new Error(`program gave ${site} public IP ${ip}, the lab handed it ${publicIps[site]}`);
    }
    const t = buildTopology({ prefix, config: program.config, resources: program.resources, publicIps });
    result.metrics = emptyMetrics(t);
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

    const c: Ctx = {
      t,
      w: wiring,
      log,
      checks: result.checks,
      testHostAddr: new Map(),
      iperfSeconds: opts.iperfSeconds ?? 3,
    };
    step(
      `boot: user-data of ${userData.size} hosts through cloud-init, private NICs hot-plugged after ${(opts.hotplugDelayMs ?? 3000) / 1000} s`,
    );
    const boot = await bootAll(c, userData, bundles, opts.hotplugDelayMs ?? 3000);
    result.hosts = boot.summaries;
    for (const h of boot.summaries) {
      result.metrics.cloudInitMs[h.host] = h.cloudInitMs;
      const waited =
        h.nicWaitSeconds !== undefined && h.nicWaitSeconds !== null
          ? `, waited ${h.nicWaitSeconds} s for the private NIC (tunnel already up)`
          : "";
      c.checks.push(
        check(
          `boot ${h.host} (${h.provisioning})`,
          "boot",
          "pass",
          h.ok,
          h.ok
            ? `${h.cloudInitMs !== null ? `cloud-init ${h.cloudInitMs} ms` : "no user-data"}${h.dhcp ? `, DHCP ${h.dhcp.address}` : ""}${h.routesSh ? ", operator bundle's routes.sh applied" : ""}${waited}`
            : h.errors.join(" | ").slice(0, 600),
        ),
      );
    }
    result.metrics.timeToFirstPingMs = boot.firstPing;
    const times = Object.values(boot.firstPing);
    result.metrics.timeToAllTunnelsMs =
      times.length && times.every((x) => x !== null) ? Math.max(...(times as number[])) : null;
    for (const s of result.sites)
      if (!s.testHostAddress && c.testHostAddr.get(s.name)) s.testHostAddress = c.testHostAddr.get(s.name);

    step("seed ping test: hub test host <-> every remote test host");
    await hubPingChecks(c, result.metrics);
    if (t.sites.length > 2 && !opts.tunnelsOnly) {
      step("spoke-to-spoke through the hub");
      await spokeToSpokeChecks(c);
    }
    if (!opts.tunnelsOnly) {
      step(`throughput (iperf3, ${c.iperfSeconds} s each) and MTU check`);
      await throughputAndMtu(c, result.metrics);
    }

    if (opts.faults) {
      const faults: Record<string, number | string | boolean | null> = {};
      result.metrics.faults = faults;
      // One broken fault must not hide the others: each failure becomes a failed check.
      const guarded = async (name: string, fn: () => Promise<void>) => {
        step(name);
        try {
          await fn();
        } catch (e) {
          c.checks.push(check(name, "fault", "pass", false, `lab error: ${(e as Error).message}`));
          log(`  ${name}: lab error: ${maskSecrets((e as Error).message)}`);
        }
      };
      await guarded(`fault: ${t.sites[1].gateway.id} tunnel restart`, () => faultTunnelRestart(c, "remote", faults));
      await guarded(`fault: ${t.sites[0].gateway.id} tunnel restart`, () => faultTunnelRestart(c, "hub", faults));
      await guarded("fault: 5% underlay loss", async () => {
        const method = await faultLoss(c, result.metrics, faults);
        faults.lossMethod = method;
        result.standIns = standIns(method);
      });
      await guarded("negative control: wrong peer public key", () => negativeWrongKey(c, faults));
      await guarded("negative control: missing route on a test host", () => negativeMissingRoute(c));
      await guarded("fault: NAT rebinding of the remote gateway's public address", () => faultNatRebinding(c, faults));
    }
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
    !result.error &&
    result.checks.length > 0 &&
    result.checks.every((x) => x.ok) &&
    (result.namespacesLeft?.length ?? 0) === 0;
  const file = opts.resultsFile ?? path.join(RESULTS_DIR, `${prefix}.json`);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  result.resultsFile = file;
  fs.writeFileSync(file, maskSecrets(JSON.stringify(result, null, 2)));
  log("");
  log(renderTable(result));
  log(`results: ${file}`);
  return result;
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
