/**
 * Rules between config values, as pure functions over a parsed StackConfig. Every issue
 * names the key (as typed for `pulumi config set --path`, which is also the SiteToSiteVpn
 * argument path) and a concrete fix, phrased for the stack or for a component's caller
 * (config/errors.ts `Phrasing`). `loadStackConfig` = parse + validate; it throws one
 * ConfigError holding every issue (parse problems included), before any resource is declared.
 */
import { Address6 } from "ip-address";
import {
  addressCount,
  cidrRange,
  contains,
  hostAddress,
  isPrivate,
  isPrivateCidr,
  isPublicUnicast,
  isSubnetOf,
  lastAddress,
  networkAddress,
  numberToIpv4,
  overlaps,
  parseCidr,
  parseIpv4,
  prefixLength,
  scalewayAssignableRange,
  scalewayReservedAddresses,
  dhcpPool,
  unionSize,
} from "../addressing/ipv4";
import { parseStackConfig, textProblem } from "./parse";
import { CONFIG_PHRASING, ConfigError, type ConfigIssue, type Phrasing } from "./errors";
import { DEFAULT_DNS_SERVERS, MIN_DHCP_POOL, MIN_DHCP_PREFIX, SITE_NAME_PATTERN } from "./schema";
import type { RemoteSiteConfig, RoutePropagation, StackConfig } from "./types";

/** Parse, then validate, phrased for the stack. Throws ConfigError listing every problem. */
export function loadStackConfig(raw: Record<string, unknown>): StackConfig {
  return resolveStackConfig(raw, CONFIG_PHRASING);
}

/**
 * Parse, then validate, with fixes phrased for `p`: the stack's keys and a component's
 * arguments share these rules. Throws one ConfigError (parse problems first, as they make
 * the rest moot), which can be rephrased for the other audience.
 */
export function resolveStackConfig(raw: Record<string, unknown>, p: Phrasing): StackConfig {
  const recheck = (q: Phrasing): ConfigIssue[] => {
    try {
      return validateStackConfig(parseStackConfig(raw, q), q);
    } catch (err) {
      if (err instanceof ConfigError) return err.issues;
      throw err;
    }
  };
  let config: StackConfig;
  try {
    config = parseStackConfig(raw, p);
  } catch (err) {
    if (err instanceof ConfigError) throw new ConfigError(err.issues, p, recheck);
    throw err;
  }
  const issues = validateStackConfig(config, p);
  if (issues.length > 0) throw new ConfigError(issues, p, recheck);
  return config;
}

export function validateStackConfig(cfg: StackConfig, p: Phrasing = CONFIG_PHRASING): ConfigIssue[] {
  const sites = siteViews(cfg);
  return [
    ...checkZone(cfg.zone, p),
    ...checkAdminCidrs(cfg.adminCidrs, p),
    ...checkAdminCidrsTogether(cfg.adminCidrs, p),
    ...checkSshPublicKeys(cfg.sshPublicKeys, p),
    ...checkNonEmpty("instanceType", cfg.instanceType, "DEV1-S", p, INSTANCE_TYPE),
    ...checkNonEmpty("image", cfg.image, "ubuntu_noble", p, IMAGE),
    ...checkTunnelSettings(cfg, p),
    ...checkListenPortServices(cfg, p),
    ...checkDynamicPeers(cfg, p),
    ...(cfg.remoteSites.length === 0
      ? [
          issue(
            "remoteSites",
            "lists no remote site, so there is nothing to connect the Scaleway site to.",
            `add one, e.g. ${p.set("remoteSites[0].name", "onprem")}, then its subnet, gatewayAddress and tunnelAddress`,
          ),
        ]
      : []),
    ...sites.flatMap((site) => checkSite(site, p)),
    ...sites.flatMap((site) => checkExternalSite(site, cfg, p)),
    ...sites.flatMap((site) => checkDhcpLan(site, p)),
    ...checkSiteNamesUnique(sites, p),
    ...checkSubnetOverlaps(sites, cfg.tunnel.cidr, p),
    ...checkTunnelAddresses(sites, cfg.tunnel.cidr, p),
    ...sites.flatMap((site) => checkExistingNetwork(site, cfg.zone, p)),
    ...checkExistingNetworksDistinct(sites, p),
  ];
}

// ---------------------------------------------------------------------------------------
// Sites, hub and spokes, seen the same way.

interface SiteView {
  /** "scalewaySite" or "remoteSites[i]". */
  path: string;
  name: string;
  subnet: string;
  gatewayAddress: string;
  testHostAddress?: string;
  /** A test host is built (Scaleway-built sites only). */
  testHost: boolean;
  privateNetworkId?: string;
  tunnelAddress: string;
  routePropagation: RoutePropagation;
  keyGeneration: number;
  /** Hub and simulated sites: Scaleway's reserved addresses, DHCP and 10/8 rules apply. */
  scalewayBuilt: boolean;
  remote?: RemoteSiteConfig;
}

function siteViews(cfg: StackConfig): SiteView[] {
  return [
    { path: "scalewaySite", ...cfg.scalewaySite, scalewayBuilt: true },
    ...cfg.remoteSites.map((site, i) => ({
      path: `remoteSites[${i}]`,
      name: site.name,
      subnet: site.subnet,
      gatewayAddress: site.gatewayAddress,
      testHostAddress: site.testHostAddress,
      testHost: site.testHost,
      privateNetworkId: site.privateNetworkId,
      tunnelAddress: site.tunnelAddress,
      routePropagation: site.routePropagation,
      keyGeneration: site.keyGeneration,
      scalewayBuilt: site.kind === "simulated",
      remote: site,
    })),
  ];
}

/** The site's subnet when it parses, else undefined (its own issue is reported once, by checkSubnet). */
function validSubnet(site: SiteView): string | undefined {
  return parseCidr(site.subnet).ok ? site.subnet : undefined;
}

