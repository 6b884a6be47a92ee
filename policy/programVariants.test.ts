/**
 * The policy rules against the real program under mocks with the non-default shapes: an
 * `external` remote site next to the simulated one, and test hosts given public IPs
 * (`testHostPublicIp: true`), which the pack must reject unless its config allows it.
 */
import { runProgram } from "../harness/programRun";
import { exampleStackConfig, summary, views } from "./programViews";
import { checkResources, DEFAULT_POLICY_CONFIG, ResourceView } from "./rules";

const SERVER = "scaleway:instance/server:Server";
const SG = "scaleway:instance/securityGroup:SecurityGroup";
const OFFICE_PUBLIC_IP = "198.51.100.77";

// One program run per test file (see program.test.ts).
jest.setTimeout(120_000);

describe("policy rules: external site and testHostPublicIp: true", () => {
  let resources: ResourceView[];

  beforeAll(async () => {
    const config = exampleStackConfig();
    const office = {
      name: "office",
      kind: "external",
      subnet: "192.168.10.0/24",
      gatewayAddress: "192.168.10.1",
      testHostAddress: "192.168.10.20",
      tunnelAddress: "172.16.0.3",
      publicIp: OFFICE_PUBLIC_IP,
      routePropagation: "dhcp",
      lanRouter: "192.168.10.254",
    };
    const remoteSites = [...(config.remoteSites as object[]), office];
    resources = views(await runProgram({ config: { ...config, remoteSites, testHostPublicIp: true } }));
  });

  it("declares public IPs on the test hosts and a WireGuard rule for the external gateway", () => {
    const testHosts = resources.filter(
      (r) => r.type === SERVER && (r.props.tags as string[]).includes("wg-s2s-role:test-host"),
    );
    expect(testHosts).toHaveLength(2);
    for (const host of testHosts) expect(host.props.ipId ?? host.props.ipIds).toBeTruthy();
    const hubGroup = resources.find((r) => r.type === SG && r.name.endsWith("scaleway-gateway-sg"));
    expect(JSON.stringify(hubGroup?.props.inboundRules)).toContain(`${OFFICE_PUBLIC_IP}/32`);
  });

  it("passes every rule when the policy config allows test-host public IPs", () => {
    expect(summary(checkResources(resources, { allowTestHostPublicIp: true }))).toEqual([]);
  });

  it("is rejected by the default policy config, once per test host and by no other rule", () => {
    expect(summary(checkResources(resources, DEFAULT_POLICY_CONFIG))).toEqual([
      "test-host-without-public-ip wg-s2s-onprem-test-host",
      "test-host-without-public-ip wg-s2s-scaleway-test-host",
    ]);
  });
});
