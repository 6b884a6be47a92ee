/**
 * CrossGuard wiring: turns each rule of `rules.ts` into a mandatory resource-validation policy.
 * Kept apart from `index.ts` (which starts the analyzer's gRPC server) so jest can drive these
 * policies with CrossGuard-shaped arguments.
 *
 * What CrossGuard hands a policy, and what that means for the rules (checked in
 * @pulumi/policy 1.21.0, server.js and deserialize.js):
 * - `args.props` are the resource's inputs, deserialized with secrets *unwrapped*: a secret
 *   value arrives as its plain text, indistinguishable from a non-secret one. So a policy cannot
 *   see whether `userData` is a secret Output. What it can see is `args.opts.additionalSecretOutputs`;
 *   the key-material rule therefore requires servers that hold keys to list `userData` there
 *   (which also guarantees the value is encrypted in state). Under mocks, the jest tests check
 *   the stronger fact: the input itself arrives wrapped as a secret.
 * - `args.props` is a proxy that throws `UnknownValueError` when a property unknown during preview
 *   is read (CrossGuard then downgrades the whole policy to an advisory "can't run during preview").
 *   `toResourceView` reads property by property and maps unknowns to `UNKNOWN`, so the rules
 *   still judge everything that is known.
 */
import type { PolicyResourceOptions, ResourceValidationArgs, ResourceValidationPolicy } from "@pulumi/policy";
import { DEFAULT_POLICY_CONFIG, PolicyConfig, ResourceView, RULES, UNKNOWN } from "./rules";

function isUnknownValueError(error: unknown): boolean {
  // `UnknownValueError` is @internal in @pulumi/policy's typings; match it by name.
  return error instanceof Error && error.constructor.name === "UnknownValueError";
}

/** Copies a CrossGuard props proxy into plain data, replacing values unknown during preview with `UNKNOWN`. */
export function plainValue(value: unknown, depth = 0): unknown {
  // Resource inputs are shallow JSON; the bound only guards against a malformed cyclic value.
  if (depth > 32 || value === null || typeof value !== "object") return value;
  const read = (key: string | number): unknown => {
    try {
      return plainValue((value as Record<string | number, unknown>)[key], depth + 1);
    } catch (error) {
      if (isUnknownValueError(error)) return UNKNOWN;
      throw error;
    }
  };
  if (Array.isArray(value)) return Array.from({ length: value.length }, (_, i) => read(i));
  const copy: Record<string, unknown> = {};
  for (const key of Object.keys(value)) copy[key] = read(key);
  return copy;
}

/** The plain `ResourceView` the rules take, built from CrossGuard's validation arguments. */
export function toResourceView(args: Pick<ResourceValidationArgs, "type" | "name" | "props" | "opts">): ResourceView {
  const opts: Partial<PolicyResourceOptions> = args.opts ?? {};
  return {
    type: args.type,
    name: args.name,
    props: plainValue(args.props) as Record<string, unknown>,
    secretProps: opts.additionalSecretOutputs ?? [],
  };
}

/** Policy config schemas: the test-host rule and the WireGuard rule take options. */
const CONFIG_SCHEMAS: Record<string, { properties: Record<string, object> }> = {
  "test-host-without-public-ip": {
    properties: {
      allowTestHostPublicIp: {
        type: "boolean" as const,
        default: DEFAULT_POLICY_CONFIG.allowTestHostPublicIp,
        description: "Allow test hosts a public IP (set when the stack sets testHostPublicIp: true).",
      },
    },
  },
  "wireguard-from-peer-addresses-only": {
    properties: {
      dynamicPeerCidrs: {
        type: "array" as const,
        items: { type: "string" as const },
        default: DEFAULT_POLICY_CONFIG.dynamicPeerCidrs,
        description:
          "Ranges WireGuard may also be accepted from, exactly as the stack's dynamicPeerCidrs (external sites without publicIp).",
      },
    },
  },
};

function readConfig(args: Pick<ResourceValidationArgs, "getConfig">, takesConfig: boolean): PolicyConfig {
  if (!takesConfig) return DEFAULT_POLICY_CONFIG;
  return { ...DEFAULT_POLICY_CONFIG, ...args.getConfig<Partial<PolicyConfig>>() };
}

export const policies: ResourceValidationPolicy[] = RULES.map((rule) => {
  const configSchema = CONFIG_SCHEMAS[rule.name];
  const takesConfig = configSchema !== undefined;
  return {
    name: rule.name,
    description: rule.description,
    enforcementLevel: "mandatory",
    ...(takesConfig ? { configSchema } : {}),
    validateResource: (args, reportViolation) => {
      const view = toResourceView(args);
      for (const message of rule.check(view, readConfig(args, takesConfig))) reportViolation(message);
    },
  };
});
