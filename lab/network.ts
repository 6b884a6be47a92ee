/**
 * Wires a LabTopology into namespaces: the switch (bridges + underlay filters), one
 * namespace per node, veth pairs whose both ends live in lab namespaces, the private-NIC
 * hot-plug and the DHCP client hook. Also the underlay impairments used by checks and faults.
 */
import * as fs from "fs";
import * as path from "path";
import { LabHost } from "./host";
import { addBridge, addNetns, addVethPair, attachToBridge, ipIn, moveLink, nsRun, nsRunOk } from "./netns";
import type { BackgroundProcess } from "./proc";
import { startVpcRouter as startVpcRouterStandIn } from "./standins/vpcRouter";
import type { LabNode, LabSite, LabTopology } from "./topology";
import { bare } from "./topology";

/** nftables (bridge family) in the switch: ICMP "fragmentation needed" never crosses any lab segment. */
export const SWITCH_RULESET = `table bridge lab {
\tchain forward {
\t\ttype filter hook forward priority 0; policy accept;
\t\ticmp type destination-unreachable icmp code frag-needed counter drop comment "no PMTU discovery help anywhere in the lab"
\t}
}
`;

export interface Wiring {
  /** Hosts that run user-data or a DHCP client (own mount namespace). */
  hosts: Map<string, LabHost>;
  /** Background stand-in daemons, stopped by PID at cleanup. */
  daemons: BackgroundProcess[];
}

const isHostRole = (n: LabNode) => n.role === "gateway" || n.role === "test-host";
const hotplugPort = (n: LabNode) => `hp-${n.privateNic.switchPort}`;

export async function buildSwitch(t: LabTopology): Promise<void> {
  await addNetns(t.switchNs);
  await addBridge(t.switchNs, t.internet.bridge);
  for (const s of t.sites) await addBridge(t.switchNs, s.bridge);
  await nsRunOk(t.switchNs, ["nft", "-f", "-"], { input: SWITCH_RULESET });
}

/** Create a node's namespace(s) and NICs. Hot-plugged NICs wait, unplugged, in the switch. */
const NETWORKD_UNIT_PATH = "/etc/systemd/system/systemd-networkd.service";
const NETWORKD_UNIT_STANDIN = [
  "# Lab stand-in: networkd's work is done by the networkctl stand-in.",
  "[Unit]",
  "Description=systemd-networkd (lab stand-in)",
  "[Service]",
  "Type=oneshot",
  "RemainAfterExit=yes",
  "ExecStart=/bin/true",
  "[Install]",
  "WantedBy=multi-user.target",
  "",
].join("\n");

export async function wireNode(
  t: LabTopology,
  site: LabSite,
  n: LabNode,
  runDir: string,
  shim: string,
  w: Wiring,
): Promise<void> {
  if (isHostRole(n)) {
    const host = new LabHost({ name: n.id, ns: n.ns, dir: path.join(runDir, "hosts", n.id), systemctlShim: shim });
    await host.start();
    // networkd stand-in: written over the host's own /usr/bin/networkctl (its /usr is an
    // overlay, so the machine's file is untouched); built next to the systemctl stand-in.
    const networkctl = path.join(path.dirname(shim), "networkctl");
    if (fs.existsSync(networkctl)) {
      await host.writeFile("/usr/bin/networkctl", fs.readFileSync(networkctl, "utf8"), "0755");
      // systemd-networkd.service as the systemctl stand-in sees it: "running" (the networkctl
      // stand-in does its work), so starting it never runs the machine's real networkd here.
      await host.writeFile(NETWORKD_UNIT_PATH, NETWORKD_UNIT_STANDIN);
    }
    w.hosts.set(n.id, host);
  } else {
    await addNetns(n.ns);
  }
  if (n.publicNic) {
    await addVethPair(
      { ns: n.ns, name: n.publicNic.name, mac: n.publicNic.mac },
      { ns: t.switchNs, name: n.publicNic.switchPort },
    );
    await attachToBridge(t.switchNs, n.publicNic.switchPort, t.internet.bridge);
    await ipIn(n.ns, ["addr", "add", n.publicNic.address, "dev", n.publicNic.name]);
    await ipIn(n.ns, ["link", "set", n.publicNic.name, "up"]);
  }
  const nic = n.privateNic;
  if (nic.hotplug) {
    await addVethPair({ ns: t.switchNs, name: hotplugPort(n), mac: nic.mac }, { ns: t.switchNs, name: nic.switchPort });
  } else {
    await addVethPair({ ns: n.ns, name: nic.name, mac: nic.mac }, { ns: t.switchNs, name: nic.switchPort });
    if (nic.addressing === "static" && nic.address) await ipIn(n.ns, ["addr", "add", nic.address, "dev", nic.name]);
    await ipIn(n.ns, ["link", "set", nic.name, "up"]);
  }
  await attachToBridge(t.switchNs, nic.switchPort, site.bridge);
}

