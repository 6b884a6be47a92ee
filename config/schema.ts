/**
 * The stack's configuration, declared once: every key with its type, default, the checks
 * its value gets on its own, and what it means. From this declaration come the parser
 * (parse.ts runs it and words its issues), the types (types.ts), `Pulumi.yaml`'s `config:`
 * block and the reference in docs/configuration.md (schemaDocs.ts, `npm run docs:config`).
 * The rules between values (overlaps, reserved addresses, ...) are config/rules/.
 *
 * A key is a field type from fields.ts, its default, and `key(..., { description })`; a
 * nested object is a `record` of such keys, at any depth.
 */
import { z } from "zod";
import { addressCount, hostAddress, parseCidr } from "../addressing/ipv4";
import { TEMPLATE as p, THIS_KEY } from "./errors";
import {
  choice,
  compact,
  flag,
  list,
  MAX_LIST_LENGTH,
  number,
  optionalText,
  record,
  requiredText,
  shapeSwitch,
  text,
  type FieldProblem,
} from "./fields";

/** Where a fix's example is asked for: the list index of the site (or 0), the object as given, the whole config as given. */
export interface ExampleContext {
  index: number;
  given: Record<string, unknown>;
  root: Record<string, unknown>;
}

/** What the reference says of a key, and what its fixes suggest. */
export interface KeyDoc {
  description: string;
  /** The reference's type name where it says more than the value's type ("CIDR"). */
  docType?: string;
  /** The reference's text for the default when it is not one plain value (a function: read once the defaults exist). */
  defaultText?: string | (() => string);
  /** The value a fix suggests when the key is missing or of the wrong type (else its default). */
  example?: string | number | boolean | ((at: ExampleContext) => string);
  /** On a list of objects: what one item is ("remote site"), for "required for every remote site". */
  item?: string;
}

export const KEY_DOCS = z.registry<KeyDoc>();

function key<T extends z.ZodType>(schema: T, doc: KeyDoc): T {
  KEY_DOCS.add(schema, doc);
  return schema;
}

// ---------------------------------------------------------------------------------------
// Value sets. Const objects plus their value types (not bare unions): that is the enum shape
// Pulumi's schema inference accepts (@pulumi/pulumi provider/experimental analyzer), so other
// languages get an enum; the component's arguments use them as they are.

/** How hosts on a site learn the route to the other sites' subnets. */
export const RoutePropagation = {
  /** Scaleway VPC custom route to the gateway's private NIC (Scaleway-built sites only; the default there). */
  VpcRoute: "vpc-route",
  /** dnsmasq on the gateway hands out DHCP option 121 (external sites whose LAN DHCP the gateway owns). */
  Dhcp: "dhcp",
  /** cloud-init (or the operator, for external sites) adds the route on each host. */
  Static: "static",
} as const;
export type RoutePropagation = (typeof RoutePropagation)[keyof typeof RoutePropagation];
export const ROUTE_PROPAGATIONS: readonly RoutePropagation[] = Object.values(RoutePropagation);

/** What a remote site is. */
export const RemoteSiteKind = {
  /** Built on Scaleway as a second VPC (the tutorial's "on-premise"). */
  Simulated: "simulated",
  /** A real gateway elsewhere: nothing is built, its operator gets a bundle. */
  External: "external",
} as const;
export type RemoteSiteKind = (typeof RemoteSiteKind)[keyof typeof RemoteSiteKind];
export const REMOTE_SITE_KINDS: readonly RemoteSiteKind[] = Object.values(RemoteSiteKind);

/** Route propagation a remote site gets when none is given: external sites have no VPC to route in. */
export const DEFAULT_ROUTE_PROPAGATION: Readonly<Record<RemoteSiteKind, RoutePropagation>> = Object.freeze({
  simulated: "vpc-route",
  external: "static",
});

/**
 * DNS servers a `dhcp` LAN's hosts get when `dnsServers` is not set: two public resolvers from
 * different operators (Quad9, Cloudflare), reachable through the LAN's own router. The gateway
 * runs no DNS (dnsmasq has port=0, and Ubuntu's resolved only listens on 127.0.0.53), so it
 * must never be pushed as one. An isolated LAN (no router) gets none unless configured.
 */
export const DEFAULT_DNS_SERVERS: readonly string[] = Object.freeze(["9.9.9.9", "1.1.1.1"]);