function checkSite(site: SiteView, p: Phrasing): ConfigIssue[] {
  const issues = [
    ...checkName(site, p),
    ...checkSubnet(site, p),
    ...checkKeyGeneration(site, p),
    ...checkRoutePropagation(site, p),
  ];
  const subnet = validSubnet(site);
  const range = subnet ? usableRangeText(subnet, site.scalewayBuilt) : undefined;
  const suggest = (n: number): string => exampleHost(subnet, n, "192.168.1.2");

  issues.push(...checkHostAddress(site, "gatewayAddress", site.gatewayAddress, subnet, range, suggest(2), p));
  if (site.testHostAddress !== undefined) {
    const suggestion = suggest(2) === site.gatewayAddress ? suggest(3) : suggest(2);
    const hostIssues = checkHostAddress(site, "testHostAddress", site.testHostAddress, subnet, range, suggestion, p);
    issues.push(...hostIssues);
    if (hostIssues.length === 0 && site.testHostAddress === site.gatewayAddress) {
      issues.push(
        issue(
          `${site.path}.testHostAddress`,
          `is ${site.testHostAddress}, the same address as ${site.path}.gatewayAddress; the test host must be a separate machine.`,
          `${p.run(`${site.path}.testHostAddress`, suggestion)}`,
        ),
      );
    }
  } else if (site.testHost && site.scalewayBuilt) {
    issues.push(
      issue(
        `${site.path}.testHostAddress`,
        "is missing; this site builds a test host (testHost is true) and needs its address.",
        `${p.run(`${site.path}.testHostAddress`, suggest(3))}, or ${p.set(`${site.path}.testHost`, false)} to build none`,
      ),
    );
  }
  if (site.testHost && !site.scalewayBuilt) {
    issues.push(
      issue(
        `${site.path}.testHost`,
        "is true on an external site, where nothing is built; its testHostAddress names an existing LAN host to ping instead.",
        p.removeIt(`${site.path}.testHost`),
      ),
    );
  }
  if (site.remote) issues.push(...checkRemoteSpecific(site, site.remote, subnet, range, p));
  return issues;
}

function checkName(site: SiteView, p: Phrasing): ConfigIssue[] {
  if (SITE_NAME_PATTERN.test(site.name)) return [];
  return [
    issue(
      `${site.path}.name`,
      `${show(site.name)} is not a valid site name: it names resources, so it must be a DNS label of 1-30 characters: lower-case letters, digits and '-', starting with a letter and not ending with '-'.`,
      `${p.run(`${site.path}.name`, suggestName(site.name))}`,
    ),
  ];
}

function suggestName(name: string): string {
  const cleaned = name
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/^[^a-z]+/, "")
    .slice(0, 30)
    .replace(/-+$/, "");
  return cleaned || "site1";
}

function checkSubnet(site: SiteView, p: Phrasing): ConfigIssue[] {
  const key = `${site.path}.subnet`;
  const parsed = parseCidr(site.subnet);
  if (!parsed.ok) return [cidrIssue(key, site.subnet, parsed, "192.168.1.0/24", p)];
  if (!site.scalewayBuilt) return [];
  const issues: ConfigIssue[] = [];
  const where = site.remote
    ? "a simulated site is built on Scaleway, so its subnet is a Scaleway private network"
    : "this is a Scaleway private network";
  // Advice for networks this stack creates; a network that already exists has the subnet it has.
  if (overlaps(site.subnet, "10.0.0.0/8") && site.privateNetworkId === undefined) {
    issues.push(
      issue(
        key,
        `${site.subnet} is inside 10.0.0.0/8, which Scaleway uses for instances' own private addresses and infrastructure services (its docs advise against it); ${where}.`,
        `use a range in 192.168.0.0/16 or 172.16.0.0/12, e.g. ${p.set(key, "192.168.10.0/24")}`,
      ),
    );
  } else if (!isPrivateCidr(site.subnet)) {
    issues.push(
      issue(
        key,
        `${site.subnet} is not a private (RFC 1918) range; ${where}, and a public range would hide real internet hosts from it.`,
        `use a range in 192.168.0.0/16 or 172.16.0.0/12, e.g. ${p.set(key, "192.168.10.0/24")}`,
      ),
    );
  }
  if (parsed.cidr.prefix < 20) {
    issues.push(
      issue(
        key,
        `${site.subnet} is too large for a Scaleway private network: its API accepts IPv4 subnets from /20 to /29 only (scaleway-sdk-go issue #1807; docs-content vpc/how-to/create-private-network), so the deploy would fail half-way.`,
        `use a /20 to /29, e.g. ${p.set(key, `${parsed.cidr.network}/24`)}`,
      ),
    );
  }
  if (parsed.cidr.prefix > 29) {
    issues.push(
      issue(
        key,
        `${site.subnet} is too small: Scaleway reserves the first two and last two addresses, and the gateway and test host need two more.`,
        `use a /29 or larger (a /24 is usual), e.g. ${p.set(key, `${parsed.cidr.network}/24`)} if that range is free`,
      ),
    );
  }
  return issues;
}

function checkKeyGeneration(site: SiteView, p: Phrasing): ConfigIssue[] {
  return keyGenerationIssues(`${site.path}.keyGeneration`, site.keyGeneration, p, "this site's keys");
}

/** A key generation (the one keeper of a key): a whole number, 0 or above. Also WireGuardKeyPair's rule. */
export function keyGenerationIssues(key: string, value: unknown, p: Phrasing, what = "the key"): ConfigIssue[] {
  if (typeof value === "number" && Number.isSafeInteger(value) && value >= 0) return [];
  return [
    issue(
      key,
      `is ${typeof value === "string" ? show(value) : String(value)}; it must be a whole number 0 or above (bump it by one to rotate ${what}).`,
      `${p.run(key, Math.max(0, Math.ceil(Number(value) || 0)))}`,
    ),
  ];
}

function checkRoutePropagation(site: SiteView, p: Phrasing): ConfigIssue[] {
  const key = `${site.path}.routePropagation`;
  if (site.scalewayBuilt && site.routePropagation === "dhcp") {
    return [
      issue(
        key,
        "is dhcp, but this site is a Scaleway private network: Scaleway's managed DHCP runs on every private network and cannot be disabled, so dnsmasq would race it (first offer wins, leases fall outside IPAM).",
        `use vpc-route (a VPC custom route to the gateway) or static (cloud-init adds the route on each host): ${p.set(key, "vpc-route")}`,
      ),
    ];
  }
  if (site.remote?.kind === "external" && site.routePropagation === "vpc-route") {
    return [
      issue(
        key,
        "is vpc-route, but an external site has no Scaleway VPC to put a route in.",
        `use static (you add the route on your LAN's hosts or router) or dhcp (the gateway's dnsmasq serves the LAN): ${p.set(key, "static")}`,
      ),
    ];
  }
  return [];
}

/** Gateway / test host / LAN router: parses, lies in the subnet, avoids reserved addresses. */
function checkHostAddress(
  site: SiteView,
  field: string,
  address: string,
  subnet: string | undefined,
  range: string | undefined,
  suggestion: string,
  p: Phrasing,
): ConfigIssue[] {
  const key = `${site.path}.${field}`;
  const fix = `${range ? `use an address from ${range}: ` : ""}${p.run(key, suggestion)}`;
  const parsed = parseIpv4(address);
  if (!parsed.ok) return [issue(key, `${parsed.message}.`, fix)];
  if (!subnet) return []; // the subnet's own issue says what to fix first
  if (!contains(subnet, address)) {
    return [issue(key, `${address} is outside ${site.path}.subnet (${subnet}).`, fix)];
  }
  if (site.scalewayBuilt) {
    const reserved = scalewayReservedAddresses(subnet);
    if (reserved.includes(address)) {
      return [
        issue(
          key,
          `${address} is reserved by Scaleway, which keeps the first two and last two addresses of every private network (${reserved.join(", ")}).`,
          fix,
        ),
      ];
    }
  } else if (prefixLength(subnet) <= 30 && (address === networkAddress(subnet) || address === lastAddress(subnet))) {
    const what = address === networkAddress(subnet) ? "network" : "broadcast";
    return [issue(key, `${address} is the ${what} address of ${subnet}; no host can use it.`, fix)];
  }
  return [];
}

