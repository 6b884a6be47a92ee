/** @tier program */
/**
 * The HA hub as the program declares it (`scalewaySite.gateways: 2`, docs/ha.md), under the
 * mock runtime: two gateways spread by a placement group, each with its own management IP;
 * the service IP (what the far ends dial) attached to neither by the stack; the failover's
 * IAM application, policy and key; the routes tagged for the agent; and, after a failover
 * written into provider-shaped state, a `pulumi up`/`refresh` that leaves the service IP and
 * the routes with the gateway that holds them (the engine's diff modelled by testkit/engineDiff.ts).
 */
import { plannedAction } from "../testkit/engineDiff";
import { ADMIN_CIDRS } from "../testkit/fixtures";
import { parseCloudConfig } from "../testkit/cloudInit";
import { MOCK_PROJECT_ID, mockUuid, runProgram, type DeclaredResource, type ProgramRun } from "../testkit/programRun";

const T = {
  server: "scaleway:instance/server:Server",
  ip: "scaleway:instance/ip:Ip",
  nic: "scaleway:instance/privateNic:PrivateNic",
  route: "scaleway:network/route:Route",
  placement: "scaleway:instance/placementGroup:PlacementGroup",
  application: "scaleway:iam/application:Application",
  policy: "scaleway:iam/policy:Policy",
  apiKey: "scaleway:iam/apiKey:ApiKey",
  sg: "scaleway:instance/securityGroup:SecurityGroup",
};
const HA = { adminCidrs: ADMIN_CIDRS, scalewaySite: { gateways: 2 } };

/** The custom resource of that name (a component may share its name with its server). */
function byName(run: ProgramRun, name: string): DeclaredResource {
  const found = run.resources.find((r) => r.custom && r.name === name);
  if (!found) throw new Error(`no resource ${name}; have ${run.resources.map((r) => r.name).join(", ")}`);
  return found;
}
const bare = (id: string) => id.slice(id.lastIndexOf("/") + 1);

