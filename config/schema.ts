/**
 * The stack's configuration schema, defined once: every key, its type, its default and what
 * it means. Parsing (parse.ts) takes its defaults from here; `Pulumi.yaml`'s `config:` block
 * and the configuration reference are checked against it by config/schema.test.ts
 * (`npm run docs:config` rewrites docs/configuration.md's tables from it).
 *
 * Pulumi's project schema has no object type, so the two structured keys (`scalewaySite`,
 * `remoteSites`) appear here with their fields but not in `Pulumi.yaml`.
 */
import type { RemoteSiteConfig, RemoteSiteKind, RoutePropagation, ScalewaySiteConfig } from "./types";

/** Type names as docs/configuration.md shows them; `pulumiType` is the `Pulumi.yaml` spelling where one exists. */
export type SchemaType = "string" | "boolean" | "integer" | "CIDR" | "string[]" | "object" | "object[]";

export interface KeySchema {
  key: string;
  type: SchemaType;
  /** Absent: required (see `required`) or unset by default. */
  default?: string | number | boolean | readonly string[];
  required?: boolean;
  /** The reference's text for the default when it is not a plain value. */
  defaultText?: string;
  description: string;
}

// ---------------------------------------------------------------------------------------
// Sites. The defaults reproduce the seed's topology, with the gateways moved from .1 to .2:
// Scaleway reserves .0, .1 and the last two addresses of every private network.

export const DEFAULT_SCALEWAY_SITE: Readonly<ScalewaySiteConfig> = Object.freeze({
  name: "scaleway",
  subnet: "192.168.0.0/24",
  gatewayAddress: "192.168.0.2",
  testHost: true,
  testHostAddress: "192.168.0.3",
  tunnelAddress: "172.16.0.1",
  routePropagation: "vpc-route",
  keyGeneration: 0,
});

export const DEFAULT_REMOTE_SITES: readonly Readonly<RemoteSiteConfig>[] = Object.freeze([
  Object.freeze({
    name: "onprem",
    kind: "simulated",
    subnet: "192.168.1.0/24",
    gatewayAddress: "192.168.1.2",
    testHost: true,
    testHostAddress: "192.168.1.3",
    tunnelAddress: "172.16.0.2",
    routePropagation: "vpc-route",
    allowSpokeToSpoke: false,
    keyGeneration: 0,
  } as RemoteSiteConfig),
]);

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

export const SCALEWAY_SITE_FIELDS: readonly (KeySchema & { key: keyof ScalewaySiteConfig })[] = [
  { key: "name", type: "string", default: DEFAULT_SCALEWAY_SITE.name, description: "site name (DNS label)" },
  {
    key: "subnet",
    type: "CIDR",
    default: DEFAULT_SCALEWAY_SITE.subnet,
    description:
      "the private network's subnet; with `privateNetworkId`, required: the existing network's subnet (checked against it at deploy time)",
  },
  {
    key: "privateNetworkId",
    type: "string",
    defaultText: "none: create a VPC and a private network",
    description:
      "join this existing private network (UUID or `fr-par/UUID`); the stack creates, changes and deletes nothing of it or its VPC",
  },
  {
    key: "gatewayAddress",
    type: "string",
    defaultText: "`.2` of the subnet",
    description: "gateway's fixed private address (reserved in IPAM; must be free on an existing network)",
  },
  {
    key: "testHost",
    type: "boolean",
    defaultText: "`true`; `false` with `privateNetworkId`",
    description: "build a test host for the ping test",
  },
  {
    key: "testHostAddress",
    type: "string",
    defaultText: "`.3` of the subnet when `testHost`",
    description: "test host's fixed private address; without `testHost`, an existing host to ping (optional)",
  },
  {
    key: "tunnelAddress",
    type: "string",
    default: DEFAULT_SCALEWAY_SITE.tunnelAddress,
    description: "hub's address in `tunnelCidr`",
  },
  {
    key: "routePropagation",
    type: "string",
    default: DEFAULT_SCALEWAY_SITE.routePropagation,
    description: "`vpc-route` or `static`",
  },
  {
    key: "keyGeneration",
    type: "integer",
    default: DEFAULT_SCALEWAY_SITE.keyGeneration,
    description: "bump to rotate the gateway key",
  },
];