/** Smallest `dhcp` LAN: the gateway, the LAN router and a pool of at least MIN_DHCP_POOL addresses. */
export const MIN_DHCP_PREFIX = 28;
export const MIN_DHCP_POOL = 4;

/**
 * Site names: a lower-case DNS label of at most 30 characters, starting with a letter. They
 * name Scaleway resources, files and nftables comments; the renderers assert the same rule.
 */
export const SITE_NAME_PATTERN = /^[a-z](?:[a-z0-9-]{0,28}[a-z0-9])?$/;

/**
 * The zone the Scaleway provider uses when nothing names one (terraform-provider-scaleway
 * internal/meta/meta.go: `LoadProfile` starts from fr-par-1 / fr-par). Not a `default` of the
 * `zone` key: Pulumi would write that into every stack's config, and the provider's own
 * setting could then never apply (config/zone.ts).
 */
export const PROVIDER_DEFAULT_ZONE = "fr-par-1";

/**
 * .2, .3 and .4 of a subnet (the gateway's, the test host's and an HA hub's second gateway's
 * defaults), when it parses and is big enough.
 */
export function defaultHostsOf(
  subnet: unknown,
): { gateway: string; testHost: string; secondGateway: string } | undefined {
  if (typeof subnet !== "string" || !parseCidr(subnet).ok || addressCount(subnet) < 8) return undefined;
  return { gateway: hostAddress(subnet, 2), testHost: hostAddress(subnet, 3), secondGateway: hostAddress(subnet, 4) };
}

/** How many gateways the hub may have: one, or two for an HA hub (docs/ha.md). */
export const HUB_GATEWAY_COUNTS: readonly number[] = Object.freeze([1, 2]);

// ---------------------------------------------------------------------------------------
// Joining an existing private network. Its addresses must be stated: the defaults (.2, .3)
// are where a network's first hosts usually sit, and Scaleway's IPAM cannot choose them
// instead, since the gateway's user-data (which finds its private NIC by this address), the
// test hosts' routes and the deploy checks are rendered before any server exists.

const JOIN_NETWORK = {
  whenEmpty: "create a new VPC and private network instead of joining yours",
  example: "<the network's id, from the console or scw vpc private-network list>",
};

const FIXED_FAR_END = {
  whenEmpty:
    "treat the far end as dynamic: the hub would stop dialing it and admit WireGuard for it from dynamicPeerCidrs instead of one address",
  example: "<the far gateway's public IPv4>",
};

const isGiven = (value: unknown): boolean => value !== undefined && value !== "";
const joins = (given: Record<string, unknown>): boolean =>
  typeof given.privateNetworkId === "string" && given.privateNetworkId.trim() !== "";
const givenFlag = (value: unknown): boolean | undefined =>
  value === true || value === "true" ? true : value === false || value === "false" ? false : undefined;

function stated(field: string, given: Record<string, unknown>, n: number, what: string) {
  if (isGiven(given[field])) return [];
  const subnet = given.subnet;
  const example =
    typeof subnet === "string" && parseCidr(subnet).ok && addressCount(subnet) > n + 2
      ? hostAddress(subnet, n)
      : "<free address>";
  return [
    {
      field,
      problem: `is required when joining an existing private network (privateNetworkId): the default would be an address the network's own hosts may already hold, and Scaleway's IPAM cannot pick one for ${what} because its address is written into user-data before the server exists.`,
      fix: `pick a free address of the network (\`scw ipam ip list private-network-id=<network id>\` lists the taken ones), e.g. ${p.run(THIS_KEY, example)} if that one is free`,
    },
  ];
}

/** The hub joining a network states its subnet (planning needs it before any provider call; the deploy checks it) and addresses. */
function hubJoining(given: Record<string, unknown>): (FieldProblem & { field: string })[] {
  if (!joins(given)) return [];
  const subnet = isGiven(given.subnet)
    ? []
    : [
        {
          field: "subnet",
          problem: "is required when joining an existing private network (privateNetworkId) and is missing.",
          fix: p.run(THIS_KEY, "<the network's subnet, e.g. 192.168.0.0/24>"),
        },
      ];
  const testHost = givenFlag(given.testHost) === true;
  return [
    ...subnet,
    ...stated("gatewayAddress", given, 10, "the gateway"),
    ...(testHost ? stated("testHostAddress", given, 11, "the test host") : []),
    ...(given.gateways === 2 ? stated("secondGatewayAddress", given, 12, "the second gateway") : []),
  ];
}

