/** @tier unit */
/**
 * Property tests of the planner on its own: for any valid hub-and-spoke config, who talks
 * to whom follows the reachability rules, WireGuard's cryptokey routing stays unambiguous,
 * and nothing depends on the order the sites were listed in.
 */
import fc from "fast-check";
import { contains, isSubnetOf } from "../addressing/ipv4";
import { parseStackConfig } from "../config/parse";
import type { StackConfig } from "../config/types";
import { validateStackConfig } from "../config/validation";
import { planTopology, type TopologyPlan } from "./topology";

interface SpokeDraft {
  kind: "simulated" | "external";
  allowSpokeToSpoke: boolean;
  routePropagation: "static" | "dhcp" | "vpc-route";
}

/** A valid config: hub 192.168.0.0/24, spoke i on 192.168.<i+1>.0/24, tunnel .1 hub, .<i+2> spokes. */
function configOf(drafts: SpokeDraft[]): StackConfig {
  return parseStackConfig({
    adminCidrs: ["203.0.113.7/32"],
    remoteSites: drafts.map((d, i) => {
      const subnet = `192.168.${i + 1}.0/24`;
      const propagation =
        d.kind === "simulated" ? "vpc-route" : d.routePropagation === "vpc-route" ? "static" : d.routePropagation;
      return {
        name: `site${i + 1}`,
        kind: d.kind,
        subnet,
        gatewayAddress: `192.168.${i + 1}.2`,
        tunnelAddress: `172.16.0.${i + 2}`,
        routePropagation: propagation,
        allowSpokeToSpoke: d.allowSpokeToSpoke,
        ...(d.kind === "simulated" ? { testHostAddress: `192.168.${i + 1}.3` } : { publicIp: `198.51.100.${i + 10}` }),
        ...(propagation === "dhcp" ? { lanRouter: `192.168.${i + 1}.1` } : {}),
      };
    }),
  });
}

const spokeDraft = fc.record<SpokeDraft>({
  kind: fc.constantFrom("simulated", "external"),
  allowSpokeToSpoke: fc.boolean(),
  routePropagation: fc.constantFrom("static", "dhcp", "vpc-route"),
});
const validConfig = fc.array(spokeDraft, { minLength: 1, maxLength: 8 }).map(configOf);

/** The first two CIDRs of the list that share an address, if any. */
function overlappingPair(cidrs: string[]): [string, string] | undefined {
  for (let i = 0; i < cidrs.length; i++)
    for (let j = i + 1; j < cidrs.length; j++)
      if (isSubnetOf(cidrs[i], cidrs[j]) || isSubnetOf(cidrs[j], cidrs[i])) return [cidrs[i], cidrs[j]];
  return undefined;
}

const flowKey = (f: { from: string; to: string }) => `${f.from}>${f.to}`;
const flowsOf = (plan: TopologyPlan, site: string) =>
  new Set(plan.sites.find((s) => s.name === site)!.forwardFlows.map(flowKey));

