/** @tier program */
/**
 * Cockpit as the metrics' home (config `cockpit: true`, docs/metrics.md), as the program
 * declares it under the mock runtime: the data source, a token that can write metrics and
 * nothing else, the alert manager with the configured addresses, and on every gateway the
 * stack builds (an HA hub's two included) the push agent with the token as a 0600 file that
 * is only ever a secret. Off (the default): none of it.
 */
import { ADMIN_CIDRS, OFFICE_EXTERNAL_SITE, ONPREM_SITE } from "../testkit/fixtures";
import { parseCloudConfig } from "../testkit/cloudInit";
import { mockUuid, runProgram, type ProgramRun } from "../testkit/programRun";

const T = {
  server: "scaleway:instance/server:Server",
  source: "scaleway:observability/source:Source",
  token: "scaleway:observability/token:Token",
  alertManager: "scaleway:observability/alertManager:AlertManager",
};
const TOKEN = `mock-cockpit-token-${mockUuid("wg-s2s-metrics-push-secret")}`;

describe("cockpit: true", () => {
  let run: ProgramRun;
  let off: ProgramRun;
  beforeAll(async () => {
    run = await runProgram({
      config: {
        adminCidrs: ADMIN_CIDRS,
        cockpit: true,
        alertEmails: ["netops@example.com"],
        scalewaySite: { gateways: 2 },
        remoteSites: [
          ONPREM_SITE,
          // One far end whose owner opted in to pushing, one that did not.
          { ...OFFICE_EXTERNAL_SITE, bundleCockpit: true },
          {
            ...OFFICE_EXTERNAL_SITE,
            name: "branch",
            subnet: "192.168.20.0/24",
            gatewayAddress: "192.168.20.1",
            testHostAddress: "192.168.20.20",
            tunnelAddress: "172.16.0.4",
            publicIp: "198.51.100.78",
            lanRouter: "192.168.20.254",
          },
        ],
      },
      keySeed: "cockpit",
    });
    off = await runProgram({ config: { adminCidrs: ADMIN_CIDRS }, keySeed: "cockpit" });
  });
  const gateways = (r: ProgramRun) => r.ofType(T.server).filter((s) => s.inputs.tags.includes("wg-s2s-role:gateway"));

  test("one metrics data source, one token that writes metrics and nothing else, the alert manager mailing the address", () => {
    const [source] = run.ofType(T.source);
    expect(source.inputs).toMatchObject({ type: "metrics", retentionDays: 31, region: "fr-par" });
    const token = run.ofType(T.token).find((t) => t.name === "wg-s2s-metrics-push")!;
    // Every one of the provider's nine scopes set explicitly (its defaults would also write logs), one of them true.
    const scopes = Object.entries(token.inputs.scopes as Record<string, boolean>);
    expect(scopes).toHaveLength(9);
    expect(scopes.filter(([, allowed]) => allowed).map(([scope]) => scope)).toEqual(["writeMetrics"]);
    const [alerts] = run.ofType(T.alertManager);
    expect(alerts.inputs).toMatchObject({
      contactPoints: [{ email: "netops@example.com" }],
      enableManagedAlerts: false,
    });
  });

  test("every gateway we build pushes there: agent config, token file 0600, unit, package, the package's server off", () => {
    const [source] = run.ofType(T.source);
    const built = gateways(run);
    expect(built.map((g) => g.name).sort()).toEqual([
      "wg-s2s-onprem-gateway",
      "wg-s2s-scaleway-gateway",
      "wg-s2s-scaleway-gateway-b",
    ]);
    const instances = built.map((gw) => {
      const c = parseCloudConfig(gw.inputs.userData["cloud-init"]);
      const config = c.files.get("/etc/wg-s2s/metrics-push.yml")!.content;
      expect(config).toContain(`  - url: ${source.state.pushUrl}/api/v1/push\n`);
      expect(c.files.get("/etc/wg-s2s/cockpit-push-token")).toMatchObject({
        permissions: "0600",
        content: `${TOKEN}\n`,
      });
      expect(c.files.has("/etc/systemd/system/wg-s2s-metrics-push.service")).toBe(true);
      const extras = c.files.get("/etc/systemd/system/wg-s2s-extras.service")!.content;
      expect(extras).toMatch(/^ExecStart=\S+ .*\bprometheus\b/m);
      expect(extras).toMatch(/^ExecStartPost=\/usr\/bin\/systemctl disable --now prometheus\.service$/m);
      expect(extras).toMatch(/^ExecStartPost=\/usr\/bin\/systemctl enable --now wg-s2s-metrics-push\.service$/m);
      return config.match(/replacement: (\S+)/)![1];
    });
    // Each gateway's series are its own.
    expect(instances.sort()).toEqual(["onprem-gateway", "scaleway-gateway-a", "scaleway-gateway-b"]);
  });

  test("a far end pushes only where its owner opted in (bundleCockpit), with a write-only token of its own", () => {
    const tokens = run
      .ofType(T.token)
      .map((t) => t.name)
      .sort();
    expect(tokens).toEqual(["wg-s2s-metrics-push", "wg-s2s-office-metrics-push"]);
    const officeToken = run.ofType(T.token).find((t) => t.name === "wg-s2s-office-metrics-push")!;
    expect(
      Object.entries(officeToken.inputs.scopes as Record<string, boolean>)
        .filter(([, v]) => v)
        .map(([k]) => k),
    ).toEqual(["writeMetrics"]);
    const [source] = run.ofType(T.source);
    const office = run.operatorBundle("office");
    expect(office["metrics-push.yml"]).toContain(`  - url: ${source.state.pushUrl}/api/v1/push\n`);
    expect(office["metrics-push.yml"]).toContain("        replacement: office-gateway\n");
    expect(office["cockpit-push-token"]).toBe(`mock-cockpit-token-${mockUuid("wg-s2s-office-metrics-push-secret")}\n`);
    expect(office["site.conf"]).toContain("PUSH_UNIT='wg-s2s-metrics-push.service'");
    expect(office["README.txt"]).toContain("remoteSites[].bundleCockpit");
    // The branch's owner did not opt in: local metrics only, no token, no agent.
    const branch = run.operatorBundle("branch");
    expect(Object.keys(branch).filter((f) => /push/.test(f))).toEqual([]);
    expect(branch["site.conf"]).toContain("PUSH_UNIT=''");
    expect(branch["README.txt"]).toContain("Local only: nothing is sent anywhere");
    expect(JSON.stringify(branch)).not.toContain("mock-cockpit-token");
  });

  test("the token is only ever a secret", () => {
    for (const r of run.resources) {
      const plain = JSON.stringify(r.inputs, (k, v) =>
        r.secretInputs.includes(k) || (k === "userData" && r.secretInputs.includes("userData")) ? undefined : v,
      );
      expect([r.name, plain.includes(TOKEN)]).toEqual([r.name, false]);
    }
    for (const [name, value] of Object.entries(run.outputs)) {
      if (run.secretOutputs.includes(name)) continue;
      expect([name, JSON.stringify(value).includes(TOKEN)]).toEqual([name, false]);
    }
  });

  test("off (the default): no data source, no token, no agent on any gateway", () => {
    for (const type of [T.source, T.token, T.alertManager]) expect(off.ofType(type)).toEqual([]);
    for (const gw of gateways(off)) {
      const c = parseCloudConfig(gw.inputs.userData["cloud-init"]);
      expect(c.files.has("/etc/wg-s2s/metrics-push.yml")).toBe(false);
      expect(c.files.get("/etc/systemd/system/wg-s2s-extras.service")!.content).not.toMatch(/\bprometheus\b(?!-node)/);
    }
  });
});
