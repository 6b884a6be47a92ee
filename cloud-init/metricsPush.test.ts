/** @tier unit */
/**
 * The Cockpit push agent's files as a gateway gets them: the agent's configuration checked by
 * Debian's promtool in agent mode (with a negative control), the unit by systemd-analyze, and
 * the refusals of what would not be a push URL or an instance label.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { systemdVerify, withScratchDir } from "../testkit/cloudInit";
import { PUSH_PATHS, remoteWriteUrl, renderPushAgentConfig, renderPushAgentUnit } from "./metricsPush";

const PROMTOOL = "/usr/bin/promtool";
const PUSH_URL = "https://0c4b1a1e-6d8e-4c53-9f0b-3b1b8f6f1d2e.metrics.cockpit.fr-par.scw.cloud";

function promtoolAgent(config: string): { status: number | null; output: string } {
  return withScratchDir((dir) => {
    const file = path.join(dir, "agent.yml");
    fs.writeFileSync(file, config);
    const r = spawnSync(PROMTOOL, ["check", "config", "--agent", file], { encoding: "utf8" });
    return { status: r.status, output: `${r.stdout}${r.stderr}` };
  });
}

describe("the Cockpit push agent", () => {
  const config = renderPushAgentConfig({ url: remoteWriteUrl(PUSH_URL), instance: "scaleway-gateway-a" });

  test("remote-writes to the data source's push path, with the token as a credential file", () => {
    expect(config).toContain(`  - url: ${PUSH_URL}/api/v1/push\n`);
    expect(config).toContain(`      credentials_file: ${PUSH_PATHS.credential}\n`);
    expect(config).toContain("        replacement: scaleway-gateway-a\n");
    expect(config).toContain('      - targets: ["127.0.0.1:9100"]\n');
    expect(config).toContain("  scrape_interval: 15s\n");
  });

  test("promtool (Debian's, agent mode) accepts it; negative control: a token given twice is refused", () => {
    expect(promtoolAgent(config)).toMatchObject({ status: 0 });
    const both = config.replace("      type: Bearer\n", "      type: Bearer\n      credentials: planted\n");
    const refused = promtoolAgent(both);
    expect(refused.status).not.toBe(0);
    expect(refused.output).toMatch(/at most one of authorization credentials & credentials_file/);
  });

  test("its unit passes systemd-analyze verify, runs with a dynamic user and gets the token as a credential", () => {
    const unit = renderPushAgentUnit();
    expect(systemdVerify([{ path: PUSH_PATHS.unit, content: unit }])).toEqual({ ok: true, output: "" });
    expect(unit).toMatch(/^DynamicUser=yes$/m);
    expect(unit).toMatch(new RegExp(`^LoadCredential=token:${PUSH_PATHS.token}$`, "m"));
    expect(unit).toMatch(/--enable-feature=agent/);
    expect(unit).toMatch(/--web\.listen-address=127\.0\.0\.1:9091/);
    // The credential path the config names is where systemd puts it for this unit.
    expect(PUSH_PATHS.credential).toBe(`/run/credentials/${path.basename(PUSH_PATHS.unit)}/token`);
  });

  test("refuses what is not a push URL or an instance label", () => {
    expect(remoteWriteUrl(`${PUSH_URL}/`)).toBe(`${PUSH_URL}/api/v1/push`);
    expect(() => remoteWriteUrl("")).toThrow(/is not a data source push URL/);
    expect(() => remoteWriteUrl(`${PUSH_URL}/somewhere`)).toThrow(/is not a data source push URL/);
    expect(() => renderPushAgentConfig({ url: `${PUSH_URL}/api/v1/push\n  evil: 1`, instance: "x" })).toThrow(
      /must be http\(s\):\/\/host\/api\/v1\/push/,
    );
    expect(() => renderPushAgentConfig({ url: `${PUSH_URL}/api/v1/push`, instance: "a b" })).toThrow(/instance/);
  });
});