/** Address number n of the subnet for an example in a fix; the fallback when the subnet is unusable or too small. */
function exampleHost(subnet: string | undefined, n: number, fallback: string): string {
  return subnet && addressCount(subnet) >= 8 ? hostAddress(subnet, n) : fallback;
}

function usableRangeText(subnet: string, scalewayBuilt: boolean): string | undefined {
  if (scalewayBuilt) {
    const range = scalewayAssignableRange(subnet);
    return range ? `${range.first} to ${range.last}` : undefined;
  }
  if (prefixLength(subnet) >= 31) return `${networkAddress(subnet)} to ${lastAddress(subnet)}`;
  return `${hostAddress(subnet, 1)} to ${hostAddress(subnet, -2)}`;
}

function checkRemoteSpecific(
  site: SiteView,
  remote: RemoteSiteConfig,
  subnet: string | undefined,
  range: string | undefined,
  p: Phrasing,
): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const publicKey = `${site.path}.publicIp`;
  if (remote.kind === "external") {
    if (remote.publicIp === undefined) {
      // A dynamic or NATed far end: fine, it dials the hub (checkDynamicPeers covers the rest).
    } else {
      const parsed = parseIpv4(remote.publicIp);
      if (!parsed.ok) {
        issues.push(issue(publicKey, `${parsed.message}.`, `${p.run(publicKey, "<remote gateway's public IPv4>")}`));
      } else if (!isPublicUnicast(remote.publicIp)) {
        issues.push(
          issue(
            publicKey,
            `${remote.publicIp} is not a public unicast address (private, loopback, link-local, CGNAT 100.64/10, multicast or reserved); the hub's firewall admits WireGuard only from this address, as seen on the internet.`,
            `use the address the remote gateway's traffic leaves from (its NAT's public IPv4): ${p.set(publicKey, "<public IPv4>")}`,
          ),
        );
      }
    }
  } else if (remote.publicIp !== undefined) {
    issues.push(
      issue(
        publicKey,
        `is set on a simulated site, whose gateway gets its public IP from Scaleway.`,
        `${p.removeIt(publicKey)}, or make the site external with ${p.set(`${site.path}.kind`, "external")}`,
      ),
    );
  }

  if (remote.lanRouter !== undefined) {
    const key = `${site.path}.lanRouter`;
    if (remote.routePropagation !== "dhcp") {
      issues.push(
        issue(
          key,
          `is set, but routePropagation is ${remote.routePropagation}; lanRouter is only used to keep hosts' default route in the DHCP answer (option 121).`,
          `${p.removeIt(key)}, or use ${p.set(`${site.path}.routePropagation`, "dhcp")}`,
        ),
      );
    } else {
      const routerExample = exampleHost(subnet, 1, "192.168.1.1");
      const routerIssues = checkHostAddress(site, "lanRouter", remote.lanRouter, subnet, range, routerExample, p);
      issues.push(...routerIssues);
      if (routerIssues.length === 0 && remote.lanRouter === remote.gatewayAddress) {
        issues.push(
          issue(
            key,
            `is ${remote.lanRouter}, the WireGuard gateway itself; lanRouter is the LAN's existing default router (its internet exit), which must stay the hosts' default route.`,
            `set the LAN's own router, e.g. ${p.set(key, routerExample)}, or ${p.removeIt(key)}`,
          ),
        );
      }
    }
  }
  return issues;
}

function checkSiteNamesUnique(sites: SiteView[], p: Phrasing): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const seen = new Map<string, string>();
  for (const site of sites) {
    const earlier = seen.get(site.name);
    if (earlier !== undefined) {
      issues.push(
        issue(
          `${site.path}.name`,
          `${show(site.name)} is already the name of ${earlier}; names identify resources, so each site needs its own.`,
          `${p.run(`${site.path}.name`, uniqueName(site.name, seen))}`,
        ),
      );
    } else {
      seen.set(site.name, site.path);
    }
  }
  return issues;
}

function uniqueName(name: string, taken: Map<string, string>): string {
  const base = suggestName(name).slice(0, 27);
  for (let i = 2; i < 100; i++) if (!taken.has(`${base}-${i}`)) return `${base}-${i}`;
  return "site-unique";
}

function checkSubnetOverlaps(sites: SiteView[], tunnelCidr: string, p: Phrasing): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const valid = sites.filter((s) => validSubnet(s) !== undefined);
  const tunnelValid = parseCidr(tunnelCidr).ok;
  const taken = [...valid.map((s) => s.subnet), ...(tunnelValid ? [tunnelCidr] : [])];
  valid.forEach((site, i) => {
    const key = `${site.path}.subnet`;
    for (const other of valid.slice(0, i)) {
      if (!overlaps(site.subnet, other.subnet)) continue;
      const free = freeBlock(prefixLength(site.subnet), taken);
      issues.push(
        issue(
          key,
          `${site.subnet} overlaps ${other.path}.subnet (${other.subnet}); routes to one site would capture the other's traffic.`,
          `give each site its own range${free ? `, e.g. ${p.set(key, free)}` : ""}`,
        ),
      );
    }
    if (tunnelValid && overlaps(site.subnet, tunnelCidr)) {
      issues.push(
        issue(
          key,
          `${site.subnet} overlaps tunnelCidr (${tunnelCidr}); tunnel addresses and LAN addresses would be routed ambiguously.`,
          `pick a subnet outside ${tunnelCidr}, or move the tunnel range with ${p.set("tunnelCidr", "<free range>")} and update every tunnelAddress`,
        ),
      );
    }
  });
  return issues;
}

/** A private block of the given size that overlaps none of `taken` (for example values in fixes). */
function freeBlock(prefix: number, taken: string[]): string | undefined {
  const used = taken.map(cidrRange);
  for (const pool of ["192.168.0.0/16", "172.16.0.0/12"]) {
    if (prefix < prefixLength(pool)) continue;
    const start = cidrRange(pool).first;
    const size = 2 ** (32 - prefix);
    const count = Math.min(addressCount(pool) / size, 4096); // bounded search
    for (let i = 0; i < count; i++) {
      const first = start + i * size;
      const last = first + size - 1;
      if (!used.some((u) => u.first <= last && first <= u.last)) return `${numberToIpv4(first)}/${prefix}`;
    }
  }
  return undefined;
}