export const REMOTE_SITE_FIELDS: readonly (KeySchema & { key: keyof RemoteSiteConfig })[] = [
  { key: "name", type: "string", required: true, description: "site name (DNS label)" },
  { key: "kind", type: "string", default: "simulated", description: "`simulated` or `external`" },
  { key: "subnet", type: "CIDR", required: true, description: "the site's LAN" },
  { key: "gatewayAddress", type: "string", required: true, description: "the site gateway's LAN address" },
  {
    key: "privateNetworkId",
    type: "string",
    defaultText: "none",
    description: "`simulated` only: join this existing private network instead of creating one (as `scalewaySite`)",
  },
  {
    key: "testHost",
    type: "boolean",
    defaultText: "`true` (simulated), `false` with `privateNetworkId` or `external`",
    description: "`simulated` only: build a test host",
  },
  {
    key: "testHostAddress",
    type: "string",
    description: "host to ping; required when a test host is built, optional otherwise",
  },
  { key: "tunnelAddress", type: "string", required: true, description: "the site's address in `tunnelCidr`" },
  {
    key: "routePropagation",
    type: "string",
    defaultText: "`vpc-route` (simulated), `static` (external)",
    description: "`vpc-route`, `static`, or `dhcp` (external LANs whose DHCP the gateway owns)",
  },
  {
    key: "publicIp",
    type: "string",
    defaultText: "none: dynamic or NATed far end",
    description:
      "`external` only: the far gateway's fixed public IPv4 (the hub dials it and admits WireGuard only from it); without it the far end dials the hub and keeps the tunnel up",
  },
  {
    key: "lanRouter",
    type: "string",
    description: "`dhcp` only: the LAN's own default router (option 121); required unless `isolatedLan`",
  },
  {
    key: "isolatedLan",
    type: "boolean",
    // Absent means false; the parser leaves it absent so parsed sites stay as written.
    defaultText: "`false`",
    description: "`dhcp` only: the LAN has no router of its own; hosts get the tunnel routes and no default route",
  },
  {
    key: "dnsServers",
    type: "string[]",
    defaultText: '`["9.9.9.9","1.1.1.1"]` (none when `isolatedLan`)',
    description: "`dhcp` only: DNS servers handed to LAN hosts (option 6); at most 3",
  },
  {
    key: "fixedHosts",
    type: "string[]",
    defaultText: "`[]`",
    description: "`dhcp` only: LAN addresses set by hand (servers, printers); the DHCP pool leaves them out",
  },
  {
    key: "bundleInstalled",
    type: "boolean",
    // Absent means false; the parser leaves it absent so parsed sites stay as written.
    defaultText: "`false`",
    description:
      "`external` only: set to true once the operator has installed the bundle; until then `pulumi up` does not check this peer (step 1 of 2)",
  },
  {
    key: "bundleSshKeys",
    type: "boolean",
    // Absent means false; the parser leaves it absent so parsed sites stay as written.
    defaultText: "`false`",
    description:
      "`external` only: let the bundle's cloud-config.yaml add `sshPublicKeys` (never the deploy key) to root on the operator's gateway",
  },
  {
    key: "allowSpokeToSpoke",
    type: "boolean",
    default: false,
    description: "allow traffic with other spokes that allow it too",
  },
  { key: "keyGeneration", type: "integer", default: 0, description: "bump to rotate this site's keys" },
];

// ---------------------------------------------------------------------------------------
// Top-level keys, in the `scaleway-wireguard-s2s` namespace.

/**
 * The zone the Scaleway provider uses when nothing names one (terraform-provider-scaleway
 * internal/meta/meta.go: `LoadProfile` starts from fr-par-1 / fr-par). Not a `default` of the
 * `zone` key: Pulumi would write that into every stack's config, and the provider's own
 * setting could then never apply (config/zone.ts).
 */
export const PROVIDER_DEFAULT_ZONE = "fr-par-1";

