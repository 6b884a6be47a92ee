/** Rules for external sites (the far end we only configure for) and the LANs whose DHCP their gateway owns. */
import {
  addressCount,
  contains,
  dhcpPool,
  isPrivate,
  isPrivateCidr,
  isPublicUnicast,
  isSubnetOf,
  lastAddress,
  networkAddress,
  overlaps,
  parseCidr,
  parseIpv4,
  prefixLength,
} from "../../addressing/ipv4";
import { type ConfigIssue, type Phrasing } from "../errors";
import { DEFAULT_DNS_SERVERS, MIN_DHCP_POOL, MIN_DHCP_PREFIX } from "../schema";
import { type StackConfig } from "../types";
import { NOT_INTERNET } from "./access";
import { issue } from "./issues";
import { checkHostAddress, exampleHost, usableRangeText } from "./site";
import { SiteView, validSubnet } from "./siteView";

/** An external site's LAN is routed into its tunnel by the hub: it must not capture what the hub needs to reach directly. */
export function checkExternalSite(site: SiteView, cfg: StackConfig, p: Phrasing): ConfigIssue[] {
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
  if (remote.bundleCockpit === true && !cfg.cockpit) {
    issues.push(
      issue(
        `${site.path}.bundleCockpit`,
        "is true, but cockpit is false: there is no Cockpit data source for the far end to push to.",
        `turn Cockpit on with ${p.set("cockpit", true)}, or ${p.remove(`${site.path}.bundleCockpit`)}`,
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
export function checkDhcpLan(site: SiteView, p: Phrasing): ConfigIssue[] {
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
    for (const field of ["bundleInstalled", "bundleSshKeys", "bundleCockpit"] as const) {
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
