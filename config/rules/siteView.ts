/** One view over the hub and the remote sites, so site rules are written once for both. */
import { parseCidr } from "../../addressing/ipv4";
import { type RemoteSiteConfig, type RoutePropagation, type StackConfig } from "../types";

export interface SiteView {
  /** "scalewaySite" or "remoteSites[i]". */
  path: string;
  name: string;
  subnet: string;
  gatewayAddress: string;
  testHostAddress?: string;
  /** A test host is built (Scaleway-built sites only). */
  testHost: boolean;
  privateNetworkId?: string;
  tunnelAddress: string;
  routePropagation: RoutePropagation;
  keyGeneration: number;
  /** Hub and simulated sites: Scaleway's reserved addresses, DHCP and 10/8 rules apply. */
  scalewayBuilt: boolean;
  remote?: RemoteSiteConfig;
}

export function siteViews(cfg: StackConfig): SiteView[] {
  return [
    { path: "scalewaySite", ...cfg.scalewaySite, scalewayBuilt: true },
    ...cfg.remoteSites.map((site, i) => ({
      path: `remoteSites[${i}]`,
      name: site.name,
      subnet: site.subnet,
      gatewayAddress: site.gatewayAddress,
      testHostAddress: site.testHostAddress,
      testHost: site.testHost,
      privateNetworkId: site.privateNetworkId,
      tunnelAddress: site.tunnelAddress,
      routePropagation: site.routePropagation,
      keyGeneration: site.keyGeneration,
      scalewayBuilt: site.kind === "simulated",
      remote: site,
    })),
  ];
}

/** The site's subnet when it parses, else undefined (its own issue is reported once, by checkSubnet). */
export function validSubnet(site: SiteView): string | undefined {
  return parseCidr(site.subnet).ok ? site.subnet : undefined;
}
