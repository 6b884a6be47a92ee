/** @tier unit */
/**
 * The shipped alert rules (observability/alerts.yml) under `promtool test rules` with their
 * tests (observability/alerts_test.yml), and the same tests against broken copies of the
 * rules, which must fail: that is what makes the negative controls count.
 */
import { spawnSync } from "child_process";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import { parse } from "yaml";
import { TUNNEL_METRICS } from "../cloud-init/tunnelMetrics";
import { PROMTOOL, promtoolMissing } from "../testkit/metricsCollector";
import { describeUnless } from "../scripts/tier-skip";

const DIR = path.join(__dirname, "..", "observability");
const RULES = readFileSync(path.join(DIR, "alerts.yml"), "utf8");
const NEGATIVE_CONTROL = "a healthy tunnel through rekeys and an endpoint change raises no tunnel-down alert";
const STANDBY = "the standby's tunnel down does not alert until it becomes the active gateway";

interface Rule {
  alert: string;
  expr: string;
  for?: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}
const rules: Rule[] = parse(RULES).groups.flatMap((g: { rules: Rule[] }) => g.rules);

/** `promtool test rules` on the shipped tests, against `rules` (the shipped file unless given). */
function promtoolTest(rulesText = RULES): { ok: boolean; output: string } {
  const dir = mkdtempSync(path.join(tmpdir(), "wg-s2s-rules-"));
  try {
    copyFileSync(path.join(DIR, "alerts_test.yml"), path.join(dir, "alerts_test.yml"));
    writeFileSync(path.join(dir, "alerts.yml"), rulesText);
    const result = spawnSync(PROMTOOL, ["test", "rules", "alerts_test.yml"], {
      cwd: dir,
      encoding: "utf8",
      timeout: 60000,
    });
    return { ok: result.status === 0, output: `${result.stdout ?? ""}${result.stderr ?? ""}` };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The shipped rules with one piece of text replaced (which must be there). */
function mutated(from: string, to: string): string {
  expect(RULES).toContain(from);
  return RULES.replace(from, to);
}

/** Names of the promtool tests that failed. */
function failedTests(output: string): string[] {
  return [...output.matchAll(/name: (.+?),\n/g)].map((m) => m[1]);
}

describe("alert rules (text)", () => {
  it("name only metrics the collector exports (and up)", () => {
    const exported = new Set([...TUNNEL_METRICS.map((m) => m.name), "up"]);
    for (const rule of rules) {
      const names = [...rule.expr.matchAll(/\b(wg_s2s_[a-z0-9_]+|up)\b/g)].map((m) => m[1]);
      expect(names.length).toBeGreaterThan(0);
      for (const name of names) expect(exported).toContain(name);
    }
  });

  it("leave the HA standby out of tunnel-down, and give every alert a severity, summary and description", () => {
    const tunnelDown = rules.find((r) => r.alert === "WgS2sTunnelDown");
    expect(tunnelDown?.expr).toMatch(/and on \(instance\) \(wg_s2s_gateway_active == 1\)/);
    expect(tunnelDown?.expr).not.toMatch(/handshake/);
    for (const rule of rules) {
      expect(["critical", "warning", "info"]).toContain(rule.labels.severity);
      expect(rule.annotations.summary).toBeTruthy();
      expect(rule.annotations.description).toBeTruthy();
    }
    expect(rules.map((r) => r.alert).sort()).toEqual([
      "WgS2sCollectorToolMissing",
      "WgS2sForwardPolicyNotLoaded",
      "WgS2sForwardingOff",
      "WgS2sGatewayDown",
      "WgS2sMetricsStale",
      "WgS2sPeerEndpointChanged",
      "WgS2sTunnelDown",
    ]);
  });
});

describeUnless(promtoolMissing())("alert rules under promtool", () => {
  it("pass `promtool check rules`", () => {
    const result = spawnSync(PROMTOOL, ["check", "rules", path.join(DIR, "alerts.yml")], { encoding: "utf8" });
    expect(result.stderr).toBe("");
    expect(result.stdout).toMatch(/SUCCESS: 7 rules found/);
  });

  it("pass their tests: every alert fires when it should, and tunnel-down stays silent through rekeys and a NAT change", () => {
    const result = promtoolTest();
    expect(result.output).toMatch(/SUCCESS/);
    expect(result.ok).toBe(true);
    // Every rule has at least one test that expects it to fire.
    const tests = readFileSync(path.join(DIR, "alerts_test.yml"), "utf8");
    for (const rule of rules) {
      expect(tests).toMatch(new RegExp(`alertname: ${rule.alert}\\n\\s+exp_alerts:\\n\\s+- exp_labels`));
    }
  });

  it("negative control: tunnel-down on a handshake age short enough to fire within 90 s would fire on the healthy tunnel", () => {
    const result = promtoolTest(
      mutated(
        "(wg_s2s_peer_ping_up == 0)\n          and on (instance) (wg_s2s_gateway_active == 1)",
        "time() - wg_s2s_peer_latest_handshake_timestamp_seconds > 60",
      ),
    );
    expect(result.ok).toBe(false);
    expect(failedTests(result.output)).toContain(NEGATIVE_CONTROL);
  });

  it("negative control: tunnel-down without its 30 s would fire on the one lost collection", () => {
    const result = promtoolTest(mutated("        for: 30s\n", "        for: 0s\n"));
    expect(result.ok).toBe(false);
    expect(failedTests(result.output)).toContain(NEGATIVE_CONTROL);
  });

  it("negative control: tunnel-down without the standby clause would fire on the standby", () => {
    const result = promtoolTest(mutated("\n          and on (instance) (wg_s2s_gateway_active == 1)", ""));
    expect(result.ok).toBe(false);
    expect(new Set(failedTests(result.output))).toEqual(new Set([STANDBY]));
  });
});