function checkTunnelAddresses(sites: SiteView[], tunnelCidr: string, p: Phrasing): ConfigIssue[] {
  const parsed = parseCidr(tunnelCidr);
  if (!parsed.ok) return []; // reported by checkTunnelSettings
  const issues: ConfigIssue[] = [];
  const seen = new Map<string, string>();
  // /31 and /32 have no network/broadcast address (RFC 3021); longer ranges lose both.
  const pointToPoint = prefixLength(tunnelCidr) >= 31;
  const firstIndex = pointToPoint ? 0 : 1;
  const lastIndex = pointToPoint ? addressCount(tunnelCidr) - 1 : addressCount(tunnelCidr) - 2;
  const usable = lastIndex - firstIndex + 1;
  const range = `${hostAddress(tunnelCidr, firstIndex)} to ${hostAddress(tunnelCidr, lastIndex)}`;
  const start = cidrRange(tunnelCidr).first;
  const inUse = new Set(sites.map((s) => s.tunnelAddress));
  const firstFree = (): string | undefined => {
    for (let i = firstIndex; i <= Math.min(lastIndex, firstIndex + 4096); i++) {
      const candidate = numberToIpv4(start + i);
      if (!inUse.has(candidate)) return candidate;
    }
    return undefined;
  };
  for (const site of sites) {
    const key = `${site.path}.tunnelAddress`;
    const fix = (): string => {
      const free = firstFree();
      return free
        ? `use a free address from ${range}, e.g. ${p.set(key, free)}`
        : `${range} has no free address left: widen the range, e.g. ${p.set("tunnelCidr", "172.16.0.0/24")}, then ${p.set(key, "<free address>")}`;
    };
    const address = parseIpv4(site.tunnelAddress);
    if (!address.ok) {
      issues.push(issue(key, `${address.message}.`, fix()));
    } else if (!contains(tunnelCidr, site.tunnelAddress)) {
      issues.push(issue(key, `${site.tunnelAddress} is outside tunnelCidr (${tunnelCidr}).`, fix()));
    } else if (!pointToPoint && [networkAddress(tunnelCidr), lastAddress(tunnelCidr)].includes(site.tunnelAddress)) {
      const what = site.tunnelAddress === networkAddress(tunnelCidr) ? "network" : "broadcast";
      issues.push(issue(key, `${site.tunnelAddress} is the ${what} address of tunnelCidr (${tunnelCidr}).`, fix()));
    } else if (seen.has(site.tunnelAddress)) {
      issues.push(
        issue(
          key,
          `${site.tunnelAddress} is already the tunnel address of ${seen.get(site.tunnelAddress)}; each gateway needs its own.`,
          fix(),
        ),
      );
    } else {
      seen.set(site.tunnelAddress, site.path);
    }
  }
  if (usable < sites.length) {
    issues.push(
      issue(
        "tunnelCidr",
        `${tunnelCidr} has ${usable} usable addresses, but ${sites.length} sites each need one.`,
        `use a larger range, e.g. ${p.set("tunnelCidr", "172.16.0.0/24")} if it is free`,
      ),
    );
  }
  return issues;
}

// ---------------------------------------------------------------------------------------
// Top-level keys.

const ZONE = /^[a-z]{2}-[a-z]{3}-[1-9]$/;

function checkZone(zone: string, p: Phrasing): ConfigIssue[] {
  if (ZONE.test(zone)) return [];
  return [
    issue(
      "zone",
      `${show(zone)} is not a Scaleway zone; zones look like fr-par-1 (region fr-par, zone 1).`,
      `${p.run("zone", "fr-par-1")} (DEV1-S is offered in fr-par-1/2, nl-ams-1/2, pl-waw-1/2)`,
    ),
  ];
}

const ADMIN_EXAMPLE = "203.0.113.7/32";

function checkAdminCidrs(adminCidrs: string[], p: Phrasing): ConfigIssue[] {
  if (adminCidrs.length === 0) {
    return [
      issue(
        "adminCidrs",
        "is not set; SSH to the gateways is allowed only from these CIDRs and this program never falls back to 0.0.0.0/0.",
        `add your own public IPv4 as a /32: ${p.set("adminCidrs[0]", ADMIN_EXAMPLE)}`,
      ),
    ];
  }
  return adminCidrs.flatMap((cidr, i): ConfigIssue[] => {
    const key = `adminCidrs[${i}]`;
    const yourAddress = `use your operator address as a /32: ${p.set(key, ADMIN_EXAMPLE)}`;
    if (cidr.includes(":")) {
      const everything = Address6.isValid(cidr) && new Address6(cidr).subnetMask === 0 && cidr.includes("/");
      return [
        issue(
          key,
          everything
            ? `${cidr} would open SSH on every gateway to the whole IPv6 internet.`
            : `${show(cidr)} is IPv6; the gateways have only a public IPv4 address, so SSH arrives over IPv4.`,
          yourAddress,
        ),
      ];
    }
    const parsed = parseCidr(cidr);
    if (!parsed.ok) {
      const single = parseIpv4(cidr).ok ? `${cidr}/32` : ADMIN_EXAMPLE;
      if (parsed.reason === "host-bits") {
        const address = cidr.split("/")[0];
        return [
          issue(
            key,
            `${parsed.message}.`,
            `write the network ${p.set(key, parsed.network)}, or ${p.set(key, `${address}/32`)} if you meant that one address`,
          ),
        ];
      }
      return [issue(key, `${parsed.message}.`, `${p.run(key, single)}`)];
    }
    if (parsed.cidr.prefix === 0) {
      return [issue(key, `${cidr} would open SSH on every gateway to the whole internet.`, yourAddress)];
    }
    if (parsed.cidr.prefix < 8) {
      return [
        issue(
          key,
          `${cidr} spans ${addressCount(cidr).toLocaleString("en")} addresses; that is SSH open to a large part of the internet.`,
          yourAddress,
        ),
      ];
    }
    const special = NOT_INTERNET.find((block) => overlaps(cidr, block.cidr));
    if (special) {
      return [
        issue(
          key,
          `${cidr} overlaps ${special.cidr} (${special.what}); SSH reaches the gateways over their public IPv4, so the security group only ever sees internet source addresses and this entry admits no one you intend (or, for a NATed range, everyone behind some other NAT).`,
          yourAddress,
        ),
      ];
    }
    return [];
  });
}

