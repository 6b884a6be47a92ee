/**
 * The metrics lab: the shipped tunnel metrics and alert rules on real components, in three
 * namespaces of its own.
 *
 *   gw   a hub gateway ("par"): WireGuard (kernel, else wireguard-go), its forward policy
 *        loaded and forwarding on, the real collector (cloud-init/metrics/wg-s2s-metrics)
 *        every 10 s, Debian's node_exporter serving its textfile, and Prometheus in agent
 *        mode scraping it every 15 s and remote-writing with a token.
 *   far  the far end ("onprem"): WireGuard dialling the hub (keepalive 25 s) and its own
 *        collector, as every gateway we build runs one.
 *   mon  what stands in for Scaleway Cockpit: a reverse proxy with Cockpit's push path that
 *        checks the X-Token header (testkit/cockpitStandIn.ts, a stand-in), Debian's
 *        Prometheus server receiving the writes and evaluating observability/alerts.yml
 *        every 15 s, Debian's Alertmanager delivering to a webhook the lab reads.
 *
 *   off  a second far end ("office"), the one that gets cut.
 *
 * It waits for both tunnels' metrics to arrive. Then, at the same time: it keeps the
 * onprem tunnel up through a rekey and a change of that far end's address (negative
 * control: no tunnel-down alert for it), and drops the office's WireGuard UDP (cut) until
 * the office's alert is delivered, then lets it through again (restore) until the
 * resolution is delivered. Two peers of one gateway, one cut and one healthy, also show
 * that the alert names the peer that is down and no other; and the cut does not wait for
 * the rekey's 150 s. Every wait is bounded; every process is started here, tracked by
 * PID, and killed with the namespaces at the end.
 */
