/** One view over the hub and the remote sites, so site rules are written once for both. */
import { parseCidr } from "../../addressing/ipv4";
import { SCALEWAY_SITE_KEYS } from "../schema";
import { type RemoteSiteConfig, type ScalewaySiteConfig, type StackConfig } from "../types";

/**
 * A site as the rules see it: the hub's fields (which every remote site has too, under the
 * same names), where it sits in the config, and for a remote site the site itself.
 */
export type SiteView = ScalewaySiteConfig & {
  /** "scalewaySite" or "remoteSites[i]". */
  path: string;
  /** Hub and simulated sites: Scaleway's reserved addresses, DHCP and 10/8 rules apply. */
  scalewayBuilt: boolean;
  remote?: RemoteSiteConfig;
};

/** Fails to compile when the hub gains a field remote sites lack, or one of another type. */
const remoteHasHubFields = (site: RemoteSiteConfig): ScalewaySiteConfig => site;

export function siteViews(cfg: StackConfig): SiteView[] {
  return [
    { path: "scalewaySite", ...cfg.scalewaySite, scalewayBuilt: true },
    ...cfg.remoteSites.map((site, i) => ({
      path: `remoteSites[${i}]`,
      ...hubFieldsOf(remoteHasHubFields(site)),
      scalewayBuilt: site.kind === "simulated",
      remote: site,
    })),
  ];
}

function hubFieldsOf(site: ScalewaySiteConfig): ScalewaySiteConfig {
  const fields: Partial<Record<keyof ScalewaySiteConfig, unknown>> = {};
  for (const key of SCALEWAY_SITE_KEYS) if (site[key] !== undefined) fields[key] = site[key];
  return fields as ScalewaySiteConfig;
}

/** The site's subnet when it parses, else undefined (its own issue is reported once, by checkSubnet). */
export function validSubnet(site: SiteView): string | undefined {
  return parseCidr(site.subnet).ok ? site.subnet : undefined;
}
