/**
 * Stand-in for what Scaleway runs on every Private Network: the managed DHCP/IPAM server
 * and the VPC's virtual router that applies custom routes. One for both labs: the
 * namespace lab and the VM lab each run it in its own namespace per Scaleway-built site,
 * on the site's segment at the subnet's first host address (Scaleway reserves it), where
 *  - dnsmasq serves DHCP with one static lease per private-NIC MAC -> its IPAM address (no
 *    dynamic pool: IPAM hands out nothing else), and the VPC's custom routes as option 121
 *    "destination via this router" to every host on the PN, gateway included;
 *  - the namespace forwards those destinations to the next-hop private NIC (the gateway),
 *    the way the VPC router does for `vpc-route` sites, without sending ICMP redirects.
 * The routes come from the program's network.Route resources (lab/topology.ts).
 *
 * The DHCP options, against Scaleway's documentation (docs-content, pages/vpc/):
 *  - router (3): none. A PN gets a default route only from a Public Gateway that advertises
 *    one (reference-content/understanding-routing.mdx); the program declares none, and the
 *    gateway's default route stays on its public NIC.
 *  - DNS (6): none, deliberately different. Scaleway announces its managed resolver at
 *    169.254.169.254 (reference-content/dns.mdx); the lab has no network to resolve
 *    anything with, and a dead resolver address would make every lookup hang until its
 *    timeout instead of failing at once. Listed in the stand-ins (lab/standins/list.ts).
 *  - classless static routes (121): the VPC custom routes, via the router. Hosts on
 *    Scaleway have been reported with these routes "via 169.254.169.254 ... proto dhcp"
 *    (a public report, not in the docs); the lab uses the subnet's .1, an on-link next
 *    hop every DHCP client applies.
 */
import * as fs from "fs";
import * as path from "path";
import { netmask, networkAddress, prefixLength } from "../../addressing/ipv4";
import { nsRunOk } from "../netns";
import { spawnBackground, type BackgroundProcess } from "../proc";
import type { LabSite } from "../topology";
import { bare } from "../topology";

export interface VpcRouterFiles {
  leaseFile: string;
  pidFile: string;
  logFile: string;
}

/** dnsmasq configuration of a site's VPC-router stand-in (pure). */
export function renderVpcRouterDnsmasq(site: LabSite, files: VpcRouterFiles): string {
  const vr = site.vpcRouter;
  if (!vr) throw new Error(`site ${site.name} has no VPC router (external sites have none)`);
  const router = bare(vr.privateNic.address!);
  const net = `${networkAddress(site.subnet)}/${prefixLength(site.subnet)}`;
  const option121 = vr.customRoutes.map((r) => `${r.destination},${router}`).join(",");
  return [
    `# Lab stand-in for Scaleway's managed DHCP/IPAM of site "${site.name}" (${net}).`,
    "# Not part of the program: Scaleway runs the real one.",
    "port=0",
    `interface=${vr.privateNic.name}`,
    "bind-interfaces",
    "dhcp-authoritative",
    // IPAM hands out reserved addresses only: no dynamic pool.
    `dhcp-range=${networkAddress(site.subnet)},static,${netmask(net)},1h`,
    ...vr.leases.map((l) => `dhcp-host=${l.mac},${l.address},${l.host}`),
    // Empty values: the option is not sent at all (see the header for why).
    "dhcp-option=option:router",
    "dhcp-option=option:dns-server",
    ...(option121 ? [`dhcp-option=121,${option121}`] : []),
    `dhcp-leasefile=${files.leaseFile}`,
    `pid-file=${files.pidFile}`,
    `log-facility=${files.logFile}`,
    "log-dhcp",
    "user=root",
    "group=root",
    "",
  ].join("\n");
}

/** Shell commands (run inside the VPC-router namespace) that make it forward custom routes. */
export function vpcRouterForwardingCommands(site: LabSite): string[][] {
  const vr = site.vpcRouter!;
  return [
    ["sysctl", "-qw", "net.ipv4.ip_forward=1"],
    // Scaleway's router does not tell hosts to bypass it; a Linux router would (redirects).
    ["sysctl", "-qw", "net.ipv4.conf.all.send_redirects=0"],
    ["sysctl", "-qw", `net.ipv4.conf.${vr.privateNic.name}.send_redirects=0`],
    ...vr.customRoutes.map((r) => [
      "ip",
      "-4",
      "route",
      "replace",
      r.destination,
      "via",
      r.nexthop,
      "dev",
      vr.privateNic.name,
    ]),
  ];
}

/**
 * Starts a site's stand-in in its (already wired) namespace: forwarding of the custom
 * routes, then dnsmasq with its files under `dir`. The caller stops it (by PID, through
 * the returned process) at cleanup.
 */
export async function startVpcRouter(site: LabSite, dir: string): Promise<BackgroundProcess> {
  const vr = site.vpcRouter;
  if (!vr) throw new Error(`site ${site.name} has no VPC router (external sites have none)`);
  fs.mkdirSync(dir, { recursive: true });
  for (const argv of vpcRouterForwardingCommands(site)) await nsRunOk(vr.ns, argv);
  const files = {
    leaseFile: path.join(dir, "leases"),
    pidFile: path.join(dir, "dnsmasq.pid"),
    logFile: path.join(dir, "dnsmasq.log"),
  };
  const conf = path.join(dir, "dnsmasq.conf");
  fs.writeFileSync(conf, renderVpcRouterDnsmasq(site, files));
  fs.writeFileSync(files.leaseFile, "");
  const d = spawnBackground(["ip", "netns", "exec", vr.ns, "dnsmasq", "--keep-in-foreground", `--conf-file=${conf}`]);
  if (await d.waitExit(500)) throw new Error(`VPC router of ${site.name}: dnsmasq exited: ${d.output().trim()}`);
  return d;
}
