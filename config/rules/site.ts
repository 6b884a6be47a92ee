/** Rules about one site on its own: name, subnet, key generation, route propagation, host addresses. */
import {
  addressCount,
  contains,
  hostAddress,
  isPrivateCidr,
  isPublicUnicast,
  lastAddress,
  networkAddress,
  overlaps,
  parseCidr,
  parseIpv4,
  prefixLength,
  scalewayAssignableRange,
  scalewayReservedAddresses,
} from "../../addressing/ipv4";
import { type ConfigIssue, type Phrasing } from "../errors";
import { SITE_NAME_PATTERN } from "../schema";
import { type RemoteSiteConfig } from "../types";
import { cidrIssue, issue, show } from "./issues";
import { SiteView, validSubnet } from "./siteView";

export function checkSite(site: SiteView, p: Phrasing): ConfigIssue[] {
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
    const key = `${site.path}.testHostAddress`;
    // On a joined network without a test host the address names one of the network's own
    // hosts to ping, so the likely fix is removing one carried over from another stack file.
    const pingsExistingHost = site.privateNetworkId !== undefined && !site.testHost;
    const hostIssues = checkHostAddress(
      site,
      "testHostAddress",
      site.testHostAddress,
      subnet,
      range,
      suggestion,
      p,
    ).map((found) =>
      pingsExistingHost
        ? {
            ...found,
            fix: `${p.removeIt(key)}: no test host is built on a network the stack joins, and this key only names an existing host of it for the deploy to ping; or name one: ${p.set(key, "<an existing host's address>")}`,
          }
        : found,
    );
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

export function suggestName(name: string): string {
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
export function checkHostAddress(
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
export function exampleHost(subnet: string | undefined, n: number, fallback: string): string {
  return subnet && addressCount(subnet) >= 8 ? hostAddress(subnet, n) : fallback;
}

export function usableRangeText(subnet: string, scalewayBuilt: boolean): string | undefined {
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
