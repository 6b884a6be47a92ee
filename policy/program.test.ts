/** @tier program */
/**
 * Every policy rule against the resources the real program (index.ts) declares under Pulumi's
 * mock runtime: the example stack (Pulumi.dev.yaml); an `external` site next to the simulated
 * one with test hosts given public IPs (`testHostPublicIp: true`), which the pack must reject
 * unless its config allows it; and a deliberately bad program (the real resources, each mutated
 * to break one rule) that every rule must reject.
 *
 * Under mocks, "is this input secret" is the SDK's own secret marker on the input (the harness
 * records it in `secretInputs`). CrossGuard cannot see that marker (see policies.ts), so in a
 * real preview the key-material rule reads `additionalSecretOutputs` instead.
 */
import { OFFICE_EXTERNAL_SITE } from "../testkit/fixtures";
import { runProgram } from "../testkit/programRun";
import { exampleStackConfig, summary, views } from "./programViews";
import { checkResources, DEFAULT_POLICY_CONFIG, ResourceView, RULES } from "./rules";

const SERVER = "scaleway:instance/server:Server";
const SG = "scaleway:instance/securityGroup:SecurityGroup";

const OFFICE_PUBLIC_IP = OFFICE_EXTERNAL_SITE.publicIp;

jest.setTimeout(120_000);

function clone(resources: ResourceView[]): ResourceView[] {
  return resources.map((r) => ({ ...r, props: structuredClone(r.props), secretProps: [...(r.secretProps ?? [])] }));
}

function find(resources: ResourceView[], type: string, nameEnd: string): ResourceView {
  const found = resources.find((r) => r.type === type && r.name.endsWith(nameEnd));
  if (!found) throw new Error(`no ${type} ending in ${nameEnd}: ${resources.map((r) => r.name).join(", ")}`);
  return found;
}

describe("policy rules against the example stack under mocks", () => {
  let example: ResourceView[];

  beforeAll(async () => {
    example = views(await runProgram({ config: exampleStackConfig(), stack: "dev" }));
  });

  it("declares what the rules look at (so a pass below means something)", () => {
    const servers = example.filter((r) => r.type === SERVER);
    expect(servers.map((s) => s.name).sort()).toEqual([
      "wg-s2s-onprem-gateway",
      "wg-s2s-onprem-test-host",
      "wg-s2s-scaleway-gateway",
      "wg-s2s-scaleway-test-host",
    ]);
    expect(example.filter((r) => r.type === SG)).toHaveLength(4);
    for (const s of servers) expect(s.props.userData).toBeDefined();
  });

  it("the example stack (Pulumi.dev.yaml) passes every rule", () => {
    expect(summary(checkResources(example))).toEqual([]);
  });

  describe("a deliberately bad program: each mutation is rejected by its rule", () => {
    // Each mutation breaks exactly one rule on exactly one resource of the real program.
    const mutations: Record<string, { resource: string; mutate(resources: ResourceView[]): void }> = {
      "no-ssh-from-anywhere": {
        resource: "wg-s2s-scaleway-gateway-sg",
        mutate(resources) {
          const sg = find(resources, SG, "scaleway-gateway-sg");
          (sg.props.inboundRules as object[]).push({
            action: "accept",
            protocol: "TCP",
            port: 22,
            ipRange: "0.0.0.0/0",
          });
        },
      },
      "wireguard-from-peer-addresses-only": {
        resource: "wg-s2s-onprem-gateway-sg",
        mutate(resources) {
          const sg = find(resources, SG, "onprem-gateway-sg");
          const rules = sg.props.inboundRules as Array<Record<string, unknown>>;
          const wireguard = rules.find((r) => String(r.protocol).toUpperCase() === "UDP");
          if (!wireguard) throw new Error("the real gateway group has no UDP rule to widen");
          wireguard.ipRange = String(wireguard.ipRange).replace(/\.\d+\/32$/, ".0/24");
        },
      },
      "server-has-security-group": {
        resource: "wg-s2s-scaleway-test-host",
        mutate(resources) {
          delete find(resources, SERVER, "scaleway-test-host").props.securityGroupId;
        },
      },
      "key-material-user-data-is-secret": {
        resource: "wg-s2s-onprem-gateway",
        mutate(resources) {
          const gateway = find(resources, SERVER, "onprem-gateway");
          gateway.secretProps = (gateway.secretProps ?? []).filter((p) => p !== "userData");
        },
      },
      "test-host-without-public-ip": {
        resource: "wg-s2s-onprem-test-host",
        mutate(resources) {
          find(resources, SERVER, "onprem-test-host").props.ipId = "fr-par-1/11111111-2222-3333-4444-555555555555";
        },
      },
    };

    it("covers every rule of the pack", () => {
      expect(Object.keys(mutations).sort()).toEqual(RULES.map((r) => r.name).sort());
    });

    it.each(Object.entries(mutations))("%s rejects its mutation, and only it", (rule, { resource, mutate }) => {
      const resources = clone(example);
      mutate(resources);
      expect(summary(checkResources(resources))).toEqual([`${rule} ${resource}`]);
    });

    it("all mutations together: every rule fires", () => {
      const resources = clone(example);
      for (const { mutate } of Object.values(mutations)) mutate(resources);
      expect(new Set(checkResources(resources).map((v) => v.rule))).toEqual(new Set(RULES.map((r) => r.name)));
    });

    it("the test hosts' user data holds a pinned SSH host key, so it too must stay secret", () => {
      const resources = clone(example);
      const testHost = find(resources, SERVER, "scaleway-test-host");
      testHost.secretProps = [];
      expect(summary(checkResources(resources))).toEqual([
        "key-material-user-data-is-secret wg-s2s-scaleway-test-host",
      ]);
    });
  });
});

