/**
 * Raw stack config → typed `StackConfig` with defaults. Pure: no Pulumi calls here, so the
 * whole thing is testable and runs before any resource is declared.
 *
 * `raw` maps top-level config keys to what index.ts read. Pulumi hands config over as
 * strings (`config.get`) or parsed JSON (`config.getObject`), so both are accepted:
 * "52435" and 52435, "true" and true, '["a"]' and ["a"].
 *
 * This stage checks shapes and types only (and collects every problem before throwing);
 * the rules between values (overlaps, reserved addresses, ...) live in validation.ts.
 */
import { addressCount, hostAddress, parseCidr } from "../addressing/ipv4";
import {
  DEFAULT_REMOTE_SITES,
  DEFAULT_ROUTE_PROPAGATION,
  DEFAULT_SCALEWAY_SITE,
  PROVIDER_DEFAULT_ZONE,
  REMOTE_SITE_KEYS,
  SCALEWAY_SITE_KEYS,
  STACK_CONFIG_DEFAULTS,
  STACK_CONFIG_KEYS,
  type StackConfigKey,
} from "./schema";
import {
  REMOTE_SITE_KINDS,
  ROUTE_PROPAGATIONS,
  type RemoteSiteConfig,
  type ScalewaySiteConfig,
  type StackConfig,
} from "./types";
import { CONFIG_PHRASING, ConfigError, type ConfigIssue, type Phrasing } from "./errors";

// ---------------------------------------------------------------------------------------

/** Turns raw config into a StackConfig; throws ConfigError listing every shape/type problem. */
export function parseStackConfig(raw: Record<string, unknown>, p: Phrasing = CONFIG_PHRASING): StackConfig {
  const r = new Reader(p);
  for (const key of Object.keys(raw)) {
    // Namespaced keys ("scaleway:zone") belong to providers, not to this program.
    if (key.includes(":") || raw[key] === undefined) continue;
    if (!(STACK_CONFIG_KEYS as readonly string[]).includes(key)) r.unknownKey(key, key, STACK_CONFIG_KEYS);
  }
  const get = (key: StackConfigKey): unknown => (raw[key] === null ? undefined : raw[key]);
  const d = STACK_CONFIG_DEFAULTS;

  const tunnelCidr = r.string("tunnelCidr", get("tunnelCidr")) ?? d.tunnelCidr;
  const config: StackConfig = {
    zone: r.string("zone", get("zone")) ?? PROVIDER_DEFAULT_ZONE,
    adminCidrs: r.stringList("adminCidrs", get("adminCidrs"), "203.0.113.7/32") ?? [],
    sshPublicKeys: r.stringList("sshPublicKeys", get("sshPublicKeys"), "'ssh-ed25519 AAAA... you@laptop'", {
      checkText: false,
    }) ?? [...d.sshPublicKeys],
    instanceType: r.string("instanceType", get("instanceType")) ?? d.instanceType,
    image: r.string("image", get("image")) ?? d.image,
    testHostPublicIp: r.boolean("testHostPublicIp", get("testHostPublicIp")) ?? d.testHostPublicIp,
    verify: r.boolean("verify", get("verify")) ?? d.verify,
    dynamicPeerCidrs: r.stringList("dynamicPeerCidrs", get("dynamicPeerCidrs"), "198.51.100.0/24") ?? [
      ...d.dynamicPeerCidrs,
    ],
    tunnel: {
      listenPort: r.number("listenPort", get("listenPort"), d.listenPort) ?? d.listenPort,
      keepaliveSeconds: r.number("keepalive", get("keepalive"), d.keepalive) ?? d.keepalive,
      mtu: r.number("mtu", get("mtu"), d.mtu) ?? d.mtu,
      cidr: tunnelCidr,
    },
    scalewaySite: parseScalewaySite(r, get("scalewaySite")),
    remoteSites: parseRemoteSites(r, get("remoteSites"), tunnelCidr),
  };
  if (r.issues.length > 0) throw new ConfigError(r.issues, p);
  return config;
}