describe("planTopology (properties)", () => {
  it("generates only configs the validator accepts (so the properties below are about real input)", () => {
    fc.assert(fc.property(validConfig, (cfg) => validateStackConfig(cfg).length === 0));
  });

  it("the hub and every spoke reach each other both ways, and spokes reach each other only if both opt in", () => {
    fc.assert(
      fc.property(validConfig, (cfg) => {
        const plan = planTopology(cfg);
        const hubFlows = flowsOf(plan, plan.hub.name);
        for (const spoke of cfg.remoteSites) {
          expect(hubFlows.has(`${cfg.scalewaySite.subnet}>${spoke.subnet}`)).toBe(true);
          expect(hubFlows.has(`${spoke.subnet}>${cfg.scalewaySite.subnet}`)).toBe(true);
          for (const other of cfg.remoteSites) {
            if (other === spoke) continue;
            const both = spoke.allowSpokeToSpoke && other.allowSpokeToSpoke;
            expect(hubFlows.has(`${spoke.subnet}>${other.subnet}`)).toBe(both);
            expect(flowsOf(plan, spoke.name).has(`${spoke.subnet}>${other.subnet}`)).toBe(both);
          }
        }
      }),
    );
  });

  it("the hub's peers have disjoint AllowedIPs (WireGuard routes each address to exactly one peer)", () => {
    fc.assert(
      fc.property(validConfig, (cfg) => {
        expect(overlappingPair(planTopology(cfg).hub.peers.flatMap((p) => p.allowedIps))).toBeUndefined();
      }),
    );
  });

  it("every forwarded destination beyond the site is routed into the tunnel (covered by a peer's AllowedIPs)", () => {
    fc.assert(
      fc.property(validConfig, (cfg) => {
        for (const site of planTopology(cfg).sites) {
          const tunnelled = site.peers.flatMap((p) => p.allowedIps);
          for (const flow of site.forwardFlows) {
            if (flow.to === site.subnet) continue;
            expect(tunnelled.some((cidr) => isSubnetOf(flow.to, cidr))).toBe(true);
          }
        }
      }),
    );
  });

  it("host routes go via the site's own gateway, exactly to the subnets it reaches", () => {
    fc.assert(
      fc.property(validConfig, (cfg) => {
        for (const site of planTopology(cfg).sites) {
          expect(site.hostRoutes.map((r) => r.destination)).toEqual(site.remoteSubnets);
          for (const route of site.hostRoutes) {
            expect(route.via).toBe(site.gatewayAddress);
            expect(contains(site.subnet, route.via)).toBe(true);
          }
          expect(site.remoteSubnets).not.toContain(site.subnet);
        }
      }),
    );
  });

  it("each peer's probe address for the tunnel metrics is that peer's own tunnel address, routed to it alone", () => {
    fc.assert(
      fc.property(validConfig, (cfg) => {
        const plan = planTopology(cfg);
        for (const site of plan.sites) {
          for (const peer of site.peers) {
            const other = plan.sites.find((s) => s.name === peer.name);
            expect(peer.tunnelAddress).toBe(other?.tunnelAddress);
            expect(peer.allowedIps).toContain(`${peer.tunnelAddress}/32`);
          }
        }
      }),
    );
  });

  it("only spokes dial (the hub is their one peer); the hub dials nobody", () => {
    fc.assert(
      fc.property(validConfig, (cfg) => {
        const plan = planTopology(cfg);
        expect(plan.hub.peers.every((p) => !p.dialsHub)).toBe(true);
        for (const spoke of plan.spokes) expect(spoke.peers).toEqual([expect.objectContaining({ dialsHub: true })]);
      }),
    );
  });

  it("does not depend on the order the remote sites are listed in", () => {
    fc.assert(
      fc.property(
        fc.array(spokeDraft, { minLength: 2, maxLength: 6 }).chain((drafts) =>
          fc.tuple(
            fc.constant(configOf(drafts)),
            fc.shuffledSubarray(
              drafts.map((_, i) => i),
              { minLength: drafts.length },
            ),
          ),
        ),
        ([cfg, order]) => {
          const shuffled: StackConfig = { ...cfg, remoteSites: order.map((i) => cfg.remoteSites[i]) };
          const a = planTopology(cfg);
          const b = planTopology(shuffled);
          const bySite = (plan: TopologyPlan) =>
            Object.fromEntries(
              plan.sites.map((s) => [s.name, { ...s, forwardFlows: [...s.forwardFlows].map(flowKey).sort() }]),
            );
          expect(bySite(b)).toEqual(bySite(a));
        },
      ),
    );
  });

  it("negative control: a plan with overlapping AllowedIPs is caught by the disjointness check", () => {
    const plan = planTopology(configOf([{ kind: "external", allowSpokeToSpoke: false, routePropagation: "static" }]));
    const broken = [...plan.hub.peers.flatMap((p) => p.allowedIps), "192.168.0.0/23"];
    expect(overlappingPair(broken)).toEqual(["192.168.1.0/24", "192.168.0.0/23"]);
  });
});
