/** @tier program */
/** The lab topology comes only from what the program declares (run under mocks here). */
import { runProgram, type ProgramRun } from "../testkit/programRun";
import { allPublicIps, defaultLabConfig, sitesLabConfig } from "./labConfig";
import { allNodes, buildTopology, RESOURCE_TYPES, type LabTopology, type ResourceView } from "./topology";
import {
  HUB_PUBLIC,
  OFFICE_NAT_BEFORE,
  PRODUCTION_NETWORK,
  productionLabConfig,
  WORKLOAD_ADDRESS,
} from "./scenarios/productionTopology";

let def: { run: ProgramRun; t: LabTopology };
let three: { run: ProgramRun; t: LabTopology };

beforeAll(async () => {
  const d = defaultLabConfig();
  const run = await runProgram({ config: d.config, publicIps: d.publicIps, keySeed: "topology-test" });
  def = {
    run,
    t: buildTopology({ prefix: "wgl0000", config: run.config, resources: run.resources, publicIps: allPublicIps(d) }),
  };
  const s = sitesLabConfig(3);
  const run3 = await runProgram({ config: s.config, publicIps: s.publicIps, keySeed: "topology-test" });
  three = {
    run: run3,
    t: buildTopology({ prefix: "wgl0000", config: run3.config, resources: run3.resources, publicIps: allPublicIps(s) }),
  };
}, 120_000);

test("default topology: the program's two sites, addresses from the config, MACs from the declared private NICs", () => {
  const { t, run } = def;
  expect(t.sites.map((s) => [s.name, s.kind, s.subnet])).toEqual([
    ["scaleway", "hub", "192.168.0.0/24"],
    ["onprem", "simulated", "192.168.1.0/24"],
  ]);
  const hub = t.sites[0];
  expect(hub.gateway.privateNic).toMatchObject({
    name: "ens5",
    address: "192.168.0.2/24",
    addressing: "ipam-dhcp",
    hotplug: true,
  });
  expect(hub.testHost.privateNic.address).toBe("192.168.0.3/24");
  expect(hub.gateway.publicNic?.address).toBe("198.51.100.10/24");
  const nic = run.resources.find((r) => r.name === "wg-s2s-scaleway-gateway-nic")!;
  expect(hub.gateway.privateNic.mac).toBe(nic.state.macAddress);
});

test("the VPC-router stand-in sits at .1 with one lease per host and exactly the declared custom routes", () => {
  const [hub, onprem] = def.t.sites;
  expect(hub.vpcRouter?.privateNic.address).toBe("192.168.0.1/24");
  expect(hub.vpcRouter?.leases.map((l) => l.address)).toEqual(["192.168.0.2", "192.168.0.3"]);
  expect(hub.vpcRouter?.customRoutes).toEqual([
    { destination: "192.168.1.0/24", nexthop: "192.168.0.2", resource: "wg-s2s-scaleway-route-192-168-1-0-24" },
  ]);
  expect(onprem.vpcRouter?.customRoutes.map((r) => [r.destination, r.nexthop])).toEqual([
    ["192.168.0.0/24", "192.168.1.2"],
  ]);
});

test("names: every namespace carries the prefix; switch-side names are unique and fit IFNAMSIZ", () => {
  for (const t of [def.t, three.t]) {
    const nodes = allNodes(t);
    expect(nodes.every((n) => n.ns.startsWith("wgl0000-"))).toBe(true);
    expect(new Set(nodes.map((n) => n.ns)).size).toBe(nodes.length);
    const ports = nodes.flatMap((n) => [
      n.privateNic.switchPort,
      `hp-${n.privateNic.switchPort}`,
      ...(n.publicNic ? [n.publicNic.switchPort] : []),
    ]);
    expect(new Set(ports).size).toBe(ports.length);
    expect(ports.every((p) => p.length <= 15)).toBe(true);
  }
});