function parseScalewaySite(r: Reader, value: unknown): ScalewaySiteConfig {
  const path = "scalewaySite";
  const d = DEFAULT_SCALEWAY_SITE;
  const obj = r.object(path, value);
  if (!obj) return { ...d };
  r.rejectUnknownKeys(path, obj, SCALEWAY_SITE_KEYS);
  const privateNetworkId = r.shapeString(`${path}.privateNetworkId`, obj.privateNetworkId, JOIN_NETWORK);
  // Joining an existing network: its subnet is a fact the user states (planning needs it
  // before any provider call); the deploy checks it against the network itself.
  const subnet =
    privateNetworkId !== undefined
      ? r.required(
          `${path}.subnet`,
          obj.subnet,
          "<the network's subnet, e.g. 192.168.0.0/24>",
          "when joining an existing private network (privateNetworkId)",
        )
      : (r.string(`${path}.subnet`, obj.subnet) ?? d.subnet);
  // A moved subnet moves the default addresses with it (.2 and .3), so changing only the
  // subnet gives a valid site instead of two "outside the subnet" errors.
  const derived = subnet !== undefined && subnet !== d.subnet ? defaultHostsOf(subnet) : undefined;
  const testHost = r.boolean(`${path}.testHost`, obj.testHost) ?? privateNetworkId === undefined;
  if (privateNetworkId !== undefined) {
    r.statedOnExistingNetwork(`${path}.gatewayAddress`, obj.gatewayAddress, subnet, 10, "the gateway");
    if (testHost)
      r.statedOnExistingNetwork(`${path}.testHostAddress`, obj.testHostAddress, subnet, 11, "the test host");
  }
  const testHostAddress =
    r.optionalString(`${path}.testHostAddress`, obj.testHostAddress) ??
    (testHost ? (derived?.testHost ?? d.testHostAddress) : undefined);
  const site: ScalewaySiteConfig = {
    name: r.string(`${path}.name`, obj.name) ?? d.name,
    subnet: subnet ?? "",
    gatewayAddress: r.string(`${path}.gatewayAddress`, obj.gatewayAddress) ?? derived?.gateway ?? d.gatewayAddress,
    testHost,
    tunnelAddress: r.string(`${path}.tunnelAddress`, obj.tunnelAddress) ?? d.tunnelAddress,
    routePropagation:
      r.choice(`${path}.routePropagation`, obj.routePropagation, ROUTE_PROPAGATIONS) ?? d.routePropagation,
    keyGeneration: r.number(`${path}.keyGeneration`, obj.keyGeneration, 1) ?? d.keyGeneration,
  };
  // Optional fields stay absent rather than undefined-valued, so objects compare and print cleanly.
  if (privateNetworkId !== undefined) site.privateNetworkId = privateNetworkId;
  if (testHostAddress !== undefined) site.testHostAddress = testHostAddress;
  return site;
}

function parseRemoteSites(r: Reader, value: unknown, tunnelCidr: string): RemoteSiteConfig[] {
  if (value === undefined) return DEFAULT_REMOTE_SITES.map((site) => ({ ...site }));
  const list = r.array("remoteSites", value);
  if (!list) return [];
  if (list.length > MAX_LIST_LENGTH) {
    r.issues.push({
      key: "remoteSites",
      problem: `lists ${list.length} sites; at most ${MAX_LIST_LENGTH} are accepted (one hub terminates every tunnel).`,
      fix: `split them across stacks, or remove sites from index ${MAX_LIST_LENGTH} on: ${r.p.remove(`remoteSites[${MAX_LIST_LENGTH}]`)}`,
    });
    return [];
  }
  const sites: RemoteSiteConfig[] = [];
  list.forEach((item, i) => {
    const site = parseRemoteSite(r, `remoteSites[${i}]`, i, item, tunnelCidr);
    if (site) sites.push(site);
  });
  return sites;
}

