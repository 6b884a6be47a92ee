/** @tier unit */
/**
 * Every renderer precondition (cloud-init/guards.ts, dnsmasq.ts, wireguard.ts, ...) is a
 * validation rule first: whatever config passes validation renders without throwing, so
 * `pulumi up` can never end in a stack trace from inside an apply. fast-check explores
 * external sites of every size and placement (down to a /31, which dhcpFor cannot serve);
 * the negative control shows the same generator does reach configs the renderers refuse.
 */
import fc from "fast-check";
import nacl from "tweetnacl";
import { hostAddress } from "../addressing/ipv4";
import { renderGatewayCloudConfig } from "../cloud-init/gateway";
import { renderTestHostCloudConfig } from "../cloud-init/testHost";
import { ConfigError } from "../config/errors";
import { parseStackConfig } from "../config/parse";
import { loadStackConfig } from "../config/validation";
import { renderOperatorBundle } from "../rendering/operatorBundle";
import { gatewaySpecFor, planTopology, testHostSpecFor, type ResolvedKeys } from "./topology";
import type { StackConfig } from "../config/types";

const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString("base64");
/** Key pairs are slow in pure JS; one per site name is enough here. */
const pairs = new Map<string, { privateKey: string; publicKey: string }>();
function pairFor(name: string) {
  if (!pairs.has(name)) {
    const pair = nacl.box.keyPair();
    pairs.set(name, { privateKey: b64(pair.secretKey), publicKey: b64(pair.publicKey) });
  }
  return pairs.get(name)!;
}

function renderAll(cfg: StackConfig): void {
  const plan = planTopology(cfg);
  const keys: ResolvedKeys = { gateways: {}, presharedKeys: {}, publicIps: { [plan.hub.name]: "198.51.100.10" } };
  plan.sites.forEach((s, i) => {
    keys.gateways[s.name] = pairFor(s.name);
    keys.presharedKeys[s.name] = pairFor(`${s.name}-psk`).privateKey;
    // The hub holds an endpoint for every spoke whose address is known (Scaleway-built, or publicIp).
    if (s.role === "spoke" && (s.onScaleway || s.publicIp))
      keys.publicIps[s.name] = s.publicIp ?? `198.51.100.${20 + i}`;
  });
  const access = {
    sshAuthorizedKeys: ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeDeployKeyForRendererTestsOnly0000000 d"],
  };
  for (const site of plan.sites) {
    const spec = gatewaySpecFor(site, plan, cfg, keys, access);
    // One probe per peer, at the peer's tunnel address; every gateway carries its tunnels.
    expect(spec.metrics).toEqual({
      active: true,
      probes: site.peers.map((p) => ({ peer: p.name, address: p.tunnelAddress })),
    });
    if (site.onScaleway) {
      renderGatewayCloudConfig(spec);
      renderTestHostCloudConfig(testHostSpecFor(site, access));
    } else {
      renderOperatorBundle(spec, { publicIp: site.publicIp });
    }
  }
}

/** An external site from a handful of numbers: any prefix, any offsets, dhcp or static. */
const externalSite = fc
  .record({
    prefix: fc.integer({ min: 16, max: 32 }),
    gw: fc.integer({ min: 0, max: 300 }),
    router: fc.option(fc.integer({ min: 0, max: 300 }), { nil: undefined }),
    testHost: fc.option(fc.integer({ min: 0, max: 300 }), { nil: undefined }),
    fixed: fc.array(fc.integer({ min: 0, max: 300 }), { maxLength: 6 }),
    dhcp: fc.boolean(),
    isolated: fc.boolean(),
    dns: fc.option(fc.array(fc.constantFrom("9.9.9.9", "192.168.10.1", "127.0.0.1", "1.1.1.1"), { maxLength: 4 }), {
      nil: undefined,
    }),
  })
  .map((r) => {
    const subnet = `192.168.${r.prefix >= 24 ? 10 : 0}.0/${r.prefix}`;
    const size = 2 ** (32 - r.prefix);
    const at = (n: number) => hostAddress(subnet, n % size);
    const site: Record<string, unknown> = {
      name: "office",
      kind: "external",
      subnet,
      gatewayAddress: at(r.gw),
      tunnelAddress: "172.16.0.3",
      publicIp: "198.51.100.77",
      routePropagation: r.dhcp ? "dhcp" : "static",
    };
    if (r.testHost !== undefined) site.testHostAddress = at(r.testHost);
    if (r.dhcp) {
      if (r.router !== undefined) site.lanRouter = at(r.router);
      if (r.isolated) site.isolatedLan = true;
      if (r.fixed.length > 0) site.fixedHosts = r.fixed.map(at);
      if (r.dns !== undefined) site.dnsServers = r.dns;
    }
    return site;
  });

function attempt(site: Record<string, unknown>): "refused" | "rendered" {
  const raw = {
    adminCidrs: ["203.0.113.7/32"],
    scalewaySite: { subnet: "172.30.0.0/24" },
    remoteSites: [site],
  };
  let cfg: StackConfig;
  try {
    cfg = loadStackConfig(raw);
  } catch (err) {
    if (err instanceof ConfigError) return "refused";
    throw err;
  }
  renderAll(cfg); // must not throw
  return "rendered";
}

describe("validated configs always render", () => {
  test("random external sites: refused by validation, or rendered without an exception", () => {
    const seen = { refused: 0, rendered: 0 };
    fc.assert(
      fc.property(externalSite, (site) => {
        seen[attempt(site)]++;
      }),
      { numRuns: 200, seed: 9 },
    );
    // Both outcomes occur, so the property is not vacuous.
    expect(seen.refused).toBeGreaterThan(5);
    expect(seen.rendered).toBeGreaterThan(5);
  });

  test("negative control: a /31 dhcp LAN, which validation refuses, does make the planner throw", () => {
    const site = {
      name: "office",
      kind: "external",
      subnet: "192.168.10.0/31",
      gatewayAddress: "192.168.10.0",
      tunnelAddress: "172.16.0.3",
      publicIp: "198.51.100.77",
      routePropagation: "dhcp",
      isolatedLan: true,
    };
    expect(attempt(site)).toBe("refused");
    const unchecked = parseStackConfig({ adminCidrs: ["203.0.113.7/32"], remoteSites: [site] });
    expect(() => renderAll(unchecked)).toThrow();
  });
});