test("--sites 3: an external dhcp site is an operator-built gateway with a static LAN address, a LAN router and a DHCP client host", () => {
  const site3 = three.t.sites[3];
  expect(site3).toMatchObject({ name: "site3", kind: "external", routePropagation: "dhcp", publicIp: "198.51.100.13" });
  expect(site3.vpcRouter).toBeUndefined();
  expect(site3.gateway.provisioning).toBe("operator-bundle");
  expect(site3.gateway.privateNic).toMatchObject({ address: "192.168.3.2/24", addressing: "static", hotplug: false });
  expect(site3.testHost.privateNic).toMatchObject({ addressing: "lan-dhcp" });
  expect(site3.testHost.privateNic.address).toBeUndefined();
  expect(site3.lanRouter?.privateNic.address).toBe("192.168.3.1/24");
  // A static-propagation simulated site: its VPC declares no custom route.
  expect(three.t.sites[2].routePropagation).toBe("static");
  expect(three.t.sites[2].vpcRouter?.customRoutes).toEqual([]);
});

test("refuses to invent what the program did not declare", () => {
  const d = defaultLabConfig();
  const withoutNic = def.run.resources.filter((r) => r.name !== "wg-s2s-onprem-test-host-nic");
  expect(() =>
    buildTopology({ prefix: "wgl0000", config: def.run.config, resources: withoutNic, publicIps: allPublicIps(d) }),
  ).toThrow(/private NIC for test-host of site onprem/);
  expect(() =>
    buildTopology({
      prefix: "wgl0000",
      config: def.run.config,
      resources: def.run.resources,
      publicIps: { scaleway: "198.51.100.10" },
    }),
  ).toThrow(/site onprem has public IP 198\.51\.100\.11, the lab handed out undefined/);
});

/** Resources of the default run with one of them changed. */
const mutated = (name: string, change: (r: ResourceView) => ResourceView): ResourceView[] =>
  def.run.resources.map((r) => (r.name === name ? change(r) : r));
const topologyOf = (resources: ResourceView[]) =>
  buildTopology({ prefix: "wgl0000", config: def.run.config, resources });

test("everything about a Scaleway-built site comes from its resources: subnet, public IP, MACs, addresses", () => {
  // Without the lab's publicIps the result is the same: nothing is taken from the lab's own list.
  expect(topologyOf(def.run.resources)).toEqual(def.t);
  const hubIp = def.run.resources.find((r) => r.type === RESOURCE_TYPES.publicIp && r.name.includes("scaleway"))!;
  expect(def.t.sites[0].gateway.publicNic?.address).toBe(`${hubIp.state.address}/24`);
  expect(def.t.sites[0].gateway.publicNic?.mac).toMatch(/^02:/);
  // Zoned ids (as the real provider returns them) resolve like bare ones.
  const zoned = def.run.resources.map((r) =>
    r.type === RESOURCE_TYPES.route
      ? { ...r, inputs: { ...r.inputs, nexthopResourceId: `fr-par-1/${r.inputs.nexthopResourceId}` } }
      : r,
  );
  expect(topologyOf(zoned).sites[0].vpcRouter?.customRoutes).toEqual(def.t.sites[0].vpcRouter?.customRoutes);
});

test("refuses a route whose next hop is not a declared private NIC", () => {
  const route = def.run.resources.find((r) => r.type === RESOURCE_TYPES.route)!;
  expect(() =>
    topologyOf(mutated(route.name, (r) => ({ ...r, inputs: { ...r.inputs, nexthopResourceId: "nope-id" } }))),
  ).toThrow(/refers to nope-id, which is not a declared scaleway:instance\/privateNic/);
});

