/**
 * Rules of the HA hub's own keys (`scalewaySite.gateways`, `secondGatewayAddress`): two
 * gateways only, VPC routes only (a host's static route names one gateway's address and
 * would not follow a failover), and a second address of its own. docs/ha.md.
 */
import { type ConfigIssue, type Phrasing } from "../errors";
import { HUB_GATEWAY_COUNTS } from "../schema";
import { issue } from "./issues";
import { checkHostAddress, exampleHost, usableRangeText } from "./site";
import { type SiteView, validSubnet } from "./siteView";

export function checkHaHub(site: SiteView, p: Phrasing): ConfigIssue[] {
  const hub = site.hub;
  if (!hub) return [];
  const gatewaysKey = `${site.path}.gateways`;
  const secondKey = `${site.path}.secondGatewayAddress`;
  if (!HUB_GATEWAY_COUNTS.includes(hub.gateways)) {
    return [
      issue(
        gatewaysKey,
        `is ${hub.gateways}; the hub has one gateway, or two for an HA hub (one active, one standby: a third would add nothing keepalived can use).`,
        `${p.run(gatewaysKey, 2)} for an HA hub, or ${p.remove(gatewaysKey)} for one gateway`,
      ),
    ];
  }
  if (hub.gateways === 1) {
    return hub.secondGatewayAddress === undefined
      ? []
      : [
          issue(
            secondKey,
            `is set, but the hub has one gateway (gateways is 1), so no second gateway uses it.`,
            `${p.removeIt(secondKey)}, or make the hub HA with ${p.set(gatewaysKey, 2)}`,
          ),
        ];
  }
  const issues: ConfigIssue[] = [];
  if (site.routePropagation !== "vpc-route") {
    const key = `${site.path}.routePropagation`;
    issues.push(
      issue(
        key,
        `is ${site.routePropagation}, but an HA hub moves its routes to the active gateway through the VPC's custom routes; a static route on each host names one gateway's address and would not follow a failover.`,
        `${p.run(key, "vpc-route")}, or ${p.remove(gatewaysKey)} for one gateway`,
      ),
    );
  }
  const address = hub.secondGatewayAddress;
  if (address === undefined) return issues; // the schema names it when it is required
  const subnet = validSubnet(site);
  const range = subnet ? usableRangeText(subnet, true) : undefined;
  const taken = new Set([site.gatewayAddress, site.testHostAddress]);
  const suggestion = [4, 5, 6, 7].map((n) => exampleHost(subnet, n, "192.168.0.4")).find((a) => !taken.has(a))!;
  const addressIssues = checkHostAddress(site, "secondGatewayAddress", address, subnet, range, suggestion, p);
  issues.push(...addressIssues);
  if (addressIssues.length === 0 && taken.has(address)) {
    const other = address === site.gatewayAddress ? "gatewayAddress" : "testHostAddress";
    issues.push(
      issue(
        secondKey,
        `is ${address}, the same address as ${site.path}.${other}; the second gateway is a machine of its own.`,
        p.run(secondKey, suggestion),
      ),
    );
  }
  return issues;
}
