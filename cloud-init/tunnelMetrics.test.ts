/** @tier unit */
import { readFileSync } from "fs";
import * as path from "path";
import {
  ACTIVE_FILE,
  COLLECT_INTERVAL_SECONDS,
  METRICS_PATHS,
  TEXTFILE_DIRECTORY,
  TUNNEL_METRICS,
  collectorScript,
  renderCollectorUnit,
  renderMetricsConfig,
  type TunnelMetricsSpec,
} from "./tunnelMetrics";
import { KeyRing, WIREGUARD_KEY_SHAPE, shellcheck, systemdVerify } from "../testkit/cloudInit";
import {
  parseSamples,
  promtoolCheckMetrics,
  promtoolMissing,
  runCollector,
  type CollectorWorld,
} from "../testkit/metricsCollector";
import { describeUnless } from "../scripts/tier-skip";

const keys = new KeyRing();
const ONPREM = keys.wireguardKeyPair("onprem").publicKey;
const LYON = keys.wireguardKeyPair("lyon").publicKey;

const HUB: TunnelMetricsSpec = {
  siteName: "par",
  peers: [
    { name: "onprem", publicKey: ONPREM },
    { name: "lyon", publicKey: LYON },
  ],
  metrics: {
    active: true,
    probes: [
      { peer: "onprem", address: "172.16.0.2" },
      { peer: "lyon", address: "172.16.0.3" },
    ],
  },
};

/** Both peers handshaken and answering, every tool there. */
const HEALTHY: CollectorWorld = {
  peers: [
    { publicKey: ONPREM, handshake: 1765000000, rx: 1234, tx: 5678, endpoint: "198.51.100.20:52435" },
    { publicKey: LYON, handshake: 1765000100, rx: 42, tx: 43, endpoint: "203.0.113.7:40000" },
  ],
  answering: { "172.16.0.2": 12.5, "172.16.0.3": 3.25 },
  tools: { wg: true, ping: true, nft: true },
  policyLoaded: true,
  forwarding: true,
  interface: "up",
};

const declared = new Map(TUNNEL_METRICS.map((m) => [m.name, m]));