function remoteJoining(given: Record<string, unknown>): (FieldProblem & { field: string })[] {
  return joins(given) && givenFlag(given.testHost) === true
    ? stated("testHostAddress", given, 11, "the test host")
    : [];
}

// ---------------------------------------------------------------------------------------
// Sites. The default topology is a hub and one simulated spoke, each gateway on .2, not .1:
// Scaleway reserves .0, .1 and the last two addresses of every private network.

const HUB_SUBNET = "192.168.0.0/24";

const TUNNEL_CIDR = "172.16.0.0/24";

const keyGeneration = (description: string) => key(number().default(0), { description, example: 1 });

const HUB_FIELDS = {
  name: key(text().default("scaleway"), { description: "site name (DNS label)" }),
  subnet: key(text().optional(), {
    // Defaulted in hubSite's transform, so that a joined network's missing subnet is named.
    defaultText: `\`${HUB_SUBNET}\``,
    docType: "CIDR",
    description:
      "the private network's subnet; with `privateNetworkId`, required: the existing network's subnet (checked against it at deploy time)",
  }),
  privateNetworkId: key(shapeSwitch(JOIN_NETWORK), {
    defaultText: "none: create a VPC and a private network",
    description:
      "join this existing private network (UUID or `fr-par/UUID`); the stack creates, changes and deletes nothing of it or its VPC",
  }),
  gatewayAddress: key(text().optional(), {
    defaultText: "`.2` of the subnet",
    description: "gateway's fixed private address (reserved in IPAM; must be free on an existing network)",
  }),
  testHost: key(flag().optional(), {
    defaultText: "`true`; `false` with `privateNetworkId`",
    description: "build a test host for the ping test",
  }),
  testHostAddress: key(optionalText(), {
    defaultText: "`.3` of the subnet when `testHost`",
    description: "test host's fixed private address; without `testHost`, an existing host to ping (optional)",
  }),
  tunnelAddress: key(text().default("172.16.0.1"), { description: "hub's address in `tunnelCidr`" }),
  routePropagation: key(choice(RoutePropagation).default("vpc-route"), { description: "`vpc-route` or `static`" }),
  keyGeneration: keyGeneration("bump to rotate the gateway key"),
  gateways: key(number().default(1), {
    description:
      "`1`, or `2` for an HA hub: two gateways with one WireGuard identity, keepalived failover, the service IP and the VPC routes moved to the active one (docs/ha.md); needs `vpc-route`",
    example: 2,
  }),
  secondGatewayAddress: key(optionalText(), {
    defaultText: "`.4` of the subnet when `gateways` is 2",
    description:
      "the HA hub's second gateway's fixed private address (reserved in IPAM; must be free on an existing network)",
  }),
};

/** Keys only the hub has: remote sites have one gateway each. */
export const HUB_ONLY_KEYS = ["gateways", "secondGatewayAddress"] as const;
export type HubOnlyKey = (typeof HUB_ONLY_KEYS)[number];

const hubSite = record(HUB_FIELDS, hubJoining).transform((site) => {
  // A moved subnet moves the default addresses with it (.2 and .3), so changing only the
  // subnet gives a valid site instead of two "outside the subnet" errors.
  const subnet = site.subnet ?? HUB_SUBNET;
  const hosts = defaultHostsOf(subnet) ?? defaultHostsOf(HUB_SUBNET)!;
  const testHost = site.testHost ?? site.privateNetworkId === undefined;
  return compact({
    ...site,
    subnet,
    gatewayAddress: site.gatewayAddress ?? hosts.gateway,
    testHost,
    testHostAddress: site.testHostAddress ?? (testHost ? hosts.testHost : undefined),
    secondGatewayAddress: site.secondGatewayAddress ?? (site.gateways === 2 ? hosts.secondGateway : undefined),
  });
});

/** A required field's example in a fix: the site's own subnet, the site's index, the tunnel range. */
const siteHosts = ({ index, given }: ExampleContext) =>
  defaultHostsOf(given.subnet) ?? { gateway: `192.168.${index + 1}.2`, testHost: `192.168.${index + 1}.3` };