import { existsSync, mkdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from "fs";
import * as path from "path";
import { renderForwardPolicy } from "../cloud-init/firewall";
import { collectorScript, renderMetricsConfig } from "../cloud-init/tunnelMetrics";
import { remoteWriteUrl, renderPushAgentConfig } from "../cloud-init/metricsPush";
import { addNetns, addVethPair, ipIn, nsRun, nsRunOk } from "./netns";
import { pollUntil, runOk, sleep, spawnBackground, type BackgroundProcess } from "./proc";
import { startLabRun } from "./runLifecycle";

const ROOT = path.resolve(__dirname, "..");
const TSX = path.join(ROOT, "node_modules", ".bin", "tsx");
const RULES = path.join(ROOT, "observability", "alerts.yml");

/** Debian binaries the lab runs (packages in scripts/ensure-setup.js). */
export const METRICS_LAB_BINARIES: Record<string, string> = {
  prometheus: "/usr/bin/prometheus",
  "prometheus-node-exporter": "/usr/bin/prometheus-node-exporter",
  "prometheus-alertmanager": "/usr/bin/prometheus-alertmanager",
  "wireguard-tools": "/usr/bin/wg",
  "wireguard-go": "/usr/bin/wireguard-go",
  nftables: "/usr/sbin/nft",
  "iputils-ping": "/usr/bin/ping",
  curl: "/usr/bin/curl",
};

/** Why the metrics lab cannot run here, or undefined. */
export function metricsLabUnavailable(): string | undefined {
  if (typeof process.getuid !== "function" || process.getuid() !== 0) return "needs root (network namespaces)";
  if (!existsSync("/dev/net/tun")) return "no /dev/net/tun (wireguard-go needs it where the kernel has no WireGuard)";
  const missing = Object.entries(METRICS_LAB_BINARIES).filter(([, bin]) => !existsSync(bin));
  if (missing.length > 0) {
    return `missing ${missing.map(([pkg, bin]) => `${bin} (apt-get install ${pkg})`).join(", ")}; npm run setup as root installs them`;
  }
  return undefined;
}

export interface MetricsLabOptions {
  /** How long the onprem tunnel is watched while up (negative control); 150 s spans a rekey. */
  healthySeconds?: number;
  log?: (line: string) => void;
}

export interface Notification {
  at: number;
  status: string;
  alertname: string;
  labels: Record<string, string>;
}

/** CPU and memory of the gateway's metrics processes over the run (from /proc, this machine's clock ticks). */
export interface MetricsCost {
  /** Prometheus in agent mode: CPU seconds per minute of its life, resident memory at the end. */
  agentCpuSecondsPerMinute: number;
  agentRssMiB: number;
  /** The collector's loop and every command it ran (waited-for children included). */
  collectorCpuSecondsPerMinute: number;
  /** node_exporter (textfile collector only). */
  nodeExporterCpuSecondsPerMinute: number;
  nodeExporterRssMiB: number;
}

/** utime+stime (+ cutime+cstime with `children`) in seconds, and VmRSS in MiB, of a live process. */
export function processCost(pid: number, children = false): { cpuSeconds: number; rssMiB: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the command name (which may hold spaces): state is the first.
  const f = stat
    .slice(stat.lastIndexOf(")") + 2)
    .split(" ")
    .map(Number);
  const ticks = f[11] + f[12] + (children ? f[13] + f[14] : 0);
  const rss = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  // CLK_TCK is 100 on Linux for every architecture this runs on (sysconf(_SC_CLK_TCK)).
  return { cpuSeconds: ticks / 100, rssMiB: rss ? Math.round(Number(rss[1]) / 102.4) / 10 : 0 };
}

export interface MetricsLabResult {
  /** The metrics' cost on the gateway. */
  cost: MetricsCost;
  /** Pushes the Cockpit stand-in passed on (2xx from the Prometheus server) and refused (401). */
  pushes: { accepted: number; refused: number; acceptedBytesPerMinute: number; forms: string[] };
  /** Status the stand-in answered to a push with a wrong X-Token, a wrong bearer token, none. */
  wrongTokenStatus: number;
  wrongBearerStatus: number;
  noTokenStatus: number;
  /** Status of a junk push with the right X-Token: passed on, so the server's own answer. */
  rightXTokenStatus: number;
  healthy: {
    seconds: number;
    /** Latest handshake (Unix time) at the start and the end: the end's is later after a rekey. */
    handshakeBefore: number;
    handshakeAfter: number;
    endpointBefore: string;
    endpointAfter: string;
    /** Tunnel-down notifications (any status) delivered while the tunnel was up. */
    tunnelDownNotifications: Notification[];
    /** Evaluations that saw WgS2sTunnelDown pending while the tunnel was up. */
    tunnelDownPendingSeen: number;
    endpointChangedNotified: boolean;
  };
  /** The office's tunnel, cut and restored while the onprem one is watched. */
  cut: {
    /** Cut to the firing notification at the webhook; null if none within the bound. */
    fireMs: number | null;
    /** Restore to the resolved notification; null if none within the bound. */
    resolveMs: number | null;
  };
  /** Every notification the webhook received, in order. */
  notifications: Notification[];
  phasesMs: Record<string, number>;
}

const ADDR = {
  gwWan: "10.201.0.1",
  farWan: "10.201.0.2",
  farWanMoved: "10.201.0.3",
  gwMgmt: "10.202.0.1",
  monMgmt: "10.202.0.2",
  gwTunnel: "172.16.0.1",
  farTunnel: "172.16.0.2",
  gwWanOffice: "10.203.0.1",
  officeWan: "10.203.0.2",
  officeTunnel: "172.16.0.3",
};
const WG_PORT = 51820;
const PUSH_PORT = 8080;

function readNotifications(file: string): Notification[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8")
    .split("\n")
    .filter(Boolean)
    .flatMap((line) => {
      const { at, body } = JSON.parse(line) as {
        at: number;
        body: { alerts: { status: string; labels: Record<string, string> }[] };
      };
      return body.alerts.map((a) => ({ at, status: a.status, alertname: a.labels.alertname, labels: a.labels }));
    });
}

/** A sample's value from a textfile, by metric name and label subset. */
function textfileValue(text: string, name: string, label?: [string, string]): number | undefined {
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`)) continue;
    if (label && !line.includes(`${label[0]}="${label[1]}"`)) continue;
    return Number(line.split(" ").pop());
  }
  return undefined;
}

function textfileLabel(text: string, name: string, label: string, only?: [string, string]): string | undefined {
  const line = text
    .split("\n")
    .find((l) => l.startsWith(`${name}{`) && (!only || l.includes(`${only[0]}="${only[1]}"`)));
  return line ? new RegExp(`${label}="([^"]*)"`).exec(line)?.[1] : undefined;
}

