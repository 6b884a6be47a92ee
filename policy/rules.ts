/**
 * The policy pack's rule logic as plain functions over plain data, so jest can run it against
 * synthetic resources and against what the real program declares under mocks. No
 * `@pulumi/policy` import here: `policies.ts` adapts CrossGuard's arguments to `ResourceView`.
 *
 * Each rule returns the violation messages for one resource ([] when it complies). A value the
 * engine cannot know yet (`UNKNOWN`, e.g. an IP allocated during the same preview) is judged only
 * where its mere presence decides the question (a security group id or an `ipId` that is set
 * but unknown is still set); otherwise the rule skips that field, as CrossGuard itself does for
 * unknowns, and the same rule runs with known values at `pulumi up` time.
 */
import { Address4, Address6 } from "ip-address";

/** Stands in for a property value that is unknown during preview. */
export const UNKNOWN: unique symbol = Symbol("unknown during preview");
export type Unknown = typeof UNKNOWN;

/** A resource as the rules see it (its inputs), reduced to plain data. */
export interface ResourceView {
  /** Pulumi type token, e.g. `scaleway:instance/server:Server`. */
  type: string;
  /** Logical name. */
  name: string;
  /** Inputs; unknown values are `UNKNOWN`, secrets are unwrapped (their secretness is in `secretProps`). */
  props: Record<string, unknown>;
  /**
   * Top-level properties known to be secret. CrossGuard hands secret values to policies already
   * unwrapped, so under CrossGuard this is the resource's `additionalSecretOutputs`; under mocks it
   * is the set of inputs that arrived wrapped as secrets.
   */
  secretProps?: readonly string[];
}

export interface PolicyConfig {
  /** Test hosts may have a public IP (matches the stack setting `testHostPublicIp: true`). */
  allowTestHostPublicIp: boolean;
  /**
   * Source ranges WireGuard may be accepted from besides single peer addresses: the stack's
   * `dynamicPeerCidrs`, for external sites without a fixed public address. Exact matches only.
   */
  dynamicPeerCidrs: string[];
}

export const DEFAULT_POLICY_CONFIG: PolicyConfig = { allowTestHostPublicIp: false, dynamicPeerCidrs: [] };

export type RuleCheck = (resource: ResourceView, config: PolicyConfig) => string[];

export interface Rule {
  /** Policy name in the pack (kebab-case, as CrossGuard requires). */
  name: string;
  description: string;
  check: RuleCheck;
}

// Type tokens from node_modules/@pulumiverse/scaleway (instance/*.js `__pulumiType`). The
// deprecated `scaleway:index/instance*` aliases take the same arguments, so a program cannot
// step around a rule by using the old class.
export const SECURITY_GROUP_TYPES: readonly string[] = [
  "scaleway:instance/securityGroup:SecurityGroup",
  "scaleway:index/instanceSecurityGroup:InstanceSecurityGroup",
];
export const SECURITY_GROUP_RULES_TYPES: readonly string[] = [
  "scaleway:instance/securityGroupRules:SecurityGroupRules",
  "scaleway:index/instanceSecurityGroupRules:InstanceSecurityGroupRules",
];
export const SERVER_TYPES: readonly string[] = [
  "scaleway:instance/server:Server",
  "scaleway:index/instanceServer:InstanceServer",
];

/** The role tag the program's components put on every server (components/privateInstance.ts). */
export const ROLE_TAG_PREFIX = "wg-s2s-role:";
export const GATEWAY_ROLE_TAG = `${ROLE_TAG_PREFIX}gateway`;
export const TEST_HOST_ROLE_TAG = `${ROLE_TAG_PREFIX}test-host`;

const SSH_PORT = 22;

// ---------------------------------------------------------------------------------------------
// Security-group rule helpers
// ---------------------------------------------------------------------------------------------