function parseRemoteSite(
  r: Reader,
  path: string,
  index: number,
  value: unknown,
  tunnelCidr: string,
): RemoteSiteConfig | undefined {
  const obj = r.object(path, value === null ? {} : value);
  if (!obj) return undefined;
  r.rejectUnknownKeys(path, obj, REMOTE_SITE_KEYS);

  const kind = r.choice(`${path}.kind`, obj.kind, REMOTE_SITE_KINDS) ?? "simulated";
  const subnet = r.required(`${path}.subnet`, obj.subnet, `192.168.${index + 1}.0/24`);
  const example = defaultHostsOf(subnet ?? "") ?? {
    gateway: `192.168.${index + 1}.2`,
    testHost: `192.168.${index + 1}.3`,
  };
  const name = r.required(`${path}.name`, obj.name, index === 0 ? "onprem" : `site${index + 1}`);
  const gatewayAddress = r.required(`${path}.gatewayAddress`, obj.gatewayAddress, example.gateway);
  const tunnelAddress = r.required(`${path}.tunnelAddress`, obj.tunnelAddress, exampleTunnelAddress(tunnelCidr, index));

  const site: RemoteSiteConfig = {
    name: name ?? "",
    kind,
    subnet: subnet ?? "",
    gatewayAddress: gatewayAddress ?? "",
    tunnelAddress: tunnelAddress ?? "",
    routePropagation:
      r.choice(`${path}.routePropagation`, obj.routePropagation, ROUTE_PROPAGATIONS) ?? DEFAULT_ROUTE_PROPAGATION[kind],
    allowSpokeToSpoke: r.boolean(`${path}.allowSpokeToSpoke`, obj.allowSpokeToSpoke) ?? false,
    testHost: false,
    keyGeneration: r.number(`${path}.keyGeneration`, obj.keyGeneration, 1) ?? 0,
  };
  // Optional fields stay absent rather than undefined-valued, so objects compare and print cleanly.
  const testHostAddress = r.optionalString(`${path}.testHostAddress`, obj.testHostAddress);
  const privateNetworkId = r.shapeString(`${path}.privateNetworkId`, obj.privateNetworkId, JOIN_NETWORK);
  site.testHost =
    r.boolean(`${path}.testHost`, obj.testHost) ?? (kind === "simulated" && privateNetworkId === undefined);
  if (privateNetworkId !== undefined) site.privateNetworkId = privateNetworkId;
  if (privateNetworkId !== undefined && site.testHost)
    r.statedOnExistingNetwork(`${path}.testHostAddress`, obj.testHostAddress, subnet, 11, "the test host");
  const publicIp = r.shapeString(`${path}.publicIp`, obj.publicIp, FIXED_FAR_END);
  const lanRouter = r.optionalString(`${path}.lanRouter`, obj.lanRouter);
  if (testHostAddress !== undefined) site.testHostAddress = testHostAddress;
  if (publicIp !== undefined) site.publicIp = publicIp;
  if (lanRouter !== undefined) site.lanRouter = lanRouter;
  const isolatedLan = r.boolean(`${path}.isolatedLan`, obj.isolatedLan);
  const dnsServers = r.stringList(`${path}.dnsServers`, obj.dnsServers, "9.9.9.9");
  const fixedHosts = r.stringList(`${path}.fixedHosts`, obj.fixedHosts, example.testHost);
  const bundleInstalled = r.boolean(`${path}.bundleInstalled`, obj.bundleInstalled);
  const bundleSshKeys = r.boolean(`${path}.bundleSshKeys`, obj.bundleSshKeys);
  if (isolatedLan !== undefined) site.isolatedLan = isolatedLan;
  if (dnsServers !== undefined) site.dnsServers = dnsServers;
  if (fixedHosts !== undefined) site.fixedHosts = fixedHosts;
  if (bundleInstalled !== undefined) site.bundleInstalled = bundleInstalled;
  if (bundleSshKeys !== undefined) site.bundleSshKeys = bundleSshKeys;
  return site;
}

/** .2 and .3 of a subnet, when it parses and is big enough; else undefined. */
function defaultHostsOf(subnet: string): { gateway: string; testHost: string } | undefined {
  if (!parseCidr(subnet).ok || addressCount(subnet) < 8) return undefined;
  return { gateway: hostAddress(subnet, 2), testHost: hostAddress(subnet, 3) };
}

