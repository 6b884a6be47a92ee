/**
 * NoCloud seeds: the volume (label `cidata`) cloud-init reads at boot, carrying the
 * program's user-data byte for byte, plus the meta-data and network-config that stand in
 * for what Scaleway's metadata service and DHCP provide.
 */
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { promisify } from "node:util";
import { stringify } from "yaml";

const execFileP = promisify(execFile);

/**
 * cloud-init reads YAML with PyYAML, i.e. YAML 1.1, where an unquoted MAC such as
 * 52:54:00:00:04:02 is a base-60 integer. Emitting as 1.1 quotes every such string.
 */
const toYaml11 = (value: unknown) => stringify(value, { version: "1.1" });

export interface VmNic {
  /** Stable role of the NIC; also the netdev id in qemu. */
  id: "public" | "private";
  mac: string;
  /** PCI slot: Scaleway's Ubuntu names NICs after it (ens2 public, ens5 private). */
  pciSlot: number;
  /** Static "a.b.c.d/len" (the public NIC); absent means DHCP. */
  staticAddress?: string;
}

export interface MetaDataSpec {
  instanceId: string;
  hostname: string;
  /** The lab's own SSH key, added by cloud-init next to the user-data's keys. */
  publicKeys: string[];
}

export function renderMetaData(spec: MetaDataSpec): string {
  return toYaml11({
    "instance-id": spec.instanceId,
    "local-hostname": spec.hostname,
    "public-keys": spec.publicKeys,
  });
}

/** The NIC's predictable name on Scaleway's images: ens<PCI slot> (ens2 public, ens5 private). */
export const nicName = (nic: VmNic) => `ens${nic.pciSlot}`;

/**
 * Network config v2, rendered by cloud-init to netplan, keyed by the NIC's name. Give it
 * the NICs cloud-init configures: the public NIC (static, the lab has no DHCP on its
 * "internet" segment), and, on a VM without one, the private NIC by DHCP so that the
 * boot's wait-online has a link to wait for. A gateway's private NIC is left out: the
 * image's udev rule (Scaleway's scw-vpc-iface) writes /etc/netplan/60-ens5-vpc.yaml and
 * applies it, as on Scaleway. Same key ("ens5"), so the two files never conflict.
 *
 * The static public NIC does not accept IPv6 router advertisements: with RA on and no
 * dynamic address, systemd-networkd holds a static-only link "configuring" until router
 * solicitation gives up, and the boot's wait-online (cloud-init's init stage waits for it)
 * took some 15 s longer on the gateways than on the DHCP'd test hosts. On Scaleway the
 * public NIC takes its address by DHCP and is ready at the lease, as the test hosts' are
 * here, so those 15 s were the stand-in's, not the platform's.
 */
export function renderNetworkConfig(nics: readonly VmNic[]): string {
  const ethernets: Record<string, unknown> = {};
  for (const nic of nics) {
    ethernets[nicName(nic)] = {
      match: { macaddress: nic.mac },
      ...(nic.staticAddress ? { addresses: [nic.staticAddress], "accept-ra": false } : { dhcp4: true }),
    };
  }
  return toYaml11({ version: 2, ethernets });
}

export interface SeedFiles {
  userData: string;
  metaData: string;
  networkConfig: string;
}

/** Writes an ISO9660 `cidata` volume; user-data is copied as given, unchanged. */
export async function writeSeedIso(dir: string, files: SeedFiles, isoPath: string): Promise<void> {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, "user-data"), files.userData);
  fs.writeFileSync(path.join(dir, "meta-data"), files.metaData);
  fs.writeFileSync(path.join(dir, "network-config"), files.networkConfig);
  await execFileP(
    "genisoimage",
    ["-quiet", "-output", isoPath, "-volid", "cidata", "-joliet", "-rock", "user-data", "meta-data", "network-config"],
    { cwd: dir, timeout: 30_000 },
  );
}

/** A locally administered MAC with Scaleway's 02:00:00 prefix, from small integers. */
export function scalewayMac(hostIndex: number, nicIndex: number): string {
  const hex = (n: number) => n.toString(16).padStart(2, "0");
  if (hostIndex < 0 || hostIndex > 255 || nicIndex < 0 || nicIndex > 255) throw new Error("MAC index out of range");
  return `02:00:00:00:${hex(hostIndex)}:${hex(nicIndex)}`;
}
