/** Rules between sites: unique names, non-overlapping subnets, tunnel addresses. */
import {
  addressCount,
  cidrRange,
  contains,
  hostAddress,
  lastAddress,
  networkAddress,
  numberToIpv4,
  overlaps,
  parseCidr,
  parseIpv4,
  prefixLength,
} from "../../addressing/ipv4";
import { type ConfigIssue, type Phrasing } from "../errors";
import { STACK_CONFIG_DEFAULTS } from "../schema";
import { issue, show } from "./issues";
import { suggestName } from "./site";
import { SiteView, validSubnet } from "./siteView";

export function checkSiteNamesUnique(sites: SiteView[], p: Phrasing): ConfigIssue[] {
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

export function checkSubnetOverlaps(sites: SiteView[], tunnelCidr: string, p: Phrasing): ConfigIssue[] {
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

export function checkTunnelAddresses(sites: SiteView[], tunnelCidr: string, p: Phrasing): ConfigIssue[] {
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
        : `${range} has no free address left: widen the range, e.g. ${p.set("tunnelCidr", STACK_CONFIG_DEFAULTS.tunnelCidr)}, then ${p.set(key, "<free address>")}`;
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
        `use a larger range, e.g. ${p.set("tunnelCidr", STACK_CONFIG_DEFAULTS.tunnelCidr)} if it is free`,
      ),
    );
  }
  return issues;
}

// Top-level keys.
