/** @tier program */
/**
 * Hub and spoke under mocks: adding or removing a remote site changes only that site's
 * resources and the hub's peer list (its gateway user-data and its WireGuard security
 * rule), never another site's keys or addresses; list order changes nothing; spoke-to-spoke
 * traffic is allowed by the hub's forward policy only between sites that both opt in.
 */
import { parse } from "yaml";
import { PATHS } from "../cloud-init/common";
import { DeclaredResource, ProgramRun, runProgram } from "../testkit/programRun";

const ADMIN = ["203.0.113.7/32"];
const site = (i: number, extra: Record<string, unknown> = {}) => ({
  name: `site${i}`,
  kind: "simulated",
  subnet: `192.168.${i}.0/24`,
  gatewayAddress: `192.168.${i}.2`,
  testHostAddress: `192.168.${i}.3`,
  tunnelAddress: `172.16.0.${i + 1}`,
  ...extra,
});

/** Resource name -> inputs, for custom resources only. */
function inputsByName(run: ProgramRun): Map<string, DeclaredResource> {
  return new Map(run.resources.filter((r) => r.custom).map((r) => [r.name, r]));
}

function diff(before: ProgramRun, after: ProgramRun) {
  const a = inputsByName(before);
  const b = inputsByName(after);
  const added = [...b.keys()].filter((k) => !a.has(k)).sort();
  const removed = [...a.keys()].filter((k) => !b.has(k)).sort();
  const changed = [...a.keys()]
    .filter((k) => b.has(k) && JSON.stringify(a.get(k)!.inputs) !== JSON.stringify(b.get(k)!.inputs))
    .sort();
  return { added, removed, changed };
}

function forwardPolicy(userData: string): string {
  const doc = parse(userData.replace(/^#cloud-config\n/, ""));
  return doc.write_files.find((f: any) => f.path === "/etc/wg-s2s/forward.nft").content;
}

// Fixed per-site public IPs: the mock would otherwise hand them out in creation order.
const publicIps = { scaleway: "198.51.100.10", site1: "198.51.100.11", site2: "198.51.100.12", site3: "198.51.100.13" };
const run = (remoteSites: unknown[]) =>
  runProgram({ config: { adminCidrs: ADMIN, remoteSites }, keySeed: "hub-spoke", publicIps });

describe("adding and removing a remote site", () => {
  let two: ProgramRun;
  let three: ProgramRun;
  beforeAll(async () => {
    two = await run([site(1), site(2)]);
    three = await run([site(1), site(2), site(3)]);
  });

  test("adding site3 adds only site3's resources and touches only the hub's peer list", () => {
    const d = diff(two, three);
    expect(d.removed).toEqual([]);
    // Everything new belongs to site3, except the hub's route to site3's subnet and the
    // verification steps that now include site3.
    const foreign = d.added.filter(
      (n) => !n.includes("site3") && n !== "wg-s2s-scaleway-route-192-168-3-0-24" && !n.startsWith("wg-s2s-verify-"),
    );
    expect(foreign).toEqual([]);
    expect(d.added).toEqual(
      expect.arrayContaining(["wg-s2s-site3-gateway", "wg-s2s-site3-key-private", "wg-s2s-site3-psk-bytes"]),
    );
    // Changed: the hub's gateway (user-data: new peer) and its security group (new UDP source),
    // plus verification commands that depend on the hub gateway's replacement.
    const changedInfra = d.changed.filter((n) => !n.startsWith("wg-s2s-verify-"));
    expect(changedInfra).toEqual(["wg-s2s-scaleway-gateway", "wg-s2s-scaleway-gateway-sg"]);
  });

  test("the other sites keep their keys, addresses and user-data", () => {
    for (const name of ["scaleway", "site1", "site2"]) {
      expect(three.outputs.publicKeys[name]).toBe(two.outputs.publicKeys[name]);
      expect(three.outputs.gatewayPublicIps[name]).toBe(two.outputs.gatewayPublicIps[name]);
      expect(three.outputs.tunnelAddresses[name]).toBe(two.outputs.tunnelAddresses[name]);
    }
    for (const name of ["site1", "site2"]) {
      expect(three.userData(name, "gateway")).toBe(two.userData(name, "gateway"));
      expect(three.userData(name, "test-host")).toBe(two.userData(name, "test-host"));
    }
  });

  test("removing site2 removes only site2's resources", async () => {
    const without = await run([site(1), site(3)]);
    const d = diff(three, without);
    expect(d.added.filter((n) => !n.startsWith("wg-s2s-verify-"))).toEqual([]);
    expect(d.removed.filter((n) => !n.includes("site2") && !n.startsWith("wg-s2s-verify-"))).toEqual([
      "wg-s2s-scaleway-route-192-168-2-0-24",
    ]);
    expect(d.changed.filter((n) => !n.startsWith("wg-s2s-verify-"))).toEqual([
      "wg-s2s-scaleway-gateway",
      "wg-s2s-scaleway-gateway-sg",
    ]);
    expect(without.userData("site3", "gateway")).toBe(three.userData("site3", "gateway"));
  });

  test("listing the sites in another order changes nothing at all", async () => {
    const shuffled = await run([site(3), site(1), site(2)]);
    const d = diff(three, shuffled);
    expect(d).toEqual({ added: [], removed: [], changed: [] });
  });
});

describe("spoke-to-spoke through the hub", () => {
  test("off by default: the hub forwards only hub<->spoke flows", async () => {
    const r = await run([site(1), site(2)]);
    const nft = forwardPolicy(r.userData("scaleway", "gateway"));
    expect(nft).toContain("ip saddr 192.168.0.0/24 ip daddr 192.168.1.0/24 accept");
    expect(nft).toContain("ip saddr 192.168.2.0/24 ip daddr 192.168.0.0/24 accept");
    expect(nft).not.toContain("ip saddr 192.168.1.0/24 ip daddr 192.168.2.0/24");
    expect(nft).not.toContain("ip saddr 192.168.2.0/24 ip daddr 192.168.1.0/24");
  });

  test("on only between sites that both opt in, enforced by the hub's forward policy", async () => {
    const r = await run([site(1, { allowSpokeToSpoke: true }), site(2, { allowSpokeToSpoke: true }), site(3)]);
    const nft = forwardPolicy(r.userData("scaleway", "gateway"));
    expect(nft).toContain("ip saddr 192.168.1.0/24 ip daddr 192.168.2.0/24 accept");
    expect(nft).toContain("ip saddr 192.168.2.0/24 ip daddr 192.168.1.0/24 accept");
    expect(nft).not.toMatch(/ip saddr 192\.168\.3\.0\/24 ip daddr 192\.168\.[12]\.0\/24/);
    expect(nft).not.toMatch(/ip saddr 192\.168\.[12]\.0\/24 ip daddr 192\.168\.3\.0\/24/);
    // The opted-in spokes route each other's subnet to the hub; site3 does not learn them.
    const wg1 = parse(r.userData("site1", "gateway").replace(/^#cloud-config\n/, "")).write_files.find(
      (f: any) => f.path === PATHS.wireguardNetdev,
    ).content;
    expect(wg1).toMatch(/AllowedIPs=.*192\.168\.2\.0\/24/);
    const wg3 = parse(r.userData("site3", "gateway").replace(/^#cloud-config\n/, "")).write_files.find(
      (f: any) => f.path === PATHS.wireguardNetdev,
    ).content;
    expect(wg3).not.toMatch(/192\.168\.[12]\.0\/24/);
  });
});
