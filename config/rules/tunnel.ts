/** Rules about the tunnel settings and the gateway services its port must not collide with, and who may reach it. */
import { isPrivateCidr, isSubnetOf, parseCidr } from "../../addressing/ipv4";
import { type ConfigIssue, type Phrasing } from "../errors";
import { type StackConfig } from "../types";
import { cidrIssue, isIntegerIn, issue } from "./issues";

/**
 * UDP ports already taken on a gateway: 53 (systemd-resolved's stub on 127.0.0.53, and any
 * DNS the operator's router runs), 67 (dnsmasq, on `dhcp` gateways) and 68 (the gateway's
 * own DHCP client on its NICs). WireGuard binds the wildcard address, so it would fail to
 * start, or swallow DHCP replies.
 */
export function checkListenPortServices(cfg: StackConfig, p: Phrasing): ConfigIssue[] {
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

/**
 * External sites without `publicIp` dial the hub: they must keep the tunnel up themselves
 * (the hub has no address to dial back), and the hub's security group must admit them.
 */
export function checkDynamicPeers(cfg: StackConfig, p: Phrasing): ConfigIssue[] {
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

export function checkTunnelSettings(cfg: StackConfig, p: Phrasing): ConfigIssue[] {
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
