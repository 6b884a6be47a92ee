/** One view over the hub and the remote sites, so site rules are written once for both. */
import { parseCidr } from "../../addressing/ipv4";
import { HUB_ONLY_KEYS, SCALEWAY_SITE_KEYS, type HubOnlyKey } from "../schema";
import { type RemoteSiteConfig, type ScalewaySiteConfig, type StackConfig } from "../types";

/** The fields every site has, hub or remote, under the same names. */
type SharedSiteFields = Omit<ScalewaySiteConfig, HubOnlyKey>;

/**
 * A site as the rules see it: the fields the hub and every remote site share, where it sits
 * in the config, and the site itself (the hub's own keys, such as `gateways`, are checked on
 * `hub`; config/rules/haHub.ts).
 */
export type SiteView = SharedSiteFields & {
  /** "scalewaySite" or "remoteSites[i]". */
  path: string;
  /** Hub and simulated sites: Scaleway's reserved addresses, DHCP and 10/8 rules apply. */
  scalewayBuilt: boolean;
  remote?: RemoteSiteConfig;
  hub?: ScalewaySiteConfig;
};

/** Fails to compile when the hub gains a shared field remote sites lack, or one of another type. */
const remoteHasHubFields = (site: RemoteSiteConfig): SharedSiteFields => site;

export function siteViews(cfg: StackConfig): SiteView[] {
  return [
    { path: "scalewaySite", ...sharedFieldsOf(cfg.scalewaySite), scalewayBuilt: true, hub: cfg.scalewaySite },
    ...cfg.remoteSites.map((site, i) => ({
      path: `remoteSites[${i}]`,
      ...sharedFieldsOf(remoteHasHubFields(site)),
      scalewayBuilt: site.kind === "simulated",
      remote: site,
    })),
  ];
}

function sharedFieldsOf(site: SharedSiteFields): SharedSiteFields {
  const fields: Partial<Record<keyof SharedSiteFields, unknown>> = {};
  const hubOnly: readonly string[] = HUB_ONLY_KEYS;
  for (const key of SCALEWAY_SITE_KEYS) {
    if (!hubOnly.includes(key) && site[key as keyof SharedSiteFields] !== undefined) {
      fields[key as keyof SharedSiteFields] = site[key as keyof SharedSiteFields];
    }
  }
  return fields as SharedSiteFields;
}

/** The site's subnet when it parses, else undefined (its own issue is reported once, by checkSubnet). */
export function validSubnet(site: SiteView): string | undefined {
  return parseCidr(site.subnet).ok ? site.subnet : undefined;
}