/** One inbound rule of `instance.SecurityGroup` / `instance.SecurityGroupRules`, fields as the provider names them. */
interface InboundRule {
  action?: unknown;
  protocol?: unknown;
  port?: unknown;
  portRange?: unknown;
  ipRange?: unknown;
  ip?: unknown;
}

type Source =
  | { kind: "unknown" }
  | { kind: "invalid"; text: string }
  | { kind: "cidr"; text: string; prefixLength: number; maxPrefixLength: number };

function isUnknown(value: unknown): value is Unknown {
  return value === UNKNOWN;
}

function isAbsent(value: unknown): boolean {
  return value === undefined || value === null || value === "";
}

/**
 * Where a rule admits traffic from. Per the provider docs, a rule with neither `ipRange` nor the
 * deprecated `ip` applies to every address; `ip` is a single address.
 */
function ruleSource(rule: InboundRule): Source {
  if (isUnknown(rule.ipRange) || isUnknown(rule.ip)) return { kind: "unknown" };
  if (isAbsent(rule.ipRange) && isAbsent(rule.ip)) {
    return { kind: "cidr", text: "any address (no ipRange)", prefixLength: 0, maxPrefixLength: 32 };
  }
  const text = String(isAbsent(rule.ipRange) ? rule.ip : rule.ipRange).trim();
  if (Address4.isValid(text)) {
    return { kind: "cidr", text, prefixLength: new Address4(text).subnetMask, maxPrefixLength: 32 };
  }
  if (Address6.isValid(text)) {
    return { kind: "cidr", text, prefixLength: new Address6(text).subnetMask, maxPrefixLength: 128 };
  }
  return { kind: "invalid", text };
}

/** Protocol in upper case; the provider's default is TCP. */
function ruleProtocol(rule: InboundRule): string | Unknown {
  if (isUnknown(rule.protocol)) return UNKNOWN;
  return isAbsent(rule.protocol) ? "TCP" : String(rule.protocol).toUpperCase();
}

function isAccept(rule: InboundRule): boolean | Unknown {
  if (isUnknown(rule.action)) return UNKNOWN;
  // `action` is required by the provider; treat a missing one as the permissive reading.
  return isAbsent(rule.action) || String(rule.action).toLowerCase() === "accept";
}

/** Whether the rule's port selection includes `port`. No `port` and no `portRange` means every port. */
export function coversPort(rule: { port?: unknown; portRange?: unknown }, port: number): boolean | Unknown {
  if (isUnknown(rule.port) || isUnknown(rule.portRange)) return UNKNOWN;
  const hasPort = !isAbsent(rule.port) && Number(rule.port) !== 0;
  const hasRange = !isAbsent(rule.portRange);
  if (!hasPort && !hasRange) return true;
  if (hasPort && Number(rule.port) === port) return true;
  if (hasRange) {
    const match = /^\s*(\d+)\s*(?:-\s*(\d+))?\s*$/.exec(String(rule.portRange));
    // An unparsable range cannot be proven to exclude the port.
    if (!match) return true;
    const low = Number(match[1]);
    const high = match[2] === undefined ? low : Number(match[2]);
    return low <= port && port <= high;
  }
  return false;
}

function inboundRulesOf(resource: ResourceView): InboundRule[] | Unknown {
  const rules = resource.props.inboundRules;
  if (isUnknown(rules)) return UNKNOWN;
  if (!Array.isArray(rules)) return [];
  return rules.map((r) => (r !== null && typeof r === "object" ? (r as InboundRule) : {}));
}

function hasInboundRules(resource: ResourceView): boolean {
  return SECURITY_GROUP_TYPES.includes(resource.type) || SECURITY_GROUP_RULES_TYPES.includes(resource.type);
}

/**
 * The security group's inbound default policy, for groups only (rules resources have none).
 * The provider's default is `accept`: every port open to every address.
 */
function acceptsByDefault(resource: ResourceView): boolean {
  if (!SECURITY_GROUP_TYPES.includes(resource.type)) return false;
  const policy = resource.props.inboundDefaultPolicy;
  if (isUnknown(policy)) return false;
  return isAbsent(policy) || String(policy).toLowerCase() !== "drop";
}