/** Ranges no SSH client on the internet comes from (RFC 6890 special-purpose blocks). */
const NOT_INTERNET: readonly { cidr: string; what: string }[] = [
  { cidr: "0.0.0.0/8", what: "'this network'" },
  { cidr: "10.0.0.0/8", what: "private, RFC 1918" },
  { cidr: "100.64.0.0/10", what: "carrier-grade NAT" },
  { cidr: "127.0.0.0/8", what: "loopback" },
  { cidr: "169.254.0.0/16", what: "link-local, and Scaleway's metadata and VPC-router addresses" },
  { cidr: "172.16.0.0/12", what: "private, RFC 1918" },
  { cidr: "192.168.0.0/16", what: "private, RFC 1918" },
  { cidr: "224.0.0.0/4", what: "multicast" },
  { cidr: "240.0.0.0/4", what: "reserved, and broadcast" },
];

/** Most addresses adminCidrs may admit together: one /8. Each entry is capped the same way. */
const ADMIN_MAX_ADDRESSES = 2 ** 24;

/** Entries that pass one by one can still open SSH to the internet together (256 /8s, or two /1s). */
function checkAdminCidrsTogether(adminCidrs: string[], p: Phrasing): ConfigIssue[] {
  const valid = adminCidrs.filter((c) => !c.includes(":") && parseCidr(c).ok);
  if (valid.length < 2) return [];
  const total = unionSize(valid);
  if (total <= ADMIN_MAX_ADDRESSES) return [];
  return [
    issue(
      "adminCidrs",
      `together admits ${total.toLocaleString("en")} addresses (${((total / 2 ** 32) * 100).toFixed(1)}% of IPv4); SSH would be open to a large part of the internet even though no single entry is.`,
      `list only the networks you administer from, e.g. ${p.remove("adminCidrs")} then ${p.set("adminCidrs[0]", ADMIN_EXAMPLE)}`,
    ),
  ];
}

/**
 * UDP ports already taken on a gateway: 53 (systemd-resolved's stub on 127.0.0.53, and any
 * DNS the operator's router runs), 67 (dnsmasq, on `dhcp` gateways) and 68 (the gateway's
 * own DHCP client on its NICs). WireGuard binds the wildcard address, so it would fail to
 * start, or swallow DHCP replies.
 */
function checkListenPortServices(cfg: StackConfig, p: Phrasing): ConfigIssue[] {
  const port = cfg.tunnel.listenPort;
  const dnsmasq = cfg.remoteSites.some((s) => s.routePropagation === "dhcp");
  const taken = new Map<number, string>([
    [53, "DNS (systemd-resolved's stub listener)"],
    [68, "the gateways' own DHCP client"],
  ]);
  if (dnsmasq) taken.set(67, "the DHCP server (dnsmasq) on the `dhcp` gateways");
  const service = taken.get(port);
  if (!service) return [];
  return [
    issue(
      "listenPort",
      `is ${port}, the UDP port of ${service}; WireGuard listens on every address of the gateway, so the two would collide.`,
      `${p.run("listenPort", 52435)}`,
    ),
  ];
}

/** An external site's LAN is routed into its tunnel by the hub: it must not capture what the hub needs to reach directly. */
function checkExternalSite(site: SiteView, cfg: StackConfig, p: Phrasing): ConfigIssue[] {
  const remote = site.remote;
  if (!remote || remote.kind !== "external") return [];
  const issues: ConfigIssue[] = [];
  if (remote.bundleSshKeys === true && cfg.sshPublicKeys.length === 0) {
    issues.push(
      issue(
        `${site.path}.bundleSshKeys`,
        "is true, but sshPublicKeys is empty: the bundle never installs the stack's deploy key on the operator's host, so there is no key to add.",
        `add your key with ${p.set("sshPublicKeys[0]", '"$(cat ~/.ssh/id_ed25519.pub)"')}, or ${p.remove(`${site.path}.bundleSshKeys`)}`,
      ),
    );
  }
  if (!validSubnet(site)) return issues;
  const key = `${site.path}.subnet`;
  const prefix = prefixLength(site.subnet);
  const min = remote.routePropagation === "dhcp" ? MIN_DHCP_PREFIX : 30;
  if (prefix > min) {
    issues.push(
      issue(
        key,
        remote.routePropagation === "dhcp"
          ? `${site.subnet} is too small for a LAN whose DHCP the gateway serves: it needs the gateway, the LAN router and a pool of at least ${MIN_DHCP_POOL} addresses.`
          : `${site.subnet} has no room for a LAN: it needs at least the gateway and one host besides the network and broadcast addresses.`,
        `use a /${min} or larger (a /24 is usual), e.g. ${p.set(key, `${networkAddress(site.subnet)}/24`)} if that is the LAN`,
      ),
    );
  }
  const special = NOT_INTERNET.filter((b) => !isPrivateCidr(b.cidr) && b.cidr !== "100.64.0.0/10").find((b) =>
    overlaps(site.subnet, b.cidr),
  );
  if (prefix < 8) {
    issues.push(
      issue(
        key,
        `${site.subnet} spans ${addressCount(site.subnet).toLocaleString("en")} addresses; the hub would send that much of the address space into this site's tunnel.`,
        `use the LAN's real range, e.g. ${p.set(key, "192.168.10.0/24")}`,
      ),
    );
  } else if (special) {
    issues.push(
      issue(
        key,
        `${site.subnet} overlaps ${special.cidr} (${special.what}); the hub would route those addresses into the tunnel (Scaleway's metadata service 169.254.42.42 and VPC router 169.254.169.254 live there, for instance).`,
        `use the LAN's real, private range, e.g. ${p.set(key, "192.168.10.0/24")}`,
      ),
    );
  } else if (!isPrivateCidr(site.subnet) && !isSubnetOf(site.subnet, "100.64.0.0/10") && prefix < 16) {
    issues.push(
      issue(
        key,
        `${site.subnet} is a public range of ${addressCount(site.subnet).toLocaleString("en")} addresses; the hub's hosts would lose that part of the internet to this tunnel. A public LAN this wide is implausible.`,
        `use the LAN's real range (a /16 or narrower), e.g. ${p.set(key, "192.168.10.0/24")}`,
      ),
    );
  }
  if (remote.publicIp !== undefined && parseIpv4(remote.publicIp).ok && contains(site.subnet, remote.publicIp)) {
    issues.push(
      issue(
        key,
        `${site.subnet} contains this site's own publicIp ${remote.publicIp}; the hub would route the tunnel's own packets into the tunnel (a loop, and the tunnel never comes up).`,
        `set the LAN's private range, e.g. ${p.set(key, "192.168.10.0/24")}, or correct ${site.path}.publicIp`,
      ),
    );
  }
  for (const [i, admin] of cfg.adminCidrs.entries()) {
    // Entries wider than a /8 have their own issue (checkAdminCidrs); naming them again here is noise.
    if (admin.includes(":") || !parseCidr(admin).ok || prefixLength(admin) < 8 || !overlaps(site.subnet, admin))
      continue;
    issues.push(
      issue(
        key,
        `${site.subnet} overlaps adminCidrs[${i}] (${admin}); the hub would answer SSH from there into this tunnel, locking you out of the gateways.`,
        `use the LAN's real range, e.g. ${p.set(key, "192.168.10.0/24")}, or correct adminCidrs[${i}]`,
      ),
    );
  }
  return issues;
}