test("refuses a host address outside its private network and a public address outside the lab's internet", () => {
  const ipam = def.run.resources.find(
    (r) => r.type === RESOURCE_TYPES.ipamIp && r.inputs.address?.startsWith("192.168.0.3"),
  )!;
  expect(() => topologyOf(mutated(ipam.name, (r) => ({ ...r, inputs: { ...r.inputs, address: "10.0.0.3" } })))).toThrow(
    /test-host of site scaleway has address 10\.0\.0\.3, outside 192\.168\.0\.0\/24/,
  );
  const pub = def.run.resources.find((r) => r.type === RESOURCE_TYPES.publicIp && r.name.includes("scaleway"))!;
  expect(() => topologyOf(mutated(pub.name, (r) => ({ ...r, state: { ...r.state, address: "203.0.113.1" } })))).toThrow(
    /needs a public IP in the lab's 198\.51\.100\.0\/24, got 203\.0\.113\.1/,
  );
  const pn = def.run.resources.find((r) => r.type === RESOURCE_TYPES.privateNetwork && r.name.includes("onprem"))!;
  expect(() =>
    topologyOf(mutated(pn.name, (r) => ({ ...r, inputs: { ...r.inputs, ipv4Subnet: { subnet: "10.9.0.0/24" } } }))),
  ).toThrow(/site onprem declares private network 10\.9\.0\.0\/24, the config says 192\.168\.1\.0\/24/);
});

describe("a hub joined to an existing network, an office behind NAT (the production shape)", () => {
  let joined: { run: ProgramRun; input: Parameters<typeof buildTopology>[0] };
  beforeAll(async () => {
    const run = await runProgram({
      config: productionLabConfig(),
      publicIps: { scaleway: HUB_PUBLIC },
      existingNetworks: {
        [PRODUCTION_NETWORK.id]: { subnet: PRODUCTION_NETWORK.subnet, vpcId: PRODUCTION_NETWORK.vpcId },
      },
      keySeed: "topology-test",
    });
    joined = {
      run,
      input: {
        prefix: "wgp0000",
        config: run.config,
        resources: run.resources,
        workloads: { scaleway: WORKLOAD_ADDRESS },
        natPublicIps: { office: OFFICE_NAT_BEFORE },
      },
    };
  }, 120_000);

  test("the workload is the hub's test host, leased by the network's DHCP; the routes into the joined VPC go through the gateway", () => {
    const hub = buildTopology(joined.input).sites[0];
    expect(hub.subnet).toBe(PRODUCTION_NETWORK.subnet);
    expect(hub.testHost).toMatchObject({ id: "scaleway-wl", provisioning: "none" });
    expect(hub.testHost.privateNic).toMatchObject({ address: `${WORKLOAD_ADDRESS}/24`, addressing: "ipam-dhcp" });
    expect(hub.vpcRouter?.leases.map((l) => [l.host, l.address])).toEqual([
      ["scaleway-gw", "192.168.0.2"],
      ["scaleway-wl", WORKLOAD_ADDRESS],
    ]);
    const declared = joined.run.resources.filter((r) => r.type === RESOURCE_TYPES.route);
    expect(declared.length).toBe(2);
    expect(hub.vpcRouter?.customRoutes).toEqual(
      declared
        .map((r) => ({ destination: r.inputs.destination, nexthop: "192.168.0.2", resource: r.name }))
        .sort((a, b) => a.destination.localeCompare(b.destination)),
    );
  });

  test("the office's gateway has no public NIC: it dials out through the NAT the lab builds", () => {
    const office = buildTopology(joined.input).sites[1];
    expect(office.publicIp).toBe(OFFICE_NAT_BEFORE);
    expect(office.gateway.publicNic).toBeUndefined();
    // Without the NAT's address the office has no way out: refused, not guessed.
    expect(() => buildTopology({ ...joined.input, natPublicIps: {} })).toThrow(
      /site office needs a public IP in the lab's 198\.51\.100\.0\/24, got undefined/,
    );
  });

  test("refuses a workload outside the joined network, and a joined hub without one", () => {
    expect(() => buildTopology({ ...joined.input, workloads: { scaleway: "10.0.0.50" } })).toThrow(
      /workload of site scaleway has address 10\.0\.0\.50, outside 192\.168\.0\.0\/24/,
    );
    expect(() => buildTopology({ ...joined.input, workloads: {} })).toThrow(
      /expected exactly one private NIC for test-host of site scaleway, the program declared 0/,
    );
  });
});