function exampleTunnelAddress({ index, root }: ExampleContext): string {
  const cidr = typeof root.tunnelCidr === "string" ? root.tunnelCidr : TUNNEL_CIDR;
  try {
    return hostAddress(cidr, index + 2);
  } catch {
    return `172.16.0.${index + 2}`;
  }
}

const REMOTE_FIELDS = {
  name: key(requiredText(), {
    description: "site name (DNS label)",
    example: ({ index }) => (index === 0 ? "onprem" : `site${index + 1}`),
  }),
  kind: key(choice(RemoteSiteKind).default("simulated"), { description: "`simulated` or `external`" }),
  subnet: key(requiredText(), {
    docType: "CIDR",
    description: "the site's LAN",
    example: ({ index }) => `192.168.${index + 1}.0/24`,
  }),
  gatewayAddress: key(requiredText(), {
    description: "the site gateway's LAN address",
    example: (at) => siteHosts(at).gateway,
  }),
  privateNetworkId: key(shapeSwitch(JOIN_NETWORK), {
    defaultText: "none",
    description: "`simulated` only: join this existing private network instead of creating one (as `scalewaySite`)",
  }),
  testHost: key(flag().optional(), {
    defaultText: "`true` (simulated), `false` with `privateNetworkId` or `external`",
    description: "`simulated` only: build a test host",
  }),
  testHostAddress: key(optionalText(), {
    description: "host to ping; required when a test host is built, optional otherwise",
  }),
  tunnelAddress: key(requiredText(), {
    description: "the site's address in `tunnelCidr`",
    example: exampleTunnelAddress,
  }),
  routePropagation: key(choice(RoutePropagation).optional(), {
    defaultText: "`vpc-route` (simulated), `static` (external)",
    description: "`vpc-route`, `static`, or `dhcp` (external LANs whose DHCP the gateway owns)",
  }),
  publicIp: key(shapeSwitch(FIXED_FAR_END), {
    defaultText: "none: dynamic or NATed far end",
    description:
      "`external` only: the far gateway's fixed public IPv4 (the hub dials it and admits WireGuard only from it); without it the far end dials the hub and keeps the tunnel up",
  }),
  lanRouter: key(optionalText(), {
    description: "`dhcp` only: the LAN's own default router (option 121); required unless `isolatedLan`",
  }),
  // Absent means false; left absent so parsed sites stay as written.
  isolatedLan: key(flag().optional(), {
    defaultText: "`false`",
    description: "`dhcp` only: the LAN has no router of its own; hosts get the tunnel routes and no default route",
  }),
  dnsServers: key(list(text()).optional(), {
    defaultText: `\`${JSON.stringify(DEFAULT_DNS_SERVERS)}\` (none when \`isolatedLan\`)`,
    description: "`dhcp` only: DNS servers handed to LAN hosts (option 6); at most 3",
    example: "9.9.9.9",
  }),
  fixedHosts: key(list(text()).optional(), {
    defaultText: "`[]`",
    description: "`dhcp` only: LAN addresses set by hand (servers, printers); the DHCP pool leaves them out",
    example: (at) => siteHosts(at).testHost,
  }),
  bundleInstalled: key(flag().optional(), {
    defaultText: "`false`",
    description:
      "`external` only: set to true once the operator has installed the bundle; until then `pulumi up` does not check this peer (step 1 of 2)",
  }),
  bundleSshKeys: key(flag().optional(), {
    defaultText: "`false`",
    description:
      "`external` only: let the bundle's cloud-config.yaml add `sshPublicKeys` (never the deploy key) to root on the operator's gateway",
  }),
  bundleCockpit: key(flag().optional(), {
    defaultText: "`false`",
    description:
      "`external` only, with `cockpit`: the bundle also pushes this far end's tunnel metrics to your Cockpit, with a write-only token of its own (turning it off deletes the token); without it the far end's metrics stay local",
  }),
  allowSpokeToSpoke: key(flag().default(false), { description: "allow traffic with other spokes that allow it too" }),
  keyGeneration: keyGeneration("bump to rotate this site's keys"),
};

const remoteSite = z.preprocess(
  // An empty list entry (`remoteSites[1]: null`) is a site with nothing set: its required fields are named.
  (value: unknown) => (value === null ? {} : value),
  record(REMOTE_FIELDS, remoteJoining).transform((site) => {
    const testHost = site.testHost ?? (site.kind === "simulated" && site.privateNetworkId === undefined);
    return compact({
      ...site,
      routePropagation: site.routePropagation ?? DEFAULT_ROUTE_PROPAGATION[site.kind],
      testHost,
    });
  }),
);