function describeRule(index: number, rule: InboundRule): string {
  const protocol = ruleProtocol(rule);
  const parts = [`inboundRules[${index}]`, `protocol ${protocol === UNKNOWN ? "?" : protocol}`];
  if (!isAbsent(rule.port)) parts.push(`port ${String(rule.port)}`);
  if (!isAbsent(rule.portRange)) parts.push(`portRange ${String(rule.portRange)}`);
  return parts.join(", ");
}

// ---------------------------------------------------------------------------------------------
// (a) No SSH from anywhere
// ---------------------------------------------------------------------------------------------

export const noSshFromAnywhere: RuleCheck = (resource) => {
  if (!hasInboundRules(resource)) return [];
  const violations: string[] = [];
  if (acceptsByDefault(resource)) {
    violations.push(
      `security group ${resource.name}: inboundDefaultPolicy is "accept" (the provider's default when unset), ` +
        `so SSH is open to every address. Set inboundDefaultPolicy: "drop" and allow SSH from the admin CIDRs only.`,
    );
  }
  const rules = inboundRulesOf(resource);
  if (isUnknown(rules)) return violations;
  rules.forEach((rule, index) => {
    const protocol = ruleProtocol(rule);
    if (isAccept(rule) !== true || (protocol !== "TCP" && protocol !== "ANY")) return;
    if (coversPort(rule, SSH_PORT) !== true) return;
    const source = ruleSource(rule);
    if (source.kind === "cidr" && source.prefixLength === 0) {
      violations.push(
        `${resource.name}: ${describeRule(index, rule)} accepts SSH (TCP ${SSH_PORT}) from ${source.text}. ` +
          `Allow SSH only from your admin CIDRs (config adminCidrs).`,
      );
    }
  });
  return violations;
};

// ---------------------------------------------------------------------------------------------
// (b) WireGuard UDP only from single peer addresses
// ---------------------------------------------------------------------------------------------

/**
 * The gateways open no UDP port other than WireGuard's, so every inbound UDP (or ANY) accept rule
 * is a WireGuard rule and must name one peer address: a /32 (or an IPv6 /128) — or, for UDP only,
 * exactly one of the ranges the policy config lists as `dynamicPeerCidrs` (dynamic far ends).
 */
export const wireguardFromPeerAddressesOnly: RuleCheck = (resource, config) => {
  const dynamic = config.dynamicPeerCidrs ?? [];
  if (!hasInboundRules(resource)) return [];
  const violations: string[] = [];
  if (acceptsByDefault(resource)) {
    violations.push(
      `security group ${resource.name}: inboundDefaultPolicy is "accept" (the provider's default when unset), ` +
        `so the WireGuard port is open to every address. Set inboundDefaultPolicy: "drop".`,
    );
  }
  const rules = inboundRulesOf(resource);
  if (isUnknown(rules)) return violations;
  rules.forEach((rule, index) => {
    const protocol = ruleProtocol(rule);
    if (isAccept(rule) !== true || (protocol !== "UDP" && protocol !== "ANY")) return;
    const source = ruleSource(rule);
    if (source.kind === "unknown") return;
    if (source.kind === "invalid") {
      violations.push(
        `${resource.name}: ${describeRule(index, rule)} has an ipRange that is not an address: "${source.text}".`,
      );
      return;
    }
    if (protocol === "UDP" && dynamic.includes(source.text)) return;
    if (source.prefixLength !== source.maxPrefixLength) {
      violations.push(
        `${resource.name}: ${describeRule(index, rule)} accepts UDP from ${source.text}, a range of ` +
          `${describeSize(source)}. WireGuard must be open only to each peer gateway's public address ` +
          `(/${source.maxPrefixLength}), or to a range listed in the policy config's dynamicPeerCidrs ` +
          `(the stack's dynamicPeerCidrs, for external sites without publicIp).`,
      );
    }
  });
  return violations;
};