describe("policy rules: external site and testHostPublicIp: true", () => {
  let resources: ResourceView[];

  beforeAll(async () => {
    const config = exampleStackConfig();
    const office = OFFICE_EXTERNAL_SITE;
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
    expect(summary(checkResources(resources, { ...DEFAULT_POLICY_CONFIG, allowTestHostPublicIp: true }))).toEqual([]);
  });

  it("is rejected by the default policy config, once per test host and by no other rule", () => {
    expect(summary(checkResources(resources, DEFAULT_POLICY_CONFIG))).toEqual([
      "test-host-without-public-ip wg-s2s-onprem-test-host",
      "test-host-without-public-ip wg-s2s-scaleway-test-host",
    ]);
  });
});

describe("policy rules against the production shape (existing network, dynamic far end)", () => {
  let resources: ResourceView[];
  beforeAll(async () => {
    const network = "11111111-2222-3333-4444-555555555555";
    resources = views(
      await runProgram({
        config: {
          adminCidrs: ["203.0.113.7/32"],
          scalewaySite: { privateNetworkId: network, subnet: "172.20.16.0/22", gatewayAddress: "172.20.16.10" },
          remoteSites: [{ ...OFFICE_EXTERNAL_SITE, publicIp: undefined }],
        },
        existingNetworks: {
          [network]: { subnet: "172.20.16.0/22", vpcId: "fr-par/99999999-8888-7777-6666-555555555555" },
        },
      }),
    );
  });

  it("passes every rule when the policy config lists the stack's dynamicPeerCidrs", () => {
    expect(summary(checkResources(resources, { ...DEFAULT_POLICY_CONFIG, dynamicPeerCidrs: ["0.0.0.0/0"] }))).toEqual(
      [],
    );
  });

  it("is rejected by the default policy config, on the hub gateway's group only", () => {
    expect(summary(checkResources(resources, DEFAULT_POLICY_CONFIG))).toEqual([
      "wireguard-from-peer-addresses-only wg-s2s-scaleway-gateway-sg",
    ]);
  });
});