function exampleTunnelAddress(tunnelCidr: string, index: number): string {
  try {
    return hostAddress(tunnelCidr, index + 2);
  } catch {
    return `172.16.0.${index + 2}`;
  }
}

/** Reads values of expected types, recording an issue (and returning undefined) for each misfit. */
class Reader {
  readonly issues: ConfigIssue[] = [];

  constructor(readonly p: Phrasing) {}

  private wrongType(key: string, value: unknown, expected: string, example: string | number | boolean): undefined {
    this.issues.push({
      key,
      problem: `must be ${expected}, got ${describe(value)}.`,
      fix: `${this.p.run(key, example)}`,
    });
    return undefined;
  }

  string(key: string, value: unknown): string | undefined {
    if (value === undefined || value === null) return undefined;
    if (typeof value === "string") {
      this.text(key, value);
      return value;
    }
    return this.wrongType(key, value, "a string", JSON.stringify(plainText(value)));
  }

  /**
   * Every string here ends up on a host (cloud-config, wg0.conf, nft rules, dnsmasq.conf,
   * shell scripts) or in a resource name, so one rule for all of them: a single line of
   * printable text of bounded size. The value is not echoed: it may be half a secret.
   * sshPublicKeys are exempt here; validation checks them with key-specific messages.
   */
  text(key: string, value: string, maxLength = MAX_STRING_LENGTH): void {
    const placeholder = PLACEHOLDER.exec(value);
    if (placeholder) {
      this.issues.push({
        key,
        problem: `still holds the placeholder ${placeholder[0]} from an example.`,
        fix: `put the real value in its place: ${this.p.run(key, "<value>")}`,
      });
      return;
    }
    const problem = textProblem(value, maxLength);
    if (!problem) return;
    const firstLine = value.split(UNSAFE_CHARACTER)[0].trim().slice(0, maxLength);
    this.issues.push({
      key,
      problem,
      fix: `retype it as one plain line${firstLine && /^[A-Za-z0-9./:_-]+$/.test(firstLine) ? `, e.g. ${this.p.run(key, firstLine)}` : `: ${this.p.run(key, "<value>")}`}`,
    });
  }

  /** Like `string`, but "" means "not set": `pulumi config set` cannot store a true absence inside an object. */
  optionalString(key: string, value: unknown): string | undefined {
    const text = this.string(key, value);
    return text === undefined || text.trim() === "" ? undefined : text;
  }

  /**
   * An optional string whose presence switches the deploy's shape (join a network instead of
   * creating one; a fixed far end instead of a dynamic one). Empty is refused rather than read
   * as unset: it is what `pulumi config set ... "$VAR"` stores when VAR is not set.
   */
  shapeString(key: string, value: unknown, shape: ShapeSwitch): string | undefined {
    if (typeof value === "string" && value.trim() === "") {
      this.issues.push({
        key,
        problem: `is empty (set from an unset shell variable?); left empty it would ${shape.whenEmpty}.`,
        fix: `${this.p.run(key, shape.example)}, or ${this.p.remove(key)} if that is what you meant`,
      });
      return undefined;
    }
    return this.optionalString(key, value);
  }

  /**
   * An address on a network the stack joins must be stated: the defaults (.2, .3) are where
   * a network's first hosts usually sit, and Scaleway's IPAM cannot choose it instead, since
   * the gateway's user-data (which finds its private NIC by this address), the test hosts'
   * routes and the deploy checks are rendered before any server exists.
   */
  statedOnExistingNetwork(key: string, value: unknown, subnet: string | undefined, n: number, what: string): void {
    if (value !== undefined && value !== null && value !== "") return;
    const example = subnet && parseCidr(subnet).ok && addressCount(subnet) > n + 2 ? hostAddress(subnet, n) : undefined;
    this.issues.push({
      key,
      problem: `is required when joining an existing private network (privateNetworkId): the default would be an address the network's own hosts may already hold, and Scaleway's IPAM cannot pick one for ${what} because its address is written into user-data before the server exists.`,
      fix: `pick a free address of the network (\`scw ipam ip list private-network-id=<network id>\` lists the taken ones), e.g. ${this.p.run(key, example ?? "<free address>")} if that one is free`,
    });
  }

