/** Rules for sites that join an existing Scaleway private network instead of creating one. */
import { type ConfigIssue, type Phrasing } from "../errors";
import { regionOfZone } from "./access";
import { issue, show } from "./issues";
import { SiteView } from "./siteView";

const PRIVATE_NETWORK_ID = /^(?:([a-z]{2}-[a-z]{3})\/)?[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** An existing private network to join: well-formed, in the zone's region, on a Scaleway-built site. */
export function checkExistingNetwork(site: SiteView, zone: string, p: Phrasing): ConfigIssue[] {
  if (site.privateNetworkId === undefined) return [];
  const key = `${site.path}.privateNetworkId`;
  if (!site.scalewayBuilt) {
    return [
      issue(
        key,
        "is set on an external site; only the hub and simulated sites are Scaleway private networks.",
        p.removeIt(key),
      ),
    ];
  }
  // The provider's data source accepts a UUID or a regional id (terraform-provider-scaleway
  // internal/services/vpc/private_network_data_source.go: verify.IsUUIDorUUIDWithLocality).
  const m = PRIVATE_NETWORK_ID.exec(site.privateNetworkId);
  const fix = `copy the id from the console or \`scw vpc private-network list\`: ${p.set(key, "11111111-2222-3333-4444-555555555555")}`;
  if (!m)
    return [
      issue(
        key,
        `${show(site.privateNetworkId)} is not a private network id (a UUID, optionally prefixed by its region as fr-par/<UUID>).`,
        fix,
      ),
    ];
  const region = regionOfZone(zone);
  if (m[1] !== undefined && m[1] !== region) {
    return [
      issue(
        key,
        `is in region ${m[1]}, but zone ${zone} puts the gateway in region ${region}; an instance can only join a private network of its own region.`,
        `use a network of ${region}, or move the stack to the network's region: ${p.setZone(`${m[1]}-1`)}`,
      ),
    ];
  }
  return [];
}

export function checkExistingNetworksDistinct(sites: SiteView[], p: Phrasing): ConfigIssue[] {
  const seen = new Map<string, string>();
  const issues: ConfigIssue[] = [];
  for (const site of sites) {
    if (site.privateNetworkId === undefined) continue;
    const id = site.privateNetworkId.replace(/^.*\//, "");
    const earlier = seen.get(id);
    if (earlier) {
      issues.push(
        issue(
          `${site.path}.privateNetworkId`,
          `is the same network as ${earlier}.privateNetworkId; two sites joined by a tunnel must be two networks.`,
          `${p.removeIt(`${site.path}.privateNetworkId`)}, or name another network`,
        ),
      );
    } else seen.set(id, site.path);
  }
  return issues;
}