// ---------------------------------------------------------------------------------------
// Top-level keys, in the `scaleway-wireguard-s2s` namespace.

const STACK_FIELDS = {
  zone: key(text().optional(), {
    defaultText: `the provider's: \`scaleway:zone\`, else \`SCW_DEFAULT_ZONE\`, else \`${PROVIDER_DEFAULT_ZONE}\``,
    description:
      "Scaleway zone of every instance; the region is derived from it. Set `scaleway:zone` instead: this key only overrides it, and must agree with it.",
  }),
  adminCidrs: key(list(text()).optional(), {
    // No default on purpose: the rules refuse an empty list, and never fall back to 0.0.0.0/0.
    defaultText: "**required**",
    description: "IPv4 CIDRs allowed to SSH to the gateways. Required; 0.0.0.0/0 is refused.",
    example: "203.0.113.7/32",
  }),
  sshPublicKeys: key(
    // Checked by the rules, with messages for keys (private keys, line breaks, lengths).
    list(z.string()).default([]),
    {
      description: "Extra OpenSSH public keys for root on every host (the deploy key is always added).",
      example: "'ssh-ed25519 AAAA... you@laptop'",
    },
  ),
  instanceType: key(text().default("DEV1-S"), { description: "Instance type of gateways and test hosts." }),
  image: key(text().default("ubuntu_noble"), { description: "Instance image of gateways and test hosts." }),
  testHostPublicIp: key(flag().default(false), {
    description: "Give test hosts a public IP; by default the gateway is their SSH jump host.",
  }),
  verify: key(flag().default(true), {
    description:
      "After deploy, check over SSH that cloud-init finished, WireGuard shook hands and the ping test passes.",
  }),
  listenPort: key(number().default(52435), { description: "WireGuard UDP port on every gateway." }),
  keepalive: key(number().default(25), {
    description: "PersistentKeepalive (seconds) from spokes to the hub; 0 disables it.",
  }),
  dynamicPeerCidrs: key(list(text()).default(["0.0.0.0/0"]), {
    description:
      "Sources the hub admits WireGuard (UDP `listenPort`) from for external sites without `publicIp`; narrow it to your ISP's ranges if you know them.",
    example: "198.51.100.0/24",
  }),
  mtu: key(number().default(1420), {
    description: "MTU of wg0 (1280-1440); TCP MSS is clamped to it.",
  }),
  tunnelCidr: key(text().default(TUNNEL_CIDR), {
    docType: "CIDR",
    description: "Range the tunnel addresses come from; must not overlap any site subnet.",
  }),
  cockpit: key(flag().default(false), {
    description:
      "Push every Scaleway-built gateway's tunnel metrics to Scaleway Cockpit: the stack creates a metrics data source and a write-only token, and each gateway runs Prometheus in agent mode (docs/metrics.md). Off: the metrics stay on each gateway's port 9100 for your own Prometheus.",
  }),
  alertEmails: key(list(text()).default([]), {
    description:
      "With `cockpit`: e-mail addresses Cockpit's alert manager notifies. Load the alert rules into Cockpit as docs/metrics.md says.",
    example: "netops@example.com",
  }),
  scalewaySite: key(hubSite.prefault({}), {
    defaultText: hubDefaultText,
    description: "The hub. Every field is optional (see its fields below).",
  }),
  remoteSites: key(
    list(remoteSite, (count) => ({
      problem: `lists ${count} sites; at most ${MAX_LIST_LENGTH} are accepted (one hub terminates every tunnel).`,
      fix: `split them across stacks, or remove sites from index ${MAX_LIST_LENGTH} on: ${p.remove(`${THIS_KEY}[${MAX_LIST_LENGTH}]`)}`,
    })).prefault([
      {
        name: "onprem",
        subnet: "192.168.1.0/24",
        gatewayAddress: "192.168.1.2",
        testHostAddress: "192.168.1.3",
        tunnelAddress: "172.16.0.2",
      },
    ]),
    {
      defaultText: remoteSitesDefaultText,
      description: "The spokes (see their fields below).",
      item: "remote site",
    },
  ),
};

