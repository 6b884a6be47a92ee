/**
 * Every rule on config values, gathered: the rules themselves are pure functions over a parsed
 * StackConfig in config/rules/ (one module per theme: one site, between sites, external sites,
 * existing networks, access, tunnel). Every issue
 * names the key (as typed for `pulumi config set --path`, which is also the SiteToSiteVpn
 * argument path) and a concrete fix, phrased for the stack or for a component's caller
 * (config/errors.ts `Phrasing`). `loadStackConfig` = parse + validate; it throws one
 * ConfigError holding every issue (parse problems included), before any resource is declared.
 */
import { CONFIG_PHRASING, ConfigError, phrase, TEMPLATE, type ConfigIssue, type Phrasing } from "./errors";
import { readStackConfig } from "./parse";
import {
  checkAdminCidrs,
  checkAdminCidrsTogether,
  checkNonEmpty,
  checkSshPublicKeys,
  checkZone,
  IMAGE,
  INSTANCE_TYPE,
} from "./rules/access";
import { checkSiteNamesUnique, checkSubnetOverlaps, checkTunnelAddresses } from "./rules/betweenSites";
import { checkExistingNetwork, checkExistingNetworksDistinct } from "./rules/existingNetwork";
import { checkDhcpLan, checkExternalSite } from "./rules/externalSite";
import { checkCockpit } from "./rules/cockpit";
import { checkHaHub } from "./rules/haHub";
import { issue } from "./rules/issues";
import { checkSite } from "./rules/site";
import { siteViews } from "./rules/siteView";
import {
  checkDynamicPeers,
  checkListenPortServices,
  checkPublicIpsDistinct,
  checkTunnelSettings,
} from "./rules/tunnel";
import { DEFAULT_REMOTE_SITES, STACK_CONFIG_DEFAULTS } from "./schema";
import { type StackConfig } from "./types";
export { keyGenerationIssues } from "./rules/site";

/** Parse, then validate, phrased for the stack. Throws ConfigError listing every problem. */
export function loadStackConfig(raw: Record<string, unknown>): StackConfig {
  return resolveStackConfig(raw, CONFIG_PHRASING);
}

/**
 * Parse, then validate, with fixes phrased for `p`: the stack's keys and a component's
 * arguments share these rules. Throws one ConfigError (parse problems alone, as they make
 * the rest moot), which can be rephrased for the other audience.
 */
export function resolveStackConfig(raw: Record<string, unknown>, p: Phrasing): StackConfig {
  const parsed = readStackConfig(raw);
  if ("issues" in parsed) throw new ConfigError(parsed.issues, p);
  const issues = stackConfigIssues(parsed.config);
  if (issues.length > 0) throw new ConfigError(issues, p);
  return parsed.config;
}

/** Every rule's issues for a parsed config, fixes phrased for `p`. */
export function validateStackConfig(cfg: StackConfig, p: Phrasing = CONFIG_PHRASING): ConfigIssue[] {
  return stackConfigIssues(cfg).map((found) => phrase(found, p));
}

/** Every rule's issues, fixes as TEMPLATE markers. */
function stackConfigIssues(cfg: StackConfig, p: Phrasing = TEMPLATE): ConfigIssue[] {
  const sites = siteViews(cfg);
  return [
    ...checkZone(cfg.zone, p),
    ...checkAdminCidrs(cfg.adminCidrs, p),
    ...checkAdminCidrsTogether(cfg.adminCidrs, p),
    ...checkSshPublicKeys(cfg.sshPublicKeys, p),
    ...checkCockpit(cfg.cockpit, cfg.alertEmails, p),
    ...checkNonEmpty("instanceType", cfg.instanceType, STACK_CONFIG_DEFAULTS.instanceType, p, INSTANCE_TYPE),
    ...checkNonEmpty("image", cfg.image, STACK_CONFIG_DEFAULTS.image, p, IMAGE),
    ...checkTunnelSettings(cfg, p),
    ...checkListenPortServices(cfg, p),
    ...checkDynamicPeers(cfg, p),
    ...checkPublicIpsDistinct(cfg, p),
    ...(cfg.remoteSites.length === 0
      ? [
          issue(
            "remoteSites",
            "lists no remote site, so there is nothing to connect the Scaleway site to.",
            `add one, e.g. ${p.set("remoteSites[0].name", DEFAULT_REMOTE_SITES[0].name)}, then its subnet, gatewayAddress and tunnelAddress`,
          ),
        ]
      : []),
    ...sites.flatMap((site) => checkSite(site, p)),
    ...sites.flatMap((site) => checkHaHub(site, p)),
    ...sites.flatMap((site) => checkExternalSite(site, cfg, p)),
    ...sites.flatMap((site) => checkDhcpLan(site, p)),
    ...checkSiteNamesUnique(sites, p),
    ...checkSubnetOverlaps(sites, cfg.tunnelCidr, p),
    ...checkTunnelAddresses(sites, cfg.tunnelCidr, p),
    ...sites.flatMap((site) => checkExistingNetwork(site, cfg.zone, p)),
    ...checkExistingNetworksDistinct(sites, p),
  ];
}
