/** @tier unit */
/**
 * The CrossGuard wiring (policies.ts) driven the way @pulumi/policy's analyzer drives it: props
 * wrapped in the real `unknownCheckingProxy`, with the real preview-time unknown sentinels, and
 * resource options carrying `additionalSecretOutputs`.
 */
import type { ResourceValidationArgs, ResourceValidationPolicy } from "@pulumi/policy";
import { policies, toResourceView } from "./policies";
import { RULES, UNKNOWN } from "./rules";

// Internal to @pulumi/policy (absent from its typings) but the very code its analyzer runs.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const proxy = require("@pulumi/policy/proxy") as {
  unknownCheckingProxy<T>(props: T): T;
  unknownStringValue: string;
  unknownArrayValue: string;
  unknownObjectValue: string;
};

const SERVER = "scaleway:instance/server:Server";
const SG = "scaleway:instance/securityGroup:SecurityGroup";
const gatewayTags = ["wg-s2s", "wg-s2s-role:gateway"];
const testHostTags = ["wg-s2s", "wg-s2s-role:test-host"];

function argsFor(
  type: string,
  props: Record<string, unknown>,
  additionalSecretOutputs: string[] = [],
  config: object = {},
): ResourceValidationArgs {
  return {
    type,
    name: "r",
    urn: `urn:pulumi:dev::scaleway-wireguard-s2s::${type}::r`,
    props: proxy.unknownCheckingProxy(props),
    opts: { protect: false, ignoreChanges: [], aliases: [], customTimeouts: {}, additionalSecretOutputs } as never,
    stackTags: new Map(),
    isType: () => false,
    asType: () => undefined,
    getConfig: <T extends object>() => config as T,
    notApplicable: () => {
      throw new Error("not applicable");
    },
  } as unknown as ResourceValidationArgs;
}

/** Runs one policy and returns the messages it reported. */
async function run(policy: ResourceValidationPolicy, args: ResourceValidationArgs): Promise<string[]> {
  const reported: string[] = [];
  const validate = policy.validateResource;
  if (!validate) throw new Error(`policy ${policy.name} has no validateResource`);
  for (const v of Array.isArray(validate) ? validate : [validate]) {
    await v(args, (message) => reported.push(String(message)));
  }
  return reported;
}

function policy(name: string): ResourceValidationPolicy {
  const found = policies.find((p) => p.name === name);
  if (!found) throw new Error(`no policy ${name}`);
  return found;
}

describe("policies.ts", () => {
  it("turns every rule into a mandatory policy", () => {
    expect(policies.map((p) => p.name)).toEqual(RULES.map((r) => r.name));
    for (const p of policies) expect(p.enforcementLevel).toBe("mandatory");
    expect(policy("test-host-without-public-ip").configSchema?.properties.allowTestHostPublicIp).toMatchObject({
      type: "boolean",
      default: false,
    });
  });

  it("the real proxy throws on unknowns, which toResourceView turns into UNKNOWN", () => {
    const args = argsFor(SERVER, {
      tags: gatewayTags,
      securityGroupId: proxy.unknownStringValue,
      userData: proxy.unknownObjectValue,
    });
    expect(() => args.props.securityGroupId).toThrow(/can't be known during preview/);
    const view = toResourceView(args);
    expect(view.props).toEqual({ tags: gatewayTags, securityGroupId: UNKNOWN, userData: UNKNOWN });
  });

  it("maps nested unknowns and keeps additionalSecretOutputs as the secret properties", () => {
    const rules = [{ action: "accept", protocol: "UDP", port: 52435, ipRange: proxy.unknownStringValue }];
    const view = toResourceView(argsFor(SG, { inboundRules: rules, tags: proxy.unknownArrayValue }, ["userData"]));
    expect(view.props).toEqual({
      inboundRules: [{ action: "accept", protocol: "UDP", port: 52435, ipRange: UNKNOWN }],
      tags: UNKNOWN,
    });
    expect(view.secretProps).toEqual(["userData"]);
  });

  it("a preview-time gateway: unknown SG id passes, unknown user data needs additionalSecretOutputs", async () => {
    const props = {
      tags: gatewayTags,
      securityGroupId: proxy.unknownStringValue,
      userData: { "cloud-init": proxy.unknownStringValue },
    };
    expect(await run(policy("server-has-security-group"), argsFor(SERVER, props))).toEqual([]);
    expect(await run(policy("key-material-user-data-is-secret"), argsFor(SERVER, props))).toHaveLength(1);
    expect(await run(policy("key-material-user-data-is-secret"), argsFor(SERVER, props, ["userData"]))).toEqual([]);
  });

  it("a preview-time test host whose ipId is unknown has a public IP, unless the config allows it", async () => {
    const props = { tags: testHostTags, securityGroupId: "sg", ipId: proxy.unknownStringValue };
    expect(await run(policy("test-host-without-public-ip"), argsFor(SERVER, props))).toHaveLength(1);
    const allowed = argsFor(SERVER, props, [], { allowTestHostPublicIp: true });
    expect(await run(policy("test-host-without-public-ip"), allowed)).toEqual([]);
  });

  it("the WireGuard rule takes dynamicPeerCidrs from its policy config", async () => {
    const rules = [{ action: "accept", protocol: "UDP", port: 52435, ipRange: "0.0.0.0/0" }];
    const props = { inboundDefaultPolicy: "drop", inboundRules: rules };
    expect(await run(policy("wireguard-from-peer-addresses-only"), argsFor(SG, props))).toHaveLength(1);
    const allowed = argsFor(SG, props, [], { dynamicPeerCidrs: ["0.0.0.0/0"] });
    expect(await run(policy("wireguard-from-peer-addresses-only"), allowed)).toEqual([]);
  });

  it("still rejects the known SSH rule next to an unknown WireGuard source", async () => {
    const rules = [
      { action: "accept", protocol: "UDP", port: 52435, ipRange: proxy.unknownStringValue },
      { action: "accept", protocol: "TCP", port: 22, ipRange: "0.0.0.0/0" },
    ];
    const args = argsFor(SG, { inboundDefaultPolicy: "drop", inboundRules: rules });
    expect(await run(policy("no-ssh-from-anywhere"), args)).toHaveLength(1);
    expect(await run(policy("wireguard-from-peer-addresses-only"), args)).toEqual([]);
  });
});