function describeSize(source: { prefixLength: number; maxPrefixLength: number }): string {
  const hostBits = source.maxPrefixLength - source.prefixLength;
  return hostBits >= 32 ? `2^${hostBits} addresses` : `${2 ** hostBits} addresses`;
}

// ---------------------------------------------------------------------------------------------
// (c) Every server has a security group
// ---------------------------------------------------------------------------------------------

/**
 * Without `securityGroupId` Scaleway attaches the project's default group, which Pulumi does not
 * track and whose inbound policy is usually accept.
 */
export const serverHasSecurityGroup: RuleCheck = (resource) => {
  if (!SERVER_TYPES.includes(resource.type)) return [];
  const id = resource.props.securityGroupId;
  if (isUnknown(id) || (typeof id === "string" && id.trim() !== "")) return [];
  return [
    `server ${resource.name} has no securityGroupId: Scaleway would attach the project's default ` +
      `security group (untracked, usually accept-all). Give it its own drop-by-default group.`,
  ];
};

// ---------------------------------------------------------------------------------------------
// (d) User data holding key material is secret
// ---------------------------------------------------------------------------------------------

/** Properties through which a server receives cloud-init content. */
const USER_DATA_PROPS = ["userData", "cloudInit"] as const;

// A wg-quick key line (44-character base64 key) or any PEM/OpenSSH private key block.
const KEY_MATERIAL_PATTERNS: readonly RegExp[] = [
  /\b(?:PrivateKey|PresharedKey)\s*=\s*[A-Za-z0-9+/]{42,43}=/,
  /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/,
];
// cloud-init `encoding: b64` file contents hide the text above; decode long base64 runs too.
const BASE64_RUN = /[A-Za-z0-9+/]{64,}={0,2}/g;

/** Whether the text holds a private or preshared key, in clear or base64-encoded. */
export function containsKeyMaterial(text: string): boolean {
  if (KEY_MATERIAL_PATTERNS.some((p) => p.test(text))) return true;
  for (const run of text.match(BASE64_RUN) ?? []) {
    const decoded = Buffer.from(run, "base64").toString("utf8");
    if (KEY_MATERIAL_PATTERNS.some((p) => p.test(decoded))) return true;
  }
  return false;
}

/** Texts in a user-data property: `cloudInit` is a string, `userData` a map of strings. */
function userDataTexts(value: unknown): { texts: string[]; unknown: boolean } {
  if (isUnknown(value)) return { texts: [], unknown: true };
  if (typeof value === "string") return { texts: [value], unknown: false };
  if (value !== null && typeof value === "object") {
    const entries = Object.values(value as Record<string, unknown>);
    return {
      texts: entries.filter((v): v is string => typeof v === "string"),
      unknown: entries.some(isUnknown),
    };
  }
  return { texts: [], unknown: false };
}

/**
 * A server's user data must be secret when it holds key material. The content check finds keys
 * wherever the text is known; a gateway (role tag) always holds its WireGuard private key, so it
 * is covered even while its user data is still unknown (first preview).
 */
export const keyMaterialUserDataIsSecret: RuleCheck = (resource) => {
  if (!SERVER_TYPES.includes(resource.type)) return [];
  const isGateway = roleTags(resource).includes(GATEWAY_ROLE_TAG);
  const secret = new Set(resource.secretProps ?? []);
  const violations: string[] = [];
  for (const prop of USER_DATA_PROPS) {
    const value = resource.props[prop];
    if (isAbsent(value)) continue;
    const { texts } = userDataTexts(value);
    const holdsKeys = isGateway || texts.some(containsKeyMaterial);
    if (holdsKeys && !secret.has(prop)) {
      violations.push(
        `server ${resource.name}: ${prop} holds key material (${isGateway ? "a WireGuard gateway" : "a private key was found"}) ` +
          `but is not marked secret. Build it from secret Outputs and add "${prop}" to the server's additionalSecretOutputs.`,
      );
    }
  }
  return violations;
};