export const STACK_CONFIG_SCHEMA = [
  {
    key: "zone",
    type: "string",
    defaultText: "the provider's: `scaleway:zone`, else `SCW_DEFAULT_ZONE`, else `fr-par-1`",
    description:
      "Scaleway zone of every instance; the region is derived from it. Set `scaleway:zone` instead: this key only overrides it, and must agree with it.",
  },
  {
    key: "adminCidrs",
    type: "string[]",
    required: true,
    description: "IPv4 CIDRs allowed to SSH to the gateways. Required; 0.0.0.0/0 is refused.",
  },
  {
    key: "sshPublicKeys",
    type: "string[]",
    default: [],
    description: "Extra OpenSSH public keys for root on every host (the deploy key is always added).",
  },
  { key: "instanceType", type: "string", default: "DEV1-S", description: "Instance type of gateways and test hosts." },
  { key: "image", type: "string", default: "ubuntu_noble", description: "Instance image of gateways and test hosts." },
  {
    key: "testHostPublicIp",
    type: "boolean",
    default: false,
    description: "Give test hosts a public IP; by default the gateway is their SSH jump host.",
  },
  {
    key: "verify",
    type: "boolean",
    default: true,
    description:
      "After deploy, check over SSH that cloud-init finished, WireGuard shook hands and the ping test passes.",
  },
  { key: "listenPort", type: "integer", default: 52435, description: "WireGuard UDP port on every gateway." },
  {
    key: "keepalive",
    type: "integer",
    default: 25,
    description: "PersistentKeepalive (seconds) from spokes to the hub; 0 disables it.",
  },
  {
    key: "dynamicPeerCidrs",
    type: "string[]",
    default: ["0.0.0.0/0"],
    description:
      "Sources the hub admits WireGuard (UDP `listenPort`) from for external sites without `publicIp`; narrow it to your ISP's ranges if you know them.",
  },
  { key: "mtu", type: "integer", default: 1420, description: "MTU of wg0 (1280-1440); TCP MSS is clamped to it." },
  {
    key: "tunnelCidr",
    type: "CIDR",
    default: "172.16.0.0/24",
    description: "Range the tunnel addresses come from; must not overlap any site subnet.",
  },
  {
    key: "scalewaySite",
    type: "object",
    defaultText: "name `scaleway`, `192.168.0.0/24`, gateway `.2`, test host `.3`, tunnel `172.16.0.1`, `vpc-route`",
    description: "The hub. Every field is optional (see its fields below).",
  },
  {
    key: "remoteSites",
    type: "object[]",
    defaultText: "one `simulated` site `onprem`, `192.168.1.0/24`, tunnel `172.16.0.2`",
    description: "The spokes (see their fields below).",
  },
] as const satisfies readonly KeySchema[];

export type StackConfigKey = (typeof STACK_CONFIG_SCHEMA)[number]["key"];

export const STACK_CONFIG_KEYS: readonly StackConfigKey[] = STACK_CONFIG_SCHEMA.map((k) => k.key);
export const SCALEWAY_SITE_KEYS: readonly string[] = SCALEWAY_SITE_FIELDS.map((k) => k.key);
export const REMOTE_SITE_KEYS: readonly string[] = REMOTE_SITE_FIELDS.map((k) => k.key);

type Defaults = {
  [K in (typeof STACK_CONFIG_SCHEMA)[number] as K extends { default: unknown } ? K["key"] : never]: K extends {
    default: infer D;
  }
    ? D extends readonly unknown[]
      ? readonly string[]
      : D extends boolean
        ? boolean
        : D extends number
          ? number
          : string
    : never;
};

/** Defaults of the top-level keys that have one (adminCidrs has none on purpose). */
export const STACK_CONFIG_DEFAULTS: Readonly<Defaults> = Object.freeze(
  Object.fromEntries(
    STACK_CONFIG_SCHEMA.filter((k): k is Extract<typeof k, { default: unknown }> => "default" in k).map((k) => [
      k.key,
      k.default,
    ]),
  ) as unknown as Defaults,
);

/** The reference's text for a key's default. */
export function defaultText(spec: KeySchema): string {
  if (spec.defaultText !== undefined) return spec.defaultText;
  if (spec.default === undefined) return spec.required ? "**required**" : "unset";
  return `\`${JSON.stringify(spec.default)}\``.replace(/`"(.*)"`/, "`$1`");
}

function table(rows: readonly KeySchema[], keyOf: (k: KeySchema) => string): string {
  const lines = ["| key | type | default | meaning |", "| --- | --- | --- | --- |"];
  for (const row of rows) lines.push(`| ${keyOf(row)} | ${row.type} | ${defaultText(row)} | ${row.description} |`);
  return lines.join("\n");
}

/** The configuration reference (between the `config-reference` markers of docs/configuration.md), before prettier. */
export function renderConfigReference(): string {
  return [
    table(STACK_CONFIG_SCHEMA, (k) => `\`${k.key}\``),
    "",
    "`scalewaySite` fields:",
    "",
    table(SCALEWAY_SITE_FIELDS, (k) => `\`scalewaySite.${k.key}\``),
    "",
    "`remoteSites[i]` fields:",
    "",
    table(REMOTE_SITE_FIELDS, (k) => `\`remoteSites[i].${k.key}\``),
  ].join("\n");
}
