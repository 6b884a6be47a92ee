/** Rules about the tunnel settings and the gateway services its port must not collide with, and who may reach it. */
import { isPrivateCidr, isSubnetOf, parseCidr, parseIpv4 } from "../../addressing/ipv4";
import { type ConfigIssue, type Phrasing } from "../errors";
import { STACK_CONFIG_DEFAULTS as DEFAULTS } from "../schema";
import { type StackConfig } from "../types";
import { NOT_INTERNET } from "./access";
import { cidrIssue, isIntegerIn, issue } from "./issues";
import { siteViews, validSubnet } from "./siteView";

/**
 * UDP ports already taken on a gateway: 53 (systemd-resolved's stub on 127.0.0.53, and any
 * DNS the operator's router runs), 67 (dnsmasq, on `dhcp` gateways) and 68 (the gateway's
 * own DHCP client on its NICs). WireGuard binds the wildcard address, so it would fail to
 * start, or swallow DHCP replies.
 */
export function checkListenPortServices(cfg: StackConfig, p: Phrasing): ConfigIssue[] {
  const port = cfg.listenPort;
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
      `${p.run("listenPort", DEFAULTS.listenPort)}`,
    ),
  ];
}

/**
 * External sites without `publicIp` dial the hub: they must keep the tunnel up themselves
 * (the hub has no address to dial back), and the hub's security group must admit them.
 */
export function checkDynamicPeers(cfg: StackConfig, p: Phrasing): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const dynamic = cfg.remoteSites
    .map((site, i) => ({ site, path: `remoteSites[${i}]` }))
    .filter(({ site }) => site.kind === "external" && site.publicIp === undefined);
  if (dynamic.length > 0 && cfg.keepalive === 0) {
    issues.push(
      issue(
        "keepalive",
        `is 0, but ${dynamic.map((d) => d.path).join(", ")} has no publicIp: the hub cannot dial a dynamic or NATed far end, so only the far end's keepalives keep its tunnel (and its NAT mapping) up.`,
        `${p.run("keepalive", DEFAULTS.keepalive)}, or give the site its fixed address with ${p.set(`${dynamic[0].path}.publicIp`, "<public IPv4>")}`,
      ),
    );
  }
  if (dynamic.length > 0 && cfg.dynamicPeerCidrs.length === 0) {
    issues.push(
      issue(
        "dynamicPeerCidrs",
        `is empty, but ${dynamic.map((d) => d.path).join(", ")} has no publicIp: the hub's security group would admit WireGuard from nowhere for it.`,
        `${p.run("dynamicPeerCidrs[0]", DEFAULTS.dynamicPeerCidrs[0])} (WireGuard answers nothing unauthenticated), or your ISP's range`,
      ),
    );
  }
  const isDefault = JSON.stringify(cfg.dynamicPeerCidrs) === JSON.stringify(DEFAULTS.dynamicPeerCidrs);
  if (dynamic.length === 0 && !isDefault) {
    issues.push(
      issue(
        "dynamicPeerCidrs",
        "is set, but every remote site has a known address (Scaleway-built, or external with publicIp); it only admits far ends without publicIp, so here it admits no one.",
        `${p.removeIt("dynamicPeerCidrs")}, or leave it for when a site without publicIp is added`,
      ),
    );
  }
  const lans = siteViews(cfg).filter((site) => validSubnet(site) !== undefined);
  cfg.dynamicPeerCidrs.forEach((cidr, i) => {
    const key = `dynamicPeerCidrs[${i}]`;
    const parsed = parseCidr(cidr);
    if (!parsed.ok) return void issues.push(cidrIssue(key, cidr, parsed, DEFAULTS.dynamicPeerCidrs[0], p));
    // A far end's packets reach the hub's public address from the internet, never from these.
    const fix = `use the range your far ends' ISP gives them, as seen on the internet, or ${p.set(key, DEFAULTS.dynamicPeerCidrs[0])} (WireGuard answers nothing unauthenticated)`;
    const special = NOT_INTERNET.find((block) => isSubnetOf(cidr, block.cidr));
    const lan = lans.find((site) => isSubnetOf(cidr, site.subnet));
    if (special) {
      issues.push(
        issue(
          key,
          `${cidr} lies in ${special.cidr} (${special.what}); the hub's security group sees a far end by its public address, so no far end can ever come from there (behind NAT, it is the NAT's public address).`,
          fix,
        ),
      );
    } else if (lan) {
      issues.push(
        issue(
          key,
          `${cidr} lies in ${lan.path}.subnet (${lan.subnet}), a site's own LAN; a far end reaches the hub from its public address, not from a LAN behind a tunnel.`,
          fix,
        ),
      );
    }
  });
  return issues;
}