/** Scaleway attaching the private NIC to a running server: the link appears in the host, down. */
export async function hotplugPrivateNic(t: LabTopology, n: LabNode): Promise<void> {
  await moveLink(t.switchNs, hotplugPort(n), n.ns, n.privateNic.name);
}

/**
 * Stand-in for the image's DHCP hook on a new NIC (Scaleway: udev + its DHCP client; here:
 * ISC dhclient, whose Debian exit hook applies option 121). Files stay in the host's
 * private /var/lib/dhcp and /run. dhclient daemonises once bound (to renew), and dies
 * with the host's namespace at cleanup.
 */
export async function runDhcpClient(
  host: LabHost,
  iface: string,
  timeoutMs = 30_000,
): Promise<{ ok: boolean; address?: string; ms: number; log: string }> {
  const started = Date.now();
  await host.exec(["ip", "link", "set", iface, "up"]);
  const r = await host.exec(
    [
      "dhclient",
      "-4",
      "-v",
      "-1",
      "-pf",
      `/run/dhclient.${iface}.pid`,
      "-lf",
      `/var/lib/dhcp/dhclient.${iface}.leases`,
      iface,
    ],
    {
      timeoutMs,
    },
  );
  const a = await host.exec(["ip", "-4", "-o", "addr", "show", "dev", iface]);
  const m = /inet (\d+\.\d+\.\d+\.\d+)\//.exec(a.stdout);
  return {
    ok: r.code === 0 && !!m,
    address: m?.[1],
    ms: Date.now() - started,
    log: (r.stderr + r.stdout).split("\n").slice(-6).join("\n"),
  };
}

/** Start a site's VPC-router stand-in (forwarding + dnsmasq as Scaleway's DHCP/IPAM). */
export async function startVpcRouter(site: LabSite, runDir: string, w: Wiring): Promise<void> {
  w.daemons.push(await startVpcRouterStandIn(site, path.join(runDir, "standins", site.vpcRouter!.id)));
}

/** The operator's own LAN router for an external `dhcp` site: only needs to exist (it is the default route). */
export async function startLanRouter(n: LabNode): Promise<void> {
  await nsRunOk(n.ns, ["sysctl", "-qw", "net.ipv4.ip_forward=0"]);
}

/** Underlay loss on the internet segment. tc netem when the kernel has it; else nftables' random drop. */
export async function setUnderlayLoss(t: LabTopology, percent: number): Promise<{ method: string }> {
  const ports = t.sites.map((s) => s.gateway.publicNic!.switchPort);
  if (percent === 0) {
    for (const p of ports) await nsRun(t.switchNs, ["tc", "qdisc", "del", "dev", p, "root"]);
    await nsRun(t.switchNs, ["nft", "delete", "table", "bridge", "labloss"]);
    return { method: "removed" };
  }
  // netem on the switch ports leading to each gateway: loss applies to frames towards every gateway.
  const netem = await nsRun(t.switchNs, [
    "tc",
    "qdisc",
    "add",
    "dev",
    ports[0],
    "root",
    "netem",
    "loss",
    `${percent}%`,
  ]);
  if (netem.code === 0) {
    for (const p of ports.slice(1))
      await nsRunOk(t.switchNs, ["tc", "qdisc", "add", "dev", p, "root", "netem", "loss", `${percent}%`]);
    return { method: `tc netem loss ${percent}% on every gateway's switch port` };
  }
  const ruleset = `table bridge labloss {
\tchain forward {
\t\ttype filter hook forward priority -10; policy accept;
\t\tiifname { ${ports.map((p) => `"${p}"`).join(", ")} } numgen random mod 100 < ${percent} counter drop
\t}
}
`;
  await nsRunOk(t.switchNs, ["nft", "-f", "-"], { input: ruleset });
  return {
    method: `nftables (bridge family) random drop of ${percent}% of the frames entering ${t.internet.bridge} from each gateway (this kernel has no sch_netem)`,
  };
}

/** Packets the switch dropped because they were ICMP "fragmentation needed". */
export async function fragNeededDrops(t: LabTopology): Promise<number> {
  const r = await nsRun(t.switchNs, ["nft", "list", "table", "bridge", "lab"]);
  const m = /frag-needed counter packets (\d+)/.exec(r.stdout);
  return m ? Number(m[1]) : 0;
}

export const nodeAddress = (n: LabNode): string | undefined =>
  n.privateNic.address ? bare(n.privateNic.address) : undefined;