const WIREGUARD_RUN_DIR = "/var/run/wireguard";

export async function runMetricsLab(opts: MetricsLabOptions = {}): Promise<MetricsLabResult> {
  const log = opts.log ?? (() => undefined);
  const healthySeconds = opts.healthySeconds ?? 150;
  // The namespace lab's run ownership: a prefix no live run holds, an owner record and a
  // reaper, so a run killed outright is swept by the next one.
  const labRun = await startLabRun({ log });
  const tag = labRun.prefix;
  const ns = { gw: `${tag}-gw`, far: `${tag}-far`, office: `${tag}-off`, mon: `${tag}-mon` };
  // Interface names are global to wireguard-go's control sockets (/var/run/wireguard): unique.
  const wg = { gw: `${tag}g`, far: `${tag}f`, office: `${tag}o` };
  // wireguard-go creates that directory on the machine when it is missing: leave it as found.
  const hadWireGuardRunDir = existsSync(WIREGUARD_RUN_DIR);
  const dir = labRun.runDir;
  const procs: BackgroundProcess[] = [];
  const phasesMs: Record<string, number> = {};
  let phaseStart = Date.now();
  const phase = (name: string) => {
    phasesMs[name] = Date.now() - phaseStart;
    phaseStart = Date.now();
    log(`${name}: ${(phasesMs[name] / 1000).toFixed(1)} s`);
  };
  /** The gateway's metrics processes whose cost the result reports. */
  const costed: Partial<Record<"agent" | "collector" | "nodeExporter", { pid: number; since: number }>> = {};
  const start = (name: string, nsName: string, argv: string[], env?: NodeJS.ProcessEnv) => {
    const p = spawnBackground(["ip", "netns", "exec", nsName, ...argv], env);
    procs.push(p);
    log(`started ${name} (pid ${p.pid}) in ${nsName}`);
    return p;
  };
  const file = (name: string, text: string, mode = 0o600) => {
    const p = path.join(dir, name);
    writeFileSync(p, text, { mode });
    return p;
  };
  const monGet = async (url: string, args: string[] = []) =>
    (await nsRunOk(ns.mon, ["curl", "-sS", "--max-time", "5", ...args, url], { timeoutMs: 10_000 })).stdout;
  const query = async (promql: string) => {
    const out = await monGet("http://127.0.0.1:9090/api/v1/query", ["-G", "--data-urlencode", `query=${promql}`]);
    return (JSON.parse(out) as { data: { result: { metric: Record<string, string>; value: [number, string] }[] } }).data
      .result;
  };
  const webhookLog = path.join(dir, "webhook.log");
  const pushStats = path.join(dir, "push-stats.log");

  try {
    // --- namespaces and links (never linked to the machine's own namespace)
    for (const name of Object.values(ns)) await addNetns(name);
    await addVethPair({ ns: ns.gw, name: "wan" }, { ns: ns.far, name: "wan" });
    await addVethPair({ ns: ns.gw, name: "wanoff" }, { ns: ns.office, name: "wan" });
    await addVethPair({ ns: ns.gw, name: "mgmt" }, { ns: ns.mon, name: "mgmt" });
    await nsRunOk(ns.far, ["sysctl", "-q", "-w", "net.ipv4.conf.all.promote_secondaries=1"]);
    await nsRunOk(ns.far, ["sysctl", "-q", "-w", "net.ipv4.conf.wan.promote_secondaries=1"]);
    for (const [n, dev, addr] of [
      [ns.gw, "wan", ADDR.gwWan],
      [ns.far, "wan", ADDR.farWan],
      [ns.gw, "wanoff", ADDR.gwWanOffice],
      [ns.office, "wan", ADDR.officeWan],
      [ns.gw, "mgmt", ADDR.gwMgmt],
      [ns.mon, "mgmt", ADDR.monMgmt],
    ]) {
      await ipIn(n, ["addr", "add", `${addr}/24`, "dev", dev]);
      await ipIn(n, ["link", "set", dev, "up"]);
    }

    // --- WireGuard on both ends
    const keys: Record<string, { priv: string; pub: string }> = {};
    for (const side of ["gw", "far", "office"] as const) {
      const priv = (await runOk(["wg", "genkey"])).stdout.trim();
      const pub = (await runOk(["wg", "pubkey"], { input: `${priv}\n` })).stdout.trim();
      keys[side] = { priv: file(`${side}.key`, `${priv}\n`), pub };
      const n = ns[side];
      const kernel = await nsRun(n, ["ip", "link", "add", wg[side], "type", "wireguard"]);
      if (kernel.code !== 0) {
        start(`wireguard-go ${wg[side]}`, n, ["wireguard-go", "-f", wg[side]], {
          ...process.env,
          WG_PROCESS_FOREGROUND: "1",
        });
        const up = await pollUntil(async () => (await nsRun(n, ["ip", "link", "show", wg[side]])).code === 0, 10_000);
        if (up === null) throw new Error(`wireguard-go did not create ${wg[side]} in ${n}`);
      }
    }
    await nsRunOk(ns.gw, [
      "wg",
      "set",
      wg.gw,
      "private-key",
      keys.gw.priv,
      "listen-port",
      String(WG_PORT),
      "peer",
      keys.far.pub,
      "allowed-ips",
      `${ADDR.farTunnel}/32`,
      "peer",
      keys.office.pub,
      "allowed-ips",
      `${ADDR.officeTunnel}/32`,
    ]);
    for (const [side, hubWan] of [
      ["far", ADDR.gwWan],
      ["office", ADDR.gwWanOffice],
    ] as const) {
      await nsRunOk(ns[side], [
        "wg",
        "set",
        wg[side],
        "private-key",
        keys[side].priv,
        "peer",
        keys.gw.pub,
        "allowed-ips",
        `${ADDR.gwTunnel}/32`,
        "endpoint",
        `${hubWan}:${WG_PORT}`,
        "persistent-keepalive",
        "25",
      ]);
    }
    for (const [side, own, others] of [
      ["gw", ADDR.gwTunnel, [ADDR.farTunnel, ADDR.officeTunnel]],
      ["far", ADDR.farTunnel, [ADDR.gwTunnel]],
      ["office", ADDR.officeTunnel, [ADDR.gwTunnel]],
    ] as const) {
      await ipIn(ns[side], ["addr", "add", `${own}/32`, "dev", wg[side]]);
      await ipIn(ns[side], ["link", "set", wg[side], "up"]);
      for (const other of others) await ipIn(ns[side], ["route", "add", `${other}/32`, "dev", wg[side]]);
    }
    // The hub's forward policy and forwarding, as on a gateway we build.
    const policy = file(
      "forward.nft",
      renderForwardPolicy({
        siteName: "par",
        forwardFlows: [
          { from: "192.168.0.0/24", to: "192.168.1.0/24" },
          { from: "192.168.1.0/24", to: "192.168.0.0/24" },
        ],
      }),
    );
    await nsRunOk(ns.gw, ["nft", "-f", policy]);
    await nsRunOk(ns.gw, ["sysctl", "-q", "-w", "net.ipv4.ip_forward=1"]);
    phase("namespaces and tunnel");

    // --- collectors (the shipped script and config; interface, output and HA file moved here)
    const script = file("wg-s2s-metrics", collectorScript(), 0o755);
    type Probe = { name: string; publicKey: string; address: string };
    const collector = (side: "gw" | "far", site: string, peers: Probe[]) => {
      const textfileDir = path.join(dir, `${side}-textfile`);
      mkdirSync(textfileDir);
      const config = renderMetricsConfig({
        siteName: site,
        peers: peers.map(({ name, publicKey }) => ({ name, publicKey })),
        metrics: { active: true, probes: peers.map(({ name, address }) => ({ peer: name, address })) },
      })
        .replace(/^interface .*$/m, `interface ${wg[side]}`)
        .replace(/^output .*$/m, `output ${path.join(textfileDir, "wg_s2s.prom")}`)
        .replace(/^active_file .*$/m, `active_file ${path.join(dir, `${side}-active`)}`);
      const p = start(`collector (${site})`, ns[side], [
        "sh",
        script,
        "--loop",
        "10",
        file(`${side}-metrics.conf`, config),
      ]);
      if (side === "gw") costed.collector = { pid: p.pid, since: Date.now() };
      return textfileDir;
    };
    const gwTextfiles = collector("gw", "par", [
      { name: "onprem", publicKey: keys.far.pub, address: ADDR.farTunnel },
      { name: "office", publicKey: keys.office.pub, address: ADDR.officeTunnel },
    ]);
    collector("far", "onprem", [{ name: "par", publicKey: keys.gw.pub, address: ADDR.gwTunnel }]);
    const gwTextfile = path.join(gwTextfiles, "wg_s2s.prom");

    // --- node_exporter and the Prometheus agent on the gateway
    costed.nodeExporter = { pid: 0, since: Date.now() };
    costed.nodeExporter.pid = start("node_exporter", ns.gw, [
      "prometheus-node-exporter",
      "--web.listen-address=127.0.0.1:9100",
      `--collector.textfile.directory=${gwTextfiles}`,
      "--collector.disable-defaults",
      "--collector.textfile",
    ]).pid;
    const token = (await runOk(["sh", "-c", "head -c 24 /dev/urandom | base64"])).stdout.trim();
    const tokenFile = file("push-token", `${token}\n`);
    // The agent's configuration as a gateway gets it with `cockpit: true` (cloud-init/metricsPush.ts),
    // pointed at the stand-in's push path and at this run's token file.
    const agentConfig = file(
      "agent.yml",
      renderPushAgentConfig(
        { url: remoteWriteUrl(`http://${ADDR.monMgmt}:${PUSH_PORT}`), instance: "par-gw" },
        tokenFile,
      ),
    );
    costed.agent = { pid: 0, since: Date.now() };
    costed.agent.pid = start("prometheus agent", ns.gw, [
      "prometheus",
      "--enable-feature=agent",
      `--config.file=${agentConfig}`,
      `--storage.agent.path=${path.join(dir, "agent")}`,
      "--web.listen-address=127.0.0.1:9091",
    ]).pid;

    // --- the Cockpit stand-in: push proxy, Prometheus server with the shipped rules, Alertmanager, webhook
    const serverConfig = file(
      "server.yml",
      [
        "global:",
        "  evaluation_interval: 15s",
        "rule_files:",
        `  - ${RULES}`,
        "alerting:",
        "  alertmanagers:",
        "    - static_configs:",
        '        - targets: ["127.0.0.1:9093"]',
        "",
      ].join("\n"),
    );
    start("prometheus server", ns.mon, [
      "prometheus",
      `--config.file=${serverConfig}`,
      `--storage.tsdb.path=${path.join(dir, "tsdb")}`,
      "--web.listen-address=127.0.0.1:9090",
      "--web.enable-remote-write-receiver",
    ]);
    const amConfig = file(
      "alertmanager.yml",
      [
        "route:",
        "  receiver: webhook",
        "  group_by: [alertname, instance, peer]",
        "  group_wait: 0s",
        "  group_interval: 5s",
        "  repeat_interval: 1h",
        "receivers:",
        "  - name: webhook",
        "    webhook_configs:",
        "      - url: http://127.0.0.1:9095/alerts",
        "        send_resolved: true",
        "",
      ].join("\n"),
    );
    start("alertmanager", ns.mon, [
      "prometheus-alertmanager",
      `--config.file=${amConfig}`,
      `--storage.path=${path.join(dir, "alertmanager")}`,
      "--web.listen-address=127.0.0.1:9093",
      "--cluster.listen-address=",
    ]);
    const standIn = path.join(ROOT, "testkit", "cockpitStandIn.ts");
    start("push proxy (Cockpit stand-in)", ns.mon, [
      process.execPath,
      TSX,
      standIn,
      "push-proxy",
      ADDR.monMgmt,
      String(PUSH_PORT),
      "http://127.0.0.1:9090/api/v1/write",
      tokenFile,
      pushStats,
    ]);
    start("webhook", ns.mon, [process.execPath, TSX, standIn, "webhook", "127.0.0.1", "9095", webhookLog]);

    // --- the tunnel's metrics arrive at the server through the push path
    const arrived = await pollUntil(
      async () => {
        try {
          const r = await query('wg_s2s_peer_ping_up{instance="par-gw"} == 1');
          return r.length === 2;
        } catch {
          return false;
        }
      },
      120_000,
      2000,
    );
    if (arrived === null) {
      const tails = procs.map((p) => `--- pid ${p.pid}\n${p.output().slice(-600)}`).join("\n");
      throw new Error(`the tunnel's metrics did not reach the Prometheus server within 120 s\n${tails}`);
    }
    const statusOf = async (args: string[]) =>
      Number(
        await monGet(`http://${ADDR.monMgmt}:${PUSH_PORT}/api/v1/push`, [
          "-o",
          "/dev/null",
          "-w",
          "%{http_code}",
          "-X",
          "POST",
          "--data-binary",
          "x",
          ...args,
        ]),
      );
    const wrongTokenStatus = await statusOf(["-H", "X-Token: wrong"]);
    const wrongBearerStatus = await statusOf(["-H", "Authorization: Bearer wrong"]);
    const noTokenStatus = await statusOf([]);
    // The documented form with the right token goes through to the server (which refuses
    // the junk body itself: 400, not the stand-in's 401).
    const rightXTokenStatus = await statusOf(["-H", `X-Token: ${token}`]);
    phase("metrics arrive");

    const textfile = () => (existsSync(gwTextfile) ? readFileSync(gwTextfile, "utf8") : "");
    const onprem: [string, string] = ["peer", "onprem"];
    const tunnelDown = (n: Notification, peer: string, status: string, after: number) =>
      n.alertname === "WgS2sTunnelDown" && n.labels.peer === peer && n.status === status && n.at >= after;

    // --- onprem: a healthy tunnel through a rekey and a change of the far end's address
    const healthyTunnel = async () => {
      const handshakeBefore = textfileValue(textfile(), "wg_s2s_peer_latest_handshake_timestamp_seconds", onprem) ?? 0;
      const endpointBefore = textfileLabel(textfile(), "wg_s2s_peer_endpoint_info", "endpoint", onprem) ?? "";
      const healthyStart = Date.now();
      let moved = false;
      let pendingSeen = 0;
      for (
        let round = 0;
        round < healthySeconds / 5 + 1 && Date.now() - healthyStart < healthySeconds * 1000;
        round++
      ) {
        if (!moved && Date.now() - healthyStart > (healthySeconds * 1000) / 3) {
          // The far end's address changes, as behind a NAT that rebinds: WireGuard roams.
          await ipIn(ns.far, ["addr", "add", `${ADDR.farWanMoved}/24`, "dev", "wan"]);
          await ipIn(ns.far, ["addr", "del", `${ADDR.farWan}/24`, "dev", "wan"]);
          moved = true;
          log("far end's address moved");
        }
        const pending = await query('ALERTS{alertname="WgS2sTunnelDown",peer="onprem"}').catch(() => []);
        pendingSeen += pending.length;
        await sleep(5000);
      }
      const endpointAfter = textfileLabel(textfile(), "wg_s2s_peer_endpoint_info", "endpoint", onprem) ?? "";
      const handshakeAfter = textfileValue(textfile(), "wg_s2s_peer_latest_handshake_timestamp_seconds", onprem) ?? 0;
      // The endpoint-changed information is evaluated without delay; give its delivery 60 s.
      await pollUntil(
        async () =>
          readNotifications(webhookLog).some(
            (n) => n.alertname === "WgS2sPeerEndpointChanged" && n.labels.peer === "onprem",
          ),
        60_000,
        2000,
      );
      const notifications = readNotifications(webhookLog);
      phasesMs["healthy tunnel (onprem)"] = Date.now() - healthyStart;
      return {
        seconds: healthySeconds,
        handshakeBefore,
        handshakeAfter,
        endpointBefore,
        endpointAfter,
        tunnelDownNotifications: notifications.filter(
          (n) => n.alertname === "WgS2sTunnelDown" && n.labels.peer === "onprem",
        ),
        tunnelDownPendingSeen: pendingSeen,
        endpointChangedNotified: notifications.some(
          (n) => n.alertname === "WgS2sPeerEndpointChanged" && n.labels.peer === "onprem" && n.status === "firing",
        ),
      };
    };

    // --- office: its WireGuard UDP dropped both ways (cut), then let through (restore)
    const cutAndRestore = async () => {
      const cutTable = file(
        "cut.nft",
        [
          "table inet wgm_cut {",
          `\tchain in { type filter hook input priority 0; udp sport ${WG_PORT} drop; }`,
          `\tchain out { type filter hook output priority 0; udp dport ${WG_PORT} drop; }`,
          "}",
          "",
        ].join("\n"),
      );
      const cutAt = Date.now();
      await nsRunOk(ns.office, ["nft", "-f", cutTable]);
      const delivered = (status: string, after: number) =>
        readNotifications(webhookLog).find((n) => tunnelDown(n, "office", status, after));
      await pollUntil(() => Promise.resolve(delivered("firing", cutAt) !== undefined), 180_000, 1000);
      const fired = delivered("firing", cutAt);
      phasesMs["cut to alert (office)"] = Date.now() - cutAt;
      log(`cut to alert (office): ${(phasesMs["cut to alert (office)"] / 1000).toFixed(1)} s`);
      const restoreAt = Date.now();
      await nsRunOk(ns.office, ["nft", "delete", "table", "inet", "wgm_cut"]);
      await pollUntil(() => Promise.resolve(delivered("resolved", restoreAt) !== undefined), 180_000, 1000);
      const resolved = delivered("resolved", restoreAt);
      phasesMs["restore to resolution (office)"] = Date.now() - restoreAt;
      log(`restore to resolution (office): ${(phasesMs["restore to resolution (office)"] / 1000).toFixed(1)} s`);
      return { fireMs: fired ? fired.at - cutAt : null, resolveMs: resolved ? resolved.at - restoreAt : null };
    };
    const [healthy, cut] = await Promise.all([healthyTunnel(), cutAndRestore()]);
    phase("healthy onprem beside the office's cut and restore");

    const stats = existsSync(pushStats)
      ? readFileSync(pushStats, "utf8")
          .split("\n")
          .filter(Boolean)
          .map((l) => JSON.parse(l) as { at: number; status: number; bytes: number; form: string })
      : [];
    const accepted = stats.filter((s) => s.status >= 200 && s.status < 300);
    const perMinute = (which: keyof typeof costed, children = false) => {
      const c = costed[which]!;
      const { cpuSeconds, rssMiB } = processCost(c.pid, children);
      return { cpuPerMinute: Math.round((cpuSeconds / ((Date.now() - c.since) / 60_000)) * 1000) / 1000, rssMiB };
    };
    const agentCost = perMinute("agent");
    const nodeExporterCost = perMinute("nodeExporter");
    const spanMinutes = accepted.length > 1 ? (accepted[accepted.length - 1].at - accepted[0].at) / 60_000 : 0;
    return {
      cost: {
        agentCpuSecondsPerMinute: agentCost.cpuPerMinute,
        agentRssMiB: agentCost.rssMiB,
        collectorCpuSecondsPerMinute: perMinute("collector", true).cpuPerMinute,
        nodeExporterCpuSecondsPerMinute: nodeExporterCost.cpuPerMinute,
        nodeExporterRssMiB: nodeExporterCost.rssMiB,
      },
      pushes: {
        accepted: accepted.length,
        refused: stats.filter((s) => s.status === 401).length,
        forms: [...new Set(accepted.map((s) => s.form))],
        acceptedBytesPerMinute:
          spanMinutes > 0 ? Math.round(accepted.slice(1).reduce((sum, s) => sum + s.bytes, 0) / spanMinutes) : 0,
      },
      wrongTokenStatus,
      wrongBearerStatus,
      noTokenStatus,
      rightXTokenStatus,
      healthy,
      cut,
      notifications: readNotifications(webhookLog),
      phasesMs,
    };
  } finally {
    for (const p of [...procs].reverse()) await p.stop(3000);
    await labRun.finish();
    for (const name of Object.values(wg)) rmSync(`${WIREGUARD_RUN_DIR}/${name}.sock`, { force: true });
    if (!hadWireGuardRunDir) {
      try {
        rmdirSync(WIREGUARD_RUN_DIR);
      } catch {
        /* absent, or another run's sockets are in it: theirs to remove */
      }
    }
  }
}

/** For a result file: seconds with one decimal, or "none". */
export function seconds(ms: number | null): string {
  return ms === null ? "none" : (ms / 1000).toFixed(1);
}