  required(key: string, value: unknown, example: string, when = "for every remote site"): string | undefined {
    if (value === undefined || value === null || value === "") {
      this.issues.push({
        key,
        problem: `is required ${when} and is missing.`,
        fix: `${this.p.run(key, example)}`,
      });
      return undefined;
    }
    return this.string(key, value);
  }

  /** Numbers, or strings that spell one ("52435", "1.5"); whether it is an integer in range is validation's job. */
  number(key: string, value: unknown, example: number): number | undefined {
    if (value === undefined || value === null) return undefined;
    if (typeof value === "number" && Number.isFinite(value)) return value;
    if (typeof value === "string" && /^-?\d+(\.\d+)?$/.test(value.trim())) return Number(value.trim());
    return this.wrongType(key, value, "a number", example);
  }

  boolean(key: string, value: unknown): boolean | undefined {
    if (value === undefined || value === null) return undefined;
    if (typeof value === "boolean") return value;
    if (value === "true" || value === "false") return value === "true";
    return this.wrongType(key, value, "true or false", "true");
  }

  choice<T extends string>(key: string, value: unknown, allowed: readonly T[]): T | undefined {
    const text = this.string(key, value);
    if (text === undefined) return undefined;
    if ((allowed as readonly string[]).includes(text)) return text as T;
    const guess = closest(text, allowed);
    this.issues.push({
      key,
      problem: `${JSON.stringify(text)} is not one of ${allowed.join(", ")}.`,
      fix: `${this.p.run(key, guess ?? allowed[0])}`,
    });
    return undefined;
  }

  /** A list of strings, given as an array or as its JSON text. */
  stringList(key: string, value: unknown, example: string, opts: { checkText?: boolean } = {}): string[] | undefined {
    const list = this.array(key, value, example);
    if (!list) return undefined;
    let ok = true;
    if (list.length > MAX_LIST_LENGTH) {
      ok = false;
      this.issues.push({
        key,
        problem: `lists ${list.length} entries; at most ${MAX_LIST_LENGTH} are accepted (each becomes host configuration or a firewall rule).`,
        fix: `keep the ones you need: ${this.p.remove(`${key}[${MAX_LIST_LENGTH}]`)} (and the entries after it)`,
      });
    }
    list.forEach((item, i) => {
      if (typeof item !== "string") {
        ok = false;
        this.wrongType(`${key}[${i}]`, item, "a string", example);
      } else if (opts.checkText !== false) {
        this.text(`${key}[${i}]`, item);
      }
    });
    return ok ? (list as string[]) : undefined;
  }

  array(key: string, value: unknown, example = "..."): unknown[] | undefined {
    if (value === undefined || value === null) return undefined;
    const parsed = typeof value === "string" ? parseJson(value) : value;
    if (Array.isArray(parsed)) return parsed;
    this.issues.push({
      key,
      problem: `must be a list, got ${describe(value)}.`,
      fix: `set list items by index, e.g. ${this.p.set(`${key}[0]`, example)}`,
    });
    return undefined;
  }

  object(key: string, value: unknown): Record<string, unknown> | undefined {
    if (value === undefined || value === null) return undefined;
    const parsed = typeof value === "string" ? parseJson(value) : value;
    if (typeof parsed === "object" && parsed !== null && !Array.isArray(parsed))
      return parsed as Record<string, unknown>;
    this.issues.push({
      key,
      problem: `must be an object with named fields, got ${describe(value)}.`,
      fix: `set its fields one by one, e.g. ${this.p.set(`${key}.name`, "site1")}`,
    });
    return undefined;
  }