/** `dhcp` LANs: a default route for hosts, usable DNS servers, a pool clear of every configured address. */
function checkDhcpLan(site: SiteView, p: Phrasing): ConfigIssue[] {
  const remote = site.remote;
  if (!remote) return [];
  const issues: ConfigIssue[] = [];
  const at = site.path;
  if (remote.routePropagation !== "dhcp") {
    for (const field of ["isolatedLan", "dnsServers", "fixedHosts"] as const) {
      if (remote[field] === undefined) continue;
      issues.push(
        issue(
          `${at}.${field}`,
          `is set, but routePropagation is ${remote.routePropagation}; it only shapes the DHCP service the gateway runs on a \`dhcp\` LAN.`,
          `remove it with ${p.remove(`${at}.${field}`)}, or use ${p.set(`${at}.routePropagation`, "dhcp")}`,
        ),
      );
    }
  }
  if (remote.kind === "simulated") {
    for (const field of ["bundleInstalled", "bundleSshKeys"] as const) {
      if (remote[field] === undefined) continue;
      issues.push(
        issue(
          `${at}.${field}`,
          "is set on a simulated site, which the stack builds itself: there is no operator bundle.",
          `remove it with ${p.remove(`${at}.${field}`)}`,
        ),
      );
    }
  }
  if (remote.routePropagation !== "dhcp" || remote.kind !== "external") return issues;
  const subnet = validSubnet(site);
  const routerExample = exampleHost(subnet, 1, "192.168.1.1");
  if (remote.lanRouter === undefined && remote.isolatedLan !== true) {
    issues.push(
      issue(
        `${at}.lanRouter`,
        "is missing: a DHCP client given option 121 ignores the router option (RFC 3442), so without lanRouter in the routes every host on this LAN loses its default route at its next lease.",
        `name the LAN's own router: ${p.set(`${at}.lanRouter`, routerExample)}, or, for a LAN with no internet exit, ${p.set(`${at}.isolatedLan`, "true")}`,
      ),
    );
  }
  if (remote.lanRouter !== undefined && remote.isolatedLan === true) {
    issues.push(
      issue(
        `${at}.isolatedLan`,
        "is true, but lanRouter is set: an isolated LAN has no router to keep as the default route.",
        `keep one: ${p.remove(`${at}.isolatedLan`)} (hosts keep lanRouter as default route), or ${p.remove(`${at}.lanRouter`)}`,
      ),
    );
  }
  if (remote.lanRouter !== undefined && remote.lanRouter === remote.testHostAddress) {
    issues.push(
      issue(
        `${at}.testHostAddress`,
        `is ${remote.testHostAddress}, the LAN router; the test host must be a separate machine.`,
        `${p.run(`${at}.testHostAddress`, exampleHost(subnet, 3, "192.168.1.3"))}`,
      ),
    );
  }
  const dns = remote.dnsServers ?? [];
  if (dns.length > 3) {
    issues.push(
      issue(
        `${at}.dnsServers`,
        `lists ${dns.length} servers; resolvers read at most 3 nameservers (glibc MAXNS), the rest would be ignored silently.`,
        `keep three: ${p.remove(`${at}.dnsServers[3]`)} (and any after it)`,
      ),
    );
  }
  dns.forEach((server, j) => {
    const key = `${at}.dnsServers[${j}]`;
    const fix = `${p.run(key, DEFAULT_DNS_SERVERS[j % DEFAULT_DNS_SERVERS.length])}, or the LAN's own resolver`;
    const parsed = parseIpv4(server);
    if (!parsed.ok) {
      issues.push(issue(key, `${parsed.message}; option 6 carries IPv4 addresses only.`, fix));
    } else if (server === remote.gatewayAddress) {
      issues.push(
        issue(
          key,
          `is the WireGuard gateway itself, which runs no DNS service (dnsmasq serves DHCP only, port=0); lookups would time out.`,
          fix,
        ),
      );
    } else if (!isPublicUnicast(server) && !(subnet && contains(subnet, server)) && !isPrivate(server)) {
      issues.push(
        issue(
          key,
          `${server} cannot be a DNS server for LAN hosts (loopback, link-local, multicast, broadcast or reserved); a host would ask itself or no one.`,
          fix,
        ),
      );
    } else if (subnet && contains(subnet, server) && [networkAddress(subnet), lastAddress(subnet)].includes(server)) {
      issues.push(issue(key, `${server} is the network or broadcast address of ${subnet}.`, fix));
    }
  });
  const fixed = remote.fixedHosts ?? [];
  fixed.forEach((address, j) => {
    const hostIssues = checkHostAddress(
      site,
      `fixedHosts[${j}]`,
      address,
      subnet,
      subnet ? usableRangeText(subnet, false) : undefined,
      exampleHost(subnet, 5, "192.168.1.5"),
      p,
    );
    issues.push(...hostIssues);
  });
  if (subnet && prefixLength(subnet) <= MIN_DHCP_PREFIX) {
    const configured = [remote.gatewayAddress, remote.lanRouter, remote.testHostAddress, ...fixed].filter(
      (a): a is string => a !== undefined && parseIpv4(a).ok,
    );
    const pool = dhcpPool(subnet, configured);
    if (!pool || pool.size < MIN_DHCP_POOL) {
      issues.push(
        issue(
          fixed.length > 0 ? `${at}.fixedHosts` : `${at}.subnet`,
          `leaves ${pool?.size ?? 0} contiguous free address(es) for the DHCP pool in ${subnet} (at least ${MIN_DHCP_POOL} needed) once the gateway, LAN router, test host and fixed hosts are set aside.`,
          fixed.length > 0
            ? `group the fixed hosts at the low end of the LAN, or remove some with ${p.remove(`${at}.fixedHosts[${fixed.length - 1}]`)}`
            : `use a larger LAN, e.g. ${p.set(`${at}.subnet`, `${networkAddress(subnet)}/24`)} if that is its range`,
        ),
      );
    }
  }
  return issues;
}

const SSH_KEY_TYPES = [
  "ssh-ed25519",
  "ssh-rsa",
  "ecdsa-sha2-nistp256",
  "ecdsa-sha2-nistp384",
  "ecdsa-sha2-nistp521",
  "sk-ssh-ed25519@openssh.com",
  "sk-ecdsa-sha2-nistp256@openssh.com",
];

