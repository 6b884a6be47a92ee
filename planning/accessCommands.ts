/**
 * The commands a user types after `pulumi up`, as stack outputs. Pure: addresses in,
 * strings out. SSH goes to root, as on Scaleway's images; test hosts have no public IP
 * by default, so they are reached with the gateway as jump host (`ssh -J`).
 */
import type { SitePlan, TopologyPlan } from "./topology";

export const DEPLOY_KEY_FILE = "wg-s2s-deploy.key";

export interface SiteAccess {
  gateway: string;
  testHost?: string;
}

export function sshCommands(
  plan: TopologyPlan,
  publicIps: Record<string, string>,
  testHostPublicIps: Record<string, string | undefined> = {},
): Record<string, SiteAccess> {
  const result: Record<string, SiteAccess> = {};
  for (const site of plan.sites.filter((s) => s.onScaleway)) {
    const gw = `root@${publicIps[site.name]}`;
    const direct = testHostPublicIps[site.name];
    result[site.name] = {
      gateway: `ssh -i ${DEPLOY_KEY_FILE} ${gw}`,
      testHost: direct
        ? `ssh -i ${DEPLOY_KEY_FILE} root@${direct}`
        : `ssh -i ${DEPLOY_KEY_FILE} -o ProxyCommand="ssh -i ${DEPLOY_KEY_FILE} -W %h:%p ${gw}" root@${site.testHostAddress}`,
    };
  }
  return result;
}

/** The seed's final test: from the hub's test host, ping each remote site's test host. */
export function pingTests(plan: TopologyPlan, publicIps: Record<string, string>): Record<string, string> {
  const from = sshCommands(plan, publicIps)[plan.hub.name].testHost!;
  return Object.fromEntries(
    plan.spokes
      .filter((s): s is SitePlan & { testHostAddress: string } => Boolean(s.testHostAddress))
      .map((s) => [s.name, `${from} ping -c 3 -W 2 ${s.testHostAddress}`]),
  );
}
