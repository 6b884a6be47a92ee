/** @tier unit */
import { loadStackConfig } from "../config/validation";
import { allPublicIps, defaultLabConfig, sitesLabConfig } from "./labConfig";

test("the default lab config is the program's defaults plus the required adminCidrs", () => {
  const d = defaultLabConfig();
  expect(Object.keys(d.config)).toEqual(["adminCidrs"]);
  const c = loadStackConfig(d.config);
  expect(c.remoteSites.map((r) => r.name)).toEqual(["onprem"]);
  expect(d.publicIps).toEqual({ scaleway: "198.51.100.10", onprem: "198.51.100.11" });
});

test.each([1, 2, 3, 4, 8])(
  "--sites %i passes the program's own validation, with distinct subnets and tunnel addresses",
  (n) => {
    const s = sitesLabConfig(n);
    const c = loadStackConfig(s.config);
    expect(c.remoteSites).toHaveLength(n);
    const subnets = [c.scalewaySite.subnet, ...c.remoteSites.map((r) => r.subnet)];
    const tunnels = [c.scalewaySite.tunnelAddress, ...c.remoteSites.map((r) => r.tunnelAddress)];
    expect(new Set(subnets).size).toBe(n + 1);
    expect(new Set(tunnels).size).toBe(n + 1);
    expect(Object.keys(allPublicIps(s))).toHaveLength(n + 1);
  },
);

test("--sites 3 covers an external dhcp site (with lanRouter), a static site, and allowed and blocked spoke pairs", () => {
  const c = loadStackConfig(sitesLabConfig(3).config);
  const [s1, s2, s3] = c.remoteSites;
  expect(s3).toMatchObject({
    kind: "external",
    routePropagation: "dhcp",
    lanRouter: "192.168.3.1",
    publicIp: "198.51.100.13",
    allowSpokeToSpoke: false,
  });
  expect(s2).toMatchObject({ kind: "simulated", routePropagation: "static", allowSpokeToSpoke: true });
  expect(s1).toMatchObject({ kind: "simulated", routePropagation: "vpc-route", allowSpokeToSpoke: true });
  // External gateways get no instance.Ip: only Scaleway-built sites are in publicIps.
  expect(Object.keys(sitesLabConfig(3).publicIps)).toEqual(["scaleway", "site1", "site2"]);
});

test("rejects a site count it cannot build", () => {
  expect(() => sitesLabConfig(0)).toThrow(/1 to 64/);
  expect(() => sitesLabConfig(65)).toThrow(/1 to 64/);
  expect(() => sitesLabConfig(1.5)).toThrow(/1 to 64/);
});

test("--sites 4 adds an external static site (routes.sh on the LAN hosts)", () => {
  const c = loadStackConfig(sitesLabConfig(4).config);
  expect(c.remoteSites[2]).toMatchObject({
    name: "site3",
    kind: "external",
    routePropagation: "static",
    testHostAddress: "192.168.3.3",
    publicIp: "198.51.100.13",
  });
  expect(c.remoteSites[2].lanRouter).toBeUndefined();
  expect(c.remoteSites[3]).toMatchObject({ kind: "external", routePropagation: "dhcp", lanRouter: "192.168.4.1" });
});
