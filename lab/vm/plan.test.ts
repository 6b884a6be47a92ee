import { planVmLab, TYPES, type DeclaredResourceLike } from "./plan";

/** Resources shaped like the program's declarations under the mock runtime (id = name + "-id"). */
function site(
  name: string,
  subnet: string,
  gw: string,
  th: string,
  publicIp: string,
  routes: string[],
): DeclaredResourceLike[] {
  const tags = (role?: string) => ["wg-s2s", `wg-s2s-site:${name}`, ...(role ? [`wg-s2s-role:${role}`] : [])];
  const r = (type: string, n: string, inputs: Record<string, any>, state: Record<string, any> = {}) => ({
    type,
    name: n,
    inputs,
    state,
  });
  return [
    r(TYPES.vpc, `${name}-vpc`, { tags: tags() }),
    r(TYPES.privateNetwork, `${name}-pn`, { vpcId: `${name}-vpc-id`, ipv4Subnet: { subnet }, tags: tags() }),
    r(TYPES.publicIp, `${name}-gateway-ip`, {}, { address: publicIp }),
    r(TYPES.ipamIp, `${name}-gw-ip`, { address: gw }),
    r(TYPES.ipamIp, `${name}-th-ip`, { address: th }),
    r(TYPES.server, `${name}-gateway`, { tags: tags("gateway"), ipId: `fr-par-1/${name}-gateway-ip-id` }),
    r(TYPES.server, `${name}-test-host`, { tags: tags("test-host") }),
    r(
      TYPES.privateNic,
      `${name}-gw-nic`,
      { serverId: `${name}-gateway-id`, ipamIpIds: [`${name}-gw-ip-id`] },
      { macAddress: `02:00:00:00:${name === "hub" ? "00" : "01"}:01` },
    ),
    r(TYPES.privateNic, `${name}-th-nic`, { serverId: `${name}-test-host-id`, ipamIpIds: [`${name}-th-ip-id`] }),
    ...routes.map((dest) =>
      r(TYPES.route, `${name}-route-${dest}`, {
        vpcId: `${name}-vpc-id`,
        destination: dest,
        nexthopResourceId: `fr-par-1/${name}-gw-nic-id`,
      }),
    ),
  ];
}

const twoSites = () => [
  ...site("hub", "192.168.0.0/24", "192.168.0.2", "192.168.0.3", "198.51.100.10", ["192.168.1.0/24"]),
  ...site("onprem", "192.168.1.0/24", "192.168.1.2", "192.168.1.3", "198.51.100.11", ["192.168.0.0/24"]),
];

describe("planVmLab", () => {
  it("derives segments, hosts and VPC routes from the declared resources", () => {
    const plan = planVmLab(twoSites());
    expect(plan.segments).toEqual([
      {
        site: "hub",
        subnet: "192.168.0.0/24",
        prefixLength: 24,
        routerAddress: "192.168.0.1",
        vpcRoutes: [{ destination: "192.168.1.0/24", via: "192.168.0.2" }],
      },
      {
        site: "onprem",
        subnet: "192.168.1.0/24",
        prefixLength: 24,
        routerAddress: "192.168.1.1",
        vpcRoutes: [{ destination: "192.168.0.0/24", via: "192.168.1.2" }],
      },
    ]);
    const gw = plan.hosts.find((h) => h.name === "hub-gateway")!;
    expect(gw).toMatchObject({
      role: "gateway",
      privateAddress: "192.168.0.2",
      publicAddress: "198.51.100.10",
      privateMac: "02:00:00:00:00:01",
    });
    const th = plan.hosts.find((h) => h.name === "onprem-test-host")!;
    expect(th.publicAddress).toBeUndefined();
    expect(th.privateMac).toMatch(/^02:00:00:/);
    expect(new Set(plan.hosts.map((h) => h.privateMac)).size).toBe(4);
  });

  it("gives a site no VPC routes when the program declares none (static/dhcp propagation)", () => {
    const resources = twoSites().filter((r) => !(r.type === TYPES.route && r.name.startsWith("onprem")));
    expect(planVmLab(resources).segments[1].vpcRoutes).toEqual([]);
  });

  it("refuses a route whose next hop is not a declared private NIC", () => {
    const resources = twoSites().map((r) =>
      r.type === TYPES.route ? { ...r, inputs: { ...r.inputs, nexthopResourceId: "nope-id" } } : r,
    );
    expect(() => planVmLab(resources)).toThrow(/not a declared scaleway:instance\/privateNic/);
  });

  it("refuses a host address outside its network and a public address outside the lab's internet", () => {
    const outside = twoSites().map((r) => (r.name === "hub-th-ip" ? { ...r, inputs: { address: "10.0.0.3" } } : r));
    expect(() => planVmLab(outside)).toThrow(/outside 192\.168\.0\.0\/24/);
    const pub = twoSites().map((r) => (r.name === "hub-gateway-ip" ? { ...r, state: { address: "203.0.113.1" } } : r));
    expect(() => planVmLab(pub)).toThrow(/outside the lab's 198\.51\.100\.0\/24/);
  });
});