/** The stack's configuration: raw config (namespaced keys and unset values ignored) in, StackConfig out. */
export const STACK_CONFIG = z
  .preprocess(
    (raw: unknown) =>
      typeof raw === "object" && raw !== null && !Array.isArray(raw)
        ? Object.fromEntries(
            // Namespaced keys ("scaleway:zone") belong to providers, not to this program.
            Object.entries(raw).filter(
              ([k, v]) => !k.includes(":") && v !== undefined && (v !== null || !(k in STACK_FIELDS)),
            ),
          )
        : raw,
    z.strictObject(STACK_FIELDS),
  )
  .transform((cfg) => ({
    ...cfg,
    zone: cfg.zone ?? PROVIDER_DEFAULT_ZONE,
    adminCidrs: cfg.adminCidrs ?? [],
  }));

// ---------------------------------------------------------------------------------------
// What the rest of the program reads from the declaration.

export type StackConfig = z.output<typeof STACK_CONFIG>;
export type ScalewaySiteConfig = StackConfig["scalewaySite"];
export type RemoteSiteConfig = StackConfig["remoteSites"][number];

export type StackConfigKey = keyof typeof STACK_FIELDS;
export const STACK_CONFIG_KEYS = Object.keys(STACK_FIELDS) as StackConfigKey[];
export const SCALEWAY_SITE_KEYS = Object.keys(HUB_FIELDS) as (keyof typeof HUB_FIELDS)[];
export const REMOTE_SITE_KEYS = Object.keys(REMOTE_FIELDS) as (keyof typeof REMOTE_FIELDS)[];

/** The configuration with nothing set but what is required. */
const DEFAULTS: StackConfig = STACK_CONFIG.parse({});

export const DEFAULT_SCALEWAY_SITE: Readonly<ScalewaySiteConfig> = Object.freeze(DEFAULTS.scalewaySite);
export const DEFAULT_REMOTE_SITES: readonly Readonly<RemoteSiteConfig>[] = Object.freeze(
  DEFAULTS.remoteSites.map((site) => Object.freeze(site)),
);

type KeysWithDefault = {
  [K in StackConfigKey]: (typeof STACK_FIELDS)[K] extends z.ZodDefault ? K : never;
}[StackConfigKey];

/** Defaults of the top-level keys that have one (adminCidrs has none on purpose; zone's is the provider's). */
export const STACK_CONFIG_DEFAULTS: Readonly<Pick<StackConfig, KeysWithDefault>> = Object.freeze(
  Object.fromEntries(
    STACK_CONFIG_KEYS.filter((k) => STACK_FIELDS[k] instanceof z.ZodDefault).map((k) => [k, DEFAULTS[k]]),
  ) as Pick<StackConfig, KeysWithDefault>,
);

function hubDefaultText(): string {
  const hub = DEFAULT_SCALEWAY_SITE;
  return `name \`${hub.name}\`, \`${hub.subnet}\`, gateway \`.2\`, test host \`.3\`, tunnel \`${hub.tunnelAddress}\`, \`${hub.routePropagation}\``;
}

function remoteSitesDefaultText(): string {
  const [site] = DEFAULT_REMOTE_SITES;
  return `one \`${site.kind}\` site \`${site.name}\`, \`${site.subnet}\`, tunnel \`${site.tunnelAddress}\``;
}

// ---------------------------------------------------------------------------------------
// Ties for shapes that must be written out by hand (the component's arguments, for
// Pulumi's schema inference): `tsc` fails, naming the key, when they drift from the schema.

type Item<T> = T extends readonly (infer E)[] ? E : T;
type Nested<Restated, Config, At extends string> =
  NonNullable<Item<Config>> extends string | number | boolean
    ? never
    : KeyMismatch<NonNullable<Item<Restated>>, NonNullable<Item<Config>>, At>;

/**
 * Every key path where a restated shape and the config differ, at any depth (objects and
 * lists of objects): `never` when they have exactly the same keys.
 */
export type KeyMismatch<Restated, Config, At extends string = ""> =
  | `${At}${Exclude<keyof Restated, keyof Config> & string}: not a config key`
  | `${At}${Exclude<keyof Config, keyof Restated> & string}: config key missing here`
  | {
      [K in keyof Config & keyof Restated & string]: Nested<Restated[K], Config[K], `${At}${K}.`>;
    }[keyof Config & keyof Restated & string];

/** Compiles only when `Mismatch` is `never`; otherwise the error shows each differing key path. */
export type NoMismatch<Mismatch extends never> = Mismatch;
