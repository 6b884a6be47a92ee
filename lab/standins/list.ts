/**
 * Every stand-in of both labs, written once: what each lab puts in place of Scaleway (or of
 * a real machine), and why. The namespace lab's result (lab/run.ts), the VM lab's result
 * (lab/vm/index.ts) and the stand-in tables of lab/README.md and lab/vm/README.md all come
 * from this list; lab/standins/list.test.ts fails when a README drifts from it, and
 * `npx tsx lab/standins/list.ts --write` rewrites the tables.
 */
import * as fs from "fs";
import * as path from "path";
import type { StandIn } from "../results";
import { markdownTable, readmeTableRows, withGeneratedTable, type TableMarkers } from "../readmeTable";

export type LabBackend = "netns" | "vm";

interface StandInRow {
  /** What is replaced (Scaleway's service, or the real machine's part). */
  replaces: string;
  /** How each lab replaces it; a backend without an entry uses the real thing. */
  netns?: { name: string; why: string };
  vm?: { name: string; why: string };
}

const VPC_ROUTER = {
  name: "VPC-router namespace at the subnet's .1 (dnsmasq + forwarding, lab/standins/vpcRouter.ts)",
  why: "one static lease per private-NIC MAC -> its IPAM address, no dynamic pool, no router option, no DNS option (Scaleway announces its resolver at 169.254.169.254; nothing could answer there in the lab, so lookups fail at once instead of hanging); the VPC custom routes, from the program's network.Route resources, pushed as option 121 via .1 to every host on the PN (gateway included) and forwarded to the next-hop private NIC, without ICMP redirects",
};

/** In the order the namespace lab has always reported them. */
const ROWS: readonly StandInRow[] = [
  {
    replaces: "Scaleway's metadata datasource",
    netns: {
      name: "NoCloud seed",
      why: "no metadata service in a namespace; cloud-init reads the same user-data from /var/lib/cloud/seed/nocloud inside the host",
    },
    vm: {
      name: "NoCloud seed volume (cidata)",
      why: "user-data unchanged; meta-data with instance-id and hostname; network-config for the public NIC (and a test host's private NIC)",
    },
  },
  {
    replaces: "the image's full module lists",
    netns: {
      name: "narrowed cloud-init module lists (99-lab.cfg)",
      why: "growpart, mounts, users, ssh would act on the machine itself; the lab runs bootcmd, write-files, runcmd, write-files-deferred, scripts-user and reports the keys it skipped (SSH keys, host keys)",
    },
  },
  {
    replaces: "cloud-init's package module (apt-get install)",
    netns: {
      name: "apt stand-in",
      why: "no installs from inside a lab host; the listed packages must already be installed on this machine (dpkg-query), package_update is a no-op",
    },
  },
  {
    replaces: "systemd as PID 1",
    netns: {
      name: "systemctl stand-in (lab/standins/systemctl.ts)",
      why: "a namespace has no systemd; the stand-in runs the units the user-data wrote (Exec* lines, Type=, Requires/Wants/After/Before, drop-ins, templates, RemainAfterExit) and the packaged ones (dnsmasq.service); it refuses what it does not know",
    },
  },
  {
    replaces: "systemd-networkd (WireGuard .netdev/.network)",
    netns: {
      name: "networkctl stand-in (lab/standins/networkctl.ts)",
      why: "a namespace has no networkd; `networkctl reload` reads the gateway's wg0 netdev/network and does what networkd does with wg(8) and ip: link, keys, peers, MTU, address, routes; unknown keys are refused",
    },
  },
  {
    replaces: "systemd-networkd.service (the unit a far end's install.sh enables and starts)",
    netns: {
      name: "no-op systemd-networkd.service in every lab host's /etc/systemd/system",
      why: "starting the machine's real unit through the systemctl stand-in would run networkd inside the namespace; the networkctl stand-in does its work",
    },
  },
  { replaces: "Scaleway's managed DHCP/IPAM and the VPC's virtual router", netns: VPC_ROUTER, vm: VPC_ROUTER },
  {
    replaces: "the private NIC attached after the server started",
    netns: {
      name: "delayed veth move into the host",
      why: "exercises the gateway's wait-for-private-NIC unit and the tunnel's ordering after it",
    },
    vm: {
      name: "private NIC present at boot",
      why: "qemu has it from the start, so the user-data's bounded wait for it returns at once; the namespace lab hot-plugs it",
    },
  },
  {
    replaces: "the image's DHCP client on the hot-plugged NIC (Scaleway's scw-vpc-iface, netplan, systemd-networkd)",
    netns: {
      name: "dhclient with Debian's rfc3442 exit hook",
      why: "applies option 121 like networkd does; state files in the host's private /var/lib/dhcp and /run",
    },
    vm: {
      name: "reconstructed scw-vpc-iface",
      why: "the package's scripts are not public; the image carries a udev rule 72-scw-vpc-iface.rules -> scw-vpc-iface@<nic>.service after cloud-init.service -> /etc/netplan/60-<nic>-vpc.yaml with DHCP -> netplan apply; gateways get their private NIC only that way; test hosts (no public NIC) also have it in NoCloud network-config, so the boot's wait-online has a link",
    },
  },
  {
    replaces: "the kernel WireGuard module",
    netns: {
      name: "wireguard-go",
      why: "this kernel has no wireguard module; the networkctl stand-in falls back to wireguard-go (needs /dev/net/tun) and configures it with wg(8)",
    },
  },
  {
    replaces: "Scaleway's Ubuntu noble image",
    vm: {
      name: "Debian 12 made Ubuntu-like",
      why: "netplan -> networkd, systemd-resolved stub on 127.0.0.53, cloud-init 22.4, cloud kernel 6.1; its only apt source is a mirror no VM can reach; iperf3 is preinstalled for the optional throughput check",
    },
  },
  {
    replaces: "the image's package mirror (reached from the instance's public IP)",
    vm: {
      name: "package-mirror stand-in (lab/standins/packageMirror.ts)",
      why: "no VM reaches a real mirror; after the unreachable-repository check a namespace on the internet bridge serves a flat repository (trusted, unsigned: each file's SHA-256 is in the index) of Debian's exact files fetched on this machine, for what the gateways' extras unit installs that the image lacks; the gateways get it as one added sources.list.d line, the image's own source stays unreachable",
    },
  },
  {
    replaces: "the internet and Scaleway's routed public IPs",
    netns: {
      name: "internet bridge 198.51.100.0/24 (TEST-NET-2)",
      why: "gateways' public addresses on one L2 segment, no NAT, no route out; security groups are not modelled",
    },
    vm: {
      name: "internet bridge 198.51.100.0/24 (TEST-NET-2)",
      why: "the gateways' public addresses are static (NoCloud network-config, IPv6 router advertisements off so the static link is ready at once, as Scaleway's DHCP'd one is at its lease) on one bridged segment; Scaleway routes a flexible IP to the instance and its image takes it by DHCP; security groups are not modelled",
    },
  },
  {
    replaces: "networks that filter PMTU discovery",
    netns: {
      name: "switch nftables (bridge family) dropping ICMP frag-needed",
      why: "makes the MTU check meaningful: bulk TCP only works because of the gateway's MSS clamp",
    },
    vm: {
      name: "bridge nftables dropping ICMP frag-needed (--throughput)",
      why: "switched on for the MTU check and its clamp-less negative control only",
    },
  },
  {
    replaces: "an external site's own network",
    netns: {
      name: "operator's LAN",
      why: "external gateways are built from their operator bundle's cloud-config.yaml; the LAN address is configured statically (the operator's job), a LAN-router namespace stands at lanRouter, LAN hosts run dhclient (dhcp) or the bundle's routes.sh (static)",
    },
  },
];