describe("HA hub (scalewaySite.gateways: 2)", () => {
  let run: ProgramRun;
  let single: ProgramRun;
  beforeAll(async () => {
    // One mock runtime per process: runs one after the other.
    run = await runProgram({ config: HA, keySeed: "ha" });
    single = await runProgram({ config: { adminCidrs: ADMIN_CIDRS }, keySeed: "ha" });
  });
  const gwA = () => byName(run, "wg-s2s-scaleway-gateway");
  const gwB = () => byName(run, "wg-s2s-scaleway-gateway-b");
  const serviceIp = () => byName(run, "wg-s2s-scaleway-gateway-ip");
  const userDataOf = (server: DeclaredResource) => parseCloudConfig(server.inputs.userData["cloud-init"]);

  test("two hub gateways, spread by an enforced max-availability placement group", () => {
    const hubServers = run.ofType(T.server).filter((s) => s.inputs.tags.includes("wg-s2s-site:scaleway"));
    expect(hubServers.map((s) => s.name).sort()).toEqual([
      "wg-s2s-scaleway-gateway",
      "wg-s2s-scaleway-gateway-b",
      "wg-s2s-scaleway-test-host",
    ]);
    const [pg] = run.ofType(T.placement);
    expect(pg.inputs).toMatchObject({ policyType: "max_availability", policyMode: "enforced", zone: "fr-par-1" });
    expect(gwA().inputs.placementGroupId).toBe(pg.id);
    expect(gwB().inputs.placementGroupId).toBe(pg.id);
    // The far end's site is untouched: one gateway, no placement group.
    expect(byName(run, "wg-s2s-onprem-gateway").inputs.placementGroupId).toBeUndefined();
  });

  test("each gateway has its own management IP and private address; the service IP is attached by neither", () => {
    const a = byName(run, "wg-s2s-scaleway-gateway-a-ip");
    const b = byName(run, "wg-s2s-scaleway-gateway-b-ip");
    expect(gwA().inputs.ipId).toBe(a.id);
    expect(gwB().inputs.ipId).toBe(b.id);
    for (const gw of [gwA(), gwB()]) {
      expect(gw.inputs.ipId).not.toBe(serviceIp().id);
      expect(gw.inputs.ipIds).toBeUndefined();
    }
    expect(byName(run, "wg-s2s-scaleway-gateway-private-ip").inputs.address).toBe("192.168.0.2");
    expect(byName(run, "wg-s2s-scaleway-gateway-b-private-ip").inputs.address).toBe("192.168.0.4");
  });

  test("the far ends dial the service IP and admit WireGuard from it", () => {
    const address = serviceIp().state.address;
    const spoke = parseCloudConfig(run.userData("onprem", "gateway"));
    const netdev = [...spoke.files.values()].find((f) => f.path.endsWith("wg0.netdev"))!.content;
    expect(netdev).toContain(`Endpoint=${address}:52435`);
    const spokeSg = byName(run, "wg-s2s-onprem-gateway-sg");
    expect(spokeSg.inputs.inboundRules).toContainEqual(
      expect.objectContaining({ protocol: "UDP", port: 52435, ipRange: `${address}/32` }),
    );
    expect(run.outputs.gatewayPublicIps.scaleway).toBe(address);
  });

  test("both gateways hold the same WireGuard identity and start with the tunnel down", () => {
    const [a, b] = [userDataOf(gwA()), userDataOf(gwB())];
    const key = (c: ReturnType<typeof parseCloudConfig>) =>
      [...c.files.values()].find((f) => f.path.endsWith("wg0.netdev"))!.content.match(/PrivateKey=(.*)/)![1];
    expect(key(a)).toBe(key(b));
    for (const c of [a, b]) {
      const network = [...c.files.values()].find((f) => f.path.endsWith("wg0.network"))!.content;
      expect(network).toMatch(/^ActivationPolicy=manual$/m);
    }
    // Negative control: the single hub's gateway brings its tunnel up at boot.
    const singleNetwork = [...parseCloudConfig(single.userData("scaleway", "gateway")).files.values()].find((f) =>
      f.path.endsWith("wg0.network"),
    )!.content;
    expect(singleNetwork).not.toMatch(/ActivationPolicy/);
  });

  test("each gateway's keepalived names itself and the other, unicast", () => {
    const conf = (server: DeclaredResource) => userDataOf(server).files.get("/etc/wg-s2s/keepalived.conf.in")!.content;
    expect(conf(gwA())).toMatch(/unicast_src_ip 192\.168\.0\.2\n\s+unicast_peer \{\n\s+192\.168\.0\.4\n/);
    expect(conf(gwB())).toMatch(/unicast_src_ip 192\.168\.0\.4\n\s+unicast_peer \{\n\s+192\.168\.0\.2\n/);
    expect(conf(gwA())).toMatch(/router_id gateway-a/);
    expect(conf(gwB())).toMatch(/router_id gateway-b/);
    // keepalived comes from the package mirror, off the tunnel's boot path, like node_exporter.
    const extras = userDataOf(gwA()).files.get("/etc/systemd/system/wg-s2s-extras.service")!.content;
    expect(extras).toMatch(/^ExecStart=\S+ .*\bkeepalived\b/m);
    expect(extras).toMatch(/^ExecStartPost=\/usr\/bin\/systemctl enable --now keepalived\.service$/m);
  });

  test("the agent's settings name the service IP, the network and the VPC by bare id, and the route tag", () => {
    const env = userDataOf(gwB()).files.get("/etc/wg-s2s/ha.env")!.content;
    const ip = serviceIp();
    expect(env).toContain(`SERVICE_IP_ID=${bare(ip.id)}\n`);
    expect(env).toContain(`PRIVATE_NETWORK_ID=${bare(byName(run, "wg-s2s-scaleway-pn").id)}\n`);
    expect(env).toContain(`VPC_ID=${bare(byName(run, "wg-s2s-scaleway-vpc").id)}\n`);
    expect(env).toContain(`ROUTE_TAG=wg-s2s-ha:${bare(ip.id)}\n`);
    expect(env).toContain("SCW_ZONE=fr-par-1\n");
    expect(env).toContain("TUNNEL_FORM=networkd\n");
    for (const route of run.ofType(T.route).filter((r) => r.name.startsWith("wg-s2s-scaleway-route-"))) {
      expect(route.inputs.tags).toContain(`wg-s2s-ha:${bare(ip.id)}`);
    }
    // The far end's routes carry no HA tag: the agent never moves them.
    for (const route of run.ofType(T.route).filter((r) => r.name.startsWith("wg-s2s-onprem-route-"))) {
      expect(route.inputs.tags.filter((t: string) => t.startsWith("wg-s2s-ha:"))).toEqual([]);
    }
  });

  test("the failover's key: an IAM application with the two permission sets, the project only, from the gateways only", () => {
    const [app] = run.ofType(T.application);
    const [policy] = run.ofType(T.policy);
    expect(policy.inputs.applicationId).toBe(app.id);
    expect(policy.inputs.rules).toHaveLength(1);
    const [rule] = policy.inputs.rules;
    expect(rule.permissionSetNames).toEqual(["InstancesFullAccess", "VPCFullAccess"]);
    expect(rule.projectIds).toEqual([MOCK_PROJECT_ID]);
    const addresses = [
      serviceIp(),
      byName(run, "wg-s2s-scaleway-gateway-a-ip"),
      byName(run, "wg-s2s-scaleway-gateway-b-ip"),
    ].map((ip) => ip.state.address);
    expect(rule.condition).toBe(addresses.map((a) => `request.ip == "${a}"`).join(" || "));
    const [key] = run.ofType(T.apiKey);
    expect(key.inputs).toMatchObject({ applicationId: app.id, defaultProjectId: MOCK_PROJECT_ID });
    expect(key.options.dependsOn).toContain(policy.name);
  });

  test("the API key's secret reaches each gateway as a 0600 file, and only as a secret", () => {
    const secret = mockUuid("wg-s2s-scaleway-failover-secret");
    for (const gw of [gwA(), gwB()]) {
      const file = userDataOf(gw).files.get("/etc/wg-s2s/ha-api-key")!;
      expect(file).toMatchObject({ permissions: "0600", owner: "root:root", content: `${secret}\n` });
      expect(gw.secretInputs).toContain("userData");
      expect(userDataOf(gw).files.get("/etc/wg-s2s/ha.env")!.content).not.toContain(secret);
    }
    // Nowhere in plain sight: no non-secret input of any resource, no plain stack output.
    for (const r of run.resources) {
      const plain = JSON.stringify(r.inputs, (k, v) =>
        k === "userData" && r.secretInputs.includes("userData") ? undefined : v,
      );
      expect([r.name, plain.includes(secret)]).toEqual([r.name, false]);
    }
    for (const [name, value] of Object.entries(run.outputs)) {
      if (run.secretOutputs.includes(name)) continue;
      expect([name, JSON.stringify(value).includes(secret)]).toEqual([name, false]);
    }
  });

  describe("after a failover to gateway B (provider-shaped state)", () => {
    // What `pulumi refresh` reads back once B's agent attached the service IP to B and moved
    // every route to B's private NIC: the provider reads every IP on a server into ipIds,
    // and the route's next hop as it is.
    const refreshedB = () => ({
      ...gwB().inputs,
      ipId: byName(run, "wg-s2s-scaleway-gateway-b-ip").id,
      ipIds: [byName(run, "wg-s2s-scaleway-gateway-b-ip").id, serviceIp().id],
    });
    const refreshedA = () => ({ ...gwA().inputs, ipIds: [byName(run, "wg-s2s-scaleway-gateway-a-ip").id] });
    const hubRoutes = () => run.ofType(T.route).filter((r) => r.name.startsWith("wg-s2s-scaleway-route-"));
    const movedRoute = (route: DeclaredResource) => ({
      ...route.inputs,
      nexthopResourceId: byName(run, "wg-s2s-scaleway-gateway-b-nic").id,
    });

    test("`pulumi up` leaves the service IP on B and A as it is", () => {
      expect(plannedAction(refreshedB(), gwB().inputs, gwB().options)).toBe("same");
      expect(plannedAction(refreshedA(), gwA().inputs, gwA().options)).toBe("same");
    });

    test("`pulumi up` leaves every hub route's next hop on B", () => {
      expect(hubRoutes().length).toBeGreaterThan(0);
      for (const route of hubRoutes())
        expect(plannedAction(movedRoute(route), route.inputs, route.options)).toBe("same");
    });

    test("negative control: without the ignored paths, the update would take the service IP off B and move the routes back", () => {
      const plain = (r: DeclaredResource) => ({ ...r.options, ignoreChanges: [] });
      expect(plannedAction(refreshedB(), gwB().inputs, plain(gwB()))).toBe("update");
      for (const route of hubRoutes())
        expect(plannedAction(movedRoute(route), route.inputs, plain(route))).toBe("update");
    });

    test("a changed cloud-config still replaces each gateway", () => {
      const state = { ...refreshedB(), userData: { "cloud-init": "#cloud-config\n# an older rendering\n" } };
      expect(plannedAction(state, gwB().inputs, gwB().options)).toBe("replace");
    });
  });

  describe("replacing the gateways one at a time", () => {
    const handOver = (suffix: string) =>
      run.ofType("command:remote:Command").find((c) => c.name === `wg-s2s-scaleway-gateway-${suffix}-hand-over`)!;

    test("each gateway has a hand-over: waits for it to join on create, drains it on delete, over its management IP", () => {
      for (const [suffix, server] of [
        ["a", gwA()],
        ["b", gwB()],
      ] as const) {
        const c = handOver(suffix);
        expect(c.inputs.create).toBe("/usr/local/sbin/wg-s2s-ha ready 900");
        expect(c.inputs.delete).toBe("/usr/local/sbin/wg-s2s-ha drain 90");
        expect(c.inputs.connection.host).toBe(byName(run, `wg-s2s-scaleway-gateway-${suffix}-ip`).state.address);
        expect(c.inputs.connection.hostKey).toBe(run.outputs.sshHostKeys["scaleway/gateway"]);
        expect(c.inputs.triggers).toEqual([server.id]);
        expect(c.options.dependsOn).toContain(server.name);
        // The deploy key travels as a secret.
        expect(c.secretInputs.some((p) => p.startsWith("connection"))).toBe(true);
      }
    });

    test("the second server waits for the first's hand-over; the first waits for none", () => {
      expect(gwB().options.dependsOn).toContain(handOver("a").name);
      expect(gwA().options.dependsOn.filter((d) => d.includes("hand-over"))).toEqual([]);
      // Negative control: the single hub has no hand-over at all.
      expect(single.ofType("command:remote:Command").filter((c) => c.name.includes("hand-over"))).toEqual([]);
    });
  });

  test("one gateway (the default) declares no placement group, no IAM and no ignored IPs", () => {
    for (const type of [T.placement, T.application, T.policy, T.apiKey]) expect(single.ofType(type)).toEqual([]);
    const gateway = single.ofType(T.server).find((s) => s.name === "wg-s2s-scaleway-gateway")!;
    expect(gateway.options.ignoreChanges).not.toContain("ipIds");
    expect(gateway.inputs.ipId).toBe(single.resources.find((r) => r.name === "wg-s2s-scaleway-gateway-ip")!.id);
  });
});