function checkSshPublicKeys(keys: string[], p: Phrasing): ConfigIssue[] {
  return keys.flatMap((text, i): ConfigIssue[] => {
    const key = `sshPublicKeys[${i}]`;
    const fix = `paste one line of a .pub file (e.g. \`cat ~/.ssh/id_ed25519.pub\`): ${p.set(key, "'ssh-ed25519 AAAA... you@laptop'")}`;
    if (/PRIVATE KEY/.test(text)) {
      // Never echo the value: it is a secret that just landed in plain-text stack config.
      return [
        issue(
          key,
          "holds a PRIVATE key. Only public keys belong here, and stack config is stored in plain text, so treat that key as exposed.",
          `${p.removeIt(key)}, replace the key pair, then add its .pub line`,
        ),
      ];
    }
    const lines = text.split(/\r\n|[\n\r\u2028\u2029\u0085]/).map((l) => l.trim());
    if (lines.filter((l) => l !== "").length > 1) {
      // A second key after a line break would be a second authorized key nobody listed.
      return [
        issue(
          key,
          `holds ${lines.filter((l) => l !== "").length} lines; each entry must be exactly one public key, so a line break cannot add a key nobody reviewed.`,
          `give each key its own entry: ${p.set(key, "'<first line>'")} and ${p.set(`sshPublicKeys[${keys.length}]`, "'<second line>'")}`,
        ),
      ];
    }
    const textIssue = textProblem(text.trim(), MAX_SSH_KEY_LENGTH);
    if (textIssue) return [issue(key, textIssue, fix)];
    const problem = sshPublicKeyProblem(text.trim());
    if (problem) return [issue(key, `${show(text)} is not an OpenSSH public key: ${problem}.`, fix)];
    const bits = rsaModulusBits(text.trim());
    if (bits !== undefined && bits < 2048) {
      return [
        issue(
          key,
          `is a ${bits}-bit RSA key; OpenSSH refuses RSA keys under 1024 bits and keys under 2048 bits are breakable (NIST SP 800-131A).`,
          `make a new key, e.g. \`ssh-keygen -t ed25519\`, then ${p.set(key, '"$(cat ~/.ssh/id_ed25519.pub)"')}`,
        ),
      ];
    }
    const blob = text.trim().split(/\s+/).slice(0, 2).join(" ");
    const earlier = keys.findIndex((other) => other.trim().split(/\s+/).slice(0, 2).join(" ") === blob);
    if (earlier < i) {
      return [issue(key, `is the same key as sshPublicKeys[${earlier}].`, `remove the copy with ${p.remove(key)}`)];
    }
    return [];
  });
}

/** The longest OpenSSH public key line accepted: a 16384-bit RSA key is about 2,800 characters. */
const MAX_SSH_KEY_LENGTH = 4096;

/** Bit length of an ssh-rsa key's modulus, or undefined for other key types. */
function rsaModulusBits(line: string): number | undefined {
  const [type, blob] = line.split(/\s+/);
  if (type !== "ssh-rsa") return undefined;
  const fields = sshWireFields(Buffer.from(blob, "base64"));
  const n = fields?.[2];
  if (!n) return 0;
  let at = 0;
  while (at < n.length && n[at] === 0) at++;
  if (at === n.length) return 0;
  return (n.length - at - 1) * 8 + (32 - Math.clz32(n[at]));
}

/**
 * Undefined when `text` is "<type> <base64 blob> [comment]" and the blob is well formed:
 * a run of uint32-length-prefixed fields that fills it exactly, the first naming the same
 * type (an ed25519 key then holds exactly 32 bytes). That catches truncated or mixed pastes.
 */
function sshPublicKeyProblem(text: string): string | undefined {
  const [type, blob] = text.split(/\s+/);
  if (!SSH_KEY_TYPES.includes(type))
    return `it must start with one of ${SSH_KEY_TYPES.slice(0, 3).join(", ")}, ecdsa-sha2-*`;
  if (!blob || !/^[A-Za-z0-9+/]+={0,2}$/.test(blob) || blob.length % 4 !== 0)
    return "the key data after the type is not base64";
  const fields = sshWireFields(Buffer.from(blob, "base64"));
  if (!fields || fields.length < 2 || fields[0].toString("latin1") !== type) {
    return `the key data does not hold a complete ${type} key (truncated or corrupted paste?)`;
  }
  if (type === "ssh-ed25519" && fields[1].length !== 32)
    return "an ed25519 key holds 32 bytes (truncated or corrupted paste?)";
  return undefined;
}

/** Splits SSH wire-format data into its length-prefixed fields; undefined if the lengths don't add up. */
function sshWireFields(bytes: Buffer): Buffer[] | undefined {
  const fields: Buffer[] = [];
  let at = 0;
  while (at < bytes.length && fields.length < 16) {
    if (at + 4 > bytes.length) return undefined;
    const length = bytes.readUInt32BE(at);
    if (at + 4 + length > bytes.length) return undefined;
    fields.push(bytes.subarray(at + 4, at + 4 + length));
    at += 4 + length;
  }
  return at === bytes.length ? fields : undefined;
}