/**
 * Two far ends at one fixed public address: the hub dials each at that address and admits
 * WireGuard from it, so one of them would never be reached. Two gateways behind one NAT are
 * dynamic far ends (no publicIp), which the hub tells apart by their NAT ports.
 */
export function checkPublicIpsDistinct(cfg: StackConfig, p: Phrasing): ConfigIssue[] {
  const seen = new Map<string, string>();
  const issues: ConfigIssue[] = [];
  cfg.remoteSites.forEach((site, i) => {
    if (site.kind !== "external" || site.publicIp === undefined || !parseIpv4(site.publicIp).ok) return;
    const key = `remoteSites[${i}].publicIp`;
    const earlier = seen.get(site.publicIp);
    if (earlier === undefined) return void seen.set(site.publicIp, key);
    issues.push(
      issue(
        key,
        `is ${site.publicIp}, already ${earlier}; the hub dials each far end at its publicIp and admits WireGuard only from there, so one of the two sites would never be reached.`,
        `correct the address, or, if both gateways sit behind one NAT, ${p.remove(key)} and ${p.remove(earlier)} (each then dials the hub, which tells them apart by their NAT ports)`,
      ),
    );
  });
  return issues;
}

export function checkTunnelSettings(cfg: StackConfig, p: Phrasing): ConfigIssue[] {
  const { listenPort, keepalive, mtu, tunnelCidr: cidr } = cfg;
  const issues: ConfigIssue[] = [];
  if (!isIntegerIn(listenPort, 1, 65535)) {
    issues.push(
      issue(
        "listenPort",
        `is ${listenPort}; a UDP port is a whole number from 1 to 65535.`,
        `${p.run("listenPort", DEFAULTS.listenPort)}`,
      ),
    );
  }
  if (!isIntegerIn(keepalive, 0, 65535)) {
    issues.push(
      issue(
        "keepalive",
        `is ${keepalive}; PersistentKeepalive is a whole number of seconds from 0 (off) to 65535.`,
        `${p.run("keepalive", DEFAULTS.keepalive)} (${DEFAULTS.keepalive} s keeps NAT mappings alive)`,
      ),
    );
  }
  if (!isIntegerIn(mtu, 1280, 1440)) {
    issues.push(
      issue(
        "mtu",
        `is ${mtu}; wg0's MTU must be 1280-1440: 1440 = a 1500-byte underlay minus 60 bytes of IPv4 (20) + UDP (8) + WireGuard (32) headers, and 1280 is IPv6's minimum. The default ${DEFAULTS.mtu} also leaves room for an IPv6 underlay (80 bytes of overhead).`,
        `${p.run("mtu", DEFAULTS.mtu)}`,
      ),
    );
  }
  const parsed = parseCidr(cidr);
  if (!parsed.ok) {
    issues.push(cidrIssue("tunnelCidr", cidr, parsed, DEFAULTS.tunnelCidr, p));
  } else if (!isPrivateCidr(cidr) && !isSubnetOf(cidr, "100.64.0.0/10")) {
    issues.push(
      issue(
        "tunnelCidr",
        `${cidr} is not a private range (RFC 1918 or 100.64.0.0/10); gateways would route real internet addresses into the tunnel.`,
        `${p.run("tunnelCidr", DEFAULTS.tunnelCidr)}`,
      ),
    );
  }
  return issues;
}