/** The stand-ins of one lab, in report order; the namespace lab adds how it made underlay loss, when it did. */
export function standInsFor(backend: LabBackend, lossMethod?: string): StandIn[] {
  const list = ROWS.flatMap((r) => {
    const how = r[backend];
    return how ? [{ name: how.name, replaces: r.replaces, why: how.why }] : [];
  });
  return lossMethod ? [...list, { name: "underlay loss", replaces: "a lossy internet path", why: lossMethod }] : list;
}

/** The markdown table of one lab's stand-ins (what the READMEs carry between their markers). */
export function renderStandInTable(backend: LabBackend): string {
  return markdownTable(
    ["stand-in", "replaces", "why"],
    standInsFor(backend).map((s) => [s.name, s.replaces, s.why]),
  );
}

export const README_FILES: Record<LabBackend, string> = {
  netns: path.join(__dirname, "..", "README.md"),
  vm: path.join(__dirname, "..", "vm", "README.md"),
};

const MARKERS: TableMarkers = {
  begin: "<!-- stand-ins: generated from lab/standins/list.ts -->",
  end: "<!-- /stand-ins -->",
};

/**
 * The rows of the README's table between its markers, as stand-ins (undefined when the
 * markers are missing). Compared by cell, not by text: prettier pads the columns.
 */
export function readmeStandIns(readme: string): StandIn[] | undefined {
  return readmeTableRows(readme, MARKERS)?.map((cells) => ({ name: cells[0], replaces: cells[1], why: cells[2] }));
}

/** The README with its table replaced by the generated one. */
export function withTable(readme: string, table: string): string {
  return withGeneratedTable(readme, MARKERS, table);
}

if (require.main === module && process.argv.includes("--write")) {
  for (const [backend, file] of Object.entries(README_FILES) as [LabBackend, string][]) {
    fs.writeFileSync(file, withTable(fs.readFileSync(file, "utf8"), renderStandInTable(backend)));
    console.log(`wrote the stand-in table of ${path.relative(process.cwd(), file)}`);
  }
}
