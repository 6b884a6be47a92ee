/**
 * Entry point: read the stack's config, check all of it before declaring anything, build
 * one SiteToSiteVpn, return what the operator needs as stack outputs. Behaviour lives in
 * components/ and cloud-init/; the README has the config reference.
 *
 * The program is exported as a function (Pulumi runs it and exports what it returns), so
 * the test harness and the lab can run the very same program again under mocks.
 */
import * as pulumi from "@pulumi/pulumi";
import { pingTests, sshCommands } from "./planning/accessCommands";
import { STACK_CONFIG_KEYS } from "./config/schema";
import { SiteToSiteVpn } from "./components/siteToSiteVpn";
import { loadStackConfig } from "./config/validation";

function readRawConfig(stackConfig: pulumi.Config): Record<string, unknown> {
  const raw: Record<string, unknown> = {};
  for (const key of STACK_CONFIG_KEYS) {
    const text = stackConfig.get(key);
    if (text === undefined) continue;
    // Structured keys (sites, lists) arrive as JSON text; scalars as plain strings.
    try {
      raw[key] = JSON.parse(text);
    } catch {
      raw[key] = text;
    }
  }
  return raw;
}

export = async () => {
  // Throws a ConfigError naming every bad key and its fix; no resource has been declared yet.
  const config = loadStackConfig(readRawConfig(new pulumi.Config()));
  const vpn = new SiteToSiteVpn("wg-s2s", { config });
  const plan = vpn.plan;

  return {
    gatewayPublicIps: vpn.gatewayPublicIps,
    publicKeys: vpn.publicKeys,
    tunnelAddresses: Object.fromEntries(plan.sites.map((s) => [s.name, s.tunnelAddress])),
    privateAddresses: Object.fromEntries(
      plan.sites.map((s) => [
        s.name,
        { subnet: s.subnet, gateway: s.gatewayAddress, testHost: s.testHostAddress ?? null },
      ]),
    ),
    sshHostKeys: vpn.hostPublicKeys,
    sshCommandsBySite: pulumi
      .all([vpn.gatewayPublicIps, vpn.testHostPublicIps])
      .apply(([ips, testHostIps]) => sshCommands(plan, ips, testHostIps)),
    pingTest: vpn.gatewayPublicIps.apply((ips) => pingTests(plan, ips)),
    deployPublicKey: vpn.deployPublicKey,
    /** `pulumi stack output --show-secrets deployPrivateKey > wg-s2s-deploy.key` */
    deployPrivateKey: vpn.deployPrivateKey,
    /** Secret: per external site, the files its operator installs. */
    externalSiteBundles: vpn.externalSiteBundles,
    /** The seed's ping test, run by `pulumi up` itself (config `verify`, on by default). */
    verification: vpn.verification?.pingResults ?? "skipped: verify is false",
  };
};