function valueOf(text: string | undefined, name: string, labels: Record<string, string> = {}): number | undefined {
  const match = parseSamples(text ?? "").find(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
  return match?.value;
}

describe("the metric list", () => {
  it("follows Prometheus naming: one prefix, counters end in _total, times in _seconds, no unit-less sizes", () => {
    for (const m of TUNNEL_METRICS) {
      expect(m.name).toMatch(/^wg_s2s_[a-z0-9_]+$/);
      expect(m.name.endsWith("_total")).toBe(m.type === "counter");
      if (/timestamp|rtt|duration/.test(m.name)) expect(m.name).toMatch(/_seconds$/);
      if (/bytes/.test(m.name)) expect(m.name).toMatch(/_bytes_total$/);
      expect(m.help).not.toMatch(/[\n\\]/);
      expect(m.labels[0]).toBe("site");
    }
    expect(new Set(TUNNEL_METRICS.map((m) => m.name)).size).toBe(TUNNEL_METRICS.length);
  });

  it("is documented in docs/metrics.md: name, type and labels of every metric, and nothing else", () => {
    const doc = readFileSync(path.join(__dirname, "..", "docs", "metrics.md"), "utf8");
    const rows = [...doc.matchAll(/^\| `(wg_s2s_[a-z0-9_]+)` +\| (\w+) +\| ([^|]*)\|/gm)];
    expect(rows.map((r) => r[1])).toEqual(TUNNEL_METRICS.map((m) => m.name));
    for (const [, name, type, labels] of rows) {
      expect(type).toBe(declared.get(name)?.type);
      expect(labels.trim()).toBe(
        declared
          .get(name)
          ?.labels.map((l) => `\`${l}\``)
          .join(", "),
      );
    }
  });
});

describe("collector config", () => {
  const config = renderMetricsConfig(HUB);

  it("names the site, interface, policy table, output and one peer line per probe, sorted, public keys only", () => {
    expect(keys.mask(config)).toMatchSnapshot();
    expect(config).toContain(`output ${TEXTFILE_DIRECTORY}/wg_s2s.prom`);
    expect(config).toContain(`active_file ${ACTIVE_FILE}`);
    const peers = config.split("\n").filter((l) => l.startsWith("peer "));
    expect(peers).toEqual([`peer lyon ${LYON} 172.16.0.3`, `peer onprem ${ONPREM} 172.16.0.2`]);
    for (const secret of keys.secrets()) expect(config).not.toContain(secret);
    const metricLines = config.split("\n").filter((l) => l.startsWith("metric "));
    expect(metricLines).toEqual(TUNNEL_METRICS.map((m) => `metric ${m.name} ${m.type} ${m.help}`));
  });

  it("says 0 for a standby gateway", () => {
    expect(renderMetricsConfig({ ...HUB, metrics: { ...HUB.metrics, active: false } })).toMatch(/^active_default 0$/m);
    expect(config).toMatch(/^active_default 1$/m);
  });

  it("refuses a probe for no peer, a peer without probe, two probes for one peer, and a bad address", () => {
    const probes = HUB.metrics.probes;
    const withProbes = (p: typeof probes) => ({ ...HUB, metrics: { active: true, probes: p } });
    expect(() => renderMetricsConfig(withProbes([...probes, { peer: "nice", address: "172.16.0.9" }]))).toThrow(
      /probe for "nice", which is not a WireGuard peer of this gateway \(peers: onprem, lyon\)/,
    );
    expect(() => renderMetricsConfig(withProbes(probes.slice(0, 1)))).toThrow(/no probe for peer "lyon"/);
    expect(() => renderMetricsConfig(withProbes([...probes, probes[0]]))).toThrow(/two probes for "onprem"/);
    expect(() => renderMetricsConfig(withProbes([probes[0], { peer: "lyon", address: "172.16.0.300" }]))).toThrow(
      /probe address of "lyon"/,
    );
    expect(() => renderMetricsConfig({ ...HUB, siteName: "" })).toThrow(/siteName/);
  });
});

describe("collector unit and script", () => {
  it("runs the collector in a loop every 10 s, restarted when it dies, after the tunnel's units and required by none", () => {
    const unit = renderCollectorUnit();
    expect(unit).toContain(
      `ExecStart=${METRICS_PATHS.collectorScript} --loop ${COLLECT_INTERVAL_SECONDS} ${METRICS_PATHS.collectorConfig}`,
    );
    expect(COLLECT_INTERVAL_SECONDS).toBeLessThanOrEqual(15 - 3); // a collection takes 3 s at most
    expect(unit).toMatch(/^Restart=always$/m);
    expect(unit).toMatch(/^After=wg-s2s-firewall\.service systemd-networkd\.service$/m);
    expect(unit).not.toMatch(/^(Before|RequiredBy|Requires|BindsTo)=/m);
    expect(unit).toMatch(/^WantedBy=multi-user\.target$/m);
    expect(systemdVerify([{ path: METRICS_PATHS.collectorUnit, content: unit }])).toEqual({ ok: true, output: "" });
  });

  it("ships a shellcheck-clean POSIX sh script", () => {
    const script = collectorScript();
    expect(script.startsWith("#!/bin/sh\n")).toBe(true);
    expect(shellcheck(script)).toEqual({ ok: true, output: "" });
  });
});

describe("collector run (stand-ins for wg, ping, nft, /proc and /sys)", () => {
  const config = renderMetricsConfig(HUB);

  it("writes every declared metric, in declaration order, with the declared labels, and nothing else", () => {
    const run = runCollector(config, HEALTHY);
    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);
    const samples = parseSamples(run.textfile ?? "");
    const namesInOrder = [...new Set(samples.map((s) => s.name))];
    expect(namesInOrder).toEqual(TUNNEL_METRICS.map((m) => m.name));
    for (const s of samples) expect(s.labelOrder).toEqual(declared.get(s.name)?.labels);
    // Each metric under its own HELP and TYPE, as declared.
    for (const m of TUNNEL_METRICS) {
      expect(run.textfile).toContain(`# HELP ${m.name} ${m.help}\n# TYPE ${m.name} ${m.type}\n${m.name}{`);
    }
    expect(run.outputDirectory).toEqual(["wg_s2s.prom"]);
  });

  it("reports each peer by site name: handshake, bytes, endpoint, ping and its RTT in seconds", () => {
    const { textfile } = runCollector(config, HEALTHY);
    const onprem = { peer: "onprem", site: "par", interface: "wg0" };
    expect(valueOf(textfile, "wg_s2s_peer_latest_handshake_timestamp_seconds", onprem)).toBe(1765000000);
    expect(valueOf(textfile, "wg_s2s_peer_receive_bytes_total", onprem)).toBe(1234);
    expect(valueOf(textfile, "wg_s2s_peer_transmit_bytes_total", onprem)).toBe(5678);
    expect(valueOf(textfile, "wg_s2s_peer_endpoint_info", { ...onprem, endpoint: "198.51.100.20:52435" })).toBe(1);
    expect(valueOf(textfile, "wg_s2s_peer_ping_up", { ...onprem, address: "172.16.0.2" })).toBe(1);
    expect(valueOf(textfile, "wg_s2s_peer_ping_rtt_seconds", { ...onprem, address: "172.16.0.2" })).toBeCloseTo(0.0125);
    expect(valueOf(textfile, "wg_s2s_peer_ping_rtt_seconds", { peer: "lyon" })).toBeCloseTo(0.00325);
    expect(valueOf(textfile, "wg_s2s_interface_up")).toBe(1);
    expect(valueOf(textfile, "wg_s2s_forwarding_enabled")).toBe(1);
    expect(valueOf(textfile, "wg_s2s_forward_policy_loaded", { table: "inet wg_s2s" })).toBe(1);
    expect(valueOf(textfile, "wg_s2s_gateway_active")).toBe(1);
    const now = Date.now() / 1000;
    expect(valueOf(textfile, "wg_s2s_collector_last_run_timestamp_seconds")).toBeGreaterThan(now - 60);
  });

  it("never asks wg for anything that prints a key other than public ones", () => {
    const run = runCollector(config, HEALTHY);
    expect(run.wgCalls.map((c) => c[2]).sort()).toEqual(["endpoints", "latest-handshakes", "transfer"]);
    expect(run.textfile).not.toMatch(WIREGUARD_KEY_SHAPE);
  });

  it("says a peer whose ping goes unanswered is down, without an RTT, and keeps the other", () => {
    const { textfile } = runCollector(config, { ...HEALTHY, answering: { "172.16.0.3": 3 } });
    expect(valueOf(textfile, "wg_s2s_peer_ping_up", { peer: "onprem" })).toBe(0);
    expect(valueOf(textfile, "wg_s2s_peer_ping_rtt_seconds", { peer: "onprem" })).toBeUndefined();
    expect(valueOf(textfile, "wg_s2s_peer_ping_up", { peer: "lyon" })).toBe(1);
  });

  it("reports a peer that never handshook with handshake 0 and endpoint none", () => {
    const peers = [HEALTHY.peers[0], { ...HEALTHY.peers[1], handshake: 0, endpoint: "(none)" }];
    const { textfile } = runCollector(config, { ...HEALTHY, peers });
    expect(valueOf(textfile, "wg_s2s_peer_latest_handshake_timestamp_seconds", { peer: "lyon" })).toBe(0);
    expect(valueOf(textfile, "wg_s2s_peer_endpoint_info", { peer: "lyon", endpoint: "none" })).toBe(1);
  });

  it("without wireguard-tools (before the extras unit installed them): says so, still pings and reads the gateway", () => {
    const run = runCollector(config, { ...HEALTHY, tools: { wg: false, ping: true, nft: true } });
    expect(run.status).toBe(0);
    const names = new Set(parseSamples(run.textfile ?? "").map((s) => s.name));
    expect(valueOf(run.textfile, "wg_s2s_collector_tool_available", { tool: "wg" })).toBe(0);
    expect(valueOf(run.textfile, "wg_s2s_collector_tool_available", { tool: "ping" })).toBe(1);
    for (const name of [...names]) expect(name).not.toMatch(/handshake|bytes|endpoint/);
    expect(valueOf(run.textfile, "wg_s2s_peer_ping_up", { peer: "onprem" })).toBe(1);
    expect(valueOf(run.textfile, "wg_s2s_interface_up")).toBe(1);
  });

  it("without nft or ping: policy reported not loaded, no ping metrics, each missing tool named", () => {
    const run = runCollector(config, { ...HEALTHY, tools: { wg: true, ping: false, nft: false } });
    expect(run.status).toBe(0);
    expect(valueOf(run.textfile, "wg_s2s_forward_policy_loaded")).toBe(0);
    expect(valueOf(run.textfile, "wg_s2s_collector_tool_available", { tool: "nft" })).toBe(0);
    expect(valueOf(run.textfile, "wg_s2s_collector_tool_available", { tool: "ping" })).toBe(0);
    expect(valueOf(run.textfile, "wg_s2s_peer_ping_up")).toBeUndefined();
  });

  it("reports forwarding off, the policy not loaded, wg0 down or missing", () => {
    const off = runCollector(config, { ...HEALTHY, forwarding: false, policyLoaded: false, interface: "down" });
    expect(valueOf(off.textfile, "wg_s2s_forwarding_enabled")).toBe(0);
    expect(valueOf(off.textfile, "wg_s2s_forward_policy_loaded")).toBe(0);
    expect(valueOf(off.textfile, "wg_s2s_interface_up")).toBe(0);
    const missing = runCollector(config, { ...HEALTHY, interface: "missing", answering: {} });
    expect(missing.status).toBe(0);
    expect(valueOf(missing.textfile, "wg_s2s_interface_up")).toBe(0);
    expect(valueOf(missing.textfile, "wg_s2s_peer_ping_up", { peer: "onprem" })).toBe(0);
    expect(valueOf(missing.textfile, "wg_s2s_peer_latest_handshake_timestamp_seconds")).toBeUndefined();
  });

  it("takes the HA agent's word for active (0 or 1 only), else the configured default", () => {
    expect(valueOf(runCollector(config, { ...HEALTHY, activeFile: "0\n" }).textfile, "wg_s2s_gateway_active")).toBe(0);
    expect(valueOf(runCollector(config, { ...HEALTHY, activeFile: "yes\n" }).textfile, "wg_s2s_gateway_active")).toBe(
      1,
    );
    const standby = renderMetricsConfig({ ...HUB, metrics: { ...HUB.metrics, active: false } });
    expect(valueOf(runCollector(standby, HEALTHY).textfile, "wg_s2s_gateway_active")).toBe(0);
    expect(valueOf(runCollector(standby, { ...HEALTHY, activeFile: "1" }).textfile, "wg_s2s_gateway_active")).toBe(1);
  });

  it("refuses a config without a site or with an unknown setting, writing nothing", () => {
    const noSite = runCollector(config.replace(/^site .*\n/m, ""), HEALTHY);
    expect(noSite.status).not.toBe(0);
    expect(noSite.stderr).toMatch(/no 'site' setting/);
    expect(noSite.textfile).toBeUndefined();
    const typo = runCollector(`${config}interfase wg1\n`, HEALTHY);
    expect(typo.stderr).toMatch(/unknown setting 'interfase'/);
  });
});

describeUnless(promtoolMissing())("collector output under promtool", () => {
  it("passes `promtool check metrics` (names, units, HELP and TYPE)", () => {
    const { textfile } = runCollector(renderMetricsConfig(HUB), HEALTHY);
    expect(promtoolCheckMetrics(textfile ?? "")).toEqual({ ok: true, output: "" });
  });

  it("promtool flags a counter without _total (negative control)", () => {
    const bad = "# HELP wg_s2s_bytes Bytes.\n# TYPE wg_s2s_bytes counter\nwg_s2s_bytes 1\n";
    expect(promtoolCheckMetrics(bad).ok).toBe(false);
  });
});
