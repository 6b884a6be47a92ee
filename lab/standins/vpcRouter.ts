/**
 * Stand-in for what Scaleway runs on every Private Network: the managed DHCP/IPAM server
 * and the VPC's virtual router that applies custom routes. In the lab it is one namespace
 * per Scaleway-built site, on the site's segment at the subnet's first host address
 * (Scaleway reserves it), which
 *  - serves DHCP with one static lease per host MAC -> its IPAM address (no dynamic pool:
 *    IPAM hands out nothing else), no default router (Scaleway's PN DHCP gives none; the
 *    public NIC carries the default route), and the VPC's custom routes as option 121
 *    "destination via this router" to every host on the PN, gateway included;
 *  - forwards those destinations to the next-hop private NIC (the gateway), the way the
 *    VPC router does for `vpc-route` sites, without sending ICMP redirects.
 * The routes come from the program's network.Route resources (lab/topology.ts).
 */
import { netmask } from "../../addressing/ipv4";
import { networkAddress, prefixLength } from "../../addressing/ipv4";
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
    `dhcp-range=${networkAddress(site.subnet)},static,${netmask(net)},1h`,
    ...vr.leases.map((l) => `dhcp-host=${l.mac},${l.address},${l.host}`),
    "dhcp-option=3",
    ...(option121 ? [`dhcp-option=121,${option121}`] : []),
    `dhcp-leasefile=${files.leaseFile}`,
    `pid-file=${files.pidFile}`,
    `log-facility=${files.logFile}`,
    "log-dhcp",
    "user=root",
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
