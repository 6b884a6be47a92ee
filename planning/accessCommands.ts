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
    result[site.name] = { gateway: `ssh -i ${DEPLOY_KEY_FILE} ${gw}` };
    if (!site.buildsTestHost) continue;
    result[site.name].testHost = direct
      ? `ssh -i ${DEPLOY_KEY_FILE} root@${direct}`
      : `ssh -i ${DEPLOY_KEY_FILE} -o ProxyCommand="ssh -i ${DEPLOY_KEY_FILE} -W %h:%p ${gw}" root@${site.testHostAddress}`;
  }
  return result;
}

/**
 * The end-to-end test: from the hub's test host, ping each remote site's test host. A hub
 * without a test host pings from its gateway's LAN address (the far gateway forwards
 * LAN-to-LAN flows only).
 */
export function pingTests(plan: TopologyPlan, publicIps: Record<string, string>): Record<string, string> {
  const hub = sshCommands(plan, publicIps)[plan.hub.name];
  const from = hub.testHost ?? `${hub.gateway} ping -I ${plan.hub.gatewayAddress}`;
  const ping = hub.testHost ? `${from} ping` : from;
  return Object.fromEntries(
    plan.spokes
      .filter((s): s is SitePlan & { testHostAddress: string } => Boolean(s.testHostAddress))
      .map((s) => [s.name, `${ping} -c 3 -W 2 ${s.testHostAddress}`]),
  );
}

/** One site's addresses on its own network (the `privateAddresses` output). */
export interface SiteAddresses {
  /** The site's LAN or private network. */
  subnet: string;
  /** The gateway's address on it. */
  gateway: string;
  /** The host the ping test reaches there, if any. */
  testHost?: string;
}

export function siteAddresses(plan: TopologyPlan): Record<string, SiteAddresses> {
  return Object.fromEntries(
    plan.sites.map((s) => [
      s.name,
      {
        subnet: s.subnet,
        gateway: s.gatewayAddress,
        ...(s.testHostAddress !== undefined ? { testHost: s.testHostAddress } : {}),
      },
    ]),
  );
}

/**
 * Where an external site stands in the two-step deploy. A const object, not a bare union:
 * the component's outputs carry it, and Pulumi's schema inference takes only this enum shape.
 */
export const ExternalSiteStatus = {
  /** bundleInstalled is not set yet: `pulumi up` does not check this peer. */
  Pending: "pending",
  /** The bundle is installed and `pulumi up` checked the tunnel to it. */
  Checked: "checked",
  /** The bundle is installed, but verify is off. */
  Unchecked: "unchecked",
} as const;
export type ExternalSiteStatus = (typeof ExternalSiteStatus)[keyof typeof ExternalSiteStatus];

/** What the user does next for one external site (the `externalSites` output). */
export interface ExternalSiteStep {
  /** `pending` until the user sets bundleInstalled; then `checked` (verify on) or `unchecked`. */
  status: ExternalSiteStatus;
  /** What `pulumi up` did and did not check for this peer. */
  summary: string;
  /** What to hand to whom. */
  handTo: string;
  /** The command that moves the site to its next step, if any. */
  next?: string;
}

/**
 * The two-step external deploy, spelled out per external site: step 1 (`pulumi up`) builds
 * and checks what the stack owns and produces the bundle; the operator installs it; step 2
 * (bundleInstalled=true, `pulumi up`) checks the tunnel to that site too.
 */
export function externalSiteSteps(plan: TopologyPlan, verify: boolean): Record<string, ExternalSiteStep> {
  const result: Record<string, ExternalSiteStep> = {};
  // Spokes are in config order, so a spoke's index is its remoteSites index.
  plan.spokes.forEach((site, i) => {
    if (site.kind !== "external") return;
    const dir = `./${site.name}-bundle`;
    const bundle = `pulumi stack output --show-secrets --json externalSiteBundles | npm run -s bundle -- ${site.name} ${dir}`;
    const handTo = `the operator of ${site.name} (gateway ${site.publicIp ?? "?"}): the directory ${dir} written by \`${bundle}\`, over a private channel (it holds the site's keys); they run its install.sh (README.txt)`;
    const checks = `the hub's handshake with ${site.name}${site.testHostAddress ? ` and a ping to ${site.testHostAddress}` : ""}`;
    if (site.awaitsOperator) {
      result[site.name] = {
        status: "pending",
        summary: `not checked yet: ${site.name}'s operator has not installed the bundle (bundleInstalled is false), so this pulumi up skipped ${checks}`,
        handTo,
        next: `once the operator confirms: pulumi config set --path 'remoteSites[${i}].bundleInstalled' true && pulumi up`,
      };
    } else if (verify) {
      result[site.name] = { status: "checked", summary: `pulumi up checked ${checks}`, handTo };
    } else {
      result[site.name] = {
        status: "unchecked",
        summary: `bundle installed; not checked because verify is false`,
        handTo,
        next: "pulumi config set verify true && pulumi up",
      };
    }
  });
  return result;
}