  rejectUnknownKeys(path: string, obj: Record<string, unknown>, known: readonly string[]): void {
    for (const key of Object.keys(obj)) {
      if (!known.includes(key)) this.unknownKey(`${path}.${key}`, key, known);
    }
  }

  unknownKey(fullKey: string, key: string, known: readonly string[]): void {
    const guess = closest(key, known);
    const parent = fullKey.slice(0, fullKey.length - key.length);
    this.issues.push({
      key: fullKey,
      problem: `is not a known key${guess ? `; did you mean \`${guess}\`?` : ` (known: ${known.join(", ")}).`}`,
      fix: guess
        ? `${this.p.runRemove(fullKey)} and set \`${parent}${guess}\` instead`
        : `${this.p.runRemove(fullKey)}; the keys here are ${known.join(", ")}`,
    });
  }
}

/**
 * The examples' placeholders (`<your public IPv4>/32`): no value of any key holds angle
 * brackets, so a copied example that was not filled in is named as such.
 */
export const PLACEHOLDER = /<[^<>]*>/;

/** A key whose presence switches the deploy's shape, for `Reader.shapeString`. */
interface ShapeSwitch {
  /** What the deploy does without the key, as a verb phrase after "would". */
  whenEmpty: string;
  example: string;
}

const JOIN_NETWORK: ShapeSwitch = {
  whenEmpty: "create a new VPC and private network instead of joining yours",
  example: "<the network's id, from the console or scw vpc private-network list>",
};

const FIXED_FAR_END: ShapeSwitch = {
  whenEmpty:
    "treat the far end as dynamic: the hub would stop dialing it and admit WireGuard for it from dynamicPeerCidrs instead of one address",
  example: "<the far gateway's public IPv4>",
};

/** Longest string accepted for any key but sshPublicKeys (addresses, names, zones, images are far shorter). */
export const MAX_STRING_LENGTH = 255;
/** Most entries of any list key (adminCidrs, sshPublicKeys, dnsServers, fixedHosts, remoteSites). */
export const MAX_LIST_LENGTH = 64;

/**
 * Characters that must never reach a host's configuration: C0 and C1 controls (line breaks,
 * NUL, escape), DEL, Unicode line/paragraph separators (YAML and JS treat them as breaks),
 * and invisible formatting/bidi controls that make a value read differently than it is.
 */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
export const UNSAFE_CHARACTER = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]/;

/** Why a config string cannot reach a host as is, or undefined. Never includes the value. */
export function textProblem(value: string, maxLength = MAX_STRING_LENGTH): string | undefined {
  const at = value.search(UNSAFE_CHARACTER);
  if (at >= 0) {
    const code = value.charCodeAt(at);
    const what =
      code === 0x0a || code === 0x0d || code === 0x2028 || code === 0x2029 || code === 0x85
        ? "a line break"
        : code >= 0x200b
          ? `an invisible formatting character (U+${code.toString(16).toUpperCase().padStart(4, "0")})`
          : `a control character (U+${code.toString(16).toUpperCase().padStart(4, "0")})`;
    return `contains ${what} at position ${at + 1}; values are written into host configuration, where that could add lines the stack never meant.`;
  }
  if (value.length > maxLength) return `is ${value.length} characters long; at most ${maxLength} are accepted here.`;
  return undefined;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function describe(value: unknown): string {
  const kind = Array.isArray(value) ? "list" : value === null ? "null" : typeof value;
  let text: string;
  try {
    text = JSON.stringify(value) ?? plainText(value);
  } catch {
    text = plainText(value);
  }
  return `${kind} ${text.length > 40 ? `${text.slice(0, 37)}...` : text}`;
}

/** The known name nearest to a typo, if it is close enough to be a plausible intent. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const distance =
      candidate.toLowerCase() === word.toLowerCase() ? 0 : editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  const tolerance = Math.max(2, Math.floor(word.length / 3));
  return bestDistance <= tolerance ? best : undefined;
}

/** Levenshtein distance (insert, delete, substitute). */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length];
}

/** String(value), except for objects whose toString is not callable (fuzzed JSON input). */
function plainText(value: unknown): string {
  try {
    return String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}