// ---------------------------------------------------------------------------------------------
// (e) Test hosts carry no public IP
// ---------------------------------------------------------------------------------------------

function roleTags(resource: ResourceView): string[] {
  const tags = resource.props.tags;
  if (!Array.isArray(tags)) return [];
  return tags.filter((t): t is string => typeof t === "string" && t.startsWith(ROLE_TAG_PREFIX));
}

/** The ways a server input attaches a public address; each entry names the property. */
function publicAddressProps(props: Record<string, unknown>): string[] {
  const found: string[] = [];
  if (isUnknown(props.ipId) || (!isAbsent(props.ipId) && String(props.ipId).trim() !== "")) found.push("ipId");
  if (isUnknown(props.ipIds) || (Array.isArray(props.ipIds) && props.ipIds.length > 0)) found.push("ipIds");
  if (props.enableDynamicIp === true) found.push("enableDynamicIp");
  if (Array.isArray(props.publicIps) && props.publicIps.length > 0) found.push("publicIps");
  return found;
}

/**
 * Test hosts are reached through their gateway (SSH jump host), so they carry no public IP unless
 * the policy config allows it. A server with no role tag cannot be told apart from a test host.
 */
export const testHostWithoutPublicIp: RuleCheck = (resource, config) => {
  if (!SERVER_TYPES.includes(resource.type)) return [];
  if (isUnknown(resource.props.tags)) return [];
  const roles = roleTags(resource);
  if (roles.length === 0) {
    return [
      `server ${resource.name} carries no "${ROLE_TAG_PREFIX}*" tag, so the policy cannot tell whether it is a test host. ` +
        `Tag it "${GATEWAY_ROLE_TAG}" or "${TEST_HOST_ROLE_TAG}".`,
    ];
  }
  if (!roles.includes(TEST_HOST_ROLE_TAG) || config.allowTestHostPublicIp) return [];
  const attached = publicAddressProps(resource.props);
  if (attached.length === 0) return [];
  return [
    `test host ${resource.name} gets a public IP (${attached.join(", ")}). Test hosts are reached through their ` +
      `gateway; set the stack's testHostPublicIp and the policy config allowTestHostPublicIp to true to allow it.`,
  ];
};

// ---------------------------------------------------------------------------------------------

export const RULES: readonly Rule[] = [
  {
    name: "no-ssh-from-anywhere",
    description: "Security groups accept SSH (TCP 22) only from specific ranges, never from 0.0.0.0/0 or ::/0.",
    check: noSshFromAnywhere,
  },
  {
    name: "wireguard-from-peer-addresses-only",
    description: "Inbound UDP (WireGuard) is accepted only from single peer addresses (/32).",
    check: wireguardFromPeerAddressesOnly,
  },
  {
    name: "server-has-security-group",
    description: "Every instance has its own security group (securityGroupId set).",
    check: serverHasSecurityGroup,
  },
  {
    name: "key-material-user-data-is-secret",
    description: "User data that holds private or preshared keys is a Pulumi secret.",
    check: keyMaterialUserDataIsSecret,
  },
  {
    name: "test-host-without-public-ip",
    description: "Test hosts carry no public IP unless allowTestHostPublicIp is set.",
    check: testHostWithoutPublicIp,
  },
];

export interface Violation {
  rule: string;
  resource: string;
  message: string;
}

/** Runs every rule over every resource; the stack complies when the result is empty. */
export function checkResources(
  resources: readonly ResourceView[],
  config: PolicyConfig = DEFAULT_POLICY_CONFIG,
): Violation[] {
  return resources.flatMap((resource) =>
    RULES.flatMap((rule) =>
      rule.check(resource, config).map((message) => ({ rule: rule.name, resource: resource.name, message })),
    ),
  );
}