/** Scaleway commercial types: DEV1-S, PRO2-XXS, GP1-XS, STARDUST1-S, PLAY2-PICO, POP2-HC-2C-4G... */
const INSTANCE_TYPE = /^[A-Z0-9]+(?:-[A-Z0-9]+){1,4}$/i;
/** Image labels (ubuntu_noble), UUIDs, or zone/UUID. */
const IMAGE =
  /^(?:[a-z0-9]+(?:[_.-][a-z0-9]+)*|(?:[a-z]{2}-[a-z]{3}-[1-9]\/)?[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/;

function checkNonEmpty(key: string, value: string, example: string, p: Phrasing, shape: RegExp): ConfigIssue[] {
  if (value.trim() === "" || /\s/.test(value)) {
    return [
      issue(
        key,
        `${show(value)} is empty or contains spaces.`,
        `${p.run(key, example)}, or ${p.remove(key)} for the default`,
      ),
    ];
  }
  if (shape.test(value)) return [];
  return [
    issue(
      key,
      `${show(value)} is not a Scaleway ${key === "image" ? "image label or UUID (e.g. ubuntu_noble)" : "instance type (e.g. DEV1-S)"}; it names a resource input, so only letters, digits and - _ . / are accepted.`,
      `${p.run(key, example)}, or ${p.remove(key)} for the default`,
    ),
  ];
}

/**
 * External sites without `publicIp` dial the hub: they must keep the tunnel up themselves
 * (the hub has no address to dial back), and the hub's security group must admit them.
 */
function checkDynamicPeers(cfg: StackConfig, p: Phrasing): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const dynamic = cfg.remoteSites
    .map((site, i) => ({ site, path: `remoteSites[${i}]` }))
    .filter(({ site }) => site.kind === "external" && site.publicIp === undefined);
  if (dynamic.length > 0 && cfg.tunnel.keepaliveSeconds === 0) {
    issues.push(
      issue(
        "keepalive",
        `is 0, but ${dynamic.map((d) => d.path).join(", ")} has no publicIp: the hub cannot dial a dynamic or NATed far end, so only the far end's keepalives keep its tunnel (and its NAT mapping) up.`,
        `${p.run("keepalive", 25)}, or give the site its fixed address with ${p.set(`${dynamic[0].path}.publicIp`, "<public IPv4>")}`,
      ),
    );
  }
  if (dynamic.length > 0 && cfg.dynamicPeerCidrs.length === 0) {
    issues.push(
      issue(
        "dynamicPeerCidrs",
        `is empty, but ${dynamic.map((d) => d.path).join(", ")} has no publicIp: the hub's security group would admit WireGuard from nowhere for it.`,
        `${p.run("dynamicPeerCidrs[0]", "0.0.0.0/0")} (WireGuard answers nothing unauthenticated), or your ISP's range`,
      ),
    );
  }
  cfg.dynamicPeerCidrs.forEach((cidr, i) => {
    const key = `dynamicPeerCidrs[${i}]`;
    const parsed = parseCidr(cidr);
    if (!parsed.ok) issues.push(cidrIssue(key, cidr, parsed, "0.0.0.0/0", p));
  });
  return issues;
}

const PRIVATE_NETWORK_ID = /^(?:([a-z]{2}-[a-z]{3})\/)?[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** An existing private network to join: well-formed, in the zone's region, on a Scaleway-built site. */
function checkExistingNetwork(site: SiteView, zone: string, p: Phrasing): ConfigIssue[] {
  if (site.privateNetworkId === undefined) return [];
  const key = `${site.path}.privateNetworkId`;
  if (!site.scalewayBuilt) {
    return [
      issue(
        key,
        "is set on an external site; only the hub and simulated sites are Scaleway private networks.",
        p.removeIt(key),
      ),
    ];
  }
  // The provider's data source accepts a UUID or a regional id (terraform-provider-scaleway
  // internal/services/vpc/private_network_data_source.go: verify.IsUUIDorUUIDWithLocality).
  const m = PRIVATE_NETWORK_ID.exec(site.privateNetworkId);
  const fix = `copy the id from the console or \`scw vpc private-network list\`: ${p.set(key, "11111111-2222-3333-4444-555555555555")}`;
  if (!m)
    return [
      issue(
        key,
        `${show(site.privateNetworkId)} is not a private network id (a UUID, optionally prefixed by its region as fr-par/<UUID>).`,
        fix,
      ),
    ];
  const region = zone.replace(/-[0-9]+$/, "");
  if (m[1] !== undefined && m[1] !== region) {
    return [
      issue(
        key,
        `is in region ${m[1]}, but zone ${zone} puts the gateway in region ${region}; an instance can only join a private network of its own region.`,
        `use a network of ${region}, or ${p.set("zone", `${m[1]}-1`)}`,
      ),
    ];
  }
  return [];
}

function checkExistingNetworksDistinct(sites: SiteView[], p: Phrasing): ConfigIssue[] {
  const seen = new Map<string, string>();
  const issues: ConfigIssue[] = [];
  for (const site of sites) {
    if (site.privateNetworkId === undefined) continue;
    const id = site.privateNetworkId.replace(/^.*\//, "");
    const earlier = seen.get(id);
    if (earlier) {
      issues.push(
        issue(
          `${site.path}.privateNetworkId`,
          `is the same network as ${earlier}.privateNetworkId; two sites joined by a tunnel must be two networks.`,
          `${p.removeIt(`${site.path}.privateNetworkId`)}, or name another network`,
        ),
      );
    } else seen.set(id, site.path);
  }
  return issues;
}

function checkTunnelSettings(cfg: StackConfig, p: Phrasing): ConfigIssue[] {
  const { listenPort, keepaliveSeconds, mtu, cidr } = cfg.tunnel;
  const issues: ConfigIssue[] = [];
  if (!isIntegerIn(listenPort, 1, 65535)) {
    issues.push(
      issue(
        "listenPort",
        `is ${listenPort}; a UDP port is a whole number from 1 to 65535.`,
        `${p.run("listenPort", 52435)}`,
      ),
    );
  }
  if (!isIntegerIn(keepaliveSeconds, 0, 65535)) {
    issues.push(
      issue(
        "keepalive",
        `is ${keepaliveSeconds}; PersistentKeepalive is a whole number of seconds from 0 (off) to 65535.`,
        `${p.run("keepalive", 25)} (25 s keeps NAT mappings alive)`,
      ),
    );
  }
  if (!isIntegerIn(mtu, 1280, 1440)) {
    issues.push(
      issue(
        "mtu",
        `is ${mtu}; wg0's MTU must be 1280-1440: 1440 = a 1500-byte underlay minus 60 bytes of IPv4 (20) + UDP (8) + WireGuard (32) headers, and 1280 is IPv6's minimum. The default 1420 also leaves room for an IPv6 underlay (80 bytes of overhead).`,
        `${p.run("mtu", 1420)}`,
      ),
    );
  }
  const parsed = parseCidr(cidr);
  if (!parsed.ok) {
    issues.push(cidrIssue("tunnelCidr", cidr, parsed, "172.16.0.0/24", p));
  } else if (!isPrivateCidr(cidr) && !isSubnetOf(cidr, "100.64.0.0/10")) {
    issues.push(
      issue(
        "tunnelCidr",
        `${cidr} is not a private range (RFC 1918 or 100.64.0.0/10); gateways would route real internet addresses into the tunnel.`,
        `${p.run("tunnelCidr", "172.16.0.0/24")}`,
      ),
    );
  }
  return issues;
}

// ---------------------------------------------------------------------------------------

function cidrIssue(
  key: string,
  value: string,
  parsed: Exclude<ReturnType<typeof parseCidr>, { ok: true }>,
  example: string,
  p: Phrasing,
): ConfigIssue {
  if (parsed.reason === "host-bits") {
    return issue(key, `${parsed.message}.`, `write the network address: ${p.set(key, parsed.network)}`);
  }
  // A bare address most likely meant its /24.
  const guess = parseIpv4(value).ok ? `${value.split(".").slice(0, 3).join(".")}.0/24` : example;
  return issue(key, `${parsed.message}.`, `write a network as a.b.c.d/len: ${p.set(key, guess)}`);
}

function isIntegerIn(value: number, min: number, max: number): boolean {
  return Number.isInteger(value) && value >= min && value <= max;
}

function issue(key: string, problem: string, fix: string): ConfigIssue {
  return { key, problem, fix };
}

function show(value: string): string {
  return JSON.stringify(value.length > 40 ? `${value.slice(0, 37)}...` : value);
}
