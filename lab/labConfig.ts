/**
 * The stack configs the lab deploys. The default topology is the program's own defaults
 * (hub "scaleway" 192.168.0.0/24 + simulated "onprem" 192.168.1.0/24, vpc-route both);
 * `--sites N` generates a hub and N remote sites covering every kind of site. Pure.
 */
import { hostAddress } from "../addressing/ipv4";
import { labPublicIps } from "./topology";

/** TEST-NET-3 address: the lab never SSHes anywhere, but the program requires adminCidrs. */
export const LAB_ADMIN_CIDR = "203.0.113.7/32";
export const HUB_NAME = "scaleway";

export interface LabStackConfig {
  /** Raw stack config keys (what `pulumi config` would hold). */
  config: Record<string, unknown>;
  /** Public IPs the lab hands to Scaleway-built gateways (instance.Ip), by site name. */
  publicIps: Record<string, string>;
  /** Human-readable list of what each generated site exercises. */
  notes: string[];
}

/** The program's defaults: nothing but the required adminCidrs is set. */
export function defaultLabConfig(): LabStackConfig {
  return {
    config: { adminCidrs: [LAB_ADMIN_CIDR] },
    publicIps: labPublicIps([HUB_NAME, "onprem"]),
    notes: ["default topology: the program's defaults (hub scaleway + simulated onprem, vpc-route)"],
  };
}

/** The VM lab's external site: the operator's office router, a far-end VM (lab/vm/farEnd.ts). */
export const VM_FAR_END_SITE = "office";

/**
 * The VM lab's stack: the default topology (its onprem site spelled out, as the program's
 * defaults have it) plus one external site, `static`, with a fixed public IP: a far end
 * that installs the bundle with its installer on real systemd.
 */
export function vmLabConfig(): LabStackConfig {
  const publicIps = labPublicIps([HUB_NAME, "onprem", VM_FAR_END_SITE]);
  const office = "192.168.2.0/24";
  return {
    config: {
      adminCidrs: [LAB_ADMIN_CIDR],
      remoteSites: [
        {
          name: "onprem",
          kind: "simulated",
          subnet: "192.168.1.0/24",
          gatewayAddress: "192.168.1.2",
          testHostAddress: "192.168.1.3",
          tunnelAddress: "172.16.0.2",
          routePropagation: "vpc-route",
        },
        {
          name: VM_FAR_END_SITE,
          kind: "external",
          subnet: office,
          gatewayAddress: hostAddress(office, 2),
          testHostAddress: hostAddress(office, 3),
          tunnelAddress: "172.16.0.3",
          routePropagation: "static",
          publicIp: publicIps[VM_FAR_END_SITE],
        },
      ],
    },
    publicIps: { [HUB_NAME]: publicIps[HUB_NAME], onprem: publicIps.onprem },
    notes: [
      "VM lab: the default topology plus office, external static with a fixed publicIp: an office router VM that installs the bundle",
    ],
  };
}

/**
 * Hub + N remote sites, with distinct subnets (192.168.i.0/24) and tunnel addresses
 * (172.16.0.(i+1)). Which site exercises what:
 *   site1        simulated, vpc-route, allowSpokeToSpoke
 *   site2        simulated, static propagation, allowSpokeToSpoke   (N >= 3)
 *   siteN        external, dhcp with lanRouter .1, spoke-to-spoke off (N >= 2)
 *   siteN-1      external, static (the operator runs routes.sh), spoke-to-spoke off (N >= 4)
 *   the others   simulated, vpc-route, spoke-to-spoke off
 * So with N >= 2 there is at least one pair that may talk (site1-site2 or site1-siteN when
 * N = 2) and, with N >= 3, pairs that must not.
 */
export function sitesLabConfig(n: number): LabStackConfig {
  if (!Number.isInteger(n) || n < 1 || n > 64) throw new Error(`--sites must be an integer from 1 to 64, got ${n}`);
  const names = Array.from({ length: n }, (_, k) => `site${k + 1}`);
  const publicIps = labPublicIps([HUB_NAME, ...names]);
  const notes: string[] = [];
  const remoteSites = names.map((name, k) => {
    const i = k + 1;
    const subnet = `192.168.${i}.0/24`;
    const externalDhcp = n >= 2 && i === n;
    const externalStatic = n >= 4 && i === n - 1;
    const external = externalDhcp || externalStatic;
    const staticProp = (n >= 3 && i === 2) || externalStatic;
    const allow = i === 1 || (n >= 3 && i === 2) || (n === 2 && i === 2);
    const base: Record<string, unknown> = {
      name,
      kind: external ? "external" : "simulated",
      subnet,
      gatewayAddress: hostAddress(subnet, 2),
      tunnelAddress: `172.16.0.${i + 1}`,
      routePropagation: externalDhcp ? "dhcp" : staticProp ? "static" : "vpc-route",
      allowSpokeToSpoke: allow,
    };
    if (external) base.publicIp = publicIps[name];
    if (externalDhcp) base.lanRouter = hostAddress(subnet, 1);
    else base.testHostAddress = hostAddress(subnet, 3);
    notes.push(
      `${name}: ${base.kind}, ${base.routePropagation}${externalDhcp ? " (lanRouter .1)" : ""}, spoke-to-spoke ${allow ? "on" : "off"}`,
    );
    return base;
  });
  // External gateways get no instance.Ip: their public IP is the config's publicIp.
  const scalewayBuilt = Object.fromEntries(
    Object.entries(publicIps).filter(([site]) => !remoteSites.some((r) => r.name === site && r.kind === "external")),
  );
  return { config: { adminCidrs: [LAB_ADMIN_CIDR], remoteSites }, publicIps: scalewayBuilt, notes };
}

/** Public IPs of every site (Scaleway-built from `publicIps`, external from the config). */
export function allPublicIps(c: LabStackConfig): Record<string, string> {
  const external = ((c.config.remoteSites as Record<string, unknown>[] | undefined) ?? [])
    .filter((r) => r.kind === "external")
    .map((r) => [r.name as string, r.publicIp as string]);
  return { ...c.publicIps, ...Object.fromEntries(external) };
}
