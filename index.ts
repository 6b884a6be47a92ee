/**
 * The stack: a thin adapter from stack config to one SiteToSiteVpn. The stack's keys are the
 * component's argument names, so the config is handed over as arguments; the component
 * checks all of it before declaring anything, and its argument errors come back here to be
 * phrased as `pulumi config set` hints. Returns what the operator needs as stack outputs.
 * Behaviour lives in components/ and cloud-init/; docs/configuration.md has the config reference.
 *
 * The program is exported as a function (Pulumi runs it and exports what it returns), so
 * the test harness and the lab can run the very same program again under mocks.
 */
import * as pulumi from "@pulumi/pulumi";
import { SiteToSiteVpn, type SiteToSiteVpnArgs } from "./components/siteToSiteVpn";
import { CONFIG_PHRASING, ConfigError } from "./config/errors";
import { stackZone, type ProviderSetting, type ProviderSettings } from "./config/zone";

/**
 * Every key of the project's namespace, known or not, so a misspelt key (`adminCidr`) reaches
 * the parser and is refused with a did-you-mean instead of being silently dropped, which
 * `config.get` of the known keys alone would do. Other namespaces (`scaleway:`) are the
 * providers' business.
 */
function readRawConfig(): Record<string, unknown> {
  const prefix = `${pulumi.getProject()}:`;
  const raw: Record<string, unknown> = {};
  for (const [fullKey, text] of Object.entries(pulumi.runtime.allConfig())) {
    if (!fullKey.startsWith(prefix)) continue;
    const key = fullKey.slice(prefix.length);
    // Structured keys (sites, lists) arrive as JSON text; scalars as plain strings.
    try {
      raw[key] = JSON.parse(text);
    } catch {
      raw[key] = text;
    }
  }
  return raw;
}

/**
 * The Scaleway provider's zone and region the way @pulumiverse/scaleway's own `config` reads
 * them (node_modules/@pulumiverse/scaleway/config/vars.js: the stack's `scaleway:` key, else
 * the environment variable when it is non-empty), with where each came from so that errors
 * can name it.
 */
function providerSettings(): ProviderSettings {
  const scaleway = new pulumi.Config("scaleway");
  const read = (key: "zone" | "region", env: "SCW_DEFAULT_ZONE" | "SCW_DEFAULT_REGION") => {
    const configured = scaleway.get(key);
    if (configured !== undefined) return { value: configured, source: `scaleway:${key}` } as ProviderSetting;
    const fromEnv = process.env[env];
    return fromEnv ? ({ value: fromEnv, source: env } as ProviderSetting) : undefined;
  };
  return { zone: read("zone", "SCW_DEFAULT_ZONE"), region: read("region", "SCW_DEFAULT_REGION") };
}

/**
 * Runs `build`, turning the component's argument errors into the stack's own: the same
 * keys, every fix a `pulumi config` command. Nothing was declared when they are thrown.
 */
function asStackConfigErrors<T>(build: () => T): T {
  try {
    return build();
  } catch (err) {
    if (err instanceof ConfigError) throw err.rephrased(CONFIG_PHRASING);
    throw err;
  }
}

export = async () => {
  // Unchecked by TypeScript, checked by the component like any caller's values (callers in
  // other languages are not type-checked either): same names, same nesting.
  const raw = readRawConfig();
  // The component takes an explicit zone; the stack's follows the provider's (config/zone.ts).
  const args = { ...raw, zone: stackZone(raw.zone, providerSettings()) } as unknown as SiteToSiteVpnArgs;
  const vpn = asStackConfigErrors(() => new SiteToSiteVpn("wg-s2s", args));

  // The component's outputs, under the names the README uses and deployed stacks already export.
  return {
    gatewayPublicIps: vpn.gatewayPublicIps,
    publicKeys: vpn.publicKeys,
    tunnelAddresses: vpn.tunnelAddresses,
    privateAddresses: vpn.privateAddresses,
    sshHostKeys: vpn.hostPublicKeys,
    sshCommandsBySite: vpn.sshCommandsBySite,
    pingTest: vpn.pingTest,
    deployPublicKey: vpn.deployPublicKey,
    /** `pulumi stack output --show-secrets deployPrivateKey > wg-s2s-deploy.key` */
    deployPrivateKey: vpn.deployPrivateKey,
    /** Secret: per external site, the files its operator installs. */
    externalSiteBundles: vpn.externalSiteBundles,
    /** Per external site: pending (bundle not installed yet) or checked, what to hand to whom, the next command. */
    externalSites: vpn.externalSites,
    /** The end-to-end ping test, run by `pulumi up` itself (config `verify`, on by default). */
    verification: vpn.verification,
  };
};
